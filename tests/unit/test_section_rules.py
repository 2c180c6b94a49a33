"""Section rules answer the same whether or not they remember a line's answer."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.models import Platform
from driftaudit.domain.sections import (
    SECTION_RULES,
    ConfigShape,
    SectionRules,
    detect_shape,
    parse_junos,
    rules_for,
)
from tests.samples_path import CONFIGS, CORPUS, PAIRS, sample_files

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


_JUNOS_TOKENS = (
    "policy-statement",
    "filter",
    "term",
    "then",
    "from",
    "accept",
    "reject",
    "family",
    "inet",
    "firewall",
    "policy-options",
    "T1",
    "EXPORT",
    "10.0.0.0/8",
    "policy-statementX",
    "xfilter",
)


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_JUNOS_TOKENS), min_size=1, max_size=9))
def test_a_statement_without_the_junos_words_matches_no_ordered_pattern(tokens: list[str]) -> None:
    key = " ".join(tokens)
    for rules in {id(rules): rules for rules in SECTION_RULES.values() if rules.junos_ordered}.values():
        if any(pattern.match(key) for pattern in rules.junos_ordered):
            assert rules.may_be_ordered(key), key


def test_the_junos_words_hold_on_every_ordered_statement_of_the_samples() -> None:
    """Every statement of the real Junos configs an ordered pattern matches holds one of the words."""
    rules = rules_for(Platform.JUNOS)
    matched = 0
    folders = (CONFIGS / "juniper_junos", CONFIGS / "juniper_junos_set", PAIRS, CORPUS)
    for path in [path for folder in folders for path in sample_files(folder)]:
        text = path.read_text(errors="replace")
        shape = detect_shape(text, Platform.JUNOS)
        if shape not in (ConfigShape.JUNOS_BRACES, ConfigShape.JUNOS_SET):
            continue
        for statement in parse_junos(text, shape):
            if any(pattern.match(statement.key) for pattern in rules.junos_ordered):
                matched += 1
                assert rules.may_be_ordered(statement.key), statement.key
    assert matched > 10  # the samples hold policy terms and filter terms


def test_without_words_every_statement_may_be_ordered() -> None:
    rules = SectionRules(junos_ordered=rules_for(Platform.JUNOS).junos_ordered)
    assert rules.may_be_ordered("system host-name r1")
