"""A unified diff of two configs that differ in a few places, without aligning them line by line in Python.

``difflib.unified_diff`` aligns the two line lists with ``SequenceMatcher``,
whose longest-match search walks every line in Python; for two re-fetches of
one config that differ in a header and one changed line, that walk over
hundreds of equal lines is most of the cost of the report. Here:

* the shared head and tail (beyond the context lines) are equal runs and are
  not aligned at all;
* in what remains, lines that occur exactly once on each side are *anchors*
  (patience diff): their longest increasing run pairs them in order, and
  ``SequenceMatcher`` aligns only the short gaps between consecutive anchors;
  an anchor run already in order, the common case, costs one C-level sort.

The opcodes are grouped into hunks and printed exactly as
``difflib.unified_diff`` groups and prints its own (same headers, same ``@@``
ranges, same context), so the output is a correct unified diff that patch(1)
applies; where lines repeat, it may pair them differently from difflib on the
whole texts (tests prove both properties, and equality with difflib when no
line repeats).
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from itertools import compress, count

__all__ = ["grouped_opcodes", "opcodes", "unified_lines"]

Opcode = tuple[str, int, int, int, int]


def unified_lines(before: list[str], after: list[str], context: int = 3) -> list[str]:
    """The lines of a unified diff from ``before`` (``--- intended``) to ``after`` (``+++ actual``)."""
    codes = opcodes(before, after, context)
    lines: list[str] = []
    for group in grouped_opcodes(codes, context):
        if not lines:
            lines += ["--- intended", "+++ actual"]
        first, last = group[0], group[-1]
        lines.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in before[i1:i2]]
                continue
            if tag in ("replace", "delete"):
                lines += ["-" + line for line in before[i1:i2]]
            if tag in ("replace", "insert"):
                lines += ["+" + line for line in after[j1:j2]]
    return lines


def _range(start: int, stop: int) -> str:
    """A hunk range as ``difflib.unified_diff`` writes it (1-based start, length; ``N`` alone for 1)."""
    beginning, length = start + 1, stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def opcodes(before: list[str], after: list[str], context: int = 3) -> list[Opcode]:
    """Opcodes (as ``SequenceMatcher.get_opcodes``) turning ``before`` into ``after``; equal runs merged."""
    limit = min(len(before), len(after))
    head = 0
    while head < limit and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < limit - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    # as the trimmed difflib call always did: the context lines around the middle are aligned with it
    cut_head = max(0, head - context)
    cut_tail = max(0, tail - context)
    middle_before = before[cut_head : len(before) - cut_tail]
    middle_after = after[cut_head : len(after) - cut_tail]
    codes: list[Opcode] = []
    if cut_head:
        codes.append(("equal", 0, cut_head, 0, cut_head))
    middle = _common_order(middle_before, middle_after)
    if middle is None:
        middle = _anchored(middle_before, middle_after)
    for tag, i1, i2, j1, j2 in middle:
        _push(codes, (tag, i1 + cut_head, i2 + cut_head, j1 + cut_head, j2 + cut_head))
    if cut_tail:
        _push(codes, ("equal", len(before) - cut_tail, len(before), len(after) - cut_tail, len(after)))
    return codes


def _push(codes: list[Opcode], code: Opcode) -> None:
    """Append ``code``, merging it into the last one when both are equal runs."""
    if code[1] == code[2] and code[3] == code[4]:
        return
    if codes and code[0] == "equal" and codes[-1][0] == "equal":
        last = codes[-1]
        codes[-1] = ("equal", last[1], code[2], last[3], code[4])
        return
    codes.append(code)


def _matcher_opcodes(before: list[str], after: list[str]) -> list[Opcode]:
    """Difflib's own opcodes, with the matcher ``difflib.unified_diff`` uses (autojunk on)."""
    return [tuple(code) for code in difflib.SequenceMatcher(None, before, after).get_opcodes()]  # type: ignore[misc]


