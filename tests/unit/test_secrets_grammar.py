"""The vendor secret grammar: the symptoms of issue 12 as regressions, fixed by the grammar.

Each case is a line as a device prints it, the secret values in it and the
words that must stay (markers, identifiers). Both paths are checked: the
direct mask and the mask of the redacted text (what the analysis sees after
the fetch step redacted), which must be equal.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import MaskingRegistry, mask_content, redact_secrets
from driftaudit.domain.models import Platform
from driftaudit.domain.secrets_grammar import grammar_for

KEY = b"grammar-test-key"
REGISTRY = MaskingRegistry.builtin(key=KEY)
CISCO7_XLAT = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


def cisco7(password: str, salt: int) -> str:
    """Cisco's own type 7 encoder (the published algorithm), to re-salt a password."""
    return f"{salt:02d}" + "".join(
        f"{ord(c) ^ ord(CISCO7_XLAT[(salt + i) % len(CISCO7_XLAT)]):02X}" for i, c in enumerate(password)
    )


#: (platform, line, secret values, words that must remain)
CASES = [
    (
        Platform.IOSXR,
        "snmp-server user U G v3 auth sha encrypted 050C0921 priv aes 128 encrypted 045C1A",
        ["050C0921", "045C1A"],
        ["auth sha encrypted <secret:", "priv aes 128 encrypted <secret:", "snmp-server user U G v3"],
    ),
    (
        Platform.IOS,
        "snmp-server user U G v3 auth sha AuthPass1 priv aes 128 PrivPass2",
        ["AuthPass1", "PrivPass2"],
        ["auth sha <secret:", "priv aes 128 <secret:"],
    ),
    (
        Platform.IOSXR,
        "snmp-server host 192.0.2.8 traps version 2c encrypted 121C121A01",
        ["121C121A01"],
        ["version 2c encrypted <secret:"],
    ),
    (
        Platform.IOS,
        "ip ftp password 7 107D3D232342041E3A",
        ["107D3D232342041E3A"],
        ["ip ftp password 7 <secret:"],
    ),
    (
        Platform.IOS,
        " ppp pap sent-username U password 7 023530612D53",
        ["023530612D53"],
        ["sent-username U password 7 <secret:"],
    ),
    (Platform.EOS, "   shared-key 7 141600021F102B", ["141600021F102B"], ["shared-key 7 <secret:"]),
    (
        Platform.JUNOS_SET,
        "set system login user U authentication plain-text-password-value SECRET",
        ["SECRET"],
        ["user U authentication plain-text-password-value <secret:"],
    ),
    (
        Platform.JUNOS,
        '            plain-text-password-value "S3cr3t value";',
        ["S3cr3t value"],
        ['plain-text-password-value "<secret:'],
    ),
    (Platform.IOSXR, "  password encrypted 062A2E03637C", ["062A2E03637C"], ["password encrypted <secret:"]),
    (
        Platform.IOSXR,
        "   message-digest-key 20 md5 encrypted 09454B27",
        ["09454B27"],
        ["message-digest-key 20 md5 encrypted <secret:"],
    ),
    (Platform.IOSXR, " key 1", [], [" key 1"]),
    (Platform.NXOS, "  key 0", [], ["key 0"]),
    (Platform.JUNOS, "            key 0 {", [], ["key 0 {"]),
    (Platform.IOS, "key chain OSPF", [], ["key chain OSPF"]),
    (Platform.IOS, "tacacs-server key 12345678", ["12345678"], ["tacacs-server key <secret:"]),
    (Platform.NXOS, "radius-server host 192.0.2.5 key 0 4242", ["4242"], ["key 0 <secret:"]),
    (
        Platform.NXOS,
        "ntp server 192.0.2.3 use-vrf management key 12345 minpoll 10",
        [],
        ["key 12345 minpoll"],
    ),
    (Platform.IOS, "ntp server 192.0.2.3 key 7", [], ["key 7"]),
    (Platform.IOS, " tunnel key 100", [], ["tunnel key 100"]),
    (Platform.IOS, "  key-string 7 045802150C2E", ["045802150C2E"], ["key-string 7 <secret:"]),
    (
        Platform.IOSXR,
        "  key-string password 0822455D0A16",
        ["0822455D0A16"],
        ["key-string password <secret:"],
    ),
    (
        Platform.IOS,
        "username admin privilege 15 secret 9 plainish",
        ["plainish"],
        ["username admin privilege 15 secret 9"],
    ),
    (Platform.IOS, "enable secret level 15 0 Clear-Pw", ["Clear-Pw"], ["enable secret level 15 0 <secret:"]),
    (
        Platform.IOS,
        "ntp authentication-key 1 md5 104D000A0618 7",
        ["104D000A0618"],
        ["ntp authentication-key 1 md5 <secret:", "> 7"],
    ),
    (Platform.EOS, "ntp authentication-key 3 md5 7 0207165218120E", ["0207165218120E"], ["md5 7 <secret:"]),
    (Platform.IOS, "crypto isakmp key 6 Xy9Secret address 192.0.2.1", ["Xy9Secret"], ["address 192.0.2.1"]),
    (
        Platform.IOS,
        " pre-shared-key address 192.0.2.2 key PskValue",
        ["PskValue"],
        ["pre-shared-key address 192.0.2.2 key <secret:"],
    ),
    (Platform.NXOS, 'tacacs-server host 192.0.2.9 key 7 "Quoted7"', ["Quoted7"], ['key 7 "<secret:']),
    (
        Platform.IOS,
        " standby 1 authentication md5 key-string 7 0011AA",
        ["0011AA"],
        ["authentication md5 key-string 7"],
    ),
    (Platform.IOS, " standby 1 authentication text HsrpPw", ["HsrpPw"], ["authentication text <secret:"]),
    (
        Platform.ASA,
        "snmp-server host inside 192.0.2.3 community AsaComm version 2c",
        ["AsaComm"],
        ["community <secret:", "> version 2c"],
    ),
    (Platform.ASA, "enable password 8Ry2YjIyt7RRXU24 encrypted", ["8Ry2YjIyt7RRXU24"], ["> encrypted"]),
    (
        Platform.NXOS,
        "snmp-server user ops network-admin auth md5 0x0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        " priv aes-128 PrivNx localizedkey",
        ["0x0f1e2d3c4b5a69788796a5b4c3d2e1f0", "PrivNx"],
        ["auth md5 <secret:", "priv aes-128 <secret:", "> localizedkey"],
    ),
    (
        Platform.IOS,
        "snmp-server host 10.0.0.36 vrf Mgmt informs version 3 auth v3user",
        [],
        ["version 3 auth v3user"],
    ),
    (Platform.IOS, " set community 65000:100 additive", [], ["set community 65000:100 additive"]),
    (Platform.JUNOS, "                community fabric;", [], ["community fabric;"]),
    (Platform.JUNOS, "    community public {", ["public"], ["community <secret:"]),
    (
        Platform.JUNOS_SET,
        "set snmp community Pub1 authorization read-only",
        ["Pub1"],
        ["authorization read-only"],
    ),
    (Platform.JUNOS_SET, "set policy-options community C1 members 65000:1", [], ["community C1 members"]),
    (
        Platform.JUNOS_SET,
        "set security authentication-key-chains key-chain K key 0"
        ' secret "KcSecret" start-time 2024-01-01.00:00',
        ["KcSecret"],
        ["key-chain K key 0 secret"],
    ),
    (
        Platform.JUNOS_SET,
        'set system ntp authentication-key 1 type md5 value "NtpPw"',
        ["NtpPw"],
        ["authentication-key 1 type md5 value"],
    ),
    (
        Platform.JUNOS_SET,
        'set system radius-server 192.0.2.4 secret "RadPw"',
        ["RadPw"],
        ["192.0.2.4 secret"],
    ),
    (
        Platform.JUNOS_SET,
        'set access radius-server 192.0.2.10 preauthentication-secret "PreAuthPw"',
        ["PreAuthPw"],
        ["preauthentication-secret"],
    ),
    (Platform.JUNOS_SET, "set protocols bgp group G1 authentication-key-chain KC", [], ["key-chain KC"]),
    (Platform.IOS, " description uplink key account password reset", [], ["description uplink key account"]),
    (Platform.IOS, "service password-encryption", [], ["service password-encryption"]),
    (Platform.IOS, "password encryption aes", [], ["password encryption aes"]),
]
IDS = [f"{platform.value}:{line.strip()[:48]}" for platform, line, _, _ in CASES]


