"""Async access to the (blocking) history store from the agents.

Drift events and scores go through :class:`BatchingHistorySink`, which runs
each write in a worker thread and retries while the store is unavailable. The
recorder adds the stream's rule on top: a write the sink gives up on (any
other ``HistoryError``, or an adapter bug) is retried too, with backoff, for
as long as it takes, because the history sink agent must not acknowledge a
batch that is not stored. Stopping the worker cancels the wait, and the
unacknowledged batch is consumed again after the restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from driftaudit.adapters.history.sink import BatchingHistorySink
from driftaudit.domain.errors import DriftAuditError
from driftaudit.domain.models import AuditRun, DriftEvent, FleetScore
from driftaudit.domain.ports import HistoryWriter

__all__ = ["HistoryRecorder"]

logger = logging.getLogger(__name__)


class HistoryRecorder:
    """Writes audit runs, drift events and scores, retrying until they are stored.

    Args:
        history: the writer; None records nothing (every call returns at once).
        batch_size: the largest insert the sink makes.
        max_backoff_s: the longest pause between two attempts of one write.
    """

    def __init__(
        self, history: HistoryWriter | None, *, batch_size: int = 500, max_backoff_s: float = 5.0
    ) -> None:
        self._history = history
        self._max_backoff_s = max_backoff_s
        self._sink = (
            BatchingHistorySink(history, batch_size=batch_size, max_backoff_s=max_backoff_s)
            if history is not None
            else None
        )
        self.events_written = 0

    async def _until_stored(self, what: str, attempt: Callable[[], Awaitable[object]]) -> None:
        delay = 0.1
        failures = 0
        while True:
            try:
                await attempt()
                if failures:
                    logger.info("history write of %s stored after %d failed attempts", what, failures)
                return
            except asyncio.CancelledError:
                raise
            except DriftAuditError as exc:
                # one line when it starts failing, not one per retry (the store logs its state changes)
                level = logging.WARNING if failures == 0 else logging.DEBUG
                logger.log(level, "history write of %s failed (%s), retrying", what, exc)
            except Exception as exc:  # an adapter bug must not drop the batch either
                logger.exception("history write of %s crashed (%s), retrying", what, type(exc).__name__)
            failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff_s)

    async def record_audit_run(self, run: AuditRun) -> None:
        """Store an audit run (idempotent on audit_id)."""
        history = self._history
        if history is not None:
            await self._until_stored(
                f"audit run {run.audit_id}", lambda: asyncio.to_thread(history.record_audit_run, run)
            )

    async def write_events(self, events: Sequence[DriftEvent]) -> None:
        """Store a batch of drift events durably (idempotent on audit_id, device_id)."""
        sink = self._sink
        if sink is None or not events:
            return
        await sink.add_many(events)
        await self._until_stored(f"{len(events)} drift events", sink.flush)
        self.events_written += len(events)

    async def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        """Store fleet scores with the start of their windows."""
        sink = self._sink
        if sink is not None and scores:
            batch = list(scores)
            await self._until_stored(f"{len(batch)} fleet scores", lambda: sink.write_scores(batch))
