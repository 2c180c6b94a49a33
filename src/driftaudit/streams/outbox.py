"""Where agents send their output: a seam between the stage logic and Faust topics.

Agents call :meth:`Outbox.send` with a topic name, so the stage handlers can
be exercised with a recording outbox and no broker.
"""

from __future__ import annotations

from typing import Protocol

from driftaudit.streams.topics import Topics

__all__ = ["FaustOutbox", "Outbox", "RecordingOutbox"]


class Outbox(Protocol):
    """Sends one raw message to one topic of the pipeline."""

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue the message for delivery (delivered before the source offset commits)."""
        ...


class FaustOutbox:
    """Sends through the app's producer.

    ``force=True`` hands the message to the producer at once instead of
    attaching it to the current event, which Faust would publish only at the
    next commit (seconds later). At-least-once still holds: Faust flushes the
    producer before every offset commit, so a source offset is never committed
    before what its handler sent is on the broker.
    """

    def __init__(self, topics: Topics) -> None:
        self._topics = {
            topics.names.audit_requests: topics.audit_requests,
            topics.names.device_fetch: topics.device_fetch,
            topics.names.device_configs: topics.device_configs,
            topics.names.drift_events: topics.drift_events,
            topics.names.dead_letter: topics.dead_letter,
            topics.names.score_input: topics.score_input,
        }

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue the message on the producer."""
        await self._topics[topic].send(key=key, value=value, force=True)


class RecordingOutbox:
    """Keeps what was sent, per topic, in memory (unit tests, dry runs)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Record the message."""
        self.sent.append((topic, key, value))

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        """The (key, value) pairs sent to ``topic``, in order."""
        return [(k, v) for t, k, v in self.sent if t == topic]
