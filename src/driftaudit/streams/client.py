"""The producer side of the pipeline: publish audit requests, follow their results.

``driftaudit audit`` and the demo use :class:`AuditClient`: it makes sure the
topics exist with the configured partition count (a producer would otherwise
let the broker auto-create them with its default), publishes an
:class:`AuditRequest`, and follows ``drift-events``, ``audit-status`` (which
says when the audit is over and which devices are missing, so the client
needs no copy of the inventory) and ``dead-letter`` (so a rejected request
fails fast), from the position they had before publishing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import BaseModel

from driftaudit.domain.errors import ConfigurationError, DriftAuditError, InputError
from driftaudit.domain.models import AuditRequest, AuditStatus, DeadLetter, DriftEvent
from driftaudit.settings import Settings
from driftaudit.streams.codec import encode
from driftaudit.streams.topics import TopicNames

__all__ = [
    "AuditClient",
    "AuditRejectedError",
    "AuditStatusTimeoutError",
    "AuditTimeoutError",
    "BrokerError",
    "check_partitions",
    "ensure_topics",
    "initialize_group_offsets",
]

logger = logging.getLogger(__name__)


class BrokerError(DriftAuditError):
    """The broker could not be reached or refused an operation."""


class AuditRejectedError(InputError):
    """The pipeline dead-lettered the audit request."""


class AuditTimeoutError(DriftAuditError):
    """Not every device reported before the deadline."""

    def __init__(self, missing: Collection[str], timeout_s: float) -> None:
        self.missing = sorted(missing)
        listed = ", ".join(self.missing[:10]) + (" ..." if len(self.missing) > 10 else "")
        super().__init__(f"{len(self.missing)} devices did not report within {timeout_s:.0f}s: {listed}")


class AuditStatusTimeoutError(AuditTimeoutError):
    """No ``audit-status`` record arrived in time (the audit's own deadline is later, or no worker runs)."""

    def __init__(self, audit_id: str, timeout_s: float, *, reported: int) -> None:
        self.missing = []
        DriftAuditError.__init__(
            self,
            f"no audit-status record for {audit_id} within {timeout_s:.0f}s "
            f"({reported} devices reported so far; is a worker running? "
            "the audit's own deadline is DRIFTAUDIT_AUDIT_DEADLINE_S)",
        )


async def ensure_topics(settings: Settings) -> dict[str, int]:
    """Create the pipeline's topics that do not exist yet, with ``settings.topic_partitions``.

    Workers call it before starting: Faust's partition assignor ignores a
    subscribed topic that does not exist yet and never subscribes to it later,
    so a worker started before its topics would never consume them.

    A topic that already exists with another partition count (a producer
    published first and the broker auto-created it) is used as it is, with a
    warning: only the fleet-score source must match the configured count (its
    table's changelog has that many partitions), and a mismatch there is an
    error at once saying what to do (see :func:`check_partitions`).

    Returns:
        Every pipeline topic's partition count, as the broker has it.

    Raises:
        BrokerError: the broker cannot be reached or refused.
        ConfigurationError: the score topic has the wrong partition count.
    """
    if not settings.kafka_broker:
        raise BrokerError("no broker configured (DRIFTAUDIT_KAFKA_BROKER)")
    names = TopicNames(settings.topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_broker.removeprefix("kafka://"))
    try:
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, settings.topic_partitions, 1) for name in names.all() if name not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another process was faster
                    await admin.create_topics(missing)
            described = await admin.describe_topics(list(names.all()))
        finally:
            await admin.close()
    except KafkaError as exc:
        raise BrokerError(f"creating topics on {settings.kafka_broker}: {type(exc).__name__}") from exc
    counts = {
        str(topic["topic"]): len(topic["partitions"])
        for topic in described
        if not topic.get("error_code") and topic.get("partitions")
    }
    check_partitions(settings, counts)
    return counts


