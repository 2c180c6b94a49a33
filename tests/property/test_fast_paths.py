"""The fast paths of normalization, the secret grammar's prefilter and the unified diff are exact.

* ``normalize_text`` (its one-scan path for ASCII text included) normalizes
  every text exactly as the step-by-step reference below does.
* The grammar's keyword prefilter reads one line at a time: a line masks the
  same whatever line stands before or after it.
* The anchored unified diff (long middles) applies with patch(1) semantics,
  groups hunks exactly as difflib does, and is difflib's own output when no
  line repeats.
"""

from __future__ import annotations

import difflib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.masking import MaskingRegistry, mask_content
from driftaudit.domain.models import Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.unified import _common_order, grouped_opcodes, unified_lines
from tests.property.test_unified_diff_trim import _apply

# -- normalization ---------------------------------------------------------------------------


def _reference(text: str) -> str:
    """normalize_text as specified: CRLF/CR to LF, every line right-stripped, blank ends dropped."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1
    return "\n".join(lines[start:]) + "\n" if start < len(lines) else ""


_ALPHABET = ["a", "b", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\ufeff", "\u00a0", "\x85", "é"]


@settings(max_examples=2000)
@given(text=st.lists(st.sampled_from(_ALPHABET), max_size=30).map("".join))
def test_normalize_text_is_the_reference(text: str) -> None:
    assert ConfigNormalizer().normalize_text(text) == _reference(text)


def test_every_ascii_blank_is_what_rstrip_strips() -> None:
    from driftaudit.domain.normalize import _ASCII_BLANKS

    assert set(_ASCII_BLANKS) == {chr(c) for c in range(128) if chr(c).isspace()} - {"\n"}


# -- the grammar reads one line at a time ----------------------------------------------------

_NEIGHBOURS = ["!", "description x", "interface Gi1", "  authentication key", " password", "key", ""]
_SECRET_LINES = ["key 7 0822455D0A16", "password 7 0822455D0A16", "secret 5 $1$abc$def"]
_SECRET_LINES += [" key-string 7 0822455D0A16", "snmp-server community public RO", "key 1234"]


@settings(max_examples=300)
@given(
    before=st.sampled_from(_NEIGHBOURS),
    line=st.sampled_from(_SECRET_LINES),
    after=st.sampled_from(_NEIGHBOURS),
)
def test_a_line_masks_the_same_whatever_its_neighbours(before: str, line: str, after: str) -> None:
    patterns = MaskingRegistry.builtin(key=b"k").for_platform(Platform.IOS)
    alone = mask_content(line + "\n", patterns)
    around = mask_content(f"{before}\n{line}\n{after}\n", patterns).split("\n")
    assert around[1] + "\n" == alone
    assert around[0] == mask_content(before + "\n", patterns).rstrip("\n")
    assert around[2] == mask_content(after + "\n", patterns).rstrip("\n")


def test_a_top_level_secret_after_a_comment_is_masked() -> None:
    """The prefilter once read ``!`` and the line after it as one line, and masked nothing in it."""
    patterns = MaskingRegistry.builtin(key=b"k").for_platform(Platform.IOS)
    masked = mask_content("!\nkey 7 0822455D0A16\n", patterns)
    assert "0822455D0A16" not in masked
    assert masked.startswith("!\nkey 7 <secret:")


def test_a_line_ending_in_a_keyword_does_not_lend_the_next_line_its_value() -> None:
    patterns = MaskingRegistry.builtin(key=b"k").for_platform(Platform.IOS)
    assert mask_content(" authentication key\n interface-name\n", patterns) == (
        " authentication key\n interface-name\n"
    )


# -- the anchored unified diff ---------------------------------------------------------------

_LINES = ["a", "b", "c", "!", " shutdown", "exit", "interface x"]


@settings(max_examples=300, deadline=None)
@given(
    base=st.lists(st.sampled_from(_LINES) | st.integers(0, 400).map(str), min_size=0, max_size=300),
    edits=st.lists(
        st.tuples(st.integers(0, 299), st.sampled_from(["del", "ins", "rep"]), st.sampled_from(_LINES)),
        max_size=8,
    ),
)
def test_the_anchored_diff_applies(base: list[str], edits: list[tuple[int, str, str]]) -> None:
    after = list(base)
    for where, kind, line in edits:
        where = min(where, len(after))
        if kind == "ins" or where == len(after):
            after.insert(where, line)
        elif kind == "del":
            del after[where]
        else:
            after[where] = line
    diff = unified_lines(base, after)
    assert (diff == []) == (base == after)
    assert _apply(base, diff) == after


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(0, 600))
def test_without_repeated_lines_the_anchored_diff_is_difflibs_own(data: st.DataObject, size: int) -> None:
    before = [f"line {n}" for n in range(size)]
    after = list(before)
    for _ in range(data.draw(st.integers(0, 4))):
        where = data.draw(st.integers(0, len(after)))
        if after and data.draw(st.booleans()):
            del after[min(where, len(after) - 1)]
        else:
            after.insert(where, f"new {data.draw(st.integers(0, 10**6))}")
    if len(set(after)) != len(after):
        return
    full = list(difflib.unified_diff(before, after, fromfile="intended", tofile="actual", lineterm="", n=3))
    assert unified_lines(before, after) == full


@settings(max_examples=300)
@given(
    before=st.lists(st.sampled_from(_LINES), max_size=40),
    after=st.lists(st.sampled_from(_LINES), max_size=40),
    context=st.integers(0, 4),
)
def test_hunks_are_grouped_as_difflib_groups_them(before: list[str], after: list[str], context: int) -> None:
    matcher = difflib.SequenceMatcher(None, before, after)
    codes = [tuple(code) for code in matcher.get_opcodes()]
    assert list(grouped_opcodes(codes, context)) == [
        [tuple(code) for code in group] for group in matcher.get_grouped_opcodes(context)
    ]


def test_the_hunk_header_ranges_are_difflibs() -> None:
    before = [str(n) for n in range(300)]
    after = before[:10] + before[11:150] + ["x"] + before[150:]
    expected = list(difflib.unified_diff(before, after, fromfile="intended", tofile="actual", lineterm=""))
    assert unified_lines(before, after) == expected
    assert re.fullmatch(r"@@ -8,7 \+8,6 @@", expected[2])


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(st.integers(0, 30).map(str), max_size=80),
    after=st.lists(st.integers(0, 30).map(str), max_size=80),
)
def test_the_common_order_opcodes_rebuild_after(before: list[str], after: list[str]) -> None:
    """When it applies, every equal opcode pairs equal lines and the opcodes cover both sides in order."""
    codes = _common_order(before, after)
    if codes is None:
        return
    rebuilt: list[str] = []
    position_before = position_after = 0
    for tag, i1, i2, j1, j2 in codes:
        assert (i1, j1) == (position_before, position_after)
        if tag == "equal":
            assert before[i1:i2] == after[j1:j2]
        rebuilt += after[j1:j2]
        position_before, position_after = i2, j2
    assert (position_before, position_after) == (len(before), len(after))
    assert rebuilt == after


def test_many_changes_in_the_common_order_are_placed_in_one_pass() -> None:
    before = [f"keep {n}" if n % 2 else f"old {n}" for n in range(20000)]
    after = [f"keep {n}" if n % 2 else f"new {n}" for n in range(20000)]
    codes = _common_order(before, after)
    assert codes is not None
    assert len(codes) == 20000
    assert _apply(before, unified_lines(before, after)) == after


@settings(max_examples=200)
@given(key=st.binary(min_size=1, max_size=100), value=st.text(max_size=40), type7=st.booleans())
def test_a_fingerprint_is_hmac_sha256_of_what_the_value_decodes_to(
    key: bytes, value: str, type7: bool
) -> None:
    import hashlib
    import hmac

    from driftaudit.domain.masking import _fingerprint, _fingerprint_input

    material = _fingerprint_input(value, type7=type7).encode("utf-8")
    expected = hmac.new(key, material, hashlib.sha256).hexdigest()[:12]
    assert _fingerprint(value, key, type7=type7) == f"<secret:{expected}>"
