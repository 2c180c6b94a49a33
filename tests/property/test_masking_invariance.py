"""Properties of masking over generated configs full of dynamic data.

* Two captures of the same config, differing only in dynamic data (timestamps
  in the vendors' formats, uptimes, counters, clock periods, certificate
  blobs, re-salted hashes), compare as compliant under the registered patterns.
* Masking is idempotent, on generated configs and on arbitrary hostile text.
* A change outside every masked span is always detected: masking never hides
  real drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import MaskingRegistry, mask_content, redact_secrets
from driftaudit.domain.models import Platform
from driftaudit.domain.packs import BUILTIN_PATTERNS

KEY = b"property-test-key"
_HASH = next(p for p in BUILTIN_PATTERNS if p.name == "crypt-hash")
#: Re-salting a hash is a change unless the operator says otherwise; these tests say otherwise.
REGISTRY = MaskingRegistry.builtin(key=KEY, extra=[_HASH.model_copy(update={"ignore_changes": True})])
STRICT = MaskingRegistry.builtin(key=KEY)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SALT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./"

T = TypeVar("T")


class Draw(Protocol):
    """Both ``@st.composite``'s ``draw`` and ``st.data().draw``."""

    def __call__(self, strategy: st.SearchStrategy[T], label: Any = None) -> T: ...


hms = st.builds(
    lambda h, m, s: f"{h:02d}:{m:02d}:{s:02d}", st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)
)
tz = st.sampled_from(["UTC", "PST", "CEST", "CET", "IST", "GMT-10", "EDT"])
year = st.integers(1990, 2099)
day = st.integers(1, 31)
user = st.sampled_from(["admin", "oxidized", "vagrant", "root", "SES-SVC", "netops"])
number = st.integers(0, 10**9)


@st.composite
def cisco_stamp(draw: Draw) -> str:
    """'18:41:02 UTC Thu Nov 24 2016'."""
    weekday, month = draw(st.sampled_from(DAYS)), draw(st.sampled_from(MONTHS))
    return f"{draw(hms)} {draw(tz)} {weekday} {month} {draw(day)} {draw(year)}"


@st.composite
def unix_stamp(draw: Draw) -> str:
    """'Tue Jun 25 17:34:34 2019' (NX-OS, IOS-XR), with the double space of single-digit days."""
    d = draw(day)
    return f"{draw(st.sampled_from(DAYS))} {draw(st.sampled_from(MONTHS))} {d:>2} {draw(hms)} {draw(year)}"


@st.composite
def iso_stamp(draw: Draw) -> str:
    """'2024-12-06 11:41:05 UTC' (Junos)."""
    return (
        f"{draw(year)}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d} {draw(hms)} {draw(tz)}"
    )


