"""Remediation rendering: secrets withheld (revealed only from the intended file), Junos order, banners."""

from __future__ import annotations

from driftaudit.domain.masking import MaskingRegistry, mask_content, redact_secrets
from driftaudit.domain.models import Platform
from driftaudit.domain.remediation import remediate, render, reveal, secret_sources, secret_values

PATTERNS = MaskingRegistry.builtin(key=b"t" * 32).for_platform(Platform.IOS)
JUNOS = MaskingRegistry.builtin(key=b"t" * 32).for_platform(Platform.JUNOS)


def test_secret_lines_name_their_intended_line_and_reveal_restores_them() -> None:
    intended = "hostname r1\nusername admin privilege 15 secret 5 $1$abcd$QWERTYUIOPasdfghjk12\n"
    running = "hostname r1\nusername admin privilege 15 secret 5 $1$zzzz$MNBVCXZLKJhgfdsapo98\n"
    masked_r, masked_i = mask_content(running, PATTERNS), mask_content(intended, PATTERNS)
    steps = remediate(masked_r, masked_i, Platform.IOS)
    lines = render(steps, sources=secret_sources(intended, PATTERNS))
    assert lines[0].startswith("! secret withheld (not in the intended config): no username admin")
    assert lines[1].startswith("! secret withheld, take it from intended line 2: username admin privilege 15")
    assert "QWERTYUIOP" not in "".join(lines)
    assert "MNBVCXZ" not in "".join(lines)
    shown = reveal(lines, secret_values(intended, PATTERNS))
    assert shown[1] == "username admin privilege 15 secret 5 $1$abcd$QWERTYUIOPasdfghjk12"
    assert shown[0] == lines[0]  # the device's own secret is in no intended file: still withheld


def test_junos_secret_from_braces_is_revealed_in_set_form() -> None:
    intended = (
        "system {\n    login {\n        user ops {\n            authentication {\n"
        '                encrypted-password "$6$abcdefgh$0123456789abcdefghijklmnop";\n'
        "            }\n        }\n    }\n}\n"
    )
    running = "set system host-name r1\n"
    masked_i = mask_content(intended, JUNOS)
    assert "0123456789" not in masked_i
    steps = remediate(mask_content(running, JUNOS), masked_i, Platform.JUNOS)
    lines = render(steps, sources=secret_sources(intended, JUNOS))
    assert lines[0] == "delete system host-name"  # the intent has nothing under it: the container goes
    assert lines[1].startswith("# secret withheld, take it from intended line 5: set system login user ops")
    shown = reveal(lines, secret_values(intended, JUNOS))
    value = '"$6$abcdefgh$0123456789abcdefghijklmnop"'
    assert shown[1] == f"set system login user ops authentication encrypted-password {value}"
    assert redact_secrets(shown[1], JUNOS) != shown[1]


def test_junos_terms_out_of_order_are_deleted_and_set_in_order() -> None:
    running = (
        "set policy-options policy-statement P term B then reject\n"
        "set policy-options policy-statement P term A then accept\n"
    )
    intended = (
        "set policy-options policy-statement P term A then accept\n"
        "set policy-options policy-statement P term B then reject\n"
    )
    assert render(remediate(running, intended, Platform.JUNOS)) == (
        "delete policy-options policy-statement P",
        "set policy-options policy-statement P term A then accept",
        "set policy-options policy-statement P term B then reject",
    )


def test_a_changed_banner_is_rewritten_with_its_delimiter() -> None:
    running = "banner motd ^C\nold text\n^C\nhostname r1\n"
    intended = "banner motd ^C\nnew text\nline two\n^C\nhostname r1\n"
    assert render(remediate(running, intended, Platform.IOS)) == (
        "no banner motd",
        "banner motd ^C",
        "new text",
        "line two",
        "^C",
    )


def test_idempotent_leaf_is_overwritten_without_a_negation() -> None:
    running = (
        "interface Gi1\n description old\n ip address 10.0.0.1 255.255.255.0\n"
        " ip address 10.9.0.1 255.255.255.0 secondary\n"
    )
    intended = "interface Gi1\n description new\n ip address 10.0.0.2 255.255.255.0\n"
    assert render(remediate(running, intended, Platform.IOS)) == (
        "interface Gi1",
        " no ip address 10.9.0.1 255.255.255.0 secondary",
        " description new",
        " ip address 10.0.0.2 255.255.255.0",
    )
