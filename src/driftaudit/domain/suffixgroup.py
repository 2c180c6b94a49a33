r"""The span of a pattern's ``value`` group without RE2's submatch engine, for one proven shape.

RE2 finds a match's extent with its DFAs and, only when groups are asked for,
runs a backtracking engine over the match to place them: for the comment-line
volatiles (``^[ \t]*[!#:][^\n]*?\b(?P<value>...)``) that second step is half
the cost of a match, and one RE2 call costs about 0.5 us. For a pattern of the
shape

    HEAD [^\n]*? Z (?P<value>BODY)        (the group closes the pattern)

where ``Z`` is empty or ``\b`` and ``HEAD`` is a run of single-character atoms
(``^``, a literal, a class of literals, each maybe with a greedy ``*``, ``+``
or ``?``) in which every quantified atom is followed by an unquantified atom
that shares no character with it, the group is found exactly by:

1. the whole match ``[s, e)``, by the pattern with its group made
   non-capturing (groups never change where RE2's matches are);
2. ``q``, the end of ``HEAD`` from ``s``: ``HEAD`` has one way to match (each
   loop must stop where the next atom's character is, and cannot stop
   earlier), found by the same atoms in Python's engine on the few characters
   of a line head;
3. ``p``, the start of the leftmost match of ``Z(?:BODY)`` searched from
   ``q`` (the pattern's own flags, same text, same context).

Why ``p`` is the group's start: a leftmost-first match tries the lazy
``[^\n]*?`` with 0, 1, 2... characters, so the group starts at the first
position from ``q`` on, within the line, where ``Z`` and ``BODY`` match; every
position between ``q`` and the group's start is on that line (the lazy run
holds no line break), so no earlier position holds a match of ``Z(?:BODY)``
either. The group ends where the pattern ends, at ``e``. A pattern of any
other shape keeps the submatch engine (:func:`suffix_group` returns None);
so does non-ASCII text (see :class:`driftaudit.domain.re2scan.Scanner`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import re2

from driftaudit.domain.re2scan import Scanner

__all__ = ["SuffixGroup", "suffix_group"]

_LAZY_LINE: Final = "[^\\n]*?"
_GROUP: Final = "(?P<value>"
#: characters that are literal outside a class when not escaped
_META: Final = frozenset("\\^$.|?*+()[]{}")
#: escapes of single literal characters accepted in HEAD (``\t``, and escaped punctuation)
_LITERAL_ESCAPES: Final = {"t": "\t"}


@dataclass(frozen=True, eq=False)
class SuffixGroup:
    """One pattern's whole-match scanner, its ``HEAD`` in Python's engine and its value search."""

    whole: Scanner
    head: re.Pattern[str]
    value: Scanner

    def spans(self, text: str) -> list[tuple[int, int]] | None:
        """The ``value`` span of every match, left to right; None where this path does not apply.

        The same spans as the pattern's own group (see the module docstring);
        None on non-ASCII text or when the binding's engine is not reachable,
        so the caller takes the submatch path.
        """
        whole, value = self.whole, self.value
        if not (whole.ascii_ready and value.ascii_ready and text.isascii()):
            return None
        encoded = text.encode("ascii")
        head = self.head.match
        found: list[tuple[int, int]] = []
        for spans in whole.all_ascii_spans(encoded):
            start, end = spans[0]
            head_match = head(text, start)
            if head_match is None:
                return None  # cannot happen for a match of the whole pattern: the submatch path decides
            begin = value.first_start(encoded, head_match.end())
            if begin < 0 or begin > end:
                return None  # cannot happen either (see the module docstring)
            found.append((begin, end))
        return found


def suffix_group(regex: str) -> SuffixGroup | None:
    """The cheap path of ``regex`` (without the ``(?m)`` masking adds), or None for any other shape."""
    split = _split(regex)
    if split is None:
        return None
    head_source, zero_width, body = split
    atoms = _atoms(head_source)
    if atoms is None or not _deterministic(atoms):
        return None
    python_head = "^" * atoms[0][2] + "".join(
        _python_atom(chars, quantifier) for chars, quantifier, _ in atoms[1:]
    )
    try:
        whole = Scanner(f"(?m){head_source}{_LAZY_LINE}{zero_width}(?:{body})")
        value = Scanner(f"(?m){zero_width}(?:{body})")
    except re2.error:  # the pattern's own compilation reports it
        return None
    return SuffixGroup(whole=whole, head=re.compile(python_head, re.MULTILINE), value=value)


def _split(regex: str) -> tuple[str, str, str] | None:
    r"""``regex`` as (HEAD, Z, BODY) when it is ``HEAD [^\n]*? Z (?P<value>BODY)``, else None."""
    at = regex.find(_GROUP)
    if at < 0 or regex.find(_GROUP, at + 1) >= 0 or not regex.endswith(")"):
        return None
    before, body = regex[:at], regex[at + len(_GROUP) : -1]
    zero_width = "\\b" if before.endswith("\\b") and not before.endswith("\\\\b") else ""
    before = before[: len(before) - len(zero_width)]
    if not before.endswith(_LAZY_LINE):
        return None
    head = before[: -len(_LAZY_LINE)]
    if not _closes_at_end(body):
        return None
    return head, zero_width, body


def _closes_at_end(body: str) -> bool:
    """Whether ``body`` is balanced, so the final ``)`` of the pattern closes the value group."""
    depth = 0
    position = 0
    while position < len(body):
        char = body[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            position = _class_end(body, position)
            if position < 0:
                return False
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
        position += 1
    return depth == 0


def _class_end(source: str, start: int) -> int:
    """The offset after the class starting at ``start`` (-1 when it is not closed or holds ``[:``)."""
    position = start + 1
    if position < len(source) and source[position] == "^":
        position += 1
    first = True
    while position < len(source):
        char = source[position]
        if char == "\\":
            position += 2
        elif char == "[" and source.startswith("[:", position):
            return -1
        elif char == "]" and not first:
            return position + 1
        else:
            position += 1
        first = False
    return -1


#: one HEAD atom: its characters (None for ``^``), its quantifier ("" for none), and whether it is ``^``
_Atom = tuple[frozenset[str] | None, str, bool]


def _atoms(head: str) -> list[_Atom] | None:
    """HEAD as atoms, the first one ``^`` or nothing; None when it holds anything else.

    The result always starts with a marker atom saying whether HEAD starts with ``^``.
    """
    anchored = head.startswith("^")
    atoms: list[_Atom] = [(None, "", anchored)]
    position = 1 if anchored else 0
    while position < len(head):
        char = head[position]
        chars: frozenset[str] | None
        if char == "[":
            end = _class_end(head, position)
            chars = _class_chars(head[position + 1 : end - 1]) if end > 0 else None
            position = end
        elif char == "\\":
            chars = _escape_char(head[position + 1 : position + 2])
            position += 2
        elif char in _META:
            return None
        else:
            chars = frozenset(char)
            position += 1
        if chars is None:
            return None
        quantifier = head[position : position + 1] if head[position : position + 1] in ("*", "+", "?") else ""
        position += len(quantifier)
        if head[position : position + 1] in ("?", "*", "+", "{"):
            return None  # lazy or possessive-looking forms, counted repeats: not this shape
        atoms.append((chars, quantifier, False))
    return atoms


def _escape_char(letter: str) -> frozenset[str] | None:
    if letter in _LITERAL_ESCAPES:
        return frozenset(_LITERAL_ESCAPES[letter])
    if letter and not letter.isalnum() and letter.isascii() and letter.isprintable():
        return frozenset(letter)
    return None  # \d, \s, \b, \n, \x.. and everything else: not a HEAD atom


def _class_chars(inside: str) -> frozenset[str] | None:
    r"""The characters of a positive class of literals and ranges (``[ \t]``, ``[!#:]``, ``[a-z]``)."""
    if not inside or inside.startswith("^"):
        return None
    items: list[tuple[str, bool]] = []  # (character, whether it was escaped)
    position = 0
    while position < len(inside):
        char = inside[position]
        if char == "\\":
            escaped = _escape_char(inside[position + 1 : position + 2])
            if escaped is None:
                return None
            items.append((next(iter(escaped)), True))
            position += 2
        else:
            items.append((char, False))
            position += 1
    chars: set[str] = set()
    index = 0
    while index < len(items):
        if index + 2 < len(items) and items[index + 1] == ("-", False):
            low, high = ord(items[index][0]), ord(items[index + 2][0])
            if low > high:
                return None
            chars.update(chr(code) for code in range(low, high + 1))
            index += 3
        else:
            chars.add(items[index][0])
            index += 1
    return frozenset(chars) if all(char.isascii() for char in chars) else None


def _deterministic(atoms: list[_Atom]) -> bool:
    """Whether HEAD has at most one way to match from any position (see the module docstring).

    Every quantified atom must be followed by an unquantified one with none of
    its characters; the last atom must be unquantified (the lazy run after it
    shares its characters).
    """
    body = atoms[1:]
    if not body or body[-1][1]:
        return False
    for (chars, quantifier, _), (following, next_quantifier, _) in zip(body, body[1:], strict=False):
        if quantifier and (next_quantifier or chars is None or following is None or chars & following):
            return False
    return all("\n" not in (chars or ()) for chars, _, _ in body)


def _python_atom(chars: frozenset[str] | None, quantifier: str) -> str:
    """One HEAD atom for Python's engine: its characters as an explicit class (same on ASCII text)."""
    return "[" + "".join(re.escape(char) for char in sorted(chars or ())) + "]" + quantifier
