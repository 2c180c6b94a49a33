"""calculate_diff: section-aware, order-aware where the platform says so, masked everywhere."""

from textwrap import dedent

import pytest

from driftaudit.domain.diff import calculate_diff, compare_masked, text_hash
from driftaudit.domain.masking import CompiledPatterns, MaskingRegistry
from driftaudit.domain.models import ChangeType, DriftLine, MaskingPattern, PatternKind, Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.sections import ConfigShape, detect_shape, parse_indented, parse_junos
from tests.samples_path import CONFIGS, PAIRS

KEY = b"k" * 32


def _patterns(platform: Platform | None = None) -> CompiledPatterns:
    registry = MaskingRegistry(
        [
            MaskingPattern(name="stamp", regex=r"^!Time: .*$", kind=PatternKind.VOLATILE),
            MaskingPattern(name="uptime", regex=r"uptime (?P<value>\d+)", kind=PatternKind.VOLATILE),
            MaskingPattern(name="secret5", regex=r"secret 5 (?P<value>\S+)", kind=PatternKind.SECRET),
        ],
        key=KEY,
    )
    return registry.for_platform(platform)


def _diff(actual: str, intended: str, platform: Platform | None = Platform.IOS):
    return calculate_diff(dedent(actual), dedent(intended), _patterns(platform), platform=platform)


def _lines(lines: tuple[DriftLine, ...]) -> list[tuple[tuple[str, ...], str]]:
    return [(line.path, line.line) for line in lines]


IOS = """\
hostname r1
!
interface Gi1
 description uplink
 ip address 10.0.0.1 255.255.255.0
!
interface Gi2
 shutdown
!
ip access-list extended EDGE
 permit tcp any any eq 22
 deny ip any any
!
router bgp 65000
 neighbor 10.0.0.2 remote-as 65001
 neighbor 10.0.0.3 remote-as 65002
!
end
"""


def test_identical_is_compliant_and_empty() -> None:
    report = _diff(IOS, IOS)
    assert report.compliant
    assert report.added == report.removed == ()
    assert report.unified_diff == ""
    assert report.actual_hash == report.intended_hash == text_hash(IOS)


def test_reordered_interfaces_and_neighbors_are_not_drift() -> None:
    reordered = """\
    hostname r1
    router bgp 65000
     neighbor 10.0.0.3 remote-as 65002
     neighbor 10.0.0.2 remote-as 65001
    interface Gi2
     shutdown
    interface Gi1
     ip address 10.0.0.1 255.255.255.0
     description uplink
    ip access-list extended EDGE
     permit tcp any any eq 22
     deny ip any any
    """
    report = _diff(reordered, IOS)
    assert report.compliant
    assert report.unified_diff == ""
    assert report.actual_hash != report.intended_hash


def test_swapped_named_acl_entries_are_drift() -> None:
    swapped = IOS.replace(
        " permit tcp any any eq 22\n deny ip any any", " deny ip any any\n permit tcp any any eq 22"
    )
    report = _diff(swapped, IOS)
    assert not report.compliant
    paths = {line.path for line in (*report.added, *report.removed)}
    assert paths == {("ip access-list extended EDGE",)}
    assert "-" in report.unified_diff
    assert "+" in report.unified_diff


def test_swapped_numbered_acl_lines_are_drift_but_other_top_lines_are_not() -> None:
    permit, deny = "access-list 101 permit ip host 1.1.1.1 any", "access-list 101 deny ip any any"
    intended = f"{permit}\n{deny}\nntp server 1.1.1.1\nntp server 2.2.2.2\n"
    actual = f"ntp server 2.2.2.2\n{deny}\nntp server 1.1.1.1\n{permit}\n"
    report = _diff(actual, intended)
    assert not report.compliant
    assert {line.line for line in (*report.added, *report.removed)} <= {permit, deny}
    interleaved = f"{permit}\nntp server 2.2.2.2\nntp server 1.1.1.1\n{deny}\n"
    assert _diff(interleaved, intended).compliant


def test_different_acls_may_be_reordered_between_each_other() -> None:
    intended = "access-list 1 permit any\naccess-list 2 deny any\n"
    assert _diff("access-list 2 deny any\naccess-list 1 permit any\n", intended).compliant


