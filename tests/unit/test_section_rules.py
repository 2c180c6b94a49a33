"""Section rules answer the same whether or not they remember a line's answer."""

from __future__ import annotations

import re

from driftaudit.domain.models import Platform
from driftaudit.domain.sections import SECTION_RULES, SectionRules, rules_for

LINES = (
    "access-list 101 permit ip any any",
    "access-list 101 deny ip any any",
    "ip prefix-list PL seq 5 permit 10.0.0.0/8",
    "ipv6 prefix-list P6 description x",
    "route-map RM permit 10",
    "ip as-path access-list 5 permit ^$",
    "ip community-list standard C permit 1:1",
    "ip community-list C1 permit 1:1",
    "interface Ethernet1",
    "router bgp 65000",
    "",
)


def _uncached(rules: SectionRules, text: str) -> str | None:
    for pattern in rules.ordered_groups:
        match = pattern.match(text)
        if match:
            return match.group(1)
    return None


def test_group_key_is_the_first_ordered_group_that_matches_every_time() -> None:
    for rules in SECTION_RULES.values():
        for _ in range(2):  # the second round answers from what the first one remembered
            for line in LINES:
                assert rules.group_key(line) == _uncached(rules, line), line


def test_a_fresh_rule_table_remembers_nothing_of_another() -> None:
    fresh = SectionRules(ordered_groups=(re.compile(r"(interface \S+)"),))
    assert rules_for(Platform.IOS).group_key("interface Ethernet1") is None
    assert fresh.group_key("interface Ethernet1") == "interface Ethernet1"
    assert fresh.group_key("interface Ethernet1") == "interface Ethernet1"
    assert SectionRules().group_key("access-list 1 permit any") is None
