"""Dropping shared top-level blocks, or deciding on comment-only differences, never changes a verdict.

The structural diff of two indented configs is computed twice: on the whole
texts, and after :func:`prune_shared_blocks` (what ``calculate_diff`` does);
the drift lines must be the same multiset. :func:`differ_only_in_comments`
may only say yes where the structural diff finds nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftaudit.domain import prune
from driftaudit.domain.diff import _Collector, _compare_children
from driftaudit.domain.models import Platform
from driftaudit.domain.prune import differ_only_in_comments, prune_shared_blocks, shared_line_affixes
from driftaudit.domain.sections import parse_indented, rules_for

RULES = rules_for(Platform.IOS)
HEADS = ["interface Gi1", "interface Gi2", "router bgp 1", "line vty 0 4", "ip access-list extended A"]
CHILDREN = [" shutdown", " description x", " permit ip any any", " deny ip any any", "  nested", " !"]
FLAT = ["access-list 1 permit any", "access-list 1 deny any", "hostname r1", "!", "", "end", "exit"]
BANNERS = [
    "banner motd ^C\nhello\n!\nworld\n^C",
    "banner login ^Cone line^C",
    # bodies whose lines look like heads of real blocks, an EOS body, text after the delimiter,
    # a body whose end never comes (its lines are configuration then), indented lines after a body
    "banner exec ^C\nhostname r1\ninterface Gi1\n shutdown\n^C",
    "banner motd\nrouter bgp 1\nEOF",
    "banner login #\ninterface Gi2\nbye# trailing",
    "banner incoming %\ninterface Gi1",
    "banner motd ^C\nline vty 0 4\n^C\n description x",
]

block = st.one_of(
    st.builds(
        lambda h, c: "\n".join([h, *c]),
        st.sampled_from(HEADS),
        st.lists(st.sampled_from(CHILDREN), max_size=4),
    ),
    st.sampled_from(FLAT),
    st.sampled_from(BANNERS),
)
config = st.lists(block, max_size=12).map(lambda blocks: "\n".join(blocks) + "\n")


@pytest.fixture
def monkeypatch_window() -> Iterator[Callable[[int], None]]:
    """Sets the banner reader's first window; the default is put back after the test."""
    default = prune._BANNER_WINDOW

    def set_window(size: int) -> None:
        prune._BANNER_WINDOW = size

    yield set_window
    prune._BANNER_WINDOW = default


def _diff(actual: str, intended: str) -> tuple[Counter[tuple[str, tuple[str, ...]]], ...]:
    out = _Collector()
    leaders = RULES.comment_leaders
    _compare_children(
        parse_indented(actual, leaders), parse_indented(intended, leaders), (), RULES, out, ordered=False
    )
    return (
        Counter((line.line, line.path) for line in out.added),
        Counter((line.line, line.path) for line in out.removed),
    )


@settings(max_examples=400)
@given(actual=config, intended=config)
def test_pruning_keeps_every_drift_line(actual: str, intended: str) -> None:
    assert _diff(*prune_shared_blocks(actual, intended, RULES)) == _diff(actual, intended)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actual=config, intended=config, window=st.integers(1, 64), crlf=st.booleans())
def test_banner_bodies_read_in_small_windows_prune_alike(
    actual: str, intended: str, window: int, crlf: bool, monkeypatch_window: Callable[[int], None]
) -> None:
    """A banner body is read in growing windows of the text; any first window gives the same cut."""
    if crlf:  # a window may end between a carriage return and its line feed
        actual, intended = actual.replace("\n", "\r\n"), intended.replace("\n", "\r\n")
    expected = _diff(actual, intended)
    monkeypatch_window(window)
    assert _diff(*prune_shared_blocks(actual, intended, RULES)) == expected


@settings(max_examples=300)
@given(base=config, data=st.data())
def test_pruning_a_shared_config_with_one_edit(base: str, data: st.DataObject) -> None:
    lines = base.split("\n")
    at = data.draw(st.integers(0, len(lines)))
    edited = "\n".join([*lines[:at], data.draw(st.sampled_from(CHILDREN + FLAT + HEADS)), *lines[at:]])
    assert _diff(*prune_shared_blocks(edited, base, RULES)) == _diff(edited, base)


@settings(max_examples=300)
@given(actual=config, intended=config)
def test_comment_only_differences_are_really_nothing(actual: str, intended: str) -> None:
    if differ_only_in_comments(actual, intended, RULES.comment_leaders):
        assert _diff(actual, intended) == (Counter(), Counter())


def test_comment_only_differences_are_recognised() -> None:
    assert differ_only_in_comments("! a\nhostname r1\n", "! b\n\nhostname r1\n", "!")
    assert not differ_only_in_comments("hostname r1\n", "hostname r2\n", "!")
    assert not differ_only_in_comments("banner motd ^C\n! a\n^C\n", "banner motd ^C\n! b\n^C\n", "!")


def test_ordered_siblings_are_never_pruned() -> None:
    actual = "hostname r1\naccess-list 1 permit any\naccess-list 1 deny any\nntp server 192.0.2.1\n"
    intended = "hostname r1\naccess-list 1 deny any\naccess-list 1 permit any\nntp server 192.0.2.1\n"
    pruned = prune_shared_blocks(actual, intended, RULES)
    assert "hostname r1" not in pruned[0]
    assert _diff(*pruned) == _diff(actual, intended) != (Counter(), Counter())


