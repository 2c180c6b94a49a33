"""Masking by lines is masking the whole text: same masked text, same counts, on every input.

Long texts are masked by running the line-local patterns over the lines that
hold a match only (``driftaudit.domain.masking._mask_by_lines``). These tests
force that path on every text (the size threshold set to 0) and compare it
with the whole-text phases, over every real sample, its re-fetches and
drifted variants, and generated texts that mix line-local and multi-line
patterns (lines dropped, lines merged, tokens inside tokens).
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain import masking
from driftaudit.domain.linescope import line_local_source
from driftaudit.domain.masking import CompiledPatterns, MaskingRegistry, mask_with_counts, redact_secrets
from driftaudit.domain.models import MaskingPattern, PatternKind, Platform
from driftaudit.domain.packs import BUILTIN_PATTERNS
from tests.unit.test_false_positive_kpi import KINDS, corpus, inject_change, refetch

KEY = b"line-masking-key"


@pytest.fixture(autouse=True)
def _always_by_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(masking, "LINE_MASKING_MIN_CHARS", 0)


def _whole(patterns: CompiledPatterns) -> CompiledPatterns:
    return dataclasses.replace(patterns, _lines=None)


def _same(text: str, patterns: CompiledPatterns) -> None:
    assert patterns._lines is not None
    assert mask_with_counts(text, patterns) == mask_with_counts(text, _whole(patterns))
    assert redact_secrets(text, patterns) == redact_secrets(text, _whole(patterns))


def test_every_sample_and_variant_masks_the_same_by_lines() -> None:
    registry = MaskingRegistry.builtin(key=KEY)
    rng = random.Random(12)
    checked = 0
    for sample in corpus():
        patterns = registry.for_platform(sample.platform)
        variants = [sample.text, refetch(sample, rng), refetch(sample, rng)]
        for kind in KINDS:
            injected = inject_change(variants[1], sample, patterns, kind, rng)
            if injected is not None:
                variants.append(injected[0])
        for text in variants:
            _same(text, patterns)
            _same(text.replace("\n", "\r\n"), patterns)
            checked += 1
    assert checked > 100


def test_the_builtin_packs_split_as_designed() -> None:
    """The multi-line built-ins are exactly the ones whose source says a line break."""
    wide = {p.name for p in BUILTIN_PATTERNS if line_local_source(p.regex) is None}
    assert wide == {
        "private-key-pem",
        "cli-building-configuration",
        "cli-current-configuration",
        "certificate-hex-body",
        "certificate-pem-body",
    }


#: line-local and multi-line patterns interleaved, so whole-text rules change lines between line-local ones
_MIXED = [
    MaskingPattern(name="drop-header", regex=r"^HDR[^\n]*\n(?:[ \t]*\n)*", kind=PatternKind.VOLATILE),
    MaskingPattern(name="stamp", regex=r"^[!#][^\n]*?(?P<value>\d\d:\d\d)", kind=PatternKind.VOLATILE),
    MaskingPattern(name="join", regex=r"(?P<value>BEGIN\n[\s\S]*?\nEND)", kind=PatternKind.VOLATILE),
    MaskingPattern(name="count", regex=r"(?P<value>\d+) [^\n]*?pkts", kind=PatternKind.VOLATILE),
    MaskingPattern(name="blob", regex=r"blob (?P<value>[A-F0-9]+(?:\n[A-F0-9]+)*)", kind=PatternKind.SECRET),
    MaskingPattern(name="word", regex=r"\bpw (?P<value>\S+)", kind=PatternKind.SECRET),
]
_WORDS = ["HDR x", "! 12:34", "# at 01:02 and 99 pkts", "BEGIN", "END", "blob", "AB12", "F00", "pw s3cret"]
_WORDS += ["password 7 0822455D0A16", "key 1", "snmp-server community public RO", "", "  ", "x 5 pkts"]
_WORDS += [
    "7 BEGIN",
    "END pkts",
    "9 pkts",
    "  description pw z",
    "<secret:abc>",
    "pw <secret:abcdef>",
    "interface Gi0/1",
    "  shutdown",
]


@settings(max_examples=400, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_WORDS), max_size=30),
    indents=st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=30, max_size=30),
    grammar=st.booleans(),
)
def test_mixed_patterns_mask_the_same_by_lines(lines: list[str], indents: list[str], grammar: bool) -> None:
    text = "\n".join(indent + line for indent, line in zip(indents, lines, strict=False)) + "\n"
    registry = MaskingRegistry(_MIXED, key=KEY, grammar=grammar)
    for platform in (Platform.IOS, Platform.JUNOS, None):
        _same(text, registry.for_platform(platform))


def test_a_line_a_whole_text_rule_changes_is_masked_by_the_line_local_rules_after_it() -> None:
    """``join`` merges three lines into one that only then holds a ``count`` match."""
    registry = MaskingRegistry(_MIXED, key=KEY)
    text = "9 pkts\n7 BEGIN\nx\nEND pkts\n"
    masked, counts = mask_with_counts(text, registry.for_platform(None))
    assert masked == "<volatile:count> pkts\n<volatile:count> <volatile:join> pkts\n"
    assert counts == {"join": 1, "count": 2}
    _same(text, registry.for_platform(None))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="ab \t\n!#:0123456789<>secrt:pw-", max_size=200))
def test_arbitrary_text_masks_the_same_by_lines(text: str) -> None:
    registry = MaskingRegistry.builtin(key=KEY, extra=_MIXED)
    for platform in (Platform.IOS, Platform.EOS, Platform.JUNOS_SET):
        _same(text, registry.for_platform(platform))


# -- the line-locality check -----------------------------------------------------------------

_LOCAL = [r"[^\S\n]+", r"(?i:ab)\b", r"[^\s,]+", r"\d{1,2}:\d\d", r"(a)(?P<v>b)(?<w>c)", r"[^]\n]", r"x$"]
_NOT_LOCAL = [r"a\nb", r"[\s\S]", r"[^x]", r"(?s).", r"(?-m:^a)", r"\Qa\E", r"[[:space:]]", r"\s"]
_NOT_LOCAL += [r"[\x00-\x7f]", r"\x0a", r"\x{a}", r"\pL", r"a\z", r"\Aa", r"\W", r"\D", r"[^\S]", r"(?=a)"]


@pytest.mark.parametrize("source", _LOCAL)
def test_line_local_sources(source: str) -> None:
    assert line_local_source(source) is not None


@pytest.mark.parametrize("source", _NOT_LOCAL)
def test_sources_that_may_match_a_line_break(source: str) -> None:
    assert line_local_source(source) is None


def test_the_combined_scan_source_has_no_capturing_group() -> None:
    assert line_local_source(r"(a)(?P<v>b)(?<w>c)") == "(?:a)(?:b)(?:c)"
    assert line_local_source(r"\((?:x)\)[(]") == r"\((?:x)\)[(]"


_PIECES = [
    "a",
    "b",
    ".",
    r"\d",
    r"\w",
    r"\S",
    r"\s",
    r"\W",
    r"\D",
    r"\n",
    r"\t",
    " ",
    r"\b",
    "^",
    "$",
    r"\.",
    "[ab]",
    "[^a]",
    r"[^\n]",
    r"[^\s]",
    r"[^\S\n]",
    r"[\s\S]",
    r"[\x00-\x7f]",
    r"[\x0b-\x7f]",
    r"\x0a",
    r"\x41",
    "[a-z]",
    r"[^a\n]",
    "[]a]",
    r"[^]\n]",
    r"[\t ]",
    r"[^\S]",
    r"\pL",
    "(?i)",
    "(?s)",
]


@st.composite
def _regexes(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6))
    out = []
    for part in parts:
        out.append(part + draw(st.sampled_from(["", "", "*", "+", "?", "*?", "{1,3}"])))
    source = "".join(out)
    if draw(st.booleans()):
        source = f"({source})"
    if draw(st.booleans()):
        source = f"(?P<value>{source})|x"
    return source


@settings(max_examples=1500, deadline=None)
@given(source=_regexes(), text=st.text(alphabet="ab \t\n.Ax\x0b", max_size=40))
def test_a_line_local_source_never_matches_a_line_break(source: str, text: str) -> None:
    """What the check calls line-local never matches across (or a) line break, in RE2 itself."""
    import re2

    local = line_local_source(source)
    if local is None:
        return
    try:
        compiled = re2.compile(f"(?m){source}")
        uncaptured = re2.compile(f"(?m){local}")
    except re2.error:
        return
    for match in compiled.finditer(text):
        assert "\n" not in match.group(0), (source, text)
    spans = [match.span() for match in compiled.finditer(text)]
    assert spans == [match.span() for match in uncaptured.finditer(text)]
