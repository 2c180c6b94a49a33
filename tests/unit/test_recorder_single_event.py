"""``HistoryRecorder.write_events`` of one event (the history stage's case) waits on its own future.

The single event skips the gathering future; what the stage relies on must
hold as for a batch: the call returns once the event is stored, a caller
cancelled while waiting does not cancel the write (the input is then
re-read, and the write is idempotent), and a stopped recorder cancels its
waiting callers (their inputs stay unacknowledged).
"""

from __future__ import annotations

import asyncio

import pytest

from driftaudit.streams.recorder import HistoryRecorder
from tests.plugins.history import make_event
from tests.plugins.streams import MemoryHistory


async def test_one_event_returns_once_stored() -> None:
    history = MemoryHistory()
    recorder = HistoryRecorder(history, flush_s=0.01)
    await recorder.write_events([make_event("r1")])
    assert list(history.events) == [("audit-1", "r1")]
    await recorder.stop()


async def test_a_cancelled_caller_does_not_cancel_the_write() -> None:
    history = MemoryHistory()
    recorder = HistoryRecorder(history, flush_s=0.2)
    caller = asyncio.create_task(recorder.write_events([make_event("r1")]))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0.4)
    assert list(history.events) == [("audit-1", "r1")]
    await recorder.stop()


async def test_a_stopped_recorder_cancels_the_waiting_caller() -> None:
    recorder = HistoryRecorder(MemoryHistory(), flush_s=5.0)
    caller = asyncio.create_task(recorder.write_events([make_event("r1")]))
    await asyncio.sleep(0.05)
    await recorder.stop()
    with pytest.raises(asyncio.CancelledError):
        await caller
