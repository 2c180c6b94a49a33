"""Which offset of a partition may be committed, with handlers finishing out of order.

A stage runs many messages of one partition at once (fetches take as long as
their device does), so they finish in any order. :class:`PartitionProgress`
keeps the offsets still in flight; the commit position is the lowest of them
(everything below it is done), or one past the last accepted offset when none
is in flight. A message fetched twice (a stale fetch before a re-seek) is
accepted once: offsets below the next expected one are refused.
"""

from __future__ import annotations

__all__ = ["PartitionProgress"]


class PartitionProgress:
    """The progress of one assigned partition, from the position it was assigned at."""

    def __init__(self, start: int) -> None:
        """Start at ``start``: the committed offset (or the log start when none)."""
        self._next = start
        self._pending: set[int] = set()
        self._committed = start

    def accept(self, offset: int) -> bool:
        """Take ``offset`` in flight; False when it was already accepted (a repeat)."""
        if offset < self._next:
            return False
        self._next = offset + 1
        self._pending.add(offset)
        return True

    def done(self, offset: int) -> None:
        """The message at ``offset`` is fully handled (its outputs confirmed, its writes stored)."""
        self._pending.discard(offset)

    @property
    def in_flight(self) -> int:
        """Messages accepted and not done."""
        return len(self._pending)

    def commit_position(self) -> int:
        """The offset to commit: every message below it is done."""
        return min(self._pending) if self._pending else self._next

    def to_commit(self) -> int | None:
        """The new commit position, or None when it has not moved since :meth:`committed`."""
        position = self.commit_position()
        return position if position > self._committed else None

    def committed(self, position: int) -> None:
        """Record that ``position`` was committed."""
        self._committed = max(self._committed, position)
