"""Compliance features over the real sample configs: verdicts, scope, policies, partial intent.

Every case goes through ``audit.steps.analyze_outcome`` (the one comparison
path of streams, the in-process audit and pre-flight) with a rules file
loaded by the real adapter.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftaudit.adapters.rules import FileRulesSource, load_rules
from driftaudit.audit.steps import analyze_outcome
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.features import CompiledRules, config_lines
from driftaudit.domain.masking import MaskingRegistry, redact_secrets
from driftaudit.domain.models import Device, DeviceStatus, DriftEvent, FeatureStatus, Platform
from driftaudit.domain.normalize import ConfigNormalizer
from tests.samples_path import CONFIGS, PAIRS

KEY = b"f" * 32
NOW = datetime(2026, 12, 1, tzinfo=UTC)
REGISTRY = MaskingRegistry.builtin(key=KEY)

RULES = """
unmatched: report
features:
  - name: interfaces
    sections: ["interface "]
  - name: acl
    sections: ["ip access-list ", "access-list "]
  - name: bgp
    sections: ["router bgp"]
  - name: routing-policy
    sections: ["route-map ", "ip prefix-list "]
  - name: aaa
    sections: ["aaa ", "username "]
  - name: snmp
    sections: ["snmp-server "]
  - name: ntp
    platforms: [cisco_ios, cisco_nxos, arista_eos]
    sections: ["ntp "]
  - name: ntp
    platforms: [juniper_junos, juniper_junos_set]
    sections: ["system ntp"]
  - name: vlans
    platforms: [juniper_junos]
    sections: ["vlans"]
  - name: irb
    platforms: [juniper_junos]
    patterns: ['^interfaces irb ']
