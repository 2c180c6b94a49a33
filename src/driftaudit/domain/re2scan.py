"""RE2 searches without the cost of the Python binding's offset translation.

``google-re2``'s ``finditer`` over a ``str`` encodes the text to UTF-8 on
every call and, for every match, sorts the span offsets and converts each
one from bytes back to characters. On config text (ASCII in practice) a byte
offset *is* a character offset, so that work buys nothing; it is most of the
cost of masking a config.

A :class:`Scanner` compiles a pattern twice: once as ``str`` (the public
object, used for ``groupindex`` and for any non-ASCII text) and once as UTF-8
``bytes``, whose engine it calls directly on ASCII text, one call per match.
Both are the same RE2 program (RE2 reads a ``str`` pattern as UTF-8 too), so
the matches are the same and the search stays linear; only the binding's
per-match bookkeeping is skipped. If the binding's engine object is not
reachable (another ``google-re2`` release), every search takes the public
path: slower, never different.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2

__all__ = ["Scanner", "re2_options"]

_Spans = list[tuple[int, int]]


def re2_options() -> Any:
    """The options every pattern is compiled with: errors are reported by us, not printed by RE2."""
    options = re2.Options()
    options.log_errors = False
    return options


def _engine(source: str, options: Any) -> tuple[Any, Any]:
    """The binding's engine for ``source`` as bytes and its unanchored mode, or (None, None)."""
    try:
        engine = getattr(re2.compile(source.encode("utf-8"), options), "_regexp", None)
        unanchored = re2._Anchor.UNANCHORED  # noqa: SLF001 - the binding's own search mode
    except (AttributeError, re2.error):
        return None, None
    return (engine, unanchored) if callable(getattr(engine, "Match", None)) else (None, None)


class Scanner:
    """One compiled RE2 pattern that yields the spans of every match, in character offsets.

    Raises ``re2.error`` when RE2 cannot compile the pattern (as ``re2.compile`` does).
    """

    __slots__ = ("_engine", "_unanchored", "regex")

    def __init__(self, source: str, options: Any | None = None) -> None:
        options = re2_options() if options is None else options
        self.regex: Any = re2.compile(source, options)  # re2._Regexp; google-re2 ships no types
        self._engine, self._unanchored = _engine(source, options)

    def spans(self, text: str) -> Iterator[_Spans]:
        """For every non-overlapping match, left to right, the span of each group (0 = whole match).

        A group that did not take part in the match has the span ``(-1, -1)``.
        Same matches as ``regex.finditer(text)``.
        """
        if self._engine is None or not text.isascii():
            for match in self.regex.finditer(text):
                yield [match.span(group) for group in range(self.regex.groups + 1)]
            return
        yield from self._ascii_spans(text.encode("ascii"))

    def all_spans(self, text: str) -> list[_Spans]:
        """The spans of :meth:`spans` as one list: on ASCII text, one tight loop and no generator."""
        if self._engine is None or not text.isascii():
            return list(self.spans(text))
        return self.all_ascii_spans(text.encode("ascii"))

    @property
    def ascii_ready(self) -> bool:
        """Whether ASCII text can be searched as bytes (:meth:`all_ascii_spans`, :meth:`first_start`)."""
        return self._engine is not None

    def first_start(self, encoded: bytes, position: int) -> int:
        r"""Where the leftmost match at or after ``position`` of an ASCII text's bytes starts (-1: none).

        The text before ``position`` stays the context (``^``, ``\b``), as in a
        search of the whole text. The engine must be reachable (:attr:`ascii_ready`).
        """
        found: _Spans = self._engine.Match(self._unanchored, encoded, position, len(encoded))
        return found[0][0]

    def all_ascii_spans(self, encoded: bytes) -> list[_Spans]:
        """:meth:`all_spans` of an ASCII text given as its bytes (the engine must be reachable)."""
        match = self._engine.Match
        unanchored = self._unanchored
        found_all: list[_Spans] = []
        position, end = 0, len(encoded)
        while True:
            # typed: compiled, the spans are read as machine integers, not through generic item calls
            found: _Spans = match(unanchored, encoded, position, end)
            start, stop = found[0]
            if start < 0:
                return found_all
            found_all.append(found)
            if position == end:
                return found_all
            position = position + 1 if position == stop else stop

    def _ascii_spans(self, encoded: bytes) -> Iterator[_Spans]:
        # the binding's own loop over bytes (re2._Regexp._match), minus the match objects
        match = self._engine.Match
        unanchored = self._unanchored
        position, end = 0, len(encoded)
        while True:
            found = match(unanchored, encoded, position, end)
            whole = found[0]
            if whole[0] < 0:
                return
            yield found
            if position == end:
                return
            position = position + 1 if position == whole[1] else whole[1]
