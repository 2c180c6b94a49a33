"""Drop the top-level sections two indented configs share before they are parsed and compared.

Most of a drifted config is unchanged, and in a re-fetch of a compliant one
everything is: parsing both texts into trees and walking them costs more
than all the masking. In an indented config a line at indentation 0 is always
a top-level section and every indented line after it belongs to it (see
:func:`driftaudit.domain.sections.parse_indented`), so a config is a sequence
of top-level *blocks*. Two blocks with the same significant lines compare
equal all the way down, so when the platform treats their head as unordered
(no ordered group: not ``access-list 101 ...``, not ``route-map X permit N``)
and the head occurs once on each side, removing both changes nothing in the
comparison. The blocks of an ordered group (``access-list 101 ...``, the
entries of ``route-map X``) compare as one sequence per group: when that
sequence is the same on both sides, the whole group goes. What remains is
parsed and compared as before, and reports the same lines in the same order.

Blocks follow the parser's rules exactly: blank lines, comment lines,
``exit``/``exit-*`` lines and a top-level ``end`` are not part of any block
(the parser drops them), and a delimited banner's body, whatever it holds,
belongs to its ``banner`` line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from itertools import accumulate
from operator import itemgetter
from typing import Final

from driftaudit.domain.sections import _BANNER, _EXIT, SectionRules, banner_close

__all__ = ["differ_only_in_comments", "prune_shared_blocks", "shared_line_affixes"]


_NOISE: Final[dict[str, re.Pattern[str]]] = {}
_LEADING_NOISE: Final[dict[str, re.Pattern[str]]] = {}
#: rounds of affix and leading-noise trimming before the rest is filtered whole
_AFFIX_ROUNDS: Final = 4
#: characters of a banner's first window (see _banner_stop)
_BANNER_WINDOW = 4096  # not Final: tests vary it (a compiled Final would be inlined)


def differ_only_in_comments(actual: str, intended: str, leaders: str) -> bool:
    """Whether the texts are equal once whole comment lines and blank lines are left out.

    Both parsers drop exactly such lines, so equal remainders compare equal
    without being parsed: a re-fetch of a compliant device differs from its
    intent in header and show-block comments only. A banner body may hold
    lines that look like comments but are text, so a text with a banner is
    never decided here.
    """
    if "banner " in actual or "banner " in intended:
        return False
    noise = _NOISE.get(leaders)
    if noise is None:
        noise = re.compile(rf"^[ \t]*(?:[{re.escape(leaders)}][^\n]*)?\n", re.MULTILINE)
        _NOISE[leaders] = noise
    leading = _LEADING_NOISE.get(leaders)
    if leading is None:
        leading = re.compile(rf"(?:[ \t]*(?:[{re.escape(leaders)}][^\n]*)?\n)*")
        _LEADING_NOISE[leaders] = leading
    # Lines both texts share at either end drop out alike, and so do noise lines at the start of
    # either: what is left starts, on each side, with a significant line (or is empty). Two such
    # texts that start with different lines filter to different texts, which decides a drifted
    # pair after a few C-level steps instead of filtering both whole texts.
    for _ in range(_AFFIX_ROUNDS):
        head, tail = shared_line_affixes(actual, intended)
        actual = actual[head : len(actual) - tail]
        intended = intended[head : len(intended) - tail]
        skip_actual = leading.match(actual).end()  # type: ignore[union-attr]  # matches the empty string
        skip_intended = leading.match(intended).end()  # type: ignore[union-attr]
        if not skip_actual and not skip_intended:
            return actual == intended  # equal, or their first lines (both significant) differ
        actual, intended = actual[skip_actual:], intended[skip_intended:]
    return noise.sub("", actual) == noise.sub("", intended)


def shared_line_affixes(first: str, second: str) -> tuple[int, int]:
    """The lengths of the longest shared head and tail of the two texts made of whole lines.

    The head ends just after a line break (or is empty), the tail starts just
    after one (or is empty), and they never overlap in either text; so each
    text is head + middle + tail, cut at line starts, and any line-by-line
    filter of a text is the filter of its three parts joined. Found by
    halving: every probe is one C-level comparison, so it costs a few
    passes over the shared text, not a Python loop over its characters.
    """
    limit = min(len(first), len(second))
    # each probe compares only what lies beyond the part already known to be shared, so the probes
    # copy about twice the shared text in all, not once each
    low, high = 0, limit  # first[:low] == second[:low]; the longest shared prefix is < high + 1
    while low < high:
        probe = (low + high + 1) // 2
        if first[low:probe] == second[low:probe]:
            low = probe
        else:
            high = probe - 1
    head = first.rfind("\n", 0, low) + 1
    room = limit - head
    low, high = 0, room  # the last `low` characters of both are equal
    end_first, end_second = len(first), len(second)
    while low < high:
        probe = (low + high + 1) // 2
        if first[end_first - probe : end_first - low] == second[end_second - probe : end_second - low]:
            low = probe
        else:
            high = probe - 1
    if low == len(first) - head and low == len(second) - head:
        return head, low  # equal from head on: nothing in between
    shared = first[len(first) - low :]
    cut = shared.find("\n") + 1
    return head, (low - cut if cut else 0)


def _chunks(text: str, leaders: str) -> list[tuple[str | None, str]]:
    """The fast split: the raw text cut before each significant line at indentation 0.

    Equal chunks have equal significant lines, so comparing raw chunks is a
    safe (if stricter) test; comments and blank lines stay inside the chunk
    they follow. A delimited banner's body stays whole inside its banner's
    chunk, however its lines look (see :func:`_pieces`).
    """
    pieces = _pieces(text, _splitter(leaders))
    heads = [piece.partition("\n")[0].rstrip() for piece in pieces]
    # every chunk after the first starts with a character that is neither blank nor a comment leader
    first = heads[0]
    chunks: list[tuple[str | None, str]] = list(zip(heads, pieces, strict=True))
    if not first or first[0] in leaders or first[0].isspace():
        chunks[0] = (None, pieces[0])
    if "end" not in heads and not (text.startswith("exit") or "\nexit" in text):
        return chunks  # (a head starting with "exit" starts a line of the text)
    # only the chunks headed by such a line are merged: found in one pass, the rest copied in slices
    skipped = [
        index
        for index, head in enumerate(heads)
        if index and (head == "end" or (head.startswith("exit") and _EXIT.fullmatch(head)))
    ]
    if not skipped:
        return chunks
    merged: list[tuple[str | None, str]] = []
    done = 0
    for index in skipped:
        # the parser skips these: the indented lines after them still belong to the block before
        merged += chunks[done:index]
        previous_head, previous = merged[-1]
        merged[-1] = (previous_head, f"{previous}\n{chunks[index][1]}")
        done = index + 1
    merged += chunks[done:]
    return merged


def _pieces(text: str, splitter: re.Pattern[str]) -> list[str]:
    """The text split at ``splitter``'s line breaks, except inside a delimited banner's body.

    A banner body may hold lines at indentation 0 that are not heads; where
    it ends is read exactly as the parser reads it (:func:`banner_close`), and
    no cut falls before that end. Without a banner this is ``splitter.split``.
    """
    split = splitter.split(text)
    if not (text.startswith("banner ") or "\nbanner " in text):
        return split
    banners = [index for index, piece in enumerate(split) if piece.startswith("banner ")]
    if not banners:
        return split
    ends = list(accumulate(map(len, split)))  # ends[k] + k: the offset just after split[k]
    pieces: list[str] = []
    done, count = 0, len(split)
    for index in banners:
        if index < done:
            continue  # inside the body of an earlier banner
        pieces += split[done:index]
        start = ends[index] + index - len(split[index])  # pieces are joined by one line break
        hold = _banner_stop(text, start)
        stop = index + 1
        while stop < count and ends[stop - 1] + stop - 1 < hold:  # the body goes on past split[stop - 1]
            stop += 1
        pieces.append("\n".join(split[index:stop]))
        done = stop
    pieces += split[done:]
    return pieces


def _banner_stop(text: str, start: int) -> int:
    """The offset of the line break that ends the banner body of the piece at ``start`` (0 if none).

    The parser reads a banner through :func:`banner_close` on ``splitlines``,
    so the body's end is found the same way.
    """
    if not text.startswith("banner ", start):
        return 0
    head_end = text.find("\n", start)
    head = text[start : len(text) if head_end < 0 else head_end].rstrip()
    banner = _BANNER.match(head)
    if banner is None:
        return 0
    # read in growing windows, not the whole rest of the text: a body is a few lines. Every line of a
    # window but its last is a whole line of the text (the next one starts inside the window), so it
    # splits as the whole text does; the last one counts only once the window reaches the text's end.
    size = _BANNER_WINDOW
    while True:
        lines = text[start : start + size].splitlines(keepends=True)
        whole = start + size >= len(text)
        close = banner_close(lines if whole else lines[:-1], 1, banner.group("rest"))
        if close is not None:
            return start + sum(map(len, lines[: close[0] + 1])) - 1
        if whole:
            return 0
        size *= 8


_SPLITTERS: Final[dict[str, re.Pattern[str]]] = {}


def _splitter(leaders: str) -> re.Pattern[str]:
    splitter = _SPLITTERS.get(leaders)
    if splitter is None:
        splitter = re.compile(rf"\n(?=[^\s{re.escape(leaders)}])")
        _SPLITTERS[leaders] = splitter
    return splitter


def prune_shared_blocks(
    actual: str,
    intended: str,
    rules: SectionRules,
    pinned: Callable[[str], object] | None = None,
) -> tuple[str, str]:
    """Both texts without the top-level blocks they share alike (the rest in document order).

    Two kinds of blocks go: an unordered block both texts hold alike, with its
    head once on each side; and every block of an ordered group (``access-list
    101 ...``, the entries of ``route-map X``) when the group's blocks, in
    order, are the same on both sides. The comparison pairs an unordered block
    by its head, and compares an ordered group as one sequence: equal blocks
    and equal sequences report nothing, and no other block is paired with them.

    An unordered head for which ``pinned`` is truthy is always kept: a caller
    whose walk looks across the blocks of a level (remediation counts a leaf's
    key over the whole level) keeps the heads it looks at.
    """
    leaders = rules.comment_leaders
    blocks_actual, blocks_intended = _chunks(actual, leaders), _chunks(intended, leaders)
    # a block both texts hold alike, with its head once on each side: the (head, body) pair occurs
    # once in each, and no other block on either side has that head
    common = set(blocks_actual).intersection(blocks_intended)
    if not common:
        return actual, intended
    heads_actual = Counter(map(itemgetter(0), blocks_actual))
    heads_intended = Counter(map(itemgetter(0), blocks_intended))
    group_of = {head: rules.group_key(head) for head, _ in common if head is not None}
    shared = {
        head
        for head, group in group_of.items()
        if group is None
        and heads_actual[head] == 1
        and heads_intended[head] == 1
        and not (pinned is not None and pinned(head))
    }
    # an ordered group can go only if one of its blocks is common: those groups, compared whole
    groups = {group for group in group_of.values() if group is not None}
    if groups:
        sequences_actual = _group_sequences(blocks_actual, groups, group_of, rules)
        sequences_intended = _group_sequences(blocks_intended, groups, group_of, rules)
        groups = {group for group in groups if sequences_actual[group] == sequences_intended[group]}
    if not shared and not groups:
        return actual, intended
    kept_actual = "\n".join(_kept(blocks_actual, shared, groups, group_of))
    kept_intended = "\n".join(_kept(blocks_intended, shared, groups, group_of))
    return kept_actual, kept_intended


def _group_sequences(
    blocks: list[tuple[str | None, str]],
    groups: set[str],
    group_of: dict[str, str | None],
    rules: SectionRules,
) -> dict[str, list[tuple[str | None, str]]]:
    """Per ordered group in ``groups``, its blocks in document order.

    ``group_of`` caches each head's group (the heads of common blocks are
    already in it; the others are few).
    """
    sequences: dict[str, list[tuple[str | None, str]]] = {group: [] for group in groups}
    for block in blocks:
        head = block[0]
        if head is None:
            continue
        if head in group_of:
            group = group_of[head]
        else:
            group = group_of[head] = rules.group_key(head)
        if group in sequences:
            sequences[group].append(block)
    return sequences


def _kept(
    blocks: list[tuple[str | None, str]], shared: set[str], groups: set[str], group_of: dict[str, str | None]
) -> list[str]:
    """The bodies of the blocks that stay, in document order."""
    if not groups:
        return [body for head, body in blocks if head not in shared]
    return [
        body
        for head, body in blocks
        if head is None or (head not in shared and group_of.get(head) not in groups)
    ]
