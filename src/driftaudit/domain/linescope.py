r"""Which masking patterns only ever match inside one line, proven from their source.

Most masking patterns (``crypt-hash``, every comment-line volatile) match
within one line: nothing in them can match a line break, and their anchors
(``^``, ``$``, ``\b`` in multi-line mode) look at a line break exactly as at
either end of the text. For such a pattern, masking a text is masking each of
its lines on its own, so masking can run over the few lines that hold a match
(found by one combined scan) instead of over the whole text once per pattern
(see :mod:`driftaudit.domain.masking`).

The check is conservative by construction: it reads the RE2 source with a
small scanner and says *line-local* only when every construct in it is one it
knows cannot match a line break (``\n``, ``\s``, ``\W``, ``\D``, a negated
class that does not exclude ``\n``, a class range over ``\n``, ``(?s)``) and
no anchor depends on the whole text (``\A``, ``\z``, ``(?-m)``). Anything it
does not recognise (``\pN``, ``\C``, ``\Q...\E``, POSIX classes, back
references, octal escapes) makes the pattern *not* line-local: such a pattern
simply runs over the whole text, as every pattern did before.

It also returns the source with every capturing group made non-capturing:
the combined scan only needs where a match is, and RE2 finds that faster
when it need not track groups.
"""

from __future__ import annotations

from typing import Final

__all__ = ["line_local_source"]

#: escapes outside a class that can never match a line break
_SAFE_ESCAPE_LETTERS: Final = frozenset("dwSbBtfvra")
#: escapes that match a line break, or that this scanner does not understand
_NEWLINE_CLASS_ESCAPES: Final = frozenset("sWD")
_NEWLINE: Final = 0x0A


class _NotLineLocal(Exception):
    """The source holds a construct that may match a line break, or one the scanner does not know."""


def line_local_source(regex: str) -> str | None:
    """``regex`` without capturing groups when no match of it can hold a line break, else None."""
    try:
        return _Reader(regex).read()
    except (_NotLineLocal, IndexError, ValueError):
        return None


class _Reader:
    __slots__ = ("out", "position", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.position = 0
        self.out: list[str] = []

    def read(self) -> str:
        source = self.source
        while self.position < len(source):
            char = source[self.position]
            if char == "\n":
                raise _NotLineLocal
            if char == "\\":
                self._escape()
            elif char == "[":
                self._klass()
            elif char == "(":
                self._group()
            else:
                self.out.append(char)
                self.position += 1
        return "".join(self.out)

    def _escape(self) -> None:
        source = self.source
        letter = source[self.position + 1]
        if letter == "x":
            start = self.position
            value, self.position = _hex_escape(source, self.position)
            if value == _NEWLINE:
                raise _NotLineLocal
            self.out.append(source[start : self.position])
            return
        if letter.isalnum() and letter not in _SAFE_ESCAPE_LETTERS:
            raise _NotLineLocal  # \n \s \W \D \A \z \C \Q \p \1 \0... and anything unknown
        self.out.append(source[self.position : self.position + 2])
        self.position += 2

    def _klass(self) -> None:
        source = self.source
        start = self.position
        position = start + 1
        negated = source[position] == "^"
        if negated:
            position += 1
        holds_newline = False
        first = True
        previous: int | None = None  # code point of the last single item, for ranges
        while True:
            char = source[position]
            if char == "]" and not first:
                position += 1
                break
            first = False
            if char == "[" and source[position + 1] == ":":
                raise _NotLineLocal  # POSIX class
            if char == "-" and previous is not None and source[position + 1] != "]":
                upper, position = _class_item(source, position + 1)
                if upper is None:
                    raise _NotLineLocal  # a range ending in a class escape
                if previous <= _NEWLINE <= upper:
                    holds_newline = True
                previous = None
                continue
            value, position = _class_item(source, position)
            if value is None:  # a class escape such as \s or \d
                letter = source[position - 1]
                holds_newline = holds_newline or letter in _NEWLINE_CLASS_ESCAPES
            elif value == _NEWLINE:
                holds_newline = True
            previous = value
        if holds_newline != negated:
            raise _NotLineLocal  # a class that can match a line break
        self.out.append(source[start:position])
        self.position = position

    def _group(self) -> None:
        source = self.source
        position = self.position
        if source[position + 1] != "?":
            self.out.append("(?:")
            self.position = position + 1
            return
        if source.startswith("(?P<", position) or (
            source.startswith("(?<", position) and source[position + 3] not in "=!"
        ):
            close = source.index(">", position)
            self.out.append("(?:")
            self.position = close + 1
            return
        if source.startswith("(?:", position):
            self.out.append("(?:")
            self.position = position + 3
            return
        flags_end = position + 2
        while source[flags_end].isalpha() or source[flags_end] == "-":
            flags_end += 1
        flags = source[position + 2 : flags_end]
        if not flags or source[flags_end] not in ":)" or not set(flags) <= set("imU"):
            raise _NotLineLocal  # (?s), (?-m), lookarounds and anything unknown
        self.out.append(source[position : flags_end + 1])
        self.position = flags_end + 1


def _hex_escape(source: str, position: int) -> tuple[int, int]:
    r"""The value of ``\xHH`` or ``\x{H...}`` at ``position`` and the offset after it."""
    if source[position + 2] == "{":
        close = source.index("}", position)
        return int(source[position + 3 : close], 16), close + 1
    digits = source[position + 2 : position + 4]
    if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise _NotLineLocal
    return int(digits, 16), position + 4


def _class_item(source: str, position: int) -> tuple[int | None, int]:
    """One class item at ``position``: its code point (None for a class escape) and the offset after it."""
    char = source[position]
    if char == "\n":
        return _NEWLINE, position + 1
    if char != "\\":
        return ord(char), position + 1
    letter = source[position + 1]
    if letter == "x":
        return _hex_escape(source, position)
    if letter in "dwsSWD":
        return None, position + 2
    if letter == "n":
        return _NEWLINE, position + 2
    if letter.isalnum():
        if letter == "t":
            return 0x09, position + 2
        if letter in "fvra":
            return {"f": 0x0C, "v": 0x0B, "r": 0x0D, "a": 0x07}[letter], position + 2
        raise _NotLineLocal  # \n, \pN, octal and anything unknown
    return ord(letter), position + 2