def test_swapped_route_map_entries_and_prefix_list_lines_are_drift() -> None:
    intended = dedent("""\
        ip prefix-list PL seq 5 deny 10.0.0.0/8 le 32
        ip prefix-list PL seq 10 permit 0.0.0.0/0 le 32
        route-map RM permit 10
         match ip address prefix-list PL
        route-map RM permit 20
         set local-preference 200
        """)
    lines = intended.splitlines()
    prefix_swapped = "\n".join([lines[1], lines[0], *lines[2:]])
    assert not _diff(prefix_swapped, intended).compliant
    route_swapped = "\n".join([*lines[:2], *lines[4:6], *lines[2:4]])
    report = _diff(route_swapped, intended)
    assert not report.compliant
    # the match/set clauses inside one entry are unordered
    assert _diff(intended.replace("RM permit 20\n set local", "RM permit 20\n set local"), intended).compliant


def test_changed_line_is_one_removed_and_one_added_with_the_same_path() -> None:
    report = _diff(IOS.replace("description uplink", "description core"), IOS)
    assert _lines(report.added) == [(("interface Gi1",), "description core")]
    assert _lines(report.removed) == [(("interface Gi1",), "description uplink")]
    assert report.added[0].change is ChangeType.ADDED
    assert report.removed[0].change is ChangeType.REMOVED
    assert "-intended" not in report.unified_diff
    assert report.unified_diff.startswith("--- intended\n+++ actual")
    assert "+ description core" in report.unified_diff


def test_a_missing_section_reports_its_head_and_every_child() -> None:
    report = _diff(IOS.replace("interface Gi2\n shutdown\n", ""), IOS)
    assert report.added == ()
    assert _lines(report.removed) == [((), "interface Gi2"), (("interface Gi2",), "shutdown")]


def test_duplicate_lines_count_as_many_times_as_they_occur() -> None:
    intended = "interface Gi1\n ip helper-address 1.1.1.1\n"
    actual = "interface Gi1\n ip helper-address 1.1.1.1\n ip helper-address 1.1.1.1\n"
    report = _diff(actual, intended)
    assert _lines(report.added) == [(("interface Gi1",), "ip helper-address 1.1.1.1")]
    assert _diff(intended, actual).removed[0].line == "ip helper-address 1.1.1.1"


def test_bare_comments_blank_lines_exit_and_end_are_not_drift() -> None:
    actual = (
        "hostname r1\n\n!\n!!\ninterface Gi1\n  !\n  shutdown\n  exit\n!\nrouter bgp 1\n"
        " address-family ipv4\n  network 1.0.0.0\n exit-address-family\nend\n"
    )
    intended = (
        "hostname r1\ninterface Gi1\n shutdown\nrouter bgp 1\n address-family ipv4\n  network 1.0.0.0\n"
    )
    report = _diff(actual, intended)
    assert report.compliant, report


def test_indentation_width_does_not_matter() -> None:
    assert _diff(
        "interface Gi1\n   shutdown\n   mtu 9000\n", "interface Gi1\n shutdown\n mtu 9000\n"
    ).compliant


def test_a_line_moving_between_sections_is_drift() -> None:
    intended = "interface Gi1\n shutdown\ninterface Gi2\n"
    actual = "interface Gi1\ninterface Gi2\n shutdown\n"
    report = _diff(actual, intended)
    assert _lines(report.added) == [(("interface Gi2",), "shutdown")]
    assert _lines(report.removed) == [(("interface Gi1",), "shutdown")]


def test_banner_body_is_one_ordered_block() -> None:
    intended = "banner motd ^C\nline one\nline two\n^C\nhostname r1\n"
    swapped = "banner motd ^C\nline two\nline one\n^C\nhostname r1\n"
    report = _diff(swapped, intended)
    assert not report.compliant
    assert {line.path for line in (*report.added, *report.removed)} == {("banner motd ^C",)}
    eos = "banner login\nwelcome\n  indented text\nEOF\nhostname r1\n"
    assert _diff(eos, eos.replace("welcome", "hello"), Platform.EOS).added[0].path == ("banner login",)