"""


def _rules(tmp_path: Path, text: str = RULES) -> CompiledRules:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules(path)


def _text(path: Path) -> str:
    return ConfigNormalizer().normalize_text(path.read_text())


def _device(platform: Platform, **dims: object) -> Device:
    return Device.model_validate({"device_id": "r1", "host": "127.0.0.1", "platform": platform, **dims})


def _event(actual: str, intended: str | None, device: Device, rules: CompiledRules | None) -> DriftEvent:
    patterns = REGISTRY.for_platform(device.platform)
    return analyze_outcome(
        audit_id="a1",
        device=device,
        requested_at=NOW,
        observed_at=NOW,
        redacted_text=redact_secrets(actual, patterns),
        failure=None,
        intended=intended,
        patterns=patterns,
        rules=rules,
    )


def _status(event: DriftEvent) -> dict[str, FeatureStatus]:
    return {result.feature: result.status for result in event.features}


def test_compliant_pair_is_compliant_in_every_feature(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    running, startup = (
        _text(PAIRS / "cisco_ios/napalm_csr1_running.txt"),
        _text(PAIRS / "cisco_ios/napalm_csr1_startup.txt"),
    )
    event = _event(running, startup, _device(Platform.IOS), rules)
    assert event.status is DeviceStatus.COMPLIANT
    statuses = _status(event)
    assert statuses["interfaces"] is FeatureStatus.COMPLIANT
    assert statuses["aaa"] is FeatureStatus.COMPLIANT
    assert statuses["bgp"] is FeatureStatus.NOT_APPLICABLE  # csr1 runs OSPF only
    assert "vlans" not in statuses  # a Junos-only feature is not in scope of an IOS device
    assert event.remediation == ()


def test_drifted_pair_drifts_only_the_feature_that_changed(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    candidate = _text(PAIRS / "cisco_ios/batfish_as2dept1_candidate.cfg")
    live = _text(PAIRS / "cisco_ios/batfish_as2dept1_live.cfg")
    event = _event(candidate, live, _device(Platform.IOS), rules)
    assert event.status is DeviceStatus.DRIFTED
    statuses = _status(event)
    assert statuses["interfaces"] is FeatureStatus.DRIFTED
    assert statuses["bgp"] is statuses["acl"] is statuses["routing-policy"] is FeatureStatus.COMPLIANT
    interfaces = next(result for result in event.features if result.feature == "interfaces")
    assert interfaces.added_count == 2
    assert interfaces.removed_count == 0
    assert {line.line for line in interfaces.added} == {
        "ip access-group RESTRICT_HOST_TRAFFIC_IN out",
        "ip access-group RESTRICT_HOST_TRAFFIC_OUT out",
    }
    assert interfaces.remediation == (
        "interface GigabitEthernet2/0",
        " no ip access-group RESTRICT_HOST_TRAFFIC_IN out",
        "interface GigabitEthernet3/0",
        " no ip access-group RESTRICT_HOST_TRAFFIC_OUT out",
    )
    assert event.remediation == interfaces.remediation


def test_reordered_blocks_are_compliant_and_reordered_acl_entries_drift(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    text = _text(CONFIGS / "cisco_ios/batfish_lhr-border-02.cfg")
    blocks = text.split("\n!\n")
    shuffled = blocks[:]
    random.Random(7).shuffle(shuffled)
    event = _event("\n!\n".join(shuffled), text, _device(Platform.IOS), rules)
    assert event.status is DeviceStatus.COMPLIANT
    assert set(_status(event).values()) <= {FeatureStatus.COMPLIANT, FeatureStatus.NOT_APPLICABLE}
    swapped = text.replace(
        "ip prefix-list PROTECT_LOOPBACK seq 5 deny 10.10.255.0/28 le 32\n"
        "ip prefix-list PROTECT_LOOPBACK seq 10 permit 0.0.0.0/0 le 32",
        "ip prefix-list PROTECT_LOOPBACK seq 10 permit 0.0.0.0/0 le 32\n"
        "ip prefix-list PROTECT_LOOPBACK seq 5 deny 10.10.255.0/28 le 32",
    )
    assert swapped != text
    event = _event(swapped, text, _device(Platform.IOS), rules)
    statuses = _status(event)
    assert statuses["routing-policy"] is FeatureStatus.DRIFTED
    assert statuses["acl"] is statuses["interfaces"] is FeatureStatus.COMPLIANT
    share = next(result for result in event.features if result.feature == "routing-policy").remediation
    assert share[0] == "no ip prefix-list PROTECT_LOOPBACK"
    assert share[1:] == (
        "ip prefix-list PROTECT_LOOPBACK seq 5 deny 10.10.255.0/28 le 32",
        "ip prefix-list PROTECT_LOOPBACK seq 10 permit 0.0.0.0/0 le 32",
    )


def test_junos_features_on_the_hier_config_pair(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    running = _text(PAIRS / "juniper_junos/hier_config_running_config_junos.conf")
    intended = _text(PAIRS / "juniper_junos/hier_config_generated_config_junos.conf")
    event = _event(running, intended, _device(Platform.JUNOS), rules)
    statuses = _status(event)
    assert statuses["vlans"] is statuses["irb"] is FeatureStatus.DRIFTED
    vlans = next(result for result in event.features if result.feature == "vlans")
    assert "set vlans switch_mgmt_10.0.4.0/24 vlan-id 4" in vlans.remediation
    assert "delete vlans switch_mgmt_10.0.4.0/24 vlan-id 3" in vlans.remediation
    assert all(line.startswith(("set vlans", "delete vlans")) for line in vlans.remediation)
    assert all(line.startswith(("set ", "delete ")) for line in event.remediation)


def test_ordered_feature_catches_ntp_server_order(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path, RULES.replace('    sections: ["ntp "]', '    sections: ["ntp "]\n    ordered: true')
    )
    text = _text(CONFIGS / "cisco_ios/netutils_ios_full_sent.txt")
    swapped = text.replace(
        "ntp server 10.1.1.1\nntp server 10.2.2.2 prefer", "ntp server 10.2.2.2 prefer\nntp server 10.1.1.1"
    )
    assert swapped != text
    event = _event(swapped, text, _device(Platform.IOS), rules)
    assert _status(event)["ntp"] is FeatureStatus.DRIFTED
    assert event.status is DeviceStatus.DRIFTED
    unordered = _event(swapped, text, _device(Platform.IOS), _rules(tmp_path))
    assert unordered.status is DeviceStatus.COMPLIANT


SCOPED = """
features:
  - name: banner
    sections: ["banner "]
  - name: snmp
    sections: ["snmp-server "]
    policies:
      - name: generic
        present: ["snmp-server contact John Smith"]
  - name: snmp
    scope: {roles: [core]}
    sections: ["snmp-server "]
    policies:
      - name: core
        present: ["snmp-server contact NOC"]
  - name: snmp
    scope: {roles: [core], sites: [nyc]}
    sections: ["snmp-server "]
    policies:
      - name: core-nyc
        present: ["snmp-server location Network to Code - NYC | NY"]
  - name: pci
    scope: {tags: [pci, prod]}
    policies:
      - absent: ["ip http server"]