def _common_order(before: list[str], after: list[str]) -> list[Opcode] | None:
    """Opcodes when the lines both sides hold come in the same order on both, else None.

    Then those lines, in that order, are the longest common subsequence (no
    line of one side only can be part of any), so the diff pairs them and
    every other line is a change: each step is one C-level pass, with no
    alignment to search for. Where the orders differ (a moved line, a line
    repeated more often on one side), see :func:`_split_order`.
    """
    in_before, in_after = set(before), set(after)
    # per line, whether the other side holds it: computed once, it gives both the shared lines and
    # the lines of one side only
    held_before = list(map(in_after.__contains__, before))
    held_after = list(map(in_before.__contains__, after))
    shared_before = list(compress(before, held_before))
    shared_after = list(compress(after, held_after))
    if shared_before != shared_after:
        return _split_order(before, after, held_before, held_after, shared_before, shared_after)
    return _ordered_opcodes(held_before, held_after)


def _ordered_opcodes(held_before: list[bool], held_after: list[bool]) -> list[Opcode]:
    """The opcodes of two sides whose shared lines come in the same order, from which lines are shared.

    ``held_*[k]``: whether line ``k`` of that side is one the other side holds.
    """
    only_before = _positions_of_false(held_before)
    only_after = _positions_of_false(held_after)
    # a line of one side only sits after as many shared lines as there are shared lines before it:
    # lines of either side after the same number of shared lines form one change
    changes: dict[int, list[list[int]]] = {}
    for rank, index in enumerate(only_before):
        changes.setdefault(index - rank, [[], []])[0].append(index)
    for rank, index in enumerate(only_after):
        changes.setdefault(index - rank, [[], []])[1].append(index)
    codes: list[Opcode] = []
    last_before = last_after = 0
    done_before = done_after = 0  # lines of one side only already placed, on each side
    for shared in sorted(changes):
        removed, added = changes[shared]
        # a change after `shared` shared lines starts past them and the one-side lines before it
        start_before, start_after = shared + done_before, shared + done_after
        _push(codes, ("equal", last_before, start_before, last_after, start_after))
        done_before += len(removed)
        done_after += len(added)
        last_before, last_after = start_before + len(removed), start_after + len(added)
        tag = "replace" if removed and added else "delete" if removed else "insert"
        _push(codes, (tag, start_before, last_before, start_after, last_after))
    _push(codes, ("equal", last_before, len(held_before), last_after, len(held_after)))
    return codes


def _positions_of_false(flags: list[bool]) -> list[int]:
    """The indices of the False items: one C-level ``index`` scan per item found (they are few)."""
    found: list[int] = []
    index = flags.index
    position = -1
    try:
        while True:
            position = index(False, position + 1)
            found.append(position)
    except ValueError:
        return found


def _positions_of_true(flags: list[bool]) -> list[int]:
    """The indices of the True items."""
    return list(compress(count(), flags))


def _split_order(
    before: list[str],
    after: list[str],
    held_before: list[bool],
    held_after: list[bool],
    shared_before: list[str],
    shared_after: list[str],
) -> list[Opcode] | None:
    """Opcodes when the shared lines come in the same order except in one stretch, else None.

    The shared lines agree up to their longest common head and tail: the
    text up to the last line of that head (and from the first line of that
    tail) pairs in the common order on both sides, and only the stretch
    between goes to :func:`_anchored`. There, a line the other side holds
    anywhere is exactly one of the head's lines (and each of those is held
    there too), so which lines are shared is read from ``held_*`` sliced,
    not looked up again.
    """
    head = _common_head(shared_before, shared_after)
    limit = min(len(shared_before), len(shared_after)) - head
    tail = _common_head(shared_before[::-1][:limit], shared_after[::-1][:limit])
    if not head and not tail:
        return None
    at_before = _positions_of_true(held_before)
    at_after = _positions_of_true(held_after)
    start_before = at_before[head - 1] + 1 if head else 0
    start_after = at_after[head - 1] + 1 if head else 0
    stop_before = at_before[len(shared_before) - tail] if tail else len(before)
    stop_after = at_after[len(shared_after) - tail] if tail else len(after)
    first = _ordered_opcodes(held_before[:start_before], held_after[:start_after])
    last = _ordered_opcodes(held_before[stop_before:], held_after[stop_after:])
    codes: list[Opcode] = []
    for code in first:
        _push(codes, code)
    middle = _anchored(before[start_before:stop_before], after[start_after:stop_after])
    for tag, i1, i2, j1, j2 in middle:
        _push(codes, (tag, i1 + start_before, i2 + start_before, j1 + start_after, j2 + start_after))
    for tag, i1, i2, j1, j2 in last:
        _push(codes, (tag, i1 + stop_before, i2 + stop_before, j1 + stop_after, j2 + stop_after))
    return codes


