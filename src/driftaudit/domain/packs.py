"""Built-in masking packs, one list per platform family.

Secrets in configuration statements are found by the vendor grammar
(:mod:`driftaudit.domain.secrets_grammar`), not listed here line shape by line
shape; the secret patterns below are the forms a grammar cannot see: hashes
and long hex keys anywhere, PEM private keys, values Junos flags with
``## SECRET-DATA``, EOS TerminAttr keys, ASA licence keys. They cover what
the well-known backup tools strip or hide (Oxidized's models, RANCID's
filters, NAPALM's sanitizers) and every volatile or secret line of the
real-world samples. All are RE2 patterns, run in multi-line mode (see
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
        r"^[ \t]*certificate\b[^\n]*\n[ \t]+(?P<value>[0-9A-Fa-f]+(?:[ \t]+[0-9A-Fa-f]+)*"
        r"(?:[ \t]*\n[ \t]+[0-9A-Fa-f]+(?:[ \t]+[0-9A-Fa-f]+)*)*)[ \t]*\n[ \t]*quit\b",
        _CISCO,
        "crypto pki / crypto ca certificate bodies (hex blobs of any grouping, up to 'quit')",
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