def check_partitions(settings: Settings, counts: Mapping[str, int]) -> None:
    """Warn about pipeline topics with another partition count; refuse a mismatched score topic.

    Raises:
        ConfigurationError: ``score-input`` does not have ``settings.topic_partitions`` (not
            retried: waiting for the broker cannot mend it).
    """
    names = TopicNames(settings.topic_prefix)
    wanted = settings.topic_partitions
    for name in names.all():
        count = counts.get(name)
        if count is None or count == wanted:
            continue
        if name == names.score_input:
            raise ConfigurationError(
                f"topic {name} has {count} partitions, DRIFTAUDIT_TOPIC_PARTITIONS is {wanted}: "
                f"the fleet-score table needs them equal; set DRIFTAUDIT_TOPIC_PARTITIONS={count}, "
                "or delete the topic "
                f"(kafka-topics.sh --delete --topic {name}; it holds no state of its own)"
            )
        logger.warning(
            "topic %s already exists with %d partitions (DRIFTAUDIT_TOPIC_PARTITIONS is %d): "
            "using it as it is, at most %d workers share its work; "
            "kafka-topics.sh --alter --topic %s --partitions %d adds more",
            name,
            count,
            wanted,
            count,
            name,
            wanted,
        )


async def initialize_group_offsets(settings: Settings, partitions: Mapping[str, int] | None = None) -> int:
    """Commit the log start as the group's offset on every source partition that has none.

    Why: when a rebalance lands while records arrive on a partition the group
    has never committed, Faust seeks "to committed offsets", which leaves such
    a partition wherever the fetcher had got to, so a record fetched and then
    dropped with the revoked assignment is skipped (observed on Apache Kafka
    with two workers starting together: the first audit request was never
    consumed, and never committed either). With a committed offset on every
    partition the seek is always explicit, and ``earliest`` holds. A group
    that already has members refuses commits from outside; those partitions
    were initialized by the first worker, so the refusal is ignored.

    Returns:
        How many partitions were initialized.
    """
    if not settings.kafka_broker:
        raise BrokerError("no broker configured (DRIFTAUDIT_KAFKA_BROKER)")
    names = TopicNames(settings.topic_prefix)
    sources = (names.score_input,)  # the Faust group's only source (the stages seek explicitly)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_broker.removeprefix("kafka://"),
        group_id=settings.app_id,
        enable_auto_commit=False,
    )
    try:
        counts = partitions if partitions is not None else await ensure_topics(settings)
        await consumer.start()
        tps = [TopicPartition(topic, p) for topic in sources for p in range(counts.get(topic, 0))]
        missing = [tp for tp in tps if await consumer.committed(tp) is None]
        if not missing:
            return 0
        starts = await consumer.beginning_offsets(missing)
        consumer.assign(missing)
        try:
            await consumer.commit({tp: starts[tp] for tp in missing})
        except KafkaError as exc:
            logger.info(
                "group %s already active, offsets left to it (%s)", settings.app_id, type(exc).__name__
            )
            return 0
        return len(missing)
    except KafkaError as exc:
        raise BrokerError(f"initializing offsets of group {settings.app_id}: {type(exc).__name__}") from exc
    finally:
        await consumer.stop()