def _ordered_diff(actual: str, intended: str) -> tuple[list[tuple[str, tuple[str, ...]]], ...]:
    out = _Collector()
    leaders = RULES.comment_leaders
    _compare_children(
        parse_indented(actual, leaders), parse_indented(intended, leaders), (), RULES, out, ordered=False
    )
    return [(line.line, line.path) for line in out.added], [(line.line, line.path) for line in out.removed]


group_block = st.one_of(
    block,
    st.sampled_from(
        [
            "access-list 1 permit any",
            "access-list 2 deny any",
            "route-map RM permit 10\n match ip address 1",
            "route-map RM permit 20\n set metric 5",
            "route-map RM deny 30",
        ]
    ),
)
group_config = st.lists(group_block, max_size=12).map(lambda blocks: "\n".join(blocks) + "\n")


@settings(max_examples=400)
@given(actual=group_config, intended=group_config)
def test_pruning_keeps_every_drift_line_in_its_order(actual: str, intended: str) -> None:
    # the report lists drift lines in the order the comparison finds them: pruning keeps that order
    assert _ordered_diff(*prune_shared_blocks(actual, intended, RULES)) == _ordered_diff(actual, intended)


@settings(max_examples=200)
@given(base=group_config, data=st.data())
def test_pruning_a_config_with_ordered_groups_and_one_edit(base: str, data: st.DataObject) -> None:
    lines = base.split("\n")
    index = data.draw(st.integers(0, len(lines) - 1))
    edited = "\n".join([*lines[:index], data.draw(st.sampled_from(FLAT + CHILDREN)), *lines[index:]])
    assert _ordered_diff(*prune_shared_blocks(edited, base, RULES)) == _ordered_diff(edited, base)


def test_ordered_groups_equal_on_both_sides_are_pruned_whole() -> None:
    same = "route-map RM permit 10\n match ip address 1\nroute-map RM permit 20\n set metric 5\n"
    acl = "access-list 1 permit any\naccess-list 1 deny any\n"
    actual = f"hostname r1\n{same}{acl}interface Gi1\n shutdown\n"
    intended = (
        f"hostname r2\n{same}access-list 1 deny any\naccess-list 1 permit any\ninterface Gi1\n shutdown\n"
    )
    pruned = prune_shared_blocks(actual, intended, RULES)
    assert "route-map" not in pruned[0] + pruned[1]  # the same entries in the same order: gone
    assert pruned[0].count("access-list 1") == pruned[1].count("access-list 1") == 2  # reordered: kept
    assert _ordered_diff(*pruned) == _ordered_diff(actual, intended) != ([], [])


def test_duplicated_heads_are_never_pruned() -> None:
    actual = "interface Gi1\n shutdown\ninterface Gi1\n description x\n"
    intended = "interface Gi1\n description x\ninterface Gi1\n shutdown\n no shutdown\n"
    assert prune_shared_blocks(actual, intended, RULES) == (actual, intended)


_TEXT = st.text(alphabet=st.sampled_from(["a", "b", "!", " ", "\n", "\t"]), max_size=40)


@settings(max_examples=500)
@given(head=_TEXT, first=_TEXT, second=_TEXT, tail=_TEXT)
def test_shared_line_affixes_cut_both_texts_at_line_starts(
    head: str, first: str, second: str, tail: str
) -> None:
    one, two = head + first + tail, head + second + tail
    start, end = shared_line_affixes(one, two)
    assert one[:start] == two[:start]
    assert start == 0 or one[start - 1] == "\n"
    assert end <= min(len(one), len(two)) - start
    assert one[len(one) - end :] == two[len(two) - end :]
    if end and one != two:
        assert one[len(one) - end - 1] == "\n" == two[len(two) - end - 1]
    if one == two:
        assert start + end == len(one)


@settings(max_examples=500)
@given(head=_TEXT, first=_TEXT, second=_TEXT, tail=_TEXT)
def test_comment_check_on_the_middles_equals_the_check_on_the_whole_texts(
    head: str, first: str, second: str, tail: str
) -> None:
    one, two = head + first + tail, head + second + tail
    noise = re.compile(r"^[ \t]*(?:[!][^\n]*)?\n", re.MULTILINE)
    assert differ_only_in_comments(one, two, "!") == (noise.sub("", one) == noise.sub("", two))


_NOISY = st.lists(
    st.sampled_from(["! a", "! b", "!", "", "  ", " ! c", "hostname r1", "hostname r2", " x", "interface y"]),
    max_size=25,
)


@settings(max_examples=600)
@given(actual=_NOISY, intended=_NOISY, final=st.booleans())
def test_differ_only_in_comments_is_filtering_both_whole(
    actual: list[str], intended: list[str], final: bool
) -> None:
    """The trimming rounds decide exactly what filtering every comment and blank line decides."""
    end = "\n" if final else ""
    first, second = "\n".join(actual) + end, "\n".join(intended) + end
    noise = re.compile(r"^[ \t]*(?:[!][^\n]*)?\n", re.MULTILINE)
    assert differ_only_in_comments(first, second, "!") == (noise.sub("", first) == noise.sub("", second))
