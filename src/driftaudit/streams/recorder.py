"""History writes from the stream: a bounded buffer with its own retry, never inside a stage.

A stage hands an audit run or a drift event to :class:`HistoryRecorder` and
awaits the write's future: the input message is acknowledged only once it is
stored. The waiting is not a loop in the stage: one background writer takes
batches from the buffer (``batch_size`` events, or whatever arrived within
``flush_s``), writes them in a worker thread (the store client is blocking)
and, while the store is down, keeps the batch and retries it with capped
exponential backoff, logging each failure. Meanwhile the other stages go on:
audits keep producing drift events, and history catches up when the store
returns, complete (every waiting event is written) and without duplicates
(writes are idempotent on (audit_id, device_id), the runs on audit_id).

The buffer is bounded (``capacity`` waiting events): a full buffer makes
:meth:`HistoryRecorder.write_events` wait for room, which holds the history
stage's reading (back-pressure), never an audit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from driftaudit.domain.errors import DriftAuditError
from driftaudit.domain.models import AuditRun, DriftEvent, FleetScore
from driftaudit.domain.ports import HistoryWriter

__all__ = ["HistoryRecorder"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    events: list[DriftEvent] = field(default_factory=list)
    runs: list[AuditRun] = field(default_factory=list)
    scores: list[tuple[datetime, FleetScore]] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class HistoryRecorder:
    """Buffers history writes and stores them in batches, retrying while the store is down.

    Args:
        history: the writer; None records nothing (every call returns at once).
        batch_size: the most drift events in one insert.
        flush_s: how long a batch waits for more events before it is written.
        capacity: the most events waiting in the buffer.
        max_backoff_s: the longest pause between two attempts of one write.
    """

    def __init__(
        self,
        history: HistoryWriter | None,
        *,
        batch_size: int = 500,
        flush_s: float = 0.2,
        capacity: int = 20_000,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._history = history
        self._batch_size = batch_size
        self._flush_s = flush_s
        self._capacity = capacity
        self._max_backoff_s = max_backoff_s
        self._queue: deque[tuple[str, object, asyncio.Future[None]]] = deque()
        self._arrived: asyncio.Event | None = None
        self._room: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self.events_written = 0
        self.failed_attempts = 0
        self.store_down_since: float | None = None

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the background writer (in the running loop)."""
        if self._history is None or self._writer is not None:
            return
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._writer = asyncio.create_task(self._write_forever(), name="driftaudit.history-writer")

    async def stop(self) -> None:
        """Stop the writer; waiting callers are cancelled (their inputs stay unacknowledged)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        for _, _, future in self._queue:
            future.cancel()
        self._queue.clear()

    @property
    def waiting(self) -> int:
        """Items in the buffer, not yet stored."""
        return len(self._queue)

    # -- what stages call ---------------------------------------------------------

    async def _enqueue(self, kind: str, item: object) -> asyncio.Future[None]:
        if self._writer is None:
            await self.start()
        assert self._arrived is not None
        assert self._room is not None
        while len(self._queue) >= self._capacity:
            self._room.clear()
            await self._room.wait()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((kind, item, future))
        self._arrived.set()
        return future

    async def record_audit_run(self, run: AuditRun) -> None:
        """Store an audit run (idempotent on audit_id); returns once it is stored."""
        if self._history is not None:
            await asyncio.shield(await self._enqueue("run", run))

    async def write_events(self, events: Sequence[DriftEvent]) -> None:
        """Store drift events (idempotent on audit_id, device_id); returns once all are stored."""
        if self._history is None or not events:
            return
        if len(events) == 1:  # the history stage's case: one event per input, no gathering future
            await asyncio.shield(await self._enqueue("event", events[0]))
            return
        futures = [await self._enqueue("event", event) for event in events]
        await asyncio.shield(asyncio.gather(*futures))

    async def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        """Queue fleet scores for the history; does not wait (scores are rewritten every flush)."""
        if self._history is None:
            return
        for score in scores:
            await self._enqueue("score", score)

    # -- the writer ---------------------------------------------------------------

    def _take(self) -> _Pending:
        pending = _Pending()
        taken = 0
        while self._queue and len(pending.events) < self._batch_size:
            kind, item, future = self._queue.popleft()
            taken += 1
            if future.cancelled():
                continue
            if kind == "run":
                pending.runs.append(item)  # type: ignore[arg-type]
            elif kind == "event":
                pending.events.append(item)  # type: ignore[arg-type]
            else:
                pending.scores.append(item)  # type: ignore[arg-type]
            pending.waiters.append(future)
        if taken and self._room is not None:
            self._room.set()
        return pending

    def _store(self, pending: _Pending) -> None:
        history = self._history
        assert history is not None
        for run in pending.runs:
            history.record_audit_run(run)
        if pending.events:
            history.write_events(pending.events)
        if pending.scores:
            history.write_scores(pending.scores)

    async def _write_forever(self) -> None:
        assert self._arrived is not None
        while True:
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            if len(self._queue) < self._batch_size:
                await asyncio.sleep(self._flush_s)
            pending = self._take()
            if not pending.waiters:
                continue
            await self._until_stored(pending)
            self.events_written += len(pending.events)
            for future in pending.waiters:
                if not future.done():
                    future.set_result(None)

    async def _until_stored(self, pending: _Pending) -> None:
        delay = 0.1
        what = f"{len(pending.runs)} audit run(s), {len(pending.events)} drift event(s)"
        while True:
            try:
                await asyncio.to_thread(self._store, pending)
            except Exception as exc:  # an adapter bug must not drop the batch either
                self.failed_attempts += 1
                went_down = self.store_down_since is None
                if went_down:
                    self.store_down_since = time.monotonic()
                reason = str(exc) if isinstance(exc, DriftAuditError) else type(exc).__name__
                # one warning when the store goes away, not one per retry
                logger.log(
                    logging.WARNING if went_down else logging.DEBUG,
                    "history store unavailable (%s): %s and %d more waiting; retrying in %.1fs",
                    reason,
                    what,
                    len(self._queue),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            if self.store_down_since is not None:
                logger.warning(
                    "history store back after %.1fs; catching up", time.monotonic() - self.store_down_since
                )
                self.store_down_since = None
            return
