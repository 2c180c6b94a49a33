"""BatchingHistorySink against real chDB stores: batching, timer, retry until durable."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from datetime import timedelta

import pytest

from driftaudit.adapters.history.clickhouse import ClickHouseHistory, open_history
from driftaudit.adapters.history.sink import BatchingHistorySink
from driftaudit.domain.errors import HistoryError
from driftaudit.domain.models import DriftEvent
from tests.plugins.history import T0, make_event

pytestmark = pytest.mark.integration


class CountingWriter:
    """Passes writes through to a real store and records each batch."""

    def __init__(self, store: ClickHouseHistory) -> None:
        self.store = store
        self.batches: list[list[str]] = []

    def write_events(self, events: Sequence[DriftEvent]) -> None:
        self.store.write_events(events)
        self.batches.append([event.device_id for event in events])

    def write_scores(self, scores: Sequence[object]) -> None:
        raise AssertionError("not used")


def _events(count: int, prefix: str = "d") -> list[DriftEvent]:
    return [make_event(f"{prefix}{i:03d}", "audit-1", at=T0 + timedelta(seconds=i)) for i in range(count)]


def _stored_ids(store: ClickHouseHistory) -> list[str]:
    return [row["device_id"] for row in store.latest_status()]


async def test_full_batches_are_written_and_flush_writes_the_rest(history_store: ClickHouseHistory) -> None:
    writer = CountingWriter(history_store)
    sink = BatchingHistorySink(writer, batch_size=3, flush_interval_s=60)
    events = _events(5)
    await sink.add_many(events[:3])
    assert writer.batches == [["d000", "d001", "d002"]]
    await sink.add(events[3])
    await sink.add(events[4])
    assert sink.pending == 2
    assert await sink.flush() == 2
    assert writer.batches[1:] == [["d003", "d004"]]
    assert (sink.pending, sink.written) == (0, 5)
    assert _stored_ids(history_store) == [e.device_id for e in events]


async def test_timer_flushes_a_partial_batch(history_store: ClickHouseHistory) -> None:
    writer = CountingWriter(history_store)
    async with BatchingHistorySink(writer, batch_size=100, flush_interval_s=0.1) as sink:
        await sink.add(make_event("lonely"))
        for _ in range(100):
            if not sink.pending:
                break
            await asyncio.sleep(0.05)
        assert sink.pending == 0
    assert _stored_ids(history_store) == ["lonely"]


async def test_batch_survives_a_locked_store_and_lands_after_release(history_dsn: str, store_holder) -> None:
    holder = store_holder(history_dsn)  # another process owns the store: writes fail with StoreLockedError
    store = open_history(history_dsn, connect=False)
    sink = BatchingHistorySink(store, batch_size=50, initial_backoff_s=0.05, max_backoff_s=0.2)
    events = _events(7)
    await sink.add_many(events)
    flushing = asyncio.create_task(sink.flush())
    try:
        while sink.retries < 3:
            await asyncio.sleep(0.05)
        assert not flushing.done()  # not durable yet: a caller awaiting flush() cannot commit
        assert sink.pending == 7
        assert sink.written == 0

        await asyncio.to_thread(holder.release)
        assert await asyncio.wait_for(flushing, timeout=30) == 7
        assert sink.pending == 0
        assert _stored_ids(store) == [e.device_id for e in events]
    finally:
        flushing.cancel()
        store.close()


async def test_backoff_is_exponential_capped_and_nothing_is_dropped() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = open_history(f"http://127.0.0.1:{port}", connect=False, connect_timeout=1)
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 7:
            raise asyncio.CancelledError

    sink = BatchingHistorySink(store, batch_size=10, initial_backoff_s=0.1, max_backoff_s=1.0, sleep=record)
    events = _events(4)
    await sink.add_many(events)
    with pytest.raises(asyncio.CancelledError):
        await sink.flush()
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert sink.pending == 4
    assert sink.written == 0
    store.close()


async def test_a_non_retryable_error_keeps_the_batch_in_order(history_store: ClickHouseHistory) -> None:
    closed = ClickHouseHistory(history_store.target)
    closed.close()  # a closed store fails with HistoryError, which retrying cannot fix
    writer = CountingWriter(closed)
    sink = BatchingHistorySink(writer, batch_size=2, flush_interval_s=60)
    events = _events(3)
    with pytest.raises(HistoryError, match="closed"):
        await sink.add_many(events)
    assert sink.pending == 3
    assert sink.retries == 0

    writer.store = history_store  # the cause is fixed: the same events go out, in the same order
    assert await sink.flush() == 3
    assert writer.batches == [["d000", "d001"], ["d002"]]
    assert _stored_ids(history_store) == [e.device_id for e in events]


def test_invalid_settings_are_refused(history_store: ClickHouseHistory) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        BatchingHistorySink(history_store, batch_size=0)
    with pytest.raises(ValueError, match="max_backoff_s"):
        BatchingHistorySink(history_store, initial_backoff_s=2, max_backoff_s=1)
