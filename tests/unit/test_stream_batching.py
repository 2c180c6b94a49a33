"""KeyedBatcher: many items of one key in one message, each contributor confirmed with it."""

from __future__ import annotations

import asyncio
import json

import pytest

from driftaudit.streams.batching import KeyedBatcher
from driftaudit.streams.delivery import MessageTooLargeError, PermanentSendError
from driftaudit.streams.outbox import RecordingOutbox


def _batcher(outbox: RecordingOutbox, *, max_items: int = 100, linger_s: float = 0.01) -> KeyedBatcher[str]:
    async def send(key: bytes, items: list[str]) -> None:
        await outbox.send("t", key, json.dumps(items).encode())

    return KeyedBatcher(send, max_items=max_items, linger_s=linger_s)


async def test_items_of_one_key_share_a_message_and_return_once_it_is_sent():
    outbox = RecordingOutbox()
    batcher = _batcher(outbox)
    await asyncio.gather(*(batcher.add(b"a" if i % 2 else b"b", f"i{i}") for i in range(10)))
    by_key = {key: json.loads(value) for _, key, value in outbox.sent}
    assert len(outbox.sent) == 2
    assert sorted(by_key[b"a"]) == [f"i{i}" for i in range(1, 10, 2)]
    assert sorted(by_key[b"b"]) == [f"i{i}" for i in range(0, 10, 2)]


async def test_a_full_batch_goes_out_without_waiting_for_the_linger():
    outbox = RecordingOutbox()
    batcher = _batcher(outbox, max_items=3, linger_s=60)
    await asyncio.wait_for(asyncio.gather(*(batcher.add(b"k", str(i)) for i in range(6))), 1)
    assert [json.loads(v) for _, _, v in outbox.sent] == [["0", "1", "2"], ["3", "4", "5"]]


async def test_nothing_returns_before_its_message_is_confirmed():
    release = asyncio.Event()
    sent: list[list[str]] = []

    async def send(key: bytes, items: list[str]) -> None:
        await release.wait()
        sent.append(items)

    batcher: KeyedBatcher[str] = KeyedBatcher(send, max_items=10, linger_s=0.001)
    waiting = asyncio.gather(batcher.add(b"k", "x"), batcher.add(b"k", "y"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    release.set()
    await asyncio.wait_for(waiting, 1)
    assert sent == [["x", "y"]]


async def test_a_batch_too_large_for_the_topic_is_split_down_to_what_fits():
    outbox = RecordingOutbox(max_bytes=40)
    batcher = _batcher(outbox)
    items = [f"item-{i:02d}" for i in range(8)]  # 12 bytes each as JSON: three fit in 40
    await asyncio.gather(*(batcher.add(b"k", item) for item in items))
    delivered = [item for _, _, value in outbox.sent for item in json.loads(value)]
    assert sorted(delivered) == items
    assert all(len(value) <= 40 for _, _, value in outbox.sent)


async def test_an_item_that_never_fits_fails_alone_and_the_others_go_out():
    outbox = RecordingOutbox(max_bytes=40)
    batcher = _batcher(outbox)
    results = await asyncio.gather(
        batcher.add(b"k", "small"), batcher.add(b"k", "x" * 100), return_exceptions=True
    )
    assert results[0] is None
    assert isinstance(results[1], MessageTooLargeError)
    assert [json.loads(v) for _, _, v in outbox.sent] == [["small"]]


async def test_a_refused_send_fails_every_contributor():
    async def send(key: bytes, items: list[str]) -> None:
        raise PermanentSendError("t", 10, ValueError("refused"))

    batcher: KeyedBatcher[str] = KeyedBatcher(send, max_items=10, linger_s=0.001)
    results = await asyncio.gather(batcher.add(b"k", "a"), batcher.add(b"k", "b"), return_exceptions=True)
    assert all(isinstance(r, PermanentSendError) for r in results)


async def test_a_cancelled_contributor_does_not_cancel_the_send_of_the_others():
    outbox = RecordingOutbox()
    batcher = _batcher(outbox, linger_s=0.02)
    first = asyncio.create_task(batcher.add(b"k", "gone"))
    second = asyncio.create_task(batcher.add(b"k", "stays"))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    assert [json.loads(v) for _, _, v in outbox.sent] == [["gone", "stays"]]
