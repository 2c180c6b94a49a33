r"""The value group found without RE2's submatch engine is the group RE2's submatch engine finds.

:mod:`driftaudit.domain.suffixgroup` places a pattern's ``value`` group from
the whole match, its head in Python's engine and a second group-free search;
these properties hold it to the pattern's own group (``Scanner.all_spans``)
on every built-in pattern it applies to, over the real samples, their
re-fetches and generated text, and on generated patterns of the shape it
accepts (which stand for operators' patterns), over generated text.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from driftaudit.domain.masking import MaskingRegistry, mask_with_counts
from driftaudit.domain.packs import BUILTIN_PATTERNS
from driftaudit.domain.re2scan import Scanner
from driftaudit.domain.suffixgroup import SuffixGroup, suffix_group
from tests.unit.test_false_positive_kpi import corpus, refetch

Spans = list[tuple[int, int]]


def _submatch(regex: str, text: str) -> Spans:
    scanner = Scanner(f"(?m){regex}")
    group = int(scanner.regex.groupindex["value"])
    return [found[group] for found in scanner.all_spans(text)]


_ACCEPTED = [(pattern.regex, suffix_group(pattern.regex)) for pattern in BUILTIN_PATTERNS]
BUILTIN = [(regex, finder) for regex, finder in _ACCEPTED if finder is not None]


def test_the_comment_line_volatiles_take_the_cheap_path() -> None:
    names = {pattern.name for pattern in BUILTIN_PATTERNS if suffix_group(pattern.regex) is not None}
    assert {"comment-timestamp", "comment-duration", "comment-counter"} <= names


def _spans(finder: SuffixGroup, text: str) -> Spans:
    found = finder.spans(text)
    assert found is not None  # ASCII text: the cheap path must run, or these tests test nothing
    return found


def test_same_groups_on_every_sample_and_refetch() -> None:
    rng = random.Random(5)
    samples = corpus()
    texts = [sample.text for sample in samples] + [refetch(sample, rng) for sample in samples]
    texts = [text for text in texts if text.isascii()]
    assert len(texts) > 50
    matched = 0
    for regex, finder in BUILTIN:
        for text in texts:
            expected = _submatch(regex, text)
            assert _spans(finder, text) == expected, regex
            matched += len(expected)
    assert matched > 100


def test_same_masking_of_the_samples_with_the_submatch_engine_only() -> None:
    # the texts each rule really sees there: the output of the rules before it
    registry = MaskingRegistry.builtin(key=b"k")
    reference = MaskingRegistry.builtin(key=b"k")
    every = reference.for_platform(None)
    for rule in (*every.secrets, *every.volatiles):  # a registry's platforms share its rules
        object.__setattr__(rule, "suffix", None)
    assert any(rule.suffix is not None for rule in registry.for_platform(None).volatiles)
    rng = random.Random(9)
    for sample in corpus():
        for text in (sample.text, refetch(sample, rng)):
            patterns, plain = registry.for_platform(sample.platform), reference.for_platform(sample.platform)
            assert mask_with_counts(text, patterns) == mask_with_counts(text, plain), sample.name


_TEXT = st.text(
    alphabet=st.sampled_from(list("! #:\t\n0123456789:-Tupimesacodwkhy,ZBUTCMonJanFebWed<>")), max_size=160
)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_same_groups_on_generated_text(text: str) -> None:
    for regex, finder in BUILTIN:
        assert _spans(finder, text) == _submatch(regex, text), regex


def test_non_ascii_text_takes_the_submatch_path() -> None:
    regex, finder = BUILTIN[0]
    assert finder.spans("! é 12 days\n") is None


# -- generated patterns of the accepted shape -------------------------------------------------

_HEAD_ATOMS = ("!", "#", ":", "a", "x", "[ \\t]", "[!#:]", "[0-9]", "[a-c]", "[x-z:]", "\\.", "\\t", "-")
_QUANTIFIERS = ("", "", "*", "+", "?")
_BODIES = (
    "\\d+",
    "\\d+[ \\t]+(?:days?|hours?)\\b",
    "[a-c]+",
    "x|\\d",
    "a*",
    "\\d{1,2}:\\d\\d",
    "(?i:up|down)[ \\t]*\\d",
    "(?:\\d+[ywdh]\\d+|\\d\\d:\\d\\d)",
    "#+",
    ":?[0-9a]",
    "$",
)


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    atoms = draw(st.lists(st.tuples(st.sampled_from(_HEAD_ATOMS), st.sampled_from(_QUANTIFIERS)), max_size=4))
    head = ("^" if draw(st.booleans()) else "") + "".join(atom + quantifier for atom, quantifier in atoms)
    zero_width = draw(st.sampled_from(("", "\\b")))
    body = draw(st.sampled_from(_BODIES)) + draw(st.sampled_from(("", "[^\\n]*", "\\b[^\\n]*", "[ \\t]*")))
    return f"{head}[^\\n]*?{zero_width}(?P<value>{body})"


_GENERATED_TEXT = st.text(
    alphabet=st.sampled_from(list("! #:\t\n0123456789axyzbc.-dUupDOWNhws")), max_size=80
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(_patterns(), st.lists(_GENERATED_TEXT, min_size=1, max_size=4))
def test_same_groups_for_generated_patterns(regex: str, texts: list[str]) -> None:
    finder = suffix_group(regex)
    assume(finder is not None)
    assert finder is not None
    for text in texts:
        assert _spans(finder, text) == _submatch(regex, text), (regex, text)


def test_generated_patterns_are_mostly_accepted() -> None:
    # the property above must see the cheap path: most generated shapes qualify
    accepted = 0
    rng = random.Random(3)
    for _ in range(400):
        atoms = "".join(rng.choice(_HEAD_ATOMS) for _ in range(rng.randint(1, 3)))
        if suffix_group(f"^{atoms}[^\\n]*?\\b(?P<value>{rng.choice(_BODIES)})") is not None:
            accepted += 1
    assert accepted > 300


@pytest.mark.parametrize(
    "regex",
    [
        r"(?i)^[ \t]*[!#:][^\n]*?(?P<value>\d+)",  # a flag group before the head
        r"^[ \t]*?[!#:][^\n]*?(?P<value>\d+)",  # a lazy head
        r"^[ \t]*[ !][^\n]*?(?P<value>\d+)",  # a loop that may stop early: two ways to match
        r"^[!#:][ \t]*[^\n]*?(?P<value>\d+)",  # a head ending in a loop
        r"^[!#:][^\n]*?(?P<value>\d+)x",  # the group does not end the pattern
        r"^[!#:][^\n]*(?P<value>\d+)",  # a greedy run before the group
        r"^[!#:][^\n]*?\d(?P<value>\d+)",  # something between the lazy run and the group
        r"^[!#:][^\n]*?(?P<value>\d+)|x",  # an alternation around the group
        r"^\d[^\n]*?(?P<value>\d+)",  # a class escape in the head
        r"^[^!][^\n]*?(?P<value>\d+)",  # a negated class in the head
        r"^[!#:]{2}[^\n]*?(?P<value>\d+)",  # a counted repeat in the head
        r"^[!#:][^\n]*?(?P<value>\d+)(?P<value2>x)",  # the last group is another one
        r"^[!#:][^\n]*?(?P<value>\d+))(",  # unbalanced
        r"^[[:alpha:]][^\n]*?(?P<value>\d+)",  # a POSIX class
        r"^[!#:][^\n]*?(?P<value>\d+[^)])",  # balanced: accepted (the class holds the parenthesis)
    ],
)
def test_other_shapes_keep_the_submatch_engine(regex: str) -> None:
    accepted = suffix_group(regex) is not None
    assert accepted == regex.endswith("[^)])")