@pytest.mark.parametrize(("platform", "line", "secrets", "kept"), CASES, ids=IDS)
def test_grammar_masks_the_value_and_keeps_markers_and_identifiers(
    platform: Platform, line: str, secrets: list[str], kept: list[str]
) -> None:
    compiled = REGISTRY.for_platform(platform)
    masked = mask_content(line + "\n", compiled)
    redacted = redact_secrets(line + "\n", compiled)
    assert mask_content(redacted, compiled) == masked, "mask(redact(x)) differs from mask(x)"
    assert mask_content(masked, compiled) == masked, "mask(mask(x)) differs from mask(x)"
    for secret in secrets:
        assert secret not in masked
        assert secret not in redacted
    assert masked.count("<secret:") == len(secrets)
    for words in kept:
        assert words in masked


@pytest.mark.parametrize(
    ("platform", "template"),
    [
        (Platform.IOSXR, "router ospf 1\n area 0\n  message-digest-key 20 md5 encrypted {}\n"),
        (Platform.IOSXR, "router bgp 65000\n neighbor 192.0.2.1\n  password encrypted {}\n"),
        (Platform.IOSXR, "snmp-server host 192.0.2.8 traps version 2c encrypted {}\n"),
        (Platform.IOS, "ip ftp password 7 {}\n"),
        (Platform.IOS, "interface Serial0\n ppp pap sent-username U password 7 {}\n"),
        (Platform.EOS, "ip security\n   ike policy P\n   sa policy S\n   profile X\n      shared-key 7 {}\n"),
        (Platform.IOS, "key chain K\n key 1\n  key-string 7 {}\n"),
    ],
)
def test_resalted_type7_is_not_drift_and_a_changed_one_is(platform: Platform, template: str) -> None:
    compiled = REGISTRY.for_platform(platform)
    earlier = template.format(cisco7("same-Passw0rd", 4))
    later = template.format(cisco7("same-Passw0rd", 12))
    changed = template.format(cisco7("other-Passw0rd", 12))
    assert earlier != later
    assert calculate_diff(later, earlier, compiled, platform=platform).compliant
    assert not calculate_diff(changed, earlier, compiled, platform=platform).compliant


