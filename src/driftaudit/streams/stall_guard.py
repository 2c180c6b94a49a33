"""A watchdog for partitions Faust stops reading after a rebalance.

faust-streaming 0.15.3 can leave a record that arrived while the consumer
group was settling neither processed nor committed: the stream drops events
fetched under the previous group generation, the fetcher's read position has
already moved past them, and nothing reads them again until the next
rebalance. The audit then stalls with lag on a partition and an idle worker.

The guard looks for exactly that state and nothing broader: the worker is
idle (no event in flight anywhere, no rebalance, flow active), an agent's
source partition has records beyond its committed offset, and neither the
committed offset nor the read position has moved for ``stall_s`` (longer
than the commit interval, so acked events have had their commit). Then it
seeks that partition back to its committed offset, so the records are read
again. Anything re-read had not been committed, so at-least-once holds; the
sinks are idempotent, so a repeat never shows twice in history.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import faust

__all__ = ["StallGuard"]

logger = logging.getLogger(__name__)

#: (committed offset, read offset) of a partition when it was first seen lagging
_State = tuple[int, int | None]


class StallGuard:
    """Re-seeks idle, lagging agent partitions to their committed offsets."""

    def __init__(
        self,
        app: faust.App,
        topics: Iterable[str],
        *,
        stall_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Watch ``topics`` (the agents' source topics) of ``app``.

        Args:
            app: the Faust app whose consumer is watched.
            topics: source topics of agents; changelogs and others are ignored.
            stall_s: how long an idle partition may lag unchanged before it is re-read.
            clock: monotonic seconds.
        """
        self._app = app
        self._topics = frozenset(topics)
        self._stall_s = stall_s
        self._clock = clock
        self._since: dict[Any, tuple[_State, float]] = {}
        self.reseeks = 0

    def _idle(self) -> bool:
        app = self._app
        consumer: Any = app.consumer
        return bool(
            not app.rebalancing and app.flow_control.is_active() and not consumer._unacked_messages  # noqa: SLF001 - Faust exposes no public view
        )

    async def check(self) -> int:
        """One pass: re-seek every partition stalled for ``stall_s``; returns how many."""
        if not self._idle():
            self._since.clear()
            return 0
        consumer: Any = self._app.consumer
        paused = consumer._paused_partitions  # noqa: SLF001
        partitions = [tp for tp in consumer.assignment() if tp.topic in self._topics and tp not in paused]
        if not partitions:
            return 0
        ends = await consumer.highwaters(*partitions)
        committed_offsets = consumer._committed_offset  # noqa: SLF001
        read_offsets = consumer._read_offset  # noqa: SLF001
        now = self._clock()
        reseeked = 0
        for tp in partitions:
            end, committed = ends.get(tp), committed_offsets.get(tp)
            if end is None or committed is None or committed >= end or not self._idle():
                self._since.pop(tp, None)
                continue
            state: _State = (committed, read_offsets.get(tp))
            seen = self._since.get(tp)
            if seen is None or seen[0] != state:
                self._since[tp] = (state, now)
                continue
            if now - seen[1] < self._stall_s:
                continue
            logger.warning(
                "partition %s:%s holds %d unread record(s) past committed offset %d on an idle "
                "worker; reading them again",
                tp.topic,
                tp.partition,
                end - committed,
                committed,
            )
            await consumer.seek(tp, committed)
            self._since.pop(tp, None)
            self.reseeks += 1
            reseeked += 1
        return reseeked
