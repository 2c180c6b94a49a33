"""Masking: placeholders, keyed fingerprints, idempotence, platform packs, safe user patterns."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import time

import pytest

from driftaudit.domain.errors import MaskingPatternError
from driftaudit.domain.masking import (
    GRAMMAR_RULE,
    TOKEN_PATTERN,
    MaskingRegistry,
    mask_content,
    mask_with_counts,
    redact_secrets,
)
from driftaudit.domain.models import MaskingPattern, PatternKind, Platform
from driftaudit.domain.packs import BUILTIN_PATTERNS, patterns_for
from driftaudit.domain.reversible import decode_cisco7, decode_junos9

KEY = b"unit-test-key"
V, S = PatternKind.VOLATILE, PatternKind.SECRET


def _fingerprint(value: str, key: bytes = KEY) -> str:
    return f"<secret:{hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:12]}>"


def _registry(*patterns: MaskingPattern, key: bytes = KEY) -> MaskingRegistry:
    return MaskingRegistry(patterns, key=key)


def test_volatile_value_group_becomes_a_placeholder_and_the_line_stays() -> None:
    compiled = _registry(
        MaskingPattern(name="stamp", regex=r"^! changed at (?P<value>.+)$", kind=V)
    ).for_platform(None)
    text = "hostname r1\n! changed at 10:00 today by bob\nend\n"
    assert mask_content(text, compiled) == "hostname r1\n! changed at <volatile:stamp>\nend\n"


def test_whole_match_is_masked_without_a_value_group_and_a_line_break_drops_the_line() -> None:
    compiled = _registry(
        MaskingPattern(name="clock", regex=r"clock-period \d+", kind=V),
        MaskingPattern(name="header", regex=r"^Building configuration\.\.\.\n", kind=V),
    ).for_platform(None)
    text = "Building configuration...\nntp clock-period 17179869\nend\n"
    assert mask_content(text, compiled) == "ntp <volatile:clock>\nend\n"


def test_secret_becomes_a_keyed_fingerprint() -> None:
    pattern = MaskingPattern(name="community", regex=r"community (?P<value>\S+)", kind=S)
    compiled = _registry(pattern).for_platform(None)
    masked = mask_content("snmp-server community s3cr3t RO\n", compiled)
    assert masked == f"snmp-server community {_fingerprint('s3cr3t')} RO\n"
    assert "s3cr3t" not in masked
    other_key = _registry(pattern, key=b"another-key").for_platform(None)
    assert mask_content("snmp-server community s3cr3t RO\n", other_key) != masked
    changed = mask_content("snmp-server community s3cr3T RO\n", compiled)
    assert changed != masked, "a changed secret is still drift"


def test_ignore_changes_gives_a_constant_token() -> None:
    compiled = _registry(
        MaskingPattern(name="community", regex=r"community (?P<value>\S+)", kind=S, ignore_changes=True)
    ).for_platform(None)
    first = mask_content("snmp-server community one RO\n", compiled)
    second = mask_content("snmp-server community two RO\n", compiled)
    assert first == second == "snmp-server community <secret:ignored:community> RO\n"


def test_every_token_matches_the_published_token_pattern() -> None:
    compiled = MaskingRegistry.builtin(key=KEY).for_platform(Platform.IOS)
    masked = mask_content(
        "enable secret 5 $1$abc$def\n! Last configuration change at 10:00:00 UTC Mon Jan 1 2024\n", compiled
    )
    tokens = re.findall(r"<[^<>]*>", masked)
    assert len(tokens) == 2
    assert all(re.fullmatch(TOKEN_PATTERN, token) for token in tokens)


def test_masking_is_idempotent_even_when_patterns_could_match_tokens() -> None:
    compiled = _registry(
        MaskingPattern(name="any-word-after-key", regex=r"key (?P<value>\S+)", kind=S),
        MaskingPattern(name="rest-of-line", regex=r"^! note: (?P<value>.*)$", kind=V),
        MaskingPattern(name="hex", regex=r"[0-9a-f]{6,}", kind=S),
        MaskingPattern(name="angle", regex=r"<(?P<value>[a-z]+)", kind=V),
    ).for_platform(None)
    text = "tacacs key abcdef123456\n! note: key <b>bold</b> abcdef0123\nother 0123456789abcdef\n"
    once = mask_content(text, compiled)
    assert mask_content(once, compiled) == once
    assert "abcdef123456" not in once
    assert "0123456789abcdef" not in once


def test_redaction_is_the_secret_half_of_masking() -> None:
    compiled = MaskingRegistry.builtin(key=KEY).for_platform(Platform.IOS)
    text = (
        "! Last configuration change at 18:41:02 UTC Thu Nov 24 2016\n"
        "enable secret 9 $9$xyzxyzxyz\nusername a privilege 15 password 0 cleartext\nntp clock-period 17208\n"
    )
    redacted = redact_secrets(text, compiled)
    assert "$9$xyzxyzxyz" not in redacted
    assert "cleartext" not in redacted
    assert "18:41:02" in redacted, "volatile values stay in redacted text"
    assert "17208" in redacted
    assert mask_content(redacted, compiled) == mask_content(text, compiled)
    assert redact_secrets(redacted, compiled) == redacted


def test_counts_per_pattern() -> None:
    compiled = MaskingRegistry.builtin(key=KEY).for_platform(Platform.NXOS)
    text = (
        "!Time: Sun Aug  6 16:43:18 2017\nsnmp-server community a group x\nsnmp-server community b group y\n"
    )
    masked, counts = mask_with_counts(text, compiled)
    assert counts == {"nxos-eos-time": 1, "secret-grammar": 2}
    assert masked.count("<secret:") == 2


def test_platform_selection() -> None:
    registry = MaskingRegistry.builtin(key=KEY)
    line = "Cryptochecksum:0123456789abcdef0123456789abcdef\n"
    assert "<volatile:asa-cryptochecksum>" in mask_content(line, registry.for_platform(Platform.ASA))
    assert mask_content(line, registry.for_platform(Platform.JUNOS)) == line
    assert "<volatile:asa-cryptochecksum>" in mask_content(line, registry.for_platform(None))
    everywhere = {GRAMMAR_RULE, *(p.name for p in BUILTIN_PATTERNS)}
    assert set(registry.for_platform(None).names) == everywhere
    for platform in Platform:
        expected = {GRAMMAR_RULE, *(p.name for p in patterns_for(platform))}
        assert set(registry.for_platform(platform).names) == expected
        assert registry.for_platform(platform) is registry.for_platform(platform)


def test_extra_pattern_replaces_a_builtin_of_the_same_name() -> None:
    override = MaskingPattern(
        name="crypt-hash",
        regex=r"(?P<value>\$\d\$\S+)",
        kind=S,
        ignore_changes=True,
        description="site policy",
    )
    registry = MaskingRegistry.builtin(key=KEY, extra=[override])
    compiled = registry.for_platform(Platform.IOS)
    assert mask_content("username a secret 5 $1$x$y\n", compiled) == mask_content(
        "username a secret 5 $1$z$w\n", compiled
    )
    assert [p for p in registry.patterns if p.name == "crypt-hash"] == [override]


def test_key_never_shows_in_repr() -> None:
    compiled = MaskingRegistry.builtin(key=b"super-secret-masking-key").for_platform(Platform.EOS)
    assert "super-secret-masking-key" not in repr(compiled)


@pytest.mark.parametrize(
    ("regex", "why"),
    [
        (r"secret (?=\S+)", "lookahead"),
        (r"(?<!no )password \S+", "lookbehind"),
        (r"(\w+) \1", "backreference"),
        (r"(?P<value>\w+) (?P=value)", "named backreference"),
        (r"key (?P<value>\S+", "unbalanced"),
    ],
)
def test_patterns_re2_cannot_compile_are_rejected_with_their_name(regex: str, why: str) -> None:
    with pytest.raises(MaskingPatternError, match=f"masking pattern 'user-{len(why)}'") as caught:
        _registry(MaskingPattern(name=f"user-{len(why)}", regex=regex, kind=S))
    assert "RE2" in str(caught.value)


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ([MaskingPattern(name="x", regex="a", kind=V)] * 2, "defined twice"),
        ([MaskingPattern(name="bad name", regex="a", kind=V)], "name"),
        ([MaskingPattern(name="empty", regex=r"\s*", kind=V)], "empty string"),
    ],
)
def test_invalid_registries_are_rejected(patterns: list[MaskingPattern], message: str) -> None:
    with pytest.raises(MaskingPatternError, match=message):
        _registry(*patterns)


def test_empty_key_is_rejected() -> None:
    with pytest.raises(MaskingPatternError, match="key"):
        MaskingRegistry([], key=b"")


def test_pathological_pattern_stays_linear() -> None:
    compiled = _registry(MaskingPattern(name="evil", regex=r"(a+)+$", kind=V)).for_platform(None)
    text = "a" * 50_000 + "!"
    started = time.perf_counter()
    assert mask_content(text, compiled) == text
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("platform", "line", "masked"),
    [
        (Platform.IOS, "ntp clock-period 17179869", "ntp clock-period <volatile:ntp-clock-period>"),
        (
            Platform.IOS,
            "! NVRAM config last updated at 13:48:48 PST Sat Jan 7 2023 by user",
            "! <volatile:ios-config-change-stamp>",
        ),
        (
            Platform.IOS,
            "! No configuration change since last restart",
            "! <volatile:ios-config-change-stamp>",
        ),
        (
            Platform.IOSXR,
            "!! Last configuration change at Wed Aug 17 16:49:00 2016 by vagrant",
            "!! <volatile:ios-config-change-stamp>",
        ),
        (
            Platform.NXOS,
            "!Running configuration last done at: Tue Jun 25 17:18:19 2019",
            "!Running configuration last done at: <volatile:nxos-eos-time>",
        ),
        (
            Platform.EOS,
            "! Startup-config last modified at  Sun Sep 11 18:35:01 2016 by root",
            "! Startup-config last modified at  <volatile:nxos-eos-time>",
        ),
        (Platform.EOS, "! device: leaf1 (vEOS-lab, EOS-4.27.0F)", "! device: <volatile:eos-device-header>"),
        (
            Platform.JUNOS,
            "## Last commit: 2014-03-24 16:34:32 UTC by rick",
            "## Last commit: <volatile:junos-last-commit>",
        ),
        (
            Platform.JUNOS_SET,
            "## Last changed: 2024-01-02 03:04:05 UTC",
            "## Last changed: <volatile:junos-last-commit>",
        ),
        (
            Platform.ASA,
            ": Written by admin at 20:03:32.236 CEST Mon Oct 21 2024",
            ": Written by <volatile:asa-written-by>",
        ),
        (
            Platform.IOS,
            "! router uptime is 44 weeks, 4 days, 1 hour, 16 minutes",
            "! router uptime is <volatile:comment-uptime>",
        ),
        (
            Platform.IOS,
            "! 10.0.0.2  4 65001  1234  5678  0  0 1d02h  12",
            "! 10.0.0.2  4 65001  1234  5678  0  0 <volatile:comment-duration>",
        ),
        (
            Platform.JUNOS,
            "# Redundancy group: 1 , Failover count: 2",
            "# Redundancy group: 1 , Failover count: <volatile:comment-counter-field>",
        ),
        (Platform.IOS, "! 12345 packets input, 67890 bytes", "! <volatile:comment-counter>"),
    ],
)
def test_builtin_volatile_lines(platform: Platform, line: str, masked: str) -> None:
    compiled = MaskingRegistry.builtin(key=KEY).for_platform(platform)
    assert mask_content(line + "\n", compiled) == masked + "\n"


@pytest.mark.parametrize(
    ("platform", "line", "secret"),
    [
        (Platform.IOS, "enable password cisco", "cisco"),
        (
            Platform.IOS,
            "enable secret 8 $8$dsYGNam3K1SIJO$7nv/35M/qr6t.dVc7UY9zrJDWRVqncHub1PE9UlMQFs",
            "$8$dsYGNam3K1SIJO$7nv/35M/qr6t.dVc7UY9zrJDWRVqncHub1PE9UlMQFs",
        ),
        (Platform.IOS, " password 7 0822455D0A16", "0822455D0A16"),
        (Platform.IOS, "tacacs-server host 10.1.1.1 key 7 02050D480809", "02050D480809"),
        (Platform.IOS, " key 7 02050D480809", "02050D480809"),
        (Platform.IOS, "radius-server key s3cr3t", "s3cr3t"),
        (Platform.IOS, "crypto isakmp key MyPsK address 10.0.0.1", "MyPsK"),
        (Platform.IOS, " ip ospf message-digest-key 1 md5 7 0822455D0A16", "0822455D0A16"),
        (Platform.IOS, " ip ospf authentication-key 7 0822455D0A16", "0822455D0A16"),
        (Platform.IOS, " standby 1 authentication md5 key-string 7 0822455D0A16", "0822455D0A16"),
        (Platform.IOS, "ntp authentication-key 1 md5 104D000A0618 7", "104D000A0618"),
        (Platform.IOS, " neighbor 10.0.0.2 password 7 0822455D0A16", "0822455D0A16"),
        (Platform.IOS, " key-string 7 0822455D0A16", "0822455D0A16"),
        (Platform.IOS, "snmp-server community pub1ic RO 5", "pub1ic"),
        (Platform.IOS, "snmp-server host 10.1.1.1 traps version 2c c0mmunity udp-port 162", "c0mmunity"),
        (Platform.IOS, "snmp-server user u g v3 auth sha authpass priv aes 128 privpass", "authpass"),
        (Platform.IOS, "snmp-server user u g v3 auth sha authpass priv aes 128 privpass", "privpass"),
        (
            Platform.EOS,
            "snmp-server user u g v3 localized 0011 auth sha 1a2b3c4d priv aes 5e6f7a8b",
            "1a2b3c4d",
        ),
        (
            Platform.EOS,
            "snmp-server user u g v3 localized 0011 auth sha 1a2b3c4d priv aes 5e6f7a8b",
            "5e6f7a8b",
        ),
        (
            Platform.EOS,
            "   exec /usr/bin/TerminAttr -cvaddr=1.2.3.4:9910 -cvauth=key,t0ken -ingestauth=key,k3y",
            "t0ken",
        ),
        (
            Platform.EOS,
            "   exec /usr/bin/TerminAttr -cvaddr=1.2.3.4:9910 -cvauth=key,t0ken -ingestauth=key,k3y",
            "k3y",
        ),
        (Platform.EOS, "aaa root secret sha512 $6$salt$hashhash", "$6$salt$hashhash"),
        (Platform.NXOS, 'tacacs-server key 7 "fewhg123"', "fewhg123"),
        (Platform.IOSXR, " secret 10 $6$abcd$efgh", "$6$abcd$efgh"),
        (Platform.ASA, "tunnel-group 1.2.3.4 ipsec-attributes\n ikev1 pre-shared-key Sup3rPsk", "Sup3rPsk"),
        (Platform.ASA, "failover key Fa1lKey", "Fa1lKey"),
        (Platform.ASA, " ldap-login-password LdapPw", "LdapPw"),
        (Platform.JUNOS, '    secret "$9$abcDEF"; ## SECRET-DATA', "$9$abcDEF"),
        (Platform.JUNOS, '        authentication-key "plainish";', "plainish"),
        (
            Platform.JUNOS,
            "snmp {\n    community pubLic {\n        authorization read-only;\n    }\n}",
            "pubLic",
        ),
        (Platform.JUNOS, "snmp {\n    community pubLic;\n}", "pubLic"),
        (Platform.JUNOS_SET, "set snmp community pubLic authorization read-only", "pubLic"),
        (Platform.JUNOS_SET, 'set system radius-server 10.0.0.1 secret "$9$qwerty"', "$9$qwerty"),
        (
            Platform.JUNOS,
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nqwertyuiop\n-----END RSA PRIVATE KEY-----",
            "MIIEpAIBAAKCAQEA",
        ),
    ],
)
def test_builtin_secrets(platform: Platform, line: str, secret: str) -> None:
    compiled = MaskingRegistry.builtin(key=KEY).for_platform(platform)
    masked = redact_secrets(line + "\n", compiled)
    assert secret not in masked
    assert "<secret:" in masked


@pytest.mark.parametrize(
    ("platform", "line"),
    [
        (Platform.JUNOS, "    community fabric members target:1:1;"),
        (Platform.JUNOS, "            from {\n                community fabric;\n            }"),
        (Platform.IOS, "key chain OSPF-KEYS"),
        (Platform.IOS, "service password-encryption"),
        (Platform.IOS, "ip ssh rsa keypair-name r1.example.com"),
        (Platform.EOS, "no radius-server key"),
        (Platform.IOS, "! Compiled Thu 14-Mar-24 18:01 by builders"),
        (Platform.IOS, " description 4 days of testing, 12:30 cutover"),
        (Platform.IOS, "service timestamps log datetime msec"),
        (Platform.IOS, "clock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 2:00"),
    ],
)
def test_builtin_packs_leave_ordinary_config_alone(platform: Platform, line: str) -> None:
    compiled = MaskingRegistry.builtin(key=KEY).for_platform(platform)
    assert mask_content(line + "\n", compiled) == line + "\n"


CISCO7_KEY = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"
JUNOS_FAMILY = ("QzF3n6/9CAtpu0O", "B1IREhcSyrleKvMW8LXx", "7N-dVbwsY2g4oaJZGUDj", "iHkq.mPf5T")
JUNOS_ALPHABET = "".join(JUNOS_FAMILY)
JUNOS_WEIGHTS = ((1, 4, 32), (1, 16, 32), (1, 8, 32), (1, 64), (1, 32), (1, 4, 16, 128), (1, 32, 64))


def _cisco7(password: str, seed: int) -> str:
    return f"{seed:02d}" + "".join(
        f"{ord(c) ^ ord(CISCO7_KEY[(seed + i) % len(CISCO7_KEY)]):02X}" for i, c in enumerate(password)
    )


def _junos9(secret: str, rng: random.Random) -> str:
    """Encode as Junos does (Crypt::Juniper), with a random salt."""
    extra = {c: 3 - n for n, family in enumerate(JUNOS_FAMILY) for c in family}
    salt = rng.choice(JUNOS_ALPHABET)
    out = "$9$" + salt + "".join(rng.choice(JUNOS_ALPHABET) for _ in range(extra[salt]))
    previous = salt
    for position, char in enumerate(secret):
        value, gaps = ord(char), list[int]()
        for weight in reversed(JUNOS_WEIGHTS[position % len(JUNOS_WEIGHTS)]):
            gaps.insert(0, value // weight)
            value %= weight
        for gap in gaps:
            previous = JUNOS_ALPHABET[(gap + JUNOS_ALPHABET.index(previous) + 1) % len(JUNOS_ALPHABET)]
            out += previous
    return out


def test_reversible_encodings_decode() -> None:
    assert decode_cisco7("0822455D0A16") == "cisco"
    assert decode_cisco7(_cisco7("S3cret!pw", 11)) == "S3cret!pw"
    assert decode_cisco7("not-type-7") is None
    rng = random.Random(7)
    assert decode_junos9(_junos9("hunter2 with spaces", rng)) == "hunter2 with spaces"
    assert decode_junos9("$9$") is None
    assert decode_junos9("$9$abc$def") is None, "Cisco type 9 hashes are not Junos strings"


def test_a_reencoded_password_keeps_its_fingerprint_and_a_changed_one_does_not() -> None:
    ios = MaskingRegistry.builtin(key=KEY).for_platform(Platform.IOS)
    line = "username probe privilege 15 password 7 {}\n"
    first = mask_content(line.format(_cisco7("S3cret!pw", 3)), ios)
    assert first == mask_content(line.format(_cisco7("S3cret!pw", 12)), ios)
    assert first != mask_content(line.format(_cisco7("S3cret!px", 3)), ios)
    junos = MaskingRegistry.builtin(key=KEY).for_platform(Platform.JUNOS_SET)
    psk = 'set security ike policy p pre-shared-key ascii-text "{}"\n'
    rng = random.Random(1)
    encodings = {_junos9("hahahoho", rng) for _ in range(5)}
    assert len(encodings) > 1
    sample = "$9$/E6g9tO1IcSrvfTCu1hKv-VwgJD"  # batfish_junos-srx-1.cfg
    masked = {mask_content(psk.format(value), junos) for value in (*encodings, sample)}
    assert len(masked) == 1
    assert masked != {mask_content(psk.format(_junos9("hahahohO", rng)), junos)}


def test_a_comment_that_merely_starts_like_a_header_is_kept() -> None:
    compiled = MaskingRegistry.builtin(key=KEY).for_platform(Platform.NXOS)
    assert mask_content("! Timezone is set below\n", compiled) == "! Timezone is set below\n"
