"""Built-in masking packs, one list per platform family.

They cover what the well-known backup tools strip or hide (Oxidized's models,
RANCID's filters, NAPALM's sanitizers) and every volatile or secret line of
the real-world samples. All are RE2 patterns, run in multi-line mode (see
:mod:`driftaudit.domain.masking` for the matching rules).

Two asymmetries guide them. A secret pattern that matches too much costs
only readability: the fingerprint still changes when the value does, so drift
is never hidden. A volatile pattern that matches too much hides drift, so the
volatile ones are narrow: CLI headers, known timestamp comments, and
timestamps, durations and counters inside comment lines only. In a comment
line the span runs from the first dynamic value to the end of the line (in
show-output-style lines what follows an uptime is dynamic too), which also
keeps one match per line, so masking stays idempotent.
"""

from __future__ import annotations

from driftaudit.domain.models import MaskingPattern, PatternKind, Platform

__all__ = ["BUILTIN_PATTERNS", "patterns_for"]

_V = PatternKind.VOLATILE
_S = PatternKind.SECRET
_ALL: frozenset[Platform] = frozenset()
_CISCO = frozenset({Platform.IOS, Platform.NXOS, Platform.IOSXR, Platform.EOS, Platform.ASA})
_JUNOS = frozenset({Platform.JUNOS, Platform.JUNOS_SET})

_SP = r"[ \t]"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_HMS = r"\d{1,2}:\d{2}:\d{2}(?:\.\d+)?"
_TZ = r"(?:[A-Z]{2,5}(?:[+-]\d{1,2}(?::?\d{2})?)?)"
#: "18:41:02 UTC Thu Nov 24 2016", "Tue Jun 25 17:34:34 2019", "2017-04-21 11:39:12 IST", ISO 8601.
_TIMESTAMP = (
    rf"(?:(?:{_HMS}{_SP}+(?:{_TZ}{_SP}+)?)?{_DAY}{_SP}+{_MON}{_SP}+\d{{1,2}}"
    rf"(?:{_SP}+{_HMS})?(?:{_SP}+{_TZ})?{_SP}+\d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}[ T]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?"
    rf"(?:Z|[+-]\d{{2}}:?\d{{2}}|{_SP}*{_TZ})?)"
)
_UNIT = r"(?:years?|weeks?|days?|hours?|minutes?|mins?|seconds?|secs?)"
#: "44 weeks, 4 days, 1 hour", "1d02h", "3w2d", "00:12:34".
_DURATION = (
    rf"(?:\d+{_SP}+{_UNIT}(?:,?{_SP}+(?:and{_SP}+)?\d+{_SP}+{_UNIT})*"
    r"|\d+[ywdh]\d+[wdhm](?:\d+[hms])?|\d{1,3}:\d{2}:\d{2})"
)
#: A comment line, up to the first thing worth masking: "!", "!!", "#", "##".
_COMMENT = r"^[ \t]*[!#:][^\n]*?"
#: Cisco-style encryption-type marker before a value: "5", "7", "sha512", ...
_ENC = rf"(?:{_SP}+(?:\d{{1,2}}|sha512|sha256|md5|clear|encrypted))?"


def _v(name: str, regex: str, platforms: frozenset[Platform], description: str) -> MaskingPattern:
    return MaskingPattern(name=name, regex=regex, kind=_V, platforms=platforms, description=description)


def _s(name: str, regex: str, platforms: frozenset[Platform], description: str) -> MaskingPattern:
    return MaskingPattern(name=name, regex=regex, kind=_S, platforms=platforms, description=description)


