"""Properties of the section-aware diff on generated hierarchical configs."""

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Platform

PATTERNS = MaskingRegistry([], key=b"p" * 32).for_platform(None)
FAST = settings(max_examples=40, deadline=None)

words = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
# children of one section: distinct, so a single edit is unambiguous
children = st.lists(words.map(lambda w: f"description {w}"), max_size=4, unique=True)
sections = st.lists(
    st.tuples(st.integers(0, 999), children), min_size=1, max_size=8, unique_by=lambda s: s[0]
).map(lambda items: [(f"interface Gi{n}", kids) for n, kids in items])
acl_entries = st.lists(
    st.tuples(st.sampled_from(["permit", "deny"]), st.integers(1, 65535)).map(
        lambda e: f"{e[0]} tcp any any eq {e[1]}"
    ),
    min_size=2,
    max_size=6,
    unique=True,
)


def render(blocks: list[tuple[str, list[str]]], acl: list[str] | None = None, indent: str = " ") -> str:
    out: list[str] = ["hostname r1", "!"]
    for head, kids in blocks:
        out.append(head)
        out.extend(f"{indent}{kid}" for kid in kids)
        out.append("!")
    if acl:
        out.append("ip access-list extended EDGE")
        out.extend(f"{indent}{entry}" for entry in acl)
    out.append("end")
    return "\n".join(out) + "\n"


def render_junos(blocks: list[tuple[str, list[str]]], terms: list[str]) -> str:
    out = ["interfaces {"]
    for head, kids in blocks:
        out.append(f"    {head.split()[1]} {{")
        out.extend(f"        {kid};" for kid in kids)
        out.append("    }")
    out += ["}", "firewall {", "    filter F {"]
    for term in terms:
        out += [f"        term {term} {{", "            then accept;", "        }"]
    out += ["    }", "}"]
    return "\n".join(out) + "\n"


def diff(actual: str, intended: str, platform: Platform | None = Platform.IOS):
    return calculate_diff(actual, intended, PATTERNS, platform=platform)


@FAST
@given(st.text(max_size=400), st.sampled_from([*Platform, None]))
def test_diff_of_anything_with_itself_is_compliant_and_empty(text: str, platform: Platform | None) -> None:
    report = diff(text, text, platform)
    assert report.compliant
    assert report.added == report.removed == ()
    assert report.unified_diff == ""


@FAST
@given(sections, acl_entries)
def test_comments_blank_lines_and_indent_width_are_not_drift(blocks, acl) -> None:
    plain = render(blocks, acl)
    noisy = render(blocks, acl, indent="   ").replace("!\n", "!\n\n !\n")
    report = diff(noisy, plain)
    assert report.compliant
    assert report.added == report.removed == ()


@FAST
@given(sections, acl_entries, st.randoms(use_true_random=False))
def test_reordering_unordered_sibling_blocks_is_compliant(blocks, acl, rnd) -> None:
    shuffled = [(head, rnd.sample(kids, len(kids))) for head, kids in blocks]
    rnd.shuffle(shuffled)
    assert diff(render(shuffled, acl), render(blocks, acl)).compliant


@FAST
@given(sections, acl_entries, st.data())
def test_swapping_two_acl_entries_is_drift(blocks, acl, data) -> None:
    i, j = data.draw(st.lists(st.integers(0, len(acl) - 1), min_size=2, max_size=2, unique=True))
    swapped = list(acl)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    report = diff(render(blocks, swapped), render(blocks, acl))
    assert not report.compliant
    assert {line.path for line in report.added + report.removed} == {("ip access-list extended EDGE",)}
    assert {line.line for line in report.added} == {line.line for line in report.removed}


@FAST
@given(sections, acl_entries, st.data())
def test_a_single_removed_line_is_reported_with_its_path(blocks, acl, data) -> None:
    candidates = [(b, k) for b, (_, kids) in enumerate(blocks) for k in range(len(kids))]
    assume(candidates)
    b, k = data.draw(st.sampled_from(candidates))
    head, kids = blocks[b]
    edited = list(blocks)
    edited[b] = (head, kids[:k] + kids[k + 1 :])
    report = diff(render(edited, acl), render(blocks, acl))
    assert [(line.path, line.line) for line in report.removed] == [((head,), kids[k])]
    assert report.added == ()