"""


@pytest.mark.parametrize(
    ("dims", "policy", "passed"),
    [
        ({}, "generic", True),
        ({"role": "core"}, "core", False),
        ({"role": "core", "site": "nyc"}, "core-nyc", True),
        ({"role": "edge", "site": "nyc"}, "generic", True),
    ],
)
def test_scope_picks_the_most_specific_rule(
    tmp_path: Path, dims: dict[str, str], policy: str, passed: bool
) -> None:
    rules = _rules(tmp_path, SCOPED)
    text = _text(CONFIGS / "cisco_ios/netutils_ios_full_sent.txt")
    event = _event(text, text, _device(Platform.IOS, **dims), rules)
    snmp = [result for result in event.features if result.feature == "snmp"]
    assert len(snmp) == 1
    assert [result.name for result in snmp[0].policies] == [policy]
    assert snmp[0].policies[0].passed is passed
    assert event.status is (DeviceStatus.COMPLIANT if passed else DeviceStatus.DRIFTED)


def test_scope_by_tags_needs_every_tag(tmp_path: Path) -> None:
    rules = _rules(tmp_path, SCOPED)
    text = _text(CONFIGS / "cisco_ios/netutils_ios_full_sent.txt")
    with_http = text + "ip http server\n"
    only_pci = _event(with_http, with_http, _device(Platform.IOS, tags=["pci"]), rules)
    assert "pci" not in _status(only_pci)
    both = _event(with_http, with_http, _device(Platform.IOS, tags=["pci", "prod", "x"]), rules)
    assert _status(both)["pci"] is FeatureStatus.DRIFTED
    assert both.status is DeviceStatus.DRIFTED
    assert "no ip http server" in both.remediation


POLICIES = """
features:
  - name: snmp
    sections: ["snmp-server "]
    policies:
      - name: communities
        exactly:
          - snmp-server community ntc-public RO
          - snmp-server community ntc-private RW
          - snmp-server community networktocode RO
          - snmp-server community secure RW
        match: '^snmp-server community '
      - name: no-public
        absent: ["snmp-server community public RO"]
  - name: aaa
    sections: ["username ", "enable "]
    policies:
      - name: admin-user
        present: ["username ntc privilege 15 secret 5 $1$Ta8N$ANtkSrNt0/S7TpQhCbV130"]
  - name: ntp
    sections: ["ntp "]
    policies:
      - name: clock
        present: ["ntp clock-period 17179804"]
      - name: servers
        exactly: ["ntp server 10.1.1.1", "ntp server 10.2.2.2 prefer"]
        match: '^ntp server '
"""


def test_policies_present_absent_exactly_with_secrets_and_volatiles(tmp_path: Path) -> None:
    rules = _rules(tmp_path, POLICIES)
    text = _text(CONFIGS / "cisco_ios/netutils_ios_full_sent.txt")
    username = next(line for line in text.splitlines() if line.startswith("username ntc "))
    policy_user = "username ntc privilege 15 secret 5 $1$Ta8N$ANtkSrNt0/S7TpQhCbV130"
    device_text = text.replace(username, policy_user) + "ntp clock-period 36028792\n"
    event = _event(device_text, None, _device(Platform.IOS), rules)
    # no intended config: the policies alone decide
    assert event.status is DeviceStatus.COMPLIANT, event.features
    results = {policy.name: policy for result in event.features for policy in result.policies}
    assert all(policy.passed for policy in results.values())

    # a different secret, a new community with a secret value, a changed clock-period (volatile)
    changed = (
        device_text.replace(policy_user, policy_user[:-3] + "XYZ").replace(
            "ntp clock-period 36028792", "ntp clock-period 11111111"
        )
        + "snmp-server community s3cr3t-extra RO\nsnmp-server community public RO\n"
    )
    event = _event(changed, None, _device(Platform.IOS), rules)
    results = {policy.name: policy for result in event.features for policy in result.policies}
    assert results["clock"].passed  # a volatile value never matters
    assert results["servers"].passed
    assert not results["admin-user"].passed
    assert not results["communities"].passed
    assert len(results["communities"].unexpected) == 2
    assert not results["no-public"].passed
    assert event.status is DeviceStatus.DRIFTED
    document = event.model_dump_json()
    for secret in ("s3cr3t-extra", "ANtkSrNt0", "XYZ", "ntc-private"):
        assert secret not in document
    assert "<secret:" in document
    assert any("secret withheld" in line for line in event.remediation)


PARTIAL = """
unmatched: ignore
features:
  - name: bgp
    sections: ["router bgp"]
  - name: routing-policy
    sections: ["route-map ", "ip prefix-list "]
