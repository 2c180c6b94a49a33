"""Round trip: running + remediation, applied with our own section tree, compares compliant with intended.

Two sources of pairs: generated configs (Hypothesis; IOS-like trees with
ordered groups, named ACLs, route-map entries and ``no`` lines, and Junos
statement sets with ordered terms), and every real sample config and pair in
``../shared/samples`` with drift injected (blocks deleted, lines added,
changed, ordered entries swapped), in both directions.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.diff import compare_masked
from driftaudit.domain.masking import MaskingRegistry, mask_content
from driftaudit.domain.models import Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.remediation import apply_remediation, remediate, render
from tests.samples_path import CONFIGS, PAIRS, sample_files

REGISTRY = MaskingRegistry.builtin(key=b"r" * 32)
FAST = settings(max_examples=150, deadline=None)


def _round_trip(running: str, intended: str, platform: Platform | None) -> None:
    remediation = remediate(running, intended, platform)
    result = apply_remediation(running, remediation, platform)
    report = compare_masked(result, intended, platform=platform)
    assert report.compliant, (
        render(remediation)[:20],
        [(line.path, line.line) for line in report.added[:5]],
        [(line.path, line.line) for line in report.removed[:5]],
    )
    if compare_masked(running, intended, platform=platform).compliant:
        assert remediation.steps == ()


# -- generated IOS-like configs ------------------------------------------------------------------

_HEADS = ["interface Gi1", "interface Gi2", "interface Gi3", "router bgp 65000", "line vty 0 4", "vlan 10"]
_CHILDREN = [
    "shutdown",
    "no shutdown",
    "description a",
    "description b",
    "ip address 10.0.0.1 255.255.255.0",
    "neighbor 10.0.0.2 remote-as 65001",
    "no ip redirects",
    "transport input ssh",
]
_GRANDCHILDREN = ["neighbor 10.0.0.2 activate", "network 10.0.0.0", "redistribute connected"]
_TOP = [
    "hostname r1",
    "hostname r2",
    "no ip domain-lookup",
    "ip domain-lookup",
    "service password-encryption",
]
_ACL = [f"access-list 101 {verb} ip host 10.0.0.{n} any" for verb in ("permit", "deny") for n in range(1, 4)]
_NAMED = ["permit tcp any any eq 22", "permit tcp any any eq 443", "deny ip any any", "permit icmp any any"]
_ROUTE_MAP = [f"route-map RM permit {seq}" for seq in (10, 20, 30)]
_RM_CHILDREN = ["set local-preference 200", "set local-preference 100", "match ip address prefix-list P"]


@st.composite
def ios_configs(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for head in draw(
        st.permutations(_HEADS).flatmap(lambda heads: st.lists(st.sampled_from(heads), unique=True))
    ):
        lines.append(head)
        for child in draw(st.lists(st.sampled_from(_CHILDREN), unique=True, max_size=4)):
            lines.append(f" {child}")
            if child.startswith("neighbor") and draw(st.booleans()):
                lines.append(" address-family ipv4")
                lines.extend(f"  {g}" for g in draw(st.lists(st.sampled_from(_GRANDCHILDREN), unique=True)))
    lines.extend(draw(st.lists(st.sampled_from(_TOP), unique=True)))
    lines.extend(draw(st.lists(st.sampled_from(_ACL), unique=True)))
    named = draw(st.lists(st.sampled_from(_NAMED), unique=True))
    if named or draw(st.booleans()):
        lines.append("ip access-list extended EDGE")
        lines.extend(f" {entry}" for entry in named)
    for entry in draw(st.lists(st.sampled_from(_ROUTE_MAP), unique=True)):
        lines.append(entry)
        lines.extend(f" {child}" for child in draw(st.lists(st.sampled_from(_RM_CHILDREN), unique=True)))
    if draw(st.booleans()):
        lines += ["banner motd ^C", *draw(st.lists(st.sampled_from(["Authorized only", "  go away"]))), "^C"]
    return "\n".join(lines) + "\n"


@FAST
@given(
    ios_configs(), ios_configs(), st.sampled_from([Platform.IOS, Platform.NXOS, Platform.EOS, Platform.ASA])
)
def test_generated_ios_like_round_trip(running: str, intended: str, platform: Platform) -> None:
    _round_trip(running, intended, platform)


@FAST
@given(ios_configs(), ios_configs())
def test_generated_iosxr_route_policy_round_trip(running: str, intended: str) -> None:
    policy = "route-policy RP\n if destination in P then\n  pass\n else\n  drop\n endif\nend-policy\n"
    swapped = policy.replace("  pass\n else\n  drop", "  drop\n else\n  pass")
    _round_trip(running + policy, intended + swapped, Platform.IOSXR)


# -- generated Junos configs -----------------------------------------------------------------------

_JUNOS = [
    *(f"interfaces ge-0/0/{i} unit 0 family inet address 10.0.{i}.1/24" for i in range(3)),
    *(f'interfaces ge-0/0/{i} description "port {i}"' for i in range(3)),
    *(f"system ntp server 10.1.1.{i}" for i in range(3)),
    *(f"policy-options policy-statement P term {t} then accept" for t in "ABC"),
    *(f"policy-options policy-statement P term {t} from protocol bgp" for t in "ABC"),
    *(f"firewall filter F term {t} then {a}" for t in "XY" for a in ("accept", "discard", "count c")),
    "system host-name r1",
    "protocols lldp",
    "protocols lldp interface all",
]


@FAST
@given(
    st.lists(st.sampled_from(_JUNOS), unique=True),
    st.lists(st.sampled_from(_JUNOS), unique=True),
    st.sampled_from([Platform.JUNOS, Platform.JUNOS_SET]),
)
def test_generated_junos_round_trip(running: list[str], intended: list[str], platform: Platform) -> None:
    _round_trip(
        "".join(f"set {key}\n" for key in running), "".join(f"set {key}\n" for key in intended), platform
    )


def test_junos_braces_running_remediates_with_set_and_delete() -> None:
    running = "system {\n    ntp {\n        server 10.1.1.1;\n    }\n}\nprotocols {\n    lldp;\n}\n"
    intended = "set system ntp server 10.1.1.2\n"
    remediation = remediate(running, intended, Platform.JUNOS)
    assert render(remediation) == (
        "delete system ntp server 10.1.1.1",
        "delete protocols lldp",
        "set system ntp server 10.1.1.2",
    )
    _round_trip(running, intended, Platform.JUNOS)


def test_ios_negation_and_rewrite_forms() -> None:
    running = (
        "interface Gi1\n no shutdown\nno ip domain-lookup\n"
        "access-list 10 permit 10.0.0.1\naccess-list 10 permit 10.0.0.2\n"
    )
    intended = "interface Gi1\n shutdown\naccess-list 10 permit 10.0.0.2\naccess-list 10 permit 10.0.0.1\n"
    lines = render(remediate(running, intended, Platform.IOS))
    assert lines == (
        "ip domain-lookup",
        "no access-list 10",
        "access-list 10 permit 10.0.0.2",
        "access-list 10 permit 10.0.0.1",
        "interface Gi1",
        " shutdown",
    )
    _round_trip(running, intended, Platform.IOS)


# -- every real sample, with drift injected ---------------------------------------------------------


def _platform(path: Path) -> Platform:
    return Platform(path.parent.name)


def _masked(path: Path) -> str:
    text = ConfigNormalizer().normalize_text(path.read_text())
    return mask_content(text, REGISTRY.for_platform(_platform(path)))


def _inject(text: str, seed: int) -> str:
    """Drift a config: drop a block, add and change lines, swap two adjacent lines, move a block."""
    rnd = random.Random(seed)
    lines = text.splitlines()
    if len(lines) < 4:
        return text + "injected line\n"
    tops = [i for i, line in enumerate(lines) if line and not line[0].isspace()] or [0]
    start = rnd.choice(tops)
    end = next((i for i in tops if i > start), len(lines))
    block = lines[start:end]
    del lines[start:end]
    if rnd.random() < 0.5 and lines:
        at = rnd.choice([i for i, line in enumerate(lines) if line and not line[0].isspace()] or [0])
        lines[at:at] = block  # moved, not dropped
    for _ in range(3):
        index = rnd.randrange(len(lines))
        line = lines[index]
        indent = line[: len(line) - len(line.lstrip())]
        choice = rnd.random()
        if choice < 0.4:
            lines.insert(index + 1, f"{indent}injected {seed} {index}")
        elif choice < 0.7 and line.strip():
            lines[index] = f"{line} changed"
        elif index + 1 < len(lines):
            lines[index], lines[index + 1] = lines[index + 1], lines[index]
    return "\n".join(lines) + "\n"


_SAMPLES = [
    path
    for folder in (CONFIGS, PAIRS)
    for path in sample_files(folder)
    if path.suffix != ".yaml" and path.parent.name in {p.value for p in Platform}
]


@pytest.mark.parametrize("path", _SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("seed", range(4))
def test_every_sample_with_injected_drift_round_trips(path: Path, seed: int) -> None:
    text = _masked(path)
    drifted = _inject(text, seed)
    platform = _platform(path)
    _round_trip(drifted, text, platform)
    _round_trip(text, drifted, platform)


_PAIRS = [
    ("cisco_ios/napalm_csr1_running.txt", "cisco_ios/napalm_csr1_startup.txt"),
    ("cisco_ios/batfish_as2dept1_candidate.cfg", "cisco_ios/batfish_as2dept1_live.cfg"),
    ("cisco_nxos/napalm_nxos-spine2_new_good.conf", "cisco_nxos/napalm_nxos-spine2_initial.conf"),
    (
        "juniper_junos/hier_config_running_config_junos.conf",
        "juniper_junos/hier_config_generated_config_junos.conf",
    ),
    ("arista_eos/hier_config_eos_running.conf", "arista_eos/hier_config_eos_generated.conf"),
]


@pytest.mark.parametrize(("first", "second"), _PAIRS)
def test_every_sample_pair_round_trips_both_ways(first: str, second: str) -> None:
    a, b = _masked(PAIRS / first), _masked(PAIRS / second)
    platform = _platform(PAIRS / first)
    _round_trip(a, b, platform)
    _round_trip(b, a, platform)