_SECRETS: tuple[MaskingPattern, ...] = (
    _s(
        "private-key-pem",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\n(?P<value>[\s\S]*?)\n[ \t]*-----END",
        _ALL,
        "PEM private key bodies",
    ),
    _s(
        "crypt-hash",
        r"(?P<value>\$(?:\d{1,2}|sha\d+|pbkdf2|2[aby]|y)\$[^\s\"';]+)",
        _ALL,
        "$1$/$5$/$6$/$8$/$9$/$sha512$ password hashes and Junos $9$ strings, wherever they are",
    ),
    _s(
        "hex-key",
        r"(?P<value>\b0x[0-9A-Fa-f]{16,})",
        _ALL,
        "long hexadecimal keys (SNMPv3 localized keys)",
    ),
    _s(
        "cisco-enable-secret",
        rf"^{_SP}*enable{_SP}+(?:password|secret)(?:{_SP}+level{_SP}+\d+)?{_ENC}{_SP}+(?P<value>\S+)",
        _CISCO,
        "enable password / enable secret, any type",
    ),
    _s(
        "cisco-username-secret",
        rf"^{_SP}*username{_SP}+\S+[^\n]*?{_SP}(?:password|secret){_ENC}{_SP}+(?P<value>\S+)",
        _CISCO,
        "username ... password|secret [type] VALUE",
    ),
    _s(
        "cisco-indented-secret",
        rf"^{_SP}+(?:password|secret){_ENC}{_SP}+(?P<value>\S+)",
        _CISCO,
        "password/secret under a line, user or neighbor block",
    ),
    _s(
        "cisco-root-secret",
        rf"^{_SP}*(?:aaa{_SP}+root{_SP}+secret|passwd){_ENC}{_SP}+(?P<value>\S+)",
        _CISCO,
        "EOS aaa root secret, ASA passwd",
    ),
    _s(
        "cisco-neighbor-password",
        rf"^{_SP}*neighbor{_SP}+\S+{_SP}+password{_ENC}{_SP}+(?P<value>\S+)",
        _CISCO,
        "BGP neighbor passwords",
    ),
    _s(
        "cisco-auth-key",
        rf"(?:authentication-key(?:{_SP}+\d+{_SP}+md5)?|authentication{_SP}+(?:text|md5{_SP}+key-string)"
        rf"|key-string|message-digest-key{_SP}+\d+{_SP}+md5|wpa-psk{_SP}+ascii|ldap-login-password"
        rf"|(?:chap|pap){_SP}+password){_ENC}{_SP}+(?P<value>\S+)",
        _CISCO,
        "OSPF/IS-IS/HSRP/VRRP/NTP authentication keys, key-chain key strings, PPP passwords",
    ),
    _s(
        "cisco-trailing-key",
        rf"(?:^|{_SP})(?:key|server-key|pre-shared-key|key[0-9]){_ENC}{_SP}+(?P<value>\S+){_SP}*$",
        _CISCO,
        "tacacs/radius/aaa-server keys, IPsec pre-shared keys, failover keys: a key that ends its line",
    ),
    _s(
        "cisco-isakmp-key",
        rf"^{_SP}*crypto{_SP}+isakmp{_SP}+key(?:{_SP}+\d)?{_SP}+(?P<value>\S+)",
        _CISCO,
        "crypto isakmp key VALUE address ...",
    ),
    _s(
        "cisco-snmp-community",
        rf"^{_SP}*snmp-server{_SP}+community{_SP}+(?:\d{_SP}+)?(?P<value>\S+)",
        _CISCO,
        "SNMP communities",
    ),
    _s(
        "cisco-snmp-host-community",
        rf"^{_SP}*snmp-server{_SP}+host{_SP}+(?:[A-Za-z][\w.-]*{_SP}+)?\d\S*(?:{_SP}+vrf{_SP}+\S+)?"
        rf"(?:{_SP}+(?:informs?|traps))?(?:{_SP}+version{_SP}+(?:1|2c|3{_SP}+(?:auth|noauth|priv)))?"
        rf"(?:{_SP}+community)?{_SP}+(?P<value>\S+)",
        _CISCO,
        "the community (or v3 user) of snmp-server host lines",
    ),
    _s(
        "snmp-user-key",
        rf"{_SP}(?:auth{_SP}+(?:md5|sha\S*)|priv(?:{_SP}+(?:aes\S*|des\S*|3des)(?:{_SP}+\d+)?)?|localized)"
        rf"(?:{_SP}+encrypted)?{_SP}+(?P<value>[^\s<]\S*)",
        _CISCO,
        "SNMPv3 auth/priv keys (NX-OS 0x localized keys, EOS hex keys, cleartext)",
    ),
    _s(
        "eos-terminattr-key",
        r"auth=key,(?P<value>[^\s,]+)",
        frozenset({Platform.EOS}),
        "TerminAttr -ingestauth=key,... / -cvauth=key,...",
    ),
    _s(
        "asa-activation-key",
        r"(?i:activation key):[ \t]*(?P<value>\S[^\n]*\S)",
        frozenset({Platform.ASA}),
        "licence activation keys in show-version comments",
    ),
    _s(
        "junos-secret-data",
        r"\"?(?P<value>[^\"\s;]+)\"?;[ \t]*## SECRET-DATA",
        _JUNOS,
        "every value Junos itself flags with ## SECRET-DATA",
    ),
    _s(
        "junos-secret-keyword",
        rf"(?:^|{_SP})(?:pre-shared-key{_SP}+(?:ascii-text|hexadecimal)|encrypted-password|ascii-text"
        rf"|hexadecimal|authentication-key|simple-password|secret|shared-secret|key){_SP}+"
        r"\"?(?P<value>[^\"\s;{]+)",
        _JUNOS,
        "encrypted-password, pre-shared keys, authentication keys, RADIUS/TACACS secrets",
    ),
    _s(
        "junos-snmp-community",
        rf"^{_SP}*community{_SP}+\"?(?P<value>[^\"\s;{{]+)\"?{_SP}*\{{\n{_SP}+"
        r"(?:view|authorization|logical-system|routing-instance|clients)\b",
        _JUNOS,
        "SNMP community blocks, curly format (told from policy communities by their first child)",
    ),
    _s(
        "junos-snmp-community-leaf",
        r"^    community[ \t]+\"?(?P<value>[^\"\s;{]+)\"?;",
        frozenset({Platform.JUNOS}),
        "'community NAME;' directly under the top-level snmp block",
    ),
    _s(
        "junos-set-snmp-community",
        rf"^set{_SP}+snmp{_SP}+community{_SP}+\"?(?P<value>[^\"\s;]+)",
        _JUNOS,
        "SNMP communities, set format",
    ),
)

