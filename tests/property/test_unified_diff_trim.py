"""The unified diff with its shared head and tail cut is still a correct diff of the whole texts."""

from __future__ import annotations

import difflib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from driftaudit.domain.diff import _unified_lines

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+")


def _apply(before: list[str], diff: list[str]) -> list[str]:
    """``diff`` applied to ``before``, as patch(1) would."""
    out: list[str] = []
    index = 0
    for line in diff[2:]:
        hunk = _HUNK.match(line)
        if hunk:
            start, count = int(hunk.group(1)), int(hunk.group(2) or 1)
            target = start - 1 if count else start
            out += before[index:target]
            index = target
        elif line.startswith(" "):
            out.append(before[index])
            index += 1
        elif line.startswith("-"):
            index += 1
        elif line.startswith("+"):
            out.append(line[1:])
    return out + before[index:]


lines = st.lists(st.sampled_from(["a", "b", "c", "interface x", " shutdown", "!"]), max_size=40)


@settings(max_examples=300)
@given(before=lines, after=lines)
def test_the_trimmed_diff_applies(before: list[str], after: list[str]) -> None:
    diff = _unified_lines(before, after)
    assert (diff == []) == (before == after)
    assert _apply(before, diff) == after


@settings(max_examples=200)
@given(data=st.data(), size=st.integers(0, 60))
def test_without_repeated_lines_it_is_difflibs_own(data: st.DataObject, size: int) -> None:
    before = [f"line {n}" for n in range(size)]
    after = list(before)
    for _ in range(data.draw(st.integers(0, 4))):
        where = data.draw(st.integers(0, len(after)))
        after.insert(where, f"new {data.draw(st.integers(0, 10**6))}")
    full = list(difflib.unified_diff(before, after, fromfile="intended", tofile="actual", lineterm="", n=3))
    assert _unified_lines(before, after) == full
