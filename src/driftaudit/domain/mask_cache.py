"""Masked intended configs kept between audits, bounded in size.

A fleet's intended configs change far less often than they are audited: a
stream worker that audits the same devices again masks the same intended
texts again, a third of the masking each device costs. :class:`MaskCache`
keeps the masked form of each text it was asked for, keyed by the text itself
and the patterns that masked it, so a changed intended config (or another
platform's patterns, or a reloaded registry) is a miss, never a stale answer.

The cache is bounded by the characters it holds. A fleet larger than the
cache is audited device by device in about the same order every time: a
least-recently-used cache would then miss on every device, and so would one
that always evicts to admit (each entry is evicted before its device comes
round again). So, once full, a miss is admitted only now and then
(``admit_when_full``), in place of a random entry: most entries live through
many audits (about the share of the fleet that fits is served), and entries
no device asks for any more (an intended config that changed) still leave in
time. It is safe to share between threads.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from driftaudit.domain.masking import CompiledPatterns

__all__ = ["MaskCache"]


class MaskCache:
    """Masked texts by (patterns, text), at most ``max_chars`` characters of keys and values together.

    Args:
        max_chars: the bound (0 disables the cache: every call masks).
        admit_when_full: the chance that a miss is kept once the cache is full.
        seed: the random choices (fixed in tests).
    """

    def __init__(self, max_chars: int, *, admit_when_full: float = 1 / 16, seed: int | None = None) -> None:
        self.max_chars = max(0, max_chars)
        self.admit_when_full = admit_when_full
        self._entries: dict[tuple[int, str], tuple[CompiledPatterns, str]] = {}
        self._keys: list[tuple[int, str]] = []  # the same keys, for a random pick in O(1)
        self._chars = 0
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.hits = 0
        self.misses = 0

    @property
    def chars(self) -> int:
        """Characters held now (texts and their masked forms)."""
        return self._chars

    def __len__(self) -> int:
        return len(self._entries)

    def masked(self, text: str, patterns: CompiledPatterns, mask: Callable[[str], str]) -> str:
        """The masked ``text``: kept from an earlier call with the same patterns, or ``mask(text)``."""
        key = (id(patterns), text)
        with self._lock:
            found = self._entries.get(key)
            # the patterns object is held by the entry, so its id cannot be reused while it is here
            if found is not None and found[0] is patterns:
                self.hits += 1
                return found[1]
            self.misses += 1
        value = mask(text)
        size = len(text) + len(value)
        if size > self.max_chars:
            return value
        with self._lock:
            if key in self._entries:
                return value
            full = self._chars + size > self.max_chars
            if full and self._random.random() >= self.admit_when_full:
                return value
            while self._chars + size > self.max_chars:
                self._evict_one()
            self._keys.append(key)
            self._entries[key] = (patterns, value)
            self._chars += size
        return value

    def _evict_one(self) -> None:
        index = self._random.randrange(len(self._keys))
        key = self._keys[index]
        last = self._keys.pop()
        if last != key:
            self._keys[index] = last
        _, value = self._entries.pop(key)
        self._chars -= len(key[1]) + len(value)