class AuditClient:
    """Publishes audit requests and follows their drift events.

    Use as an async context manager; the follower is positioned at the end of
    ``drift-events`` and ``dead-letter`` on entry, before anything is published.
    """

    def __init__(self, settings: Settings) -> None:
        if not settings.kafka_broker:
            raise BrokerError("no broker configured (DRIFTAUDIT_KAFKA_BROKER)")
        self._bootstrap = settings.kafka_broker.removeprefix("kafka://")
        self._settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> AuditClient:
        try:
            counts = await ensure_topics(self._settings)
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, max_request_size=self._settings.max_message_bytes * 2
            )
            await self._producer.start()
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                group_id=None,
                fetch_max_bytes=max(self._settings.max_message_bytes * 4, 4_194_304),
            )
            await self._consumer.start()
            followed = (self.names.drift_events, self.names.dead_letter, self.names.audit_status)
            partitions = [TopicPartition(topic, p) for topic in followed for p in range(counts.get(topic, 0))]
            self._consumer.assign(partitions)
            await self._consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end positions now, before anything is published
                await self._consumer.position(tp)
        except KafkaError as exc:
            await self.close()
            raise BrokerError(f"broker {self._bootstrap}: {type(exc).__name__}") from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the producer and the follower."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self) -> dict[str, int]:
        """Create the pipeline's topics that do not exist yet; return every topic's partition count."""
        return await ensure_topics(self._settings)

    async def publish(self, request: AuditRequest) -> None:
        """Publish the request (key: audit_id) and wait for the broker's ack."""
        if self._producer is None:
            raise BrokerError("AuditClient is not started")
        try:
            await self._producer.send_and_wait(
                self.names.audit_requests, encode(request), key=request.audit_id.encode()
            )
        except KafkaError as exc:
            raise BrokerError(f"publishing audit {request.audit_id}: {type(exc).__name__}") from exc

    async def follow(
        self,
        audit_id: str,
        expected: Collection[str],
        *,
        timeout_s: float,
        on_event: Callable[[DriftEvent], None] | None = None,
    ) -> list[DriftEvent]:
        """Collect one drift event per expected device of ``audit_id``.

        Repeats (at-least-once delivery) are dropped: the first event per
        device counts. Returns the events in arrival order.

        Raises:
            AuditRejectedError: the request went to dead-letter.
            AuditTimeoutError: some devices did not report in time.
        """
        if self._consumer is None:
            raise BrokerError("AuditClient is not started")
        wanted = set(expected)
        seen: dict[str, DriftEvent] = {}
        deadline = time.monotonic() + timeout_s
        audit_key = audit_id.encode()
        while wanted - seen.keys():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AuditTimeoutError(wanted - seen.keys(), timeout_s)
            batch = await self._consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for tp, messages in batch.items():
                for message in messages:
                    if tp.topic == self.names.dead_letter:
                        self._check_rejected(audit_key, message.value)
                        continue
                    event = self._event(message.value)
                    if event is None or event.audit_id != audit_id or event.device_id not in wanted:
                        continue
                    if event.device_id not in seen:
                        seen[event.device_id] = event
                        if on_event is not None:
                            on_event(event)
            await asyncio.sleep(0)
        return list(seen.values())

    async def follow_status(
        self,
        audit_id: str,
        *,
        timeout_s: float,
        on_event: Callable[[DriftEvent], None] | None = None,
    ) -> tuple[AuditStatus, list[DriftEvent]]:
        """Follow ``audit_id`` until its ``audit-status`` record arrives.

        Returns the status and the first drift event of each reported device
        (repeats are dropped), in arrival order. Events that arrive after the
        status are not waited for: a complete status is published only after
        every device's event was confirmed on ``drift-events``, so they are
        read before the client gives up on them (a short drain follows).

        Raises:
            AuditRejectedError: the request went to dead-letter.
            AuditTimeoutError: no status within ``timeout_s``.
        """
        if self._consumer is None:
            raise BrokerError("AuditClient is not started")
        seen: dict[str, DriftEvent] = {}
        status: AuditStatus | None = None
        deadline = time.monotonic() + timeout_s
        drain_until: float | None = None
        audit_key = audit_id.encode()
        while True:
            now = time.monotonic()
            if status is not None and (
                drain_until is not None and now >= drain_until or len(seen) >= status.reported
            ):
                return status, list(seen.values())
            if status is None and now >= deadline:
                raise AuditStatusTimeoutError(audit_id, timeout_s, reported=len(seen))
            batch = await self._consumer.getmany(timeout_ms=200)
            for tp, messages in batch.items():
                for message in messages:
                    if tp.topic == self.names.dead_letter:
                        self._check_rejected(audit_key, message.value)
                    elif tp.topic == self.names.audit_status:
                        found = self._status(message.value)
                        if found is not None and found.audit_id == audit_id and status is None:
                            status = found
                            drain_until = time.monotonic() + 5.0
                    else:
                        event = self._event(message.value)
                        if event is not None and event.audit_id == audit_id and event.device_id not in seen:
                            seen[event.device_id] = event
                            if on_event is not None:
                                on_event(event)
            await asyncio.sleep(0)

    @staticmethod
    def _status(value: bytes | None) -> AuditStatus | None:
        return _parsed(AuditStatus, value)

    @staticmethod
    def _event(value: bytes | None) -> DriftEvent | None:
        return _parsed(DriftEvent, value)

    @staticmethod
    def _check_rejected(audit_key: bytes, value: bytes | None) -> None:
        try:
            letter = DeadLetter.model_validate_json(value or b"")
        except ValueError:
            return
        key = base64.b64decode(letter.key_b64) if letter.key_b64 else b""
        if letter.stage == "split" and key == audit_key:
            raise AuditRejectedError(f"audit request rejected: {letter.reason}")


_M = TypeVar("_M", bound=BaseModel)


def _parsed(model: type[_M], value: bytes | None) -> _M | None:
    """``value`` as a ``model``, or None when it is not one (a follower skips what it cannot read)."""
    try:
        return model.model_validate_json(value or b"")
    except ValueError:
        return None
