"""Many small outputs of one key sent as one message, each contributor confirmed with the message.

The report stage emits, per drift event, a score observation (keyed by
tenant) and a progress record (keyed by audit): two tiny messages per device,
each consumed again downstream (the score table's changelog logs the tenant's
whole window value per update). :class:`KeyedBatcher` gathers such items per
key for at most ``linger_s`` or ``max_items`` and sends them as one message.

Confirmed delivery holds per contributor: :meth:`KeyedBatcher.add` returns
only once the message that carries its item was confirmed by the broker, and
raises what the send raised otherwise, so the runner acknowledges the input
of a contributor only after its output is out. A batch the topic refuses as
too large is split in halves and sent again, down to single items; only a
single item that does not fit raises ``MessageTooLargeError`` to its caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from driftaudit.streams.delivery import MessageTooLargeError

__all__ = ["KeyedBatcher"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: sends the items of one key as one message; returns once the broker confirmed it
SendBatch = Callable[[bytes, list[T]], Awaitable[None]]


class KeyedBatcher(Generic[T]):
    """Gathers items per key and sends each key's items together.

    Args:
        send: sends one key's items as one message (confirmed on return).
        max_items: a key's batch is sent at once when it holds this many.
        linger_s: how long the first item of a batch waits for more.
    """

    def __init__(self, send: SendBatch[T], *, max_items: int, linger_s: float) -> None:
        self._send = send
        self._max_items = max(1, max_items)
        self._linger_s = linger_s
        self._pending: dict[bytes, list[tuple[T, asyncio.Future[None]]]] = {}
        self._timers: dict[bytes, asyncio.TimerHandle] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def add(self, key: bytes, item: T) -> None:
        """Queue ``item`` under ``key``; return once the message carrying it is confirmed.

        Raises:
            MessageTooLargeError: the item alone is too large for the topic.
            PermanentSendError: the broker refused its message for another lasting reason.
        """
        await self.put(key, item)

    def put(self, key: bytes, item: T) -> asyncio.Future[None]:
        """Queue ``item`` under ``key``; the future is done once the message carrying it is confirmed.

        Each item has a future of its own: a contributor that is cancelled
        while awaiting it cancels only that future, never the send the others
        wait for. A caller with two items to confirm awaits both futures, with
        no task per item.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        future.add_done_callback(_retrieved)  # a contributor that went away leaves no unretrieved error
        batch = self._pending.setdefault(key, [])
        batch.append((item, future))
        if len(batch) >= self._max_items:
            self._flush(key)
        elif key not in self._timers:
            self._timers[key] = loop.call_later(self._linger_s, self._flush, key)
        return future

    def _flush(self, key: bytes) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        batch = self._pending.pop(key, None)
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(key, batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, key: bytes, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._send(key, [item for item, _ in batch])
        except MessageTooLargeError as exc:
            if len(batch) == 1:
                _settle(batch, exc)
                return
            half = len(batch) // 2
            logger.info("a batch of %d items was too large for its topic, sending it in halves", len(batch))
            await self._deliver(key, batch[:half])
            await self._deliver(key, batch[half:])
            return
        except asyncio.CancelledError:
            _settle(batch, asyncio.CancelledError())
            raise
        except Exception as exc:  # noqa: BLE001 - each contributor gets the failure and retries its input
            _settle(batch, exc)
            return
        self.batches += 1
        _settle(batch, None)


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(batch: Sequence[tuple[object, asyncio.Future[None]]], exc: BaseException | None) -> None:
    for _, future in batch:
        if future.done():
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)