@st.composite
def uptime(draw: Draw) -> str:
    units = draw(
        st.lists(
            st.sampled_from(["years", "weeks", "days", "hours", "minutes"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    return ", ".join(f"{draw(st.integers(1, 59))} {u}" for u in units)


@st.composite
def bgp_uptime(draw: Draw) -> str:
    return draw(
        st.one_of(
            st.builds(lambda d, h: f"{d}d{h:02d}h", st.integers(1, 6), st.integers(0, 23)),
            st.builds(lambda w, d: f"{w}w{d}d", st.integers(1, 52), st.integers(0, 6)),
            hms,
        )
    )


@st.composite
def certificate(draw: Draw) -> str:
    blob = draw(st.binary(min_size=33, max_size=800)).hex().upper()
    groups = [blob[i : i + 8] for i in range(0, len(blob), 8)]
    lines = [" ".join(groups[i : i + 8]) for i in range(0, len(groups), 8)]
    return "certificate self-signed 01\n" + "".join(f"  {line}\n" for line in lines) + "  \tquit"


@st.composite
def crypt(draw: Draw) -> str:
    salt = draw(st.text(alphabet=SALT, min_size=4, max_size=16))
    digest = draw(st.text(alphabet=SALT, min_size=22, max_size=86))
    return f"${draw(st.sampled_from(['1', '5', '6', '8', '9']))}${salt}${digest}"


#: Dynamic line makers per platform: each draws fresh values every time it is called.
CISCO_DYNAMIC: dict[str, Callable[[Draw], str]] = {
    "last-change": lambda d: f"! Last configuration change at {d(cisco_stamp())} by {d(user)}",
    "nvram": lambda d: f"! NVRAM config last updated at {d(cisco_stamp())} by {d(user)}",
    "clock-period": lambda d: f"ntp clock-period {d(number)}",
    "uptime": lambda d: f"! router1 uptime is {d(uptime())}",
    "bgp-peer": lambda d: f"! 10.0.0.2  4  65001  {d(bgp_uptime())}",
    "counter": lambda d: f"! {d(number)} packets input",
    "certificate": lambda d: d(certificate()),
    "hash": lambda d: f"username admin privilege 15 secret 5 {d(crypt())}",
    "comment-stamp": lambda d: f"! saved {d(unix_stamp())}",
}
PLATFORM_DYNAMIC: dict[Platform, dict[str, Callable[[Draw], str]]] = {
    Platform.IOS: CISCO_DYNAMIC,
    Platform.IOSXR: {
        **CISCO_DYNAMIC,
        "xr-change": lambda d: f"!! Last configuration change at {d(unix_stamp())} by {d(user)}",
    },
    Platform.NXOS: {
        **CISCO_DYNAMIC,
        "time": lambda d: f"!Time: {d(unix_stamp())}",
        "last-done": lambda d: f"!Running configuration last done at: {d(unix_stamp())}",
    },
    Platform.EOS: {
        **CISCO_DYNAMIC,
        "device": lambda d: (
            f"! device: leaf1 (vEOS-lab, EOS-4.{d(st.integers(10, 33))}.{d(st.integers(0, 9))}F)"
        ),
        "startup": lambda d: f"! Startup-config last modified at  {d(unix_stamp())} by {d(user)}",
    },
    Platform.ASA: {
        **CISCO_DYNAMIC,
        "checksum": lambda d: "Cryptochecksum:" + d(st.binary(min_size=16, max_size=16)).hex(),
        "written": lambda d: (
            f": Written by {d(user)} at {d(hms)}.{d(st.integers(0, 999)):03d} {d(cisco_stamp())}"
        ),
        "pbkdf2": lambda d: f"enable password $sha512$5000${d(crypt())[3:]} pbkdf2",
    },
    Platform.JUNOS_SET: {
        "commit": lambda d: f"## Last commit: {d(iso_stamp())} by {d(user)}",
        "changed": lambda d: f"## Last changed: {d(iso_stamp())}",
        "uptime": lambda d: f"# System uptime: {d(uptime())}",
        "failover": lambda d: f"# Redundancy group: 1 , Failover count: {d(st.integers(0, 999))}",
        "hash": lambda d: f'set system root-authentication encrypted-password "{d(crypt())}"',
    },
}

WORDS = (
    "interface",
    "description",
    "ip",
    "address",
    "vlan",
    "shutdown",
    "router",
    "bgp",
    "neighbor",
    "remote-as",
    "hostname",
    "logging",
    "host",
    "spanning-tree",
    "mode",
    "trunk",
    "access",
    "ospf",
    "area",
    "network",
    "route-map",
    "permit",
    "deny",
    "match",
    "set",
    "local-preference",
    "mtu",
    "speed",
    "duplex",
    "auto",
    "Ethernet1/1",
    "GigabitEthernet0/0",
    "Loopback0",
    "uplink",
    "core-1",
    "10.1.2.3",
    "255.255.255.0",
    "65001",
)
word = st.sampled_from(WORDS)


@st.composite
def static_line(draw: Draw, junos: bool) -> str:
    words = draw(st.lists(st.one_of(word, st.integers(0, 4094).map(str)), min_size=1, max_size=7))
    if junos:
        return "set " + " ".join(words)
    return " " * draw(st.sampled_from([0, 0, 1, 2, 3])) + " ".join(words)


@st.composite
def skeleton(draw: Draw) -> tuple[Platform, list[str | None], list[str]]:
    """A platform, a list of static lines (None = a dynamic slot) and the dynamic kind of each slot."""
    platform = draw(st.sampled_from(sorted(PLATFORM_DYNAMIC)))
    junos = platform is Platform.JUNOS_SET
    items = draw(
        st.lists(st.one_of(static_line(junos).map(lambda s: (s,)), st.just(None)), min_size=1, max_size=30)
    )
    kinds = draw(
        st.lists(
            st.sampled_from(sorted(PLATFORM_DYNAMIC[platform])), min_size=len(items), max_size=len(items)
        )
    )
    lines: list[str | None] = [item[0] if item is not None else None for item in items]
    return platform, lines, kinds


def render(platform: Platform, lines: list[str | None], kinds: list[str], draw: Draw) -> str:
    makers = PLATFORM_DYNAMIC[platform]
    rendered = [
        line if line is not None else makers[kind](draw) for line, kind in zip(lines, kinds, strict=True)
    ]
    return "\n".join(rendered) + "\n"


@settings(max_examples=80)
@given(shape=skeleton(), data=st.data())
def test_dynamic_data_never_shows_as_drift(
    shape: tuple[Platform, list[str | None], list[str]], data: st.DataObject
) -> None:
    platform, lines, kinds = shape
    first = render(platform, lines, kinds, data.draw)
    second = render(platform, lines, kinds, data.draw)
    compiled = REGISTRY.for_platform(platform)
    assert mask_content(first, compiled) == mask_content(second, compiled)
    report = calculate_diff(first, second, compiled, platform=platform)
    assert report.compliant, report.unified_diff


@settings(max_examples=80)
@given(shape=skeleton(), data=st.data())
def test_masking_generated_configs_is_idempotent(
    shape: tuple[Platform, list[str | None], list[str]], data: st.DataObject
) -> None:
    platform, lines, kinds = shape
    text = render(platform, lines, kinds, data.draw)
    for registry in (REGISTRY, STRICT):
        compiled = registry.for_platform(platform)
        masked = mask_content(text, compiled)
        assert mask_content(masked, compiled) == masked
        assert mask_content(redact_secrets(text, compiled), compiled) == masked


FRAGMENTS = (
    "<",
    ">",
    "<secret:",
    "<volatile:",
    "<secret:ignored:x>",
    "<volatile:crypt-hash>",
    "$1$",
    "$9$",
    "$sha512$",
    "key ",
    "secret ",
    "password ",
    " 7 ",
    "community ",
    "! ",
    "!Time: ",
    "## Last commit: ",
    "0x",
    "abcdef0123456789",
    "uptime is ",
    "12:34:56 ",
    "Mon Jan 1 2024",
    "\n",
    "\n ",
    "; ## SECRET-DATA",
    '"',
    "certificate ca 01\n",
    "  30820330 A0030201\n",
    "\tquit",
    "Cryptochecksum:",
    "snmp-server host 10.0.0.1 version 2c ",
    "-----BEGIN CERTIFICATE-----\n",
    "-----END CERTIFICATE-----",
)
hostile = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet="ab01:$<>!#\n -", max_size=6)), max_size=40
).map("".join)


@settings(max_examples=150)
@given(text=hostile, platform=st.one_of(st.none(), st.sampled_from(list(Platform))))
def test_masking_arbitrary_text_is_idempotent(text: str, platform: Platform | None) -> None:
    compiled = STRICT.for_platform(platform)
    masked = mask_content(text, compiled)
    assert mask_content(masked, compiled) == masked
    redacted = redact_secrets(text, compiled)
    assert redact_secrets(redacted, compiled) == redacted
    assert mask_content(redacted, compiled) == masked


@settings(max_examples=80)
@given(shape=skeleton(), data=st.data())
def test_a_change_outside_masked_spans_is_always_detected(
    shape: tuple[Platform, list[str | None], list[str]], data: st.DataObject
) -> None:
    platform, lines, kinds = shape
    junos = platform is Platform.JUNOS_SET
    static = [index for index, line in enumerate(lines) if line is not None]
    intended = render(platform, lines, kinds, data.draw)
    changed = list(lines)
    how = data.draw(st.sampled_from(["edit", "insert"] if static else ["insert"]))
    if how == "edit":
        index = data.draw(st.sampled_from(static))
        changed[index] = f"{changed[index]} drifted{data.draw(st.integers(0, 99))}"
    else:
        at = data.draw(st.integers(0, len(lines)))
        changed.insert(at, ("set " if junos else "") + f"unexpected-{data.draw(st.integers(0, 10**6))} line")
        kinds = [*kinds[:at], kinds[0], *kinds[at:]]
    actual = render(platform, changed, kinds, data.draw)
    compiled = REGISTRY.for_platform(platform)
    assert mask_content(actual, compiled) != mask_content(intended, compiled)
    assert not calculate_diff(actual, intended, compiled, platform=platform).compliant


@settings(max_examples=60)
@given(shape=skeleton(), data=st.data())
def test_a_changed_secret_is_still_drift(
    shape: tuple[Platform, list[str | None], list[str]], data: st.DataObject
) -> None:
    platform, lines, kinds = shape
    intended = render(platform, lines, kinds, data.draw)
    secret = data.draw(st.text(alphabet="abcdefghijkXYZ0123456789", min_size=6, max_size=20))
    other = secret + data.draw(st.sampled_from("lmnop"))
    line = (
        "set snmp community {} authorization read-only"
        if platform is Platform.JUNOS_SET
        else "snmp-server community {} RO"
    )
    compiled = STRICT.for_platform(platform)
    before = intended + line.format(secret) + "\n"
    after = intended + line.format(other) + "\n"
    masked_before, masked_after = mask_content(before, compiled), mask_content(after, compiled)
    assert secret not in masked_before
    assert other not in masked_after
    assert not calculate_diff(after, before, compiled, platform=platform).compliant


# -- secret forms: every keyword, marker and position of the vendor grammar ------------------------

CISCO_FAMILY = [Platform.IOS, Platform.NXOS, Platform.IOSXR, Platform.EOS, Platform.ASA]
JUNOS_FAMILY = [Platform.JUNOS_SET, Platform.JUNOS]
CISCO_MARKERS = ["", "0 ", "5 ", "6 ", "7 ", "8 ", "9 ", "encrypted ", "clear ", "sha512 "]
#: (family, line template): {m} an encryption-type marker (or none), {v} the secret value.
SECRET_FORMS: list[tuple[list[Platform], str]] = [
    (CISCO_FAMILY, "enable secret {m}{v}"),
    (CISCO_FAMILY, "enable password {m}{v}"),
    (CISCO_FAMILY, "enable secret level 15 {m}{v}"),
    (CISCO_FAMILY, "username u1 privilege 15 password {m}{v}"),
    (CISCO_FAMILY, "username u1 secret {m}{v}"),
    (CISCO_FAMILY, "password {m}{v}"),
    (CISCO_FAMILY, "secret {m}{v}"),
    (CISCO_FAMILY, "neighbor 192.0.2.1 password {m}{v}"),
    (CISCO_FAMILY, "ip ftp password {m}{v}"),
    (CISCO_FAMILY, "ppp pap sent-username u2 password {m}{v}"),
    (CISCO_FAMILY, "ppp chap password {m}{v}"),
    (CISCO_FAMILY, "key-string {m}{v}"),
    (CISCO_FAMILY, "key-string password {v}"),
    (CISCO_FAMILY, "tacacs-server key {m}{v}"),
    (CISCO_FAMILY, "radius-server host 192.0.2.2 auth-port 1645 key {m}{v}"),
    (CISCO_FAMILY, "server-private 192.0.2.3 key {m}{v}"),
    (CISCO_FAMILY, "crypto isakmp key {m}{v} address 192.0.2.4"),
    (CISCO_FAMILY, "pre-shared-key address 192.0.2.5 key {m}{v}"),
    (CISCO_FAMILY, "shared-key {m}{v}"),
    (CISCO_FAMILY, "ip ospf authentication-key {m}{v}"),
    (CISCO_FAMILY, "ip ospf message-digest-key 1 md5 {m}{v}"),
    (CISCO_FAMILY, "message-digest-key 20 md5 {m}{v}"),
    (CISCO_FAMILY, "ntp authentication-key 1 md5 {m}{v}"),
    (CISCO_FAMILY, "ntp authentication-key 1 md5 {v} 7"),
    (CISCO_FAMILY, "standby 1 authentication md5 key-string {m}{v}"),
    (CISCO_FAMILY, "snmp-server community {v} RO"),
    (CISCO_FAMILY, "snmp-server community {m}{v} group network-operator"),
    (CISCO_FAMILY, "snmp-server host 192.0.2.6 {v}"),
    (CISCO_FAMILY, "snmp-server host 192.0.2.6 traps version 2c {m}{v}"),
    (CISCO_FAMILY, "snmp-server host 192.0.2.6 vrf MGMT informs version 2c {m}{v} udp-port 162"),
    (CISCO_FAMILY, "snmp-server user u3 g3 v3 auth sha {m}{v}"),
    (CISCO_FAMILY, "snmp-server user u3 g3 v3 auth md5 {m}{v} priv aes 128 {m}{v}"),
    (CISCO_FAMILY, "snmp-server user u3 g3 v3 auth sha {m}{v} priv des {m}{v}"),
    (CISCO_FAMILY, "snmp-server user u3 network-admin auth md5 {v} priv {v} localizedkey"),
    (CISCO_FAMILY, "passwd {v} encrypted"),
    (CISCO_FAMILY, "aaa root secret {m}{v}"),
    (JUNOS_FAMILY, 'set system root-authentication encrypted-password "{v}"'),
    (JUNOS_FAMILY, "set system login user u4 authentication plain-text-password-value {v}"),
    (JUNOS_FAMILY, 'set system radius-server 192.0.2.7 secret "{v}"'),
    (JUNOS_FAMILY, "set system tacplus-server 192.0.2.8 secret {v}"),
    (JUNOS_FAMILY, 'set protocols bgp group G authentication-key "{v}"'),
    (JUNOS_FAMILY, 'set security ike policy P pre-shared-key ascii-text "{v}"'),
    (JUNOS_FAMILY, "set snmp community {v} authorization read-only"),
    (JUNOS_FAMILY, 'set snmp v3 usm local-engine user u5 authentication-sha authentication-key "{v}"'),
    (JUNOS_FAMILY, 'set snmp v3 usm local-engine user u5 privacy-aes128 privacy-key "{v}"'),
    (JUNOS_FAMILY, 'set security authentication-key-chains key-chain K key 0 secret "{v}"'),
    (JUNOS_FAMILY, 'set system ntp authentication-key 1 type md5 value "{v}"'),
    (JUNOS_FAMILY, '    encrypted-password "{v}"; ## SECRET-DATA'),
    (JUNOS_FAMILY, "    community {v} {{"),
    (JUNOS_FAMILY, '        simple-password "{v}";'),
]
secret_value = st.one_of(
    st.text(alphabet="abcdefXYZ0123456789!@%^&*()_+-=./,:", min_size=8, max_size=24).filter(
        lambda value: not value.isdigit()
    ),
    st.builds(
        lambda salt, body: f"$1${salt}${body}",
        st.text(SALT, min_size=4, max_size=8),
        st.text(SALT, min_size=8, max_size=22),
    ),
    st.builds(lambda salt: f"{salt:02d}" + "0A1B2C3D4E5F", st.integers(0, 15)),
)


@settings(max_examples=300)
@given(
    form=st.sampled_from(SECRET_FORMS),
    data=st.data(),
    indent=st.sampled_from(["", " ", "  ", "   ", "\t"]),
    values=st.lists(secret_value, min_size=2, max_size=2, unique=True),
)
def test_secret_forms_mask_idempotently_on_both_paths(
    form: tuple[list[Platform], str], data: st.DataObject, indent: str, values: list[str]
) -> None:
    """mask(mask(x)) == mask(x) == mask(redact(x)), and the value is gone, for every secret form."""
    platforms, template = form
    platform = data.draw(st.sampled_from(platforms))
    markers = CISCO_MARKERS if platforms is CISCO_FAMILY else [""]
    marker = data.draw(st.sampled_from(markers))
    body = template.replace("{m}", marker, 1).replace("{m}", data.draw(st.sampled_from(markers)))
    first, second = body.split("{v}", 1) if "{v}" in body else (body, "")
    line = indent + first + values[0] + (second.replace("{v}", values[1]) if second else "")
    line = line.replace("{{", "{")
    if platform is Platform.JUNOS and line.lstrip().startswith("set "):
        line = line.lstrip()
    text = line + "\n"
    compiled = STRICT.for_platform(platform)
    masked = mask_content(text, compiled)
    redacted = redact_secrets(text, compiled)
    assert mask_content(masked, compiled) == masked
    assert redact_secrets(redacted, compiled) == redacted
    assert mask_content(redacted, compiled) == masked
    for value in values[: template.count("{v}")]:
        assert value not in masked, (line, masked)
        assert value not in redacted