def test_xr_route_policy_is_ordered_at_every_depth() -> None:
    intended = dedent("""\
        route-policy RP
          if destination in P1 then
            set local-preference 200
            pass
          endif
        end-policy
        """)
    swapped = intended.replace(
        "    set local-preference 200\n    pass", "    pass\n    set local-preference 200"
    )
    assert not _diff(swapped, intended, Platform.IOSXR).compliant


def test_volatile_values_are_masked_and_counted() -> None:
    intended = "!Time: Wed Dec 14 13:55:40 2016\nhostname r1\nsnmp uptime 100\n"
    actual = "!Time: Wed Dec 14 11:34:03 2016\nhostname r1\nsnmp uptime 999\n"
    report = _diff(actual, intended, Platform.NXOS)
    assert report.compliant
    assert report.mask_counts == {"stamp": 1, "uptime": 1}
    assert report.actual_hash == report.intended_hash


def test_changed_secret_is_drift_but_never_shown() -> None:
    intended = "username admin secret 5 $1$abc$OLDHASHVALUE\n"
    actual = "username admin secret 5 $1$abc$NEWHASHVALUE\n"
    report = _diff(actual, intended)
    assert not report.compliant
    dumped = report.model_dump_json()
    assert "HASHVALUE" not in dumped
    assert report.added[0].line.startswith("username admin secret 5 <secret:")


def test_compare_masked_fast_path_is_compliant() -> None:
    report = compare_masked("a\n b\n", "a\n b\n", platform=None, mask_counts={"x": 2})
    assert report.compliant
    assert report.mask_counts == {"x": 2}


# -- Junos ----------------------------------------------------------------------------------------

JUNOS = """\
## Last commit: 2024-12-06 11:41:05 UTC by root
system {
    host-name r1;
}
interfaces {
    ge-0/0/0 {
        unit 0 {
            family inet {
                address 10.0.0.1/24;
            }
        }
    }
    ge-0/0/1 {
        disable;
    }
}
policy-options {
    policy-statement EXPORT {
        term A {
            from protocol static;
            then {
                community add C1;
                accept;
            }
        }
        term B {
            then reject;
        }
    }
}
firewall {
    family inet {
        filter F {
            term T1 {
                then accept;
            }
            term T2 {
                then discard;
            }
        }
    }
}
"""


def _block(text: str, start: str, end: str) -> str:
    """The substring from ``start`` up to and including the first ``end`` after it."""
    begin = text.index(start)
    return text[begin : text.index(end, begin) + len(end)]


def _junos(actual: str, intended: str = JUNOS):
    return _diff(actual, intended, Platform.JUNOS)


def test_junos_identical_and_reordered_siblings_are_compliant() -> None:
    assert _junos(JUNOS).compliant
    ge0 = _block(JUNOS, "    ge-0/0/0 {\n", "\n    }\n")
    ge1 = _block(JUNOS, "    ge-0/0/1 {\n", "\n    }\n")
    moved = JUNOS.replace(ge0 + ge1, ge1 + ge0)
    assert moved != JUNOS
    assert _junos(moved).compliant


def test_junos_comments_and_blank_lines_are_not_drift() -> None:
    noisy = "# generated by a tool\n" + JUNOS.replace(
        "host-name r1;", "host-name r1; ## note\n\n    # comment"
    )
    assert _junos(noisy).compliant


def test_junos_then_block_and_then_statement_are_the_same() -> None:
    assert _junos(
        JUNOS.replace("then accept;", "then {\n                    accept;\n                }")
    ).compliant


def test_junos_changed_leaf_has_its_brace_path() -> None:
    report = _junos(JUNOS.replace("address 10.0.0.1/24;", "address 10.0.0.9/24;"))
    path = ("interfaces", "ge-0/0/0", "unit 0", "family inet")
    assert _lines(report.added) == [(path, "address 10.0.0.9/24")]
    assert _lines(report.removed) == [(path, "address 10.0.0.1/24")]