@FAST
@given(sections, acl_entries, st.data())
def test_a_single_added_or_changed_line_is_reported_with_its_path(blocks, acl, data) -> None:
    b = data.draw(st.integers(0, len(blocks) - 1))
    head, kids = blocks[b]
    new = "mtu 1234"
    edited = list(blocks)
    edited[b] = (head, [*kids, new])
    report = diff(render(edited, acl), render(blocks, acl))
    assert [(line.path, line.line) for line in report.added] == [((head,), new)]
    assert report.removed == ()
    if kids:
        k = data.draw(st.integers(0, len(kids) - 1))
        changed = list(blocks)
        changed[b] = (head, [*kids[:k], "description CHANGED!", *kids[k + 1 :]])
        report = diff(render(changed, acl), render(blocks, acl))
        assert [(line.path, line.line) for line in report.added] == [((head,), "description CHANGED!")]
        assert [(line.path, line.line) for line in report.removed] == [((head,), kids[k])]


@FAST
@given(sections, acl_entries, st.data())
def test_an_added_or_removed_acl_entry_is_reported_with_its_path(blocks, acl, data) -> None:
    k = data.draw(st.integers(0, len(acl) - 1))
    report = diff(render(blocks, acl[:k] + acl[k + 1 :]), render(blocks, acl))
    assert [(line.path, line.line) for line in report.removed] == [
        (("ip access-list extended EDGE",), acl[k])
    ]
    assert report.added == ()


term_names = st.lists(st.text("ABCDEFGH", min_size=1, max_size=3), min_size=2, max_size=5, unique=True)


@FAST
@given(sections, term_names, st.randoms(use_true_random=False), st.data())
def test_junos_sibling_reorder_is_compliant_and_term_swap_is_drift(blocks, terms, rnd, data) -> None:
    intended = render_junos(blocks, terms)
    shuffled = [(head, rnd.sample(kids, len(kids))) for head, kids in blocks]
    rnd.shuffle(shuffled)
    assert diff(render_junos(shuffled, terms), intended, Platform.JUNOS).compliant
    i, j = data.draw(st.lists(st.integers(0, len(terms) - 1), min_size=2, max_size=2, unique=True))
    swapped = list(terms)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    report = diff(render_junos(blocks, swapped), intended, Platform.JUNOS)
    assert not report.compliant
    assert {line.path for line in report.added + report.removed} == {("firewall", "filter F")}


@FAST
@given(sections, term_names, st.data())
def test_junos_single_removed_leaf_has_its_brace_path(blocks, terms, data) -> None:
    candidates = [(b, k) for b, (_, kids) in enumerate(blocks) for k in range(len(kids))]
    assume(candidates)
    b, k = data.draw(st.sampled_from(candidates))
    head, kids = blocks[b]
    edited = list(blocks)
    remaining = kids[:k] + kids[k + 1 :]
    edited[b] = (head, remaining)
    report = diff(render_junos(edited, terms), render_junos(blocks, terms), Platform.JUNOS)
    name = head.split()[1]
    assert [(line.path, line.line) for line in report.removed] == [(("interfaces", name), kids[k])]
    # a container left empty is itself a statement on the device
    expected_added = [] if remaining else [(("interfaces",), name)]
    assert [(line.path, line.line) for line in report.added] == expected_added


config_text = st.lists(
    st.one_of(
        st.sampled_from(
            ["!", "", "}", "{", "end", "exit", "banner motd ^C", "^C", "set a b", "x {", "y;", "  z"]
        ),
        st.text("ab {};!#^C\t -", max_size=12),
    ),
    max_size=30,
).map("\n".join)


@FAST
@given(config_text, config_text, st.sampled_from([*Platform, None]))
def test_any_pair_of_texts_gives_a_consistent_report(
    actual: str, intended: str, platform: Platform | None
) -> None:
    report = diff(actual, intended, platform)
    assert report.compliant == (not report.added and not report.removed)
    assert (report.unified_diff == "") == report.compliant or actual == intended
    assert all(line.change.value == "added" for line in report.added)
    assert all(line.change.value == "removed" for line in report.removed)