"""


def _blocks(text: str, heads: tuple[str, ...]) -> str:
    """The top-level blocks of ``text`` whose head starts with one of ``heads``."""
    kept: list[str] = []
    keep = False
    for line in text.splitlines():
        if line and not line[0].isspace():
            keep = line.startswith(heads)
        if keep:
            kept.append(line)
    return "\n".join(kept) + "\n"


def test_partial_intended_with_unmatched_ignore(tmp_path: Path) -> None:
    text = _text(CONFIGS / "cisco_ios/batfish_lhr-border-02.cfg")
    partial = _blocks(text, ("router bgp", "route-map ", "ip prefix-list "))
    # unrelated sections differ on the device: interfaces, hostname
    device_text = text.replace("hostname ", "hostname x-").replace(
        "service timestamps debug datetime msec\n", ""
    )
    assert device_text != text
    ignore = _rules(tmp_path, PARTIAL)
    event = _event(device_text, partial, _device(Platform.IOS), ignore)
    assert event.status is DeviceStatus.COMPLIANT, (event.added[:3], event.removed[:3])
    assert set(_status(event).values()) == {FeatureStatus.COMPLIANT}
    report = _rules(tmp_path, PARTIAL.replace("ignore", "report"))
    assert _event(device_text, partial, _device(Platform.IOS), report).status is DeviceStatus.DRIFTED
    # a change inside a feature still drifts with ignore
    bgp_changed = device_text.replace(
        "router bgp 65301\n", "router bgp 65301\n bgp log-neighbor-changes\n", 1
    )
    drifted = _event(bgp_changed, partial, _device(Platform.IOS), ignore)
    assert drifted.status is DeviceStatus.DRIFTED
    assert _status(drifted)["bgp"] is FeatureStatus.DRIFTED
    assert drifted.remediation == ("router bgp 65301", " no bgp log-neighbor-changes")


def test_rules_file_errors_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("features:\n  - name: x\n    patterns: ['(?=look)']\n")
    with pytest.raises(ConfigurationError, match="RE2"):
        load_rules(path)
    path.write_text("features: [{name: x, policies: [{present: [a], absent: [b]}]}]\n")
    with pytest.raises(ConfigurationError, match="exactly one"):
        load_rules(path)
    path.write_text(RULES)
    source = FileRulesSource(path, check_interval_s=0.0)
    before = source.current()
    assert not source.refresh()
    path.write_text(RULES + "  - name: extra\n    sections: [hostname]\n")
    assert source.refresh()
    assert len(source.current().rules.features) == len(before.rules.features) + 1
    path.write_text("features: [{name: 'bad name!'}]\n")
    assert not source.refresh()  # invalid: the last good rules stay in force
    assert len(source.current().rules.features) == len(before.rules.features) + 1
    with pytest.raises(ConfigurationError, match="does not exist"):
        FileRulesSource(tmp_path / "missing.yaml")


def test_audit_summary_lists_the_top_non_compliant_features(tmp_path: Path) -> None:
    from rich.console import Console

    from driftaudit.audit.pipeline import summarize
    from driftaudit.cli.render import print_summary, summary_document

    rules = _rules(tmp_path)
    candidate = _text(PAIRS / "cisco_ios/batfish_as2dept1_candidate.cfg")
    live = _text(PAIRS / "cisco_ios/batfish_as2dept1_live.cfg")
    devices = [_device(Platform.IOS).model_copy(update={"device_id": f"r{i}"}) for i in range(3)]
    events = [
        _event(candidate if i < 2 else live, live, device, rules).model_copy(
            update={"device_id": device.device_id}
        )
        for i, device in enumerate(devices)
    ]
    summary = summarize(
        audit_id="a1", requested_at=NOW, devices=devices, events=events, started_at=NOW, finished_at=NOW
    )
    assert summary.top_features == {"interfaces": 2}
    document = summary_document(summary)
    assert document["top_features"] == {"interfaces": 2}
    assert document["devices"][2]["features"]["interfaces"] == "compliant"
    console = Console(record=True, width=160)
    print_summary(summary, console)
    assert "Top non-compliant features" in console.export_text()


def test_the_readme_rules_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Compliance features and remediation", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = _rules(tmp_path, example)
    names = [feature.name for feature in rules.rules.features]
    assert names == ["ntp", "ntp", "bgp", "hardening"]
    edge = _device(Platform.IOS, role="edge", tags=["pci"])
    assert [feature.name for feature in rules.for_device(edge)] == ["ntp", "bgp", "hardening"]
    assert [feature.name for feature in rules.for_device(_device(Platform.JUNOS))] == ["ntp", "bgp"]


def test_a_huge_remediation_is_cut_with_a_note(tmp_path: Path) -> None:
    from driftaudit.domain.compliance import MAX_REMEDIATION_CHARS

    intended = "".join(f"access-list 10 permit 10.{i // 250}.{i % 250}.1 {'x' * 40}\n" for i in range(8000))
    running = intended.replace("access-list 10 permit 10.0.0.1 ", "access-list 10 permit 10.9.9.9 ", 1)
    event = _event(running, intended, _device(Platform.IOS), None)
    assert event.status is DeviceStatus.DRIFTED
    assert sum(len(line) + 1 for line in event.remediation) <= MAX_REMEDIATION_CHARS + 200
    assert event.remediation[-1].startswith("! remediation cut at")
    assert event.remediation[0] == "no access-list 10"


def test_policy_and_order_remediation_land_under_the_right_parents(tmp_path: Path) -> None:
    from driftaudit.domain.diff import compare_masked
    from driftaudit.domain.remediation import Action, Remediation, RemediationStep, apply_remediation

    rules = _rules(
        tmp_path,
        "features:\n  - name: vty\n    sections: ['line vty']\n    policies:\n"
        "      - present: ['line vty 0 4 transport input ssh']\n"
        "      - absent: ['line vty 0 4 transport input telnet']\n"
        "  - name: ntp\n    sections: ['ntp ']\n    ordered: true\n",
    )
    text = _text(CONFIGS / "cisco_ios/netutils_ios_full_sent.txt")
    assert "line vty 0 4\n" in text
    device_text = text.replace("line vty 0 4\n", "line vty 0 4\n transport input telnet\n", 1).replace(
        "ntp server 10.1.1.1\nntp server 10.2.2.2 prefer", "ntp server 10.2.2.2 prefer\nntp server 10.1.1.1"
    )
    event = _event(device_text, text, _device(Platform.IOS), rules)
    vty = next(result for result in event.features if result.feature == "vty")
    assert vty.remediation == ("line vty 0 4", " no transport input telnet", " transport input ssh")
    ntp = next(result for result in event.features if result.feature == "ntp")
    assert ntp.status is FeatureStatus.DRIFTED
    assert ntp.remediation == (
        "no ntp server 10.2.2.2 prefer",
        "no ntp server 10.1.1.1",
        "ntp server 10.1.1.1",
        "ntp server 10.2.2.2 prefer",
    )
    # the ntp steps applied with the section tree give the intended order back
    steps = Remediation(
        "ios",
        (
            RemediationStep(Action.REMOVE, (), "ntp server 10.2.2.2 prefer"),
            RemediationStep(Action.REMOVE, (), "ntp server 10.1.1.1"),
            RemediationStep(Action.ADD, (), "ntp server 10.1.1.1"),
            RemediationStep(Action.ADD, (), "ntp server 10.2.2.2 prefer"),
        ),
    )
    fixed = apply_remediation(device_text, steps, Platform.IOS)
    assert fixed.index("ntp server 10.1.1.1") < fixed.index("ntp server 10.2.2.2 prefer")
    assert not compare_masked(fixed, text, platform=Platform.IOS).compliant  # vty line still differs


def test_sections_per_platform_and_junos_set_and_braces_agree(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        "features:\n  - name: ntp\n    sections:\n"
        "      cisco_ios: ['ntp ']\n      juniper_junos: ['system ntp']\n",
    )
    running = _text(PAIRS / "juniper_junos/hier_config_running_config_junos.conf")
    as_set = "".join(f"set {line.key}\n" for line in config_lines(running, Platform.JUNOS))
    for platform, text in ((Platform.JUNOS, running), (Platform.JUNOS_SET, as_set)):
        (feature,) = rules.for_device(_device(platform))
        assert feature.selector.prefixes == ("system ntp",)
        event = _event(text, running, _device(platform), rules)
        assert event.status is DeviceStatus.COMPLIANT
        assert _status(event)["ntp"] in (FeatureStatus.COMPLIANT, FeatureStatus.NOT_APPLICABLE)
    (ios,) = rules.for_device(_device(Platform.IOS))
    assert ios.selector.prefixes == ("ntp ",)
    assert rules.for_device(_device(Platform.EOS))[0].selector.empty