def test_junos_swapped_filter_terms_are_drift() -> None:
    t1 = _block(JUNOS, "            term T1 {\n", "\n            }\n")
    t2 = _block(JUNOS, "            term T2 {\n", "\n            }\n")
    swapped = JUNOS.replace(t1 + t2, t2 + t1)
    report = _junos(swapped)
    assert not report.compliant
    assert {line.path for line in (*report.added, *report.removed)} == {
        ("firewall", "family inet", "filter F")
    }


def test_junos_swapped_policy_terms_and_then_actions_are_drift() -> None:
    terms = (
        JUNOS.replace("term A {", "term X {").replace("term B {", "term A {").replace("term X {", "term B {")
    )
    assert not _junos(terms).compliant
    actions = JUNOS.replace(
        "community add C1;\n                accept;", "accept;\n                community add C1;"
    )
    report = _junos(actions)
    assert not report.compliant
    path = ("policy-options", "policy-statement EXPORT", "term A", "then")
    assert {line.path for line in (*report.added, *report.removed)} == {path}


def test_junos_list_members_compare_as_statements() -> None:
    intended = "vlans {\n    v {\n        members [ a b ];\n    }\n}\n"
    assert _junos("vlans {\n    v {\n        members [ b a ];\n    }\n}\n", intended).compliant
    report = _junos("vlans {\n    v {\n        members [ a c ];\n    }\n}\n", intended)
    assert _lines(report.added) == [(("vlans", "v"), "members c")]


def test_junos_braces_and_set_lines_compare_with_each_other() -> None:
    set_form = dedent("""\
        set system host-name r1
        set interfaces ge-0/0/1 disable
        set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24
        set policy-options policy-statement EXPORT term A from protocol static
        set policy-options policy-statement EXPORT term A then community add C1
        set policy-options policy-statement EXPORT term A then accept
        set policy-options policy-statement EXPORT term B then reject
        set firewall family inet filter F term T1 then accept
        set firewall family inet filter F term T2 then discard
        """)
    assert calculate_diff(set_form, JUNOS, _patterns(), platform=Platform.JUNOS).compliant
    assert calculate_diff(set_form, JUNOS, _patterns(), platform=None).compliant


def test_junos_set_lines_reorder_is_compliant_but_term_order_is_not() -> None:
    lines = [
        "set system host-name r1",
        "set firewall family inet filter F term T1 then accept",
        "set firewall family inet filter F term T2 then discard",
    ]
    intended = "\n".join(lines)
    report = _diff("\n".join([lines[1], lines[0], lines[2]]), intended, Platform.JUNOS_SET)
    assert report.compliant
    swapped = _diff("\n".join([lines[0], lines[2], lines[1]]), intended, Platform.JUNOS_SET)
    assert not swapped.compliant
    assert {line.line for line in swapped.added + swapped.removed} <= {
        "firewall family inet filter F term T1",
        "firewall family inet filter F term T2",
    }
    changed = _diff(intended.replace("discard", "reject"), intended, Platform.JUNOS_SET)
    assert _lines(changed.added) == [((), "set firewall family inet filter F term T2 then reject")]


# -- shapes and robustness -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "platform", "shape"),
    [
        ("hostname r1\ninterface Gi1\n shutdown\n", None, ConfigShape.INDENTED),
        ("system {\n    host-name r1;\n}\n", None, ConfigShape.JUNOS_BRACES),
        ("set system host-name r1\nset interfaces ge-0/0/0 disable\n", None, ConfigShape.JUNOS_SET),
        ("set system host-name r1\n", Platform.JUNOS, ConfigShape.JUNOS_SET),
        ("system {\n    host-name r1;\n}\n", Platform.JUNOS_SET, ConfigShape.JUNOS_BRACES),
        ("system {\n}\n", Platform.IOS, ConfigShape.INDENTED),
    ],
)
def test_detect_shape(text: str, platform: Platform | None, shape: ConfigShape) -> None:
    assert detect_shape(text, platform) is shape