def _common_head(first: list[str], second: list[str]) -> int:
    """The length of the longest common head of two lists, by halving (each probe one C-level compare)."""
    low, high = 0, min(len(first), len(second))
    while low < high:
        probe = (low + high + 1) // 2
        if first[low:probe] == second[low:probe]:  # the part before `low` is known to be equal
            low = probe
        else:
            high = probe - 1
    return low


def _anchored(before: list[str], after: list[str]) -> list[Opcode]:
    """Opcodes pairing the lines unique on both sides in order, the gaps between them aligned by difflib."""
    count_before = Counter(before)
    count_after = Counter(after)
    where_after = {line: index for index, line in enumerate(after) if count_after[line] == 1}
    anchors = [
        (index, where_after[line])
        for index, line in enumerate(before)
        if count_before[line] == 1 and line in where_after
    ]
    if not anchors:
        return _matcher_opcodes(before, after)
    targets = [target for _, target in anchors]
    if targets != sorted(targets):
        anchors = _increasing(anchors)
    codes: list[Opcode] = []
    last_before = last_after = 0
    for index, target, length in (*_runs(anchors), (len(before), len(after), 0)):
        if index > last_before or target > last_after:
            gap_before, gap_after = before[last_before:index], after[last_after:target]
            if gap_before == gap_after:  # repeated lines between two anchors, the same on both sides
                _push(codes, ("equal", last_before, index, last_after, target))
            elif not gap_before:
                _push(codes, ("insert", last_before, index, last_after, target))
            elif not gap_after:
                _push(codes, ("delete", last_before, index, last_after, target))
            elif set(gap_before).isdisjoint(gap_after):  # nothing to match: difflib says one replace too
                _push(codes, ("replace", last_before, index, last_after, target))
            else:
                for tag, i1, i2, j1, j2 in _matcher_opcodes(gap_before, gap_after):
                    _push(codes, (tag, i1 + last_before, i2 + last_before, j1 + last_after, j2 + last_after))
        if length:
            _push(codes, ("equal", index, index + length, target, target + length))
        last_before, last_after = index + length, target + length
    return codes


def _runs(anchors: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Consecutive anchors (both sides one line on) as (before index, after index, length) runs."""
    runs: list[tuple[int, int, int]] = []
    first_before, first_after = anchors[0]
    length = 1
    for index, target in anchors[1:]:
        if index == first_before + length and target == first_after + length:
            length += 1
            continue
        runs.append((first_before, first_after, length))
        first_before, first_after, length = index, target, 1
    runs.append((first_before, first_after, length))
    return runs


def _increasing(anchors: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``anchors`` (sorted by first item) whose second items increase too."""
    tails: list[int] = []  # tails[k]: the smallest second item ending an increasing run of length k + 1
    ends: list[int] = []  # ends[k]: the anchor index of that smallest tail
    previous: list[int] = []
    for position, (_, target) in enumerate(anchors):
        length = bisect_left(tails, target)
        if length == len(tails):
            tails.append(target)
            ends.append(position)
        else:
            tails[length] = target
            ends[length] = position
        previous.append(ends[length - 1] if length else -1)
    chosen: list[tuple[int, int]] = []
    position = ends[-1]
    while position >= 0:
        chosen.append(anchors[position])
        position = previous[position]
    chosen.reverse()
    return chosen


def grouped_opcodes(codes: list[Opcode], context: int = 3) -> Iterator[list[Opcode]]:
    """The hunks of ``codes``, as ``SequenceMatcher.get_grouped_opcodes(context)`` forms them."""
    if not codes:
        codes = [("equal", 0, 1, 0, 1)]
    codes = list(codes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group
