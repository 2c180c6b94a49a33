"""Confirmed sends: a message counts as sent only once the broker acknowledged it.

:class:`ConfirmedProducer` wraps one ``AIOKafkaProducer`` (``acks=all``):
:meth:`ConfirmedProducer.send` returns the broker's
``RecordMetadata`` or raises. A transient failure (broker restarting, leader
moving, request timed out) is retried with capped exponential backoff for as
long as it takes; the caller's input stays unacknowledged meanwhile, and a
revoke or a stop cancels the wait. A permanent failure (the record is too
large for the producer or the topic, the topic name is invalid, access is
denied) raises :class:`PermanentSendError` at once, so the stage can cut the
message to fit or dead-letter it: retrying would never succeed.

A broker's ``max.message.bytes`` applies to a whole record batch, and the
producer batches records that go to one partition together: a small message
can be refused only because it shared a batch with others. So a "too large"
is tried once more through a second producer that sends every record in a
batch of its own, and only a refusal there means the message itself is too large.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)

from driftaudit.domain.errors import DriftAuditError

__all__ = ["ConfirmedProducer", "MessageTooLargeError", "PermanentSendError", "is_permanent"]

logger = logging.getLogger(__name__)

#: failures no retry can fix
_TOO_LARGE: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
_PERMANENT: tuple[type[BaseException], ...] = (
    *_TOO_LARGE,
    InvalidTopicError,
    TopicAuthorizationFailedError,
)


class PermanentSendError(DriftAuditError):
    """The broker (or the producer) refused a message for good."""

    def __init__(self, topic: str, size: int, cause: BaseException) -> None:
        self.topic = topic
        self.size = size
        self.cause_type = type(cause).__name__
        super().__init__(f"message of {size} bytes to {topic} refused: {self.cause_type}")


class MessageTooLargeError(PermanentSendError):
    """The message is larger than the producer or the topic accepts; a smaller one may pass."""


def is_permanent(exc: BaseException) -> bool:
    """True when resending the same message can never succeed."""
    return isinstance(exc, _PERMANENT)


class ConfirmedProducer:
    """One producer per worker; every send is awaited to the broker's acknowledgement.

    Args:
        bootstrap: ``host:port`` of the broker.
        max_request_size: the producer's own limit on one request.
        max_backoff_s: the longest pause between two attempts of one send.
        linger_ms: how long a record waits for others of its partition (fewer, larger requests).
    """

    def __init__(
        self, bootstrap: str, *, max_request_size: int, max_backoff_s: float = 5.0, linger_ms: int = 2
    ) -> None:
        self._bootstrap = bootstrap
        self._linger_ms = linger_ms
        self._max_request_size = max_request_size
        self._max_backoff_s = max_backoff_s
        self._producer: AIOKafkaProducer | None = None
        self._solo: AIOKafkaProducer | None = None
        self.sent = 0
        self.retries = 0

    def _new(self, *, solo: bool) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            # at-least-once with idempotent sinks; Tansu (the embedded broker) refuses idempotent producers
            enable_idempotence=False,
            max_request_size=self._max_request_size,
            # a batch always takes its first record: a tiny batch size means one record per batch.
            # Otherwise large: aiokafka keeps one batch in flight per partition and a send that
            # does not fit the open batch waits for it to drain, so a batch smaller than a
            # config (tens of KB) made every config send one broker round trip. A batch the
            # topic refuses as a whole is sent again record by record through the solo producer.
            max_batch_size=16 if solo else min(self._max_request_size, 1_000_000),
            linger_ms=0 if solo else self._linger_ms,
            request_timeout_ms=15000,
        )

    async def start(self) -> None:
        """Connect, retrying while the broker is not reachable yet."""
        self._producer = await self._started(solo=False)
        self._solo = await self._started(solo=True)

    async def _started(self, *, solo: bool) -> AIOKafkaProducer:
        delay = 0.2
        while True:
            producer = self._new(solo=solo)
            try:
                await producer.start()
            except KafkaError as exc:
                await producer.stop()
                logger.warning("producer cannot reach %s (%s), retrying", self._bootstrap, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            return producer

    async def stop(self) -> None:
        """Flush and disconnect."""
        for producer in (self._producer, self._solo):
            if producer is not None:
                await producer.stop()
        self._producer = self._solo = None

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Any:
        """Send one message and wait until the broker confirms it; returns its ``RecordMetadata``.

        Raises:
            MessageTooLargeError: the message is too large for the producer or the topic.
            PermanentSendError: the broker refuses it for another lasting reason.
        """
        if self._producer is None or self._solo is None:
            raise RuntimeError("ConfirmedProducer is not started")
        try:
            return await self._send(self._producer, topic, key, value)
        except MessageTooLargeError:
            return await self._send(self._solo, topic, key, value)

    async def _send(self, producer: AIOKafkaProducer, topic: str, key: bytes | None, value: bytes) -> Any:
        delay = 0.1
        while True:
            try:
                future = await producer.send(topic, value, key=key)
                metadata = await future
            except asyncio.CancelledError:
                raise
            except _TOO_LARGE as exc:
                raise MessageTooLargeError(topic, len(value), exc) from exc
            except _PERMANENT as exc:
                raise PermanentSendError(topic, len(value), exc) from exc
            except KafkaError as exc:
                self.retries += 1
                logger.warning("send to %s failed (%s), retrying in %.1fs", topic, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            self.sent += 1
            return metadata