_VOLATILES: tuple[MaskingPattern, ...] = (
    _v(
        "cli-building-configuration",
        r"^[ \t]*Building configuration\.\.\.[ \t]*\n(?:[ \t]*\n)*",
        _CISCO,
        "the 'Building configuration...' header (line dropped)",
    ),
    _v(
        "cli-current-configuration",
        r"^[ \t]*Current configuration[ \t]*:[ \t]*\d+ bytes[ \t]*\n",
        _CISCO,
        "the 'Current configuration : N bytes' header (line dropped)",
    ),
    _v(
        "ios-config-change-stamp",
        r"^!+[ \t]*(?P<value>(?:Last configuration change|NVRAM config last updated"
        r"|No configuration change since last restart)[^\n]*)",
        _CISCO,
        "'! Last configuration change at ...', '! NVRAM config last updated at ...' (IOS, IOS-XR)",
    ),
    _v(
        "nxos-eos-time",
        r"^![ \t]*(?:Time:|Running configuration last done at:?|Startup-config last modified at)"
        r"[ \t]*(?P<value>\S[^\n]*)",
        _CISCO,
        "NX-OS '!Time:' and '!Running configuration last done at:', EOS '! Startup-config last modified'",
    ),
    _v(
        "eos-device-header",
        r"^![ \t]*device:[ \t]*(?P<value>\S[^\n]*)",
        frozenset({Platform.EOS}),
        "EOS '! device: NAME (MODEL, EOS-VERSION, uptime)' header",
    ),
    _v(
        "ntp-clock-period",
        r"^[ \t]*ntp clock-period[ \t]+(?P<value>\d+)",
        _CISCO,
        "ntp clock-period, rewritten by the device as the clock drifts",
    ),
    _v(
        "asa-cryptochecksum",
        r"^Cryptochecksum:[ \t]*(?P<value>[0-9A-Fa-f]+)",
        frozenset({Platform.ASA}),
        "ASA Cryptochecksum, changes on every write",
    ),
    _v(
        "asa-written-by",
        r"^:[ \t]*(?:Written by|Saved)\b[ \t]*(?P<value>\S[^\n]*)",
        frozenset({Platform.ASA}),
        "ASA ': Written by USER at TIME' header",
    ),
    _v(
        "junos-last-commit",
        r"^#+[ \t]*Last (?:commit|changed):[ \t]*(?P<value>\S[^\n]*)",
        _JUNOS,
        "Junos '## Last commit: ...' and '## Last changed: ...'",
    ),
    _v(
        "certificate-hex-body",
        r"^[ \t]*certificate\b[^\n]*\n[ \t]+(?P<value>[0-9A-Fa-f]{2,8}(?:[ \t]+[0-9A-Fa-f]{2,8})*"
        r"(?:[ \t]*\n[ \t]+[0-9A-Fa-f]{2,8}(?:[ \t]+[0-9A-Fa-f]{2,8})*)*)[ \t]*\n[ \t]*quit\b",
        _CISCO,
        "crypto pki / crypto ca certificate bodies (hex blobs up to 'quit')",
    ),
    _v(
        "certificate-pem-body",
        r"-----BEGIN CERTIFICATE-----\n(?P<value>[\s\S]*?)\n[ \t]*-----END CERTIFICATE-----",
        _ALL,
        "PEM certificate bodies",
    ),
    _v(
        "comment-timestamp",
        rf"{_COMMENT}(?P<value>{_TIMESTAMP}[^\n]*)",
        _ALL,
        "timestamps in comment lines, in the vendors' formats",
    ),
    _v(
        "comment-uptime",
        rf"{_COMMENT}\b(?i:uptime|up{_SP}time)(?:{_SP}+is)?{_SP}*:?{_SP}*(?P<value>\S[^\n]*)",
        _ALL,
        "the rest of a comment line after 'uptime'",
    ),
    _v(
        "comment-duration",
        rf"{_COMMENT}\b(?P<value>{_DURATION}\b[^\n]*)",
        _ALL,
        "durations in comment lines: '4 days, 1 hour', '1d02h', BGP Up/Down '00:12:34'",
    ),
    _v(
        "comment-counter",
        rf"{_COMMENT}\b(?P<value>\d+{_SP}+(?i:packets|bytes|pkts|octets|frames|errors|drops|flaps|resets)\b[^\n]*)",
        _ALL,
        "counters in comment lines: '1234 packets'",
    ),
    _v(
        "comment-counter-field",
        rf"{_COMMENT}\b(?i:count|counter|flaps|resets){_SP}*[:=]{_SP}*(?P<value>\d+[^\n]*)",
        _ALL,
        "counters in comment lines: 'Failover count: 2'",
    ),
)

#: Every built-in pattern: secrets first, then volatiles (the order they are applied in).
BUILTIN_PATTERNS: tuple[MaskingPattern, ...] = (*_SECRETS, *_VOLATILES)


def patterns_for(platform: Platform) -> tuple[MaskingPattern, ...]:
    """The built-in patterns that apply to ``platform``."""
    return tuple(p for p in BUILTIN_PATTERNS if not p.platforms or platform in p.platforms)
