"""Where stages send their output: a seam between the stage logic and the producer.

:meth:`Outbox.send` returns only once the broker confirmed the message, so a
stage that returned has nothing in doubt. The stage handlers can be exercised
with a :class:`RecordingOutbox` and no broker.
"""

from __future__ import annotations

from typing import Protocol

from driftaudit.streams.delivery import ConfirmedProducer, MessageTooLargeError

__all__ = ["KafkaOutbox", "Outbox", "RecordingOutbox"]


class Outbox(Protocol):
    """Sends one raw message to one topic of the pipeline."""

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Deliver the message; return once the broker confirmed it.

        Raises:
            MessageTooLargeError: too large for the topic (a smaller message may pass).
            PermanentSendError: refused for another lasting reason.
        """
        ...


class KafkaOutbox:
    """Sends through the worker's :class:`ConfirmedProducer`."""

    def __init__(self, producer: ConfirmedProducer) -> None:
        self._producer = producer

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Send and wait for the broker's acknowledgement."""
        await self._producer.send(topic, key, value)


class RecordingOutbox:
    """Keeps what was sent, per topic, in memory (unit tests, dry runs).

    Args:
        max_bytes: messages larger than this are refused like a broker would
            (``MessageTooLargeError``); None accepts everything.
    """

    def __init__(self, *, max_bytes: int | None = None) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.max_bytes = max_bytes

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Record the message (or refuse it when it is over ``max_bytes``)."""
        if self.max_bytes is not None and len(value) > self.max_bytes:
            raise MessageTooLargeError(topic, len(value), ValueError("over max_bytes"))
        self.sent.append((topic, key, value))

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        """The (key, value) pairs sent to ``topic``, in order."""
        return [(k, v) for t, k, v in self.sent if t == topic]