def test_pathological_input_never_raises() -> None:
    deep = "".join(" " * depth + f"line {depth}\n" for depth in range(3000))
    assert len(parse_indented(deep)) == 1
    report = _diff(deep, deep.replace("line 2999", "line x"))
    assert not report.compliant
    assert _diff("}\n}\n{\nfoo;\n", "a {\n b {\n", Platform.JUNOS).compliant is False
    assert parse_junos("a {\n b {\n", ConfigShape.JUNOS_BRACES)[0].key == "a b"
    unterminated = "banner motd ^C\nnever closed\nhostname r1\n"
    assert not _diff(unterminated, "hostname r1\n").compliant


# -- the real pairs in ../shared/samples/pairs ------------------------------------------------------


def _pair(actual: str, intended: str, platform: Platform):
    normalizer = ConfigNormalizer()
    patterns = MaskingRegistry.builtin(key=KEY).for_platform(platform)
    texts = [normalizer.normalize_text((PAIRS / name).read_text()) for name in (actual, intended)]
    return calculate_diff(texts[0], texts[1], patterns, platform=platform)


@pytest.mark.parametrize("direction", [0, 1])
def test_pair_csr1_running_vs_startup_is_noise_only(direction: int) -> None:
    names = ["cisco_ios/napalm_csr1_running.txt", "cisco_ios/napalm_csr1_startup.txt"]
    report = _pair(names[direction], names[1 - direction], Platform.IOS)
    assert report.compliant
    assert report.unified_diff == ""


def test_pair_as2dept1_candidate_adds_exactly_two_access_groups() -> None:
    report = _pair(
        "cisco_ios/batfish_as2dept1_candidate.cfg", "cisco_ios/batfish_as2dept1_live.cfg", Platform.IOS
    )
    assert _lines(report.added) == [
        (("interface GigabitEthernet2/0",), "ip access-group RESTRICT_HOST_TRAFFIC_IN out"),
        (("interface GigabitEthernet3/0",), "ip access-group RESTRICT_HOST_TRAFFIC_OUT out"),
    ]
    assert report.removed == ()
    reverse = _pair(
        "cisco_ios/batfish_as2dept1_live.cfg", "cisco_ios/batfish_as2dept1_candidate.cfg", Platform.IOS
    )
    assert _lines(reverse.removed) == _lines(report.added)
    assert reverse.added == ()


def test_pair_nxos_spine2_reports_the_real_changes_and_no_time_drift() -> None:
    report = _pair(
        "cisco_nxos/napalm_nxos-spine2_new_good.conf",
        "cisco_nxos/napalm_nxos-spine2_initial.conf",
        Platform.NXOS,
    )
    assert sorted(_lines(report.added)) == [
        ((), "no system default switchport shutdown"),
        ((), "vlan100"),
        (("interface Ethernet2/1",), "shutdown"),
        (("interface Ethernet2/1",), "switchport"),
    ]
    assert sorted(_lines(report.removed)) == [
        (("interface Ethernet2/1",), "no shutdown"),
        (("interface Ethernet2/1",), "no switchport"),
    ]
    assert "!Time" not in report.unified_diff.replace("!Time: <volatile", "")
    assert sum(report.mask_counts.values()) > 0


def test_pair_hier_config_junos_reports_vlan_irb_filter_and_mtu_changes() -> None:
    report = _pair(
        "juniper_junos/hier_config_running_config_junos.conf",
        "juniper_junos/hier_config_generated_config_junos.conf",
        Platform.JUNOS,
    )
    added, removed = set(_lines(report.added)), set(_lines(report.removed))
    vlans, irb = ("vlans",), ("interfaces", "irb")
    # the vlan renamed: 10.0.4.0/24 carries vlan-id 3 on the device, 4 in the intent
    assert (vlans + ("switch_mgmt_10.0.4.0/24",), "vlan-id 3") in added
    assert (vlans + ("switch_mgmt_10.0.4.0/24",), "vlan-id 4") in removed
    assert (vlans + ("switch_mgmt_10.0.3.0/24",), "vlan-id 3") in removed
    # irb unit 4 is missing on the device; unit 2 lacks the filter and mtu
    assert (irb + ("unit 4", "family inet"), "address 10.0.4.1/16") in removed
    assert (irb + ("unit 2", "family inet", "filter"), "input TEST") in removed
    assert (irb + ("unit 2", "family inet"), "mtu 9000") in removed
    assert (irb + ("unit 2", "family inet"), "disable") in added
    assert (("interfaces", "xe-0/0/0"), "mtu 9160") in removed
    # `then { accept; }` on the device and `then accept;` in the intent mean the same
    assert not any("accept" in line for _, line in added | removed)
    assert not any(path[:1] == ("system",) for path, _ in added | removed)


