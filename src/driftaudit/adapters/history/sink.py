"""Batched, durable, in-order writes of drift events to the history.

The stream layer hands every drift event to :meth:`BatchingHistorySink.add`;
the sink writes a batch when it holds ``batch_size`` events, or
``flush_interval_s`` after the first unwritten one arrived, with one
``write_events`` call (one insert per table) run in a worker thread, since the
history client is synchronous. :meth:`BatchingHistorySink.flush` returns only
once everything added before it is durably written, so a caller commits its
Kafka offsets after ``await sink.flush()`` and never before.

When the store is unavailable (``StoreUnavailableError``, or
``StoreLockedError`` while another process holds the embedded store) the
sink keeps the batch, waits with capped exponential backoff and tries again,
for as long as it takes: nothing is dropped, nothing is reordered (a batch
being retried stays ahead of everything added after it). Any other
``HistoryError`` is not retried: the batch is kept at the head of the buffer
and the error goes to the caller of ``flush``. Writes are idempotent on
(audit_id, device_id), so a write that timed out but did land is harmless to
repeat. This module knows nothing of Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

from driftaudit.domain.errors import HistoryError, StoreLockedError, StoreUnavailableError
from driftaudit.domain.models import DriftEvent, FleetScore

__all__ = ["BatchingHistorySink", "EventWriter", "RETRYABLE"]

log = logging.getLogger(__name__)

#: errors after which the same write may succeed later
RETRYABLE: tuple[type[HistoryError], ...] = (StoreUnavailableError, StoreLockedError)


class EventWriter(Protocol):
    """The part of the history the sink writes to (a ``HistoryWriter``)."""

    def write_events(self, events: Sequence[DriftEvent]) -> None:
        """Store events in one batch, idempotently."""
        ...

    def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        """Store fleet scores, idempotently."""
        ...


class BatchingHistorySink:
    """Buffers drift events and writes them in batches, retrying until durable.

    Use as an async context manager (or call :meth:`start` and :meth:`stop`)
    so the timer flushes a partial batch after ``flush_interval_s``.
    """

    def __init__(
        self,
        writer: EventWriter,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 1.0,
        initial_backoff_s: float = 0.1,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Wrap ``writer``; ``sleep`` is injectable so backoff can be observed in tests."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if flush_interval_s <= 0 or initial_backoff_s <= 0 or max_backoff_s < initial_backoff_s:
            raise ValueError("intervals must be positive and max_backoff_s >= initial_backoff_s")
        self._writer = writer
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._buffer: list[DriftEvent] = []
        self._write_lock = asyncio.Lock()
        self._has_data = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self.written = 0  # events durably written so far
        self.retries = 0  # failed attempts that were retried

    async def __aenter__(self) -> BatchingHistorySink:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def pending(self) -> int:
        """Events added but not yet durably written (including a batch in flight)."""
        return len(self._buffer)

    def start(self) -> None:
        """Start the timer that flushes a partial batch after ``flush_interval_s``."""
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._run_timer(), name="history-sink-timer")

    async def stop(self, *, flush: bool = True) -> None:
        """Stop the timer, then (by default) write whatever is still buffered."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        if flush:
            await self.flush()

    async def add(self, event: DriftEvent) -> None:
        """Buffer one event; writes a batch (and waits for it) when the buffer is full."""
        await self.add_many((event,))

    async def add_many(self, events: Iterable[DriftEvent]) -> None:
        """Buffer events in order; writes full batches before returning."""
        self._buffer.extend(events)
        if self._buffer:
            self._has_data.set()
        if len(self._buffer) >= self._batch_size:
            await self.flush()

    async def flush(self) -> int:
        """Write everything buffered, batch by batch; return once it is durable.

        Returns:
            How many events this call wrote.

        Raises:
            HistoryError: a non-retryable failure; the failed batch and everything
                after it stay buffered, in order.
        """
        async with self._write_lock:
            written = 0
            while self._buffer:
                batch = self._buffer[: self._batch_size]
                await self._write_with_retry(batch)
                del self._buffer[: len(batch)]
                written += len(batch)
                self.written += len(batch)
            self._has_data.clear()
            return written

    async def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        """Write fleet scores now, with the same retry policy as events."""
        if scores:
            await self._retry(lambda: self._writer.write_scores(scores), what=f"{len(scores)} fleet scores")

    async def _write_with_retry(self, batch: list[DriftEvent]) -> None:
        frozen = tuple(batch)
        await self._retry(lambda: self._writer.write_events(frozen), what=f"a batch of {len(frozen)} events")

    async def _retry(self, write: Callable[[], None], *, what: str) -> None:
        delay = self._initial_backoff_s
        failures = 0
        while True:
            try:
                await asyncio.to_thread(write)
            except RETRYABLE as exc:
                self.retries += 1
                failures += 1
                # One line when the write starts failing; the store logs its own state changes.
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(
                    level,
                    "history write of %s failed, retrying every <= %gs: %s",
                    what,
                    self._max_backoff_s,
                    exc,
                )
                await self._sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            if failures:
                log.info("history write of %s stored after %d failed attempts", what, failures)
            return

    async def _run_timer(self) -> None:
        while True:
            await self._has_data.wait()
            await asyncio.sleep(self._flush_interval_s)
            try:
                await self.flush()
            except HistoryError as exc:
                log.error("history sink cannot write its buffer (%d events kept): %s", self.pending, exc)
                await asyncio.sleep(self._max_backoff_s)