def test_a_key_chain_key_id_is_not_a_secret() -> None:
    compiled = REGISTRY.for_platform(Platform.IOS)
    text = "key chain X\n key 1\n  key-string 7 045802150C2E\n key 2\n  key-string 0 Plain2\n"
    masked = mask_content(text, compiled)
    assert " key 1\n" in masked
    assert " key 2\n" in masked
    assert "Plain2" not in masked


@pytest.mark.parametrize(
    "groups",
    [
        ["3082030F", "30820277"],  # 8-character groups
        ["3082030F30820277A0030201020201", "01300D06092A864886F70D010105"],  # long groups
        ["30 82 03 0F 30 82 02 77"],  # byte groups
    ],
)
def test_certificate_bodies_of_any_grouping_are_volatile(groups: list[str]) -> None:
    compiled = REGISTRY.for_platform(Platform.IOS)
    head = "crypto pki certificate chain TP-self-signed-1\n certificate self-signed 01\n"
    body = "\n".join("  " + " ".join(groups) for _ in range(3))
    regenerated = "\n".join("  " + " ".join(g[::-1] for g in groups) for _ in range(4))
    first = head + body + "\n  \tquit\n"
    second = head + regenerated + "\n  \tquit\n"
    assert mask_content(first, compiled) == mask_content(second, compiled)
    assert groups[0] not in mask_content(first, compiled)


def test_every_platform_has_a_grammar() -> None:
    for platform in Platform:
        assert (
            "password" in grammar_for(platform).keywords
            or "encrypted-password" in grammar_for(platform).keywords
        )
    assert grammar_for(None).cisco
    assert grammar_for(None).junos


_BLANKS = " \t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2000\u3000"


@settings(max_examples=300)
@given(
    st.text(alphabet=st.sampled_from(["a", "7", "#", "!", "<", "-", *_BLANKS]), max_size=40),
    st.integers(0, 5),
)
def test_cisco_words_are_the_runs_of_non_blanks(line: str, offset: int) -> None:
    """The Cisco tokenizer (``str.split`` and ``find``) finds what ``\\S+`` finds, at the same places."""
    grammar = grammar_for(Platform.IOS)
    text = "x" * offset + line
    words = grammar._words(text, offset, len(text))
    expected = [(m.group(), offset + m.start(), offset + m.end()) for m in re.finditer(r"\S+", line)]
    stripped = line.lstrip()
    if not stripped or stripped[0] in "!#":
        expected = []  # comment lines hold no secret words
    assert [(word.text, word.start, word.end) for word in words] == expected