def test_pair_hier_config_eos_reports_the_changes_with_paths() -> None:
    report = _pair(
        "arista_eos/hier_config_eos_running.conf", "arista_eos/hier_config_eos_generated.conf", Platform.EOS
    )
    added, removed = set(_lines(report.added)), set(_lines(report.removed))
    assert added == {
        (("vlan 10",), "name VLAN10"),
        ((), "vlan 30"),
        (("vlan 30",), "name OLD_VLAN"),
        (("interface Ethernet1",), "description Uplink to Core"),
        (("interface Ethernet2",), "description Access Port"),
        (("interface Ethernet3",), "switchport trunk allowed vlan 10,20"),
        (("interface Vlan10",), "description VLAN 10 SVI"),
        (("router bgp 65100",), "neighbor 192.168.10.2 description Core Switch"),
    }
    assert (("vlan 10",), "name VLAN10_UPDATED") in removed
    assert (("interface Ethernet2",), "spanning-tree portfast") in removed
    assert ((), "interface Ethernet4") in removed
    assert (("interface Ethernet4",), "switchport access vlan 40") in removed
    assert (("router bgp 65100", "address-family ipv4"), "neighbor 192.168.10.3 activate") in removed
    assert ((), "ntp server 10.0.0.21") in removed
    assert len(removed) == 21


def test_unified_diff_is_cut_but_drift_lines_are_not() -> None:
    intended = "".join(f"interface Gi{i}\n shutdown\n" for i in range(400))
    actual = intended.replace(" shutdown", " no shutdown")
    report = calculate_diff(actual, intended, _patterns(), platform=Platform.IOS, max_unified_diff_chars=2000)
    assert len(report.added) == len(report.removed) == 400
    assert len(report.unified_diff) < 2200
    assert report.unified_diff.splitlines()[-1].startswith("... unified diff cut at 2000 characters:")
    full = calculate_diff(actual, intended, _patterns(), platform=Platform.IOS)
    assert "cut at" not in full.unified_diff
    assert full.unified_diff.count("+ no shutdown") == 400


def test_undelimited_or_unterminated_banners_never_swallow_config() -> None:
    asa = "banner motd Authorized only\nbanner motd Welcome\nhostname fw1\ninterface Gi0/0\n nameif out\n"
    nodes = parse_indented(asa)
    assert [node.text for node in nodes][:3] == [
        "banner motd Authorized only",
        "banner motd Welcome",
        "hostname fw1",
    ]
    assert nodes[0].children == []
    unterminated = "banner motd ^C\nhostname r1\ninterface Gi1\n shutdown\n"
    report = _diff(unterminated.replace(" shutdown", " no shutdown"), unterminated)
    assert _lines(report.added) == [(("interface Gi1",), "no shutdown")]


def test_xr_sample_banner_is_one_block() -> None:
    text = (CONFIGS / "cisco_iosxr" / "batfish_ios_xr_multipart.cfg").read_text()
    banners = [node for node in parse_indented(text) if node.text.startswith("banner login")]
    assert len(banners) == 1
    assert len(banners[0].children) > 3
    assert all(not child.children for child in banners[0].children)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ip as-path access-list 10 deny _65000_", "ip as-path access-list 10 permit .*"),
        ("ip community-list standard C permit 65000:1", "ip community-list standard C deny 65000:2"),
        (
            "access-list OUTSIDE extended permit tcp any any eq 443",
            "access-list OUTSIDE extended deny ip any any",
        ),
    ],
)
def test_first_match_lists_keep_their_order(first: str, second: str) -> None:
    intended = f"hostname r1\n{first}\n{second}\n"
    assert not _diff(f"hostname r1\n{second}\n{first}\n", intended).compliant
    assert _diff(f"{first}\n{second}\nhostname r1\n", intended).compliant
