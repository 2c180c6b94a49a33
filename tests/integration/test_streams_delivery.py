"""Confirmed delivery on a real Kafka: what the broker refuses is cut to fit or dead-lettered, never lost.

Topics are created by the test with a small ``max.message.bytes`` where the
case needs one, before the worker starts (the worker keeps existing topics).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from driftaudit.adapters.history.clickhouse import chdb_dsn
from driftaudit.cli.audit_cmd import audit_via_broker, local_pipeline, request_for
from driftaudit.domain.models import DeadLetter, DeviceStatus, DriftEvent
from driftaudit.settings import Settings
from driftaudit.streams.client import ensure_topics
from driftaudit.streams.embedded_broker import free_port
from driftaudit.streams.topics import TopicNames
from tests.plugins.streams import FleetUnderTest, read_topic, simulated_fleet

pytestmark = [pytest.mark.usefixtures("faust_garbage"), pytest.mark.integration, pytest.mark.kafka]


def _settings(fleet: FleetUnderTest, broker: object, ns: object, tmp_path: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "kafka_broker": broker.bootstrap,  # type: ignore[attr-defined]
        "topic_prefix": ns.prefix,  # type: ignore[attr-defined]
        "app_id": ns.app_id,  # type: ignore[attr-defined]
        "topic_partitions": 2,
        "broker_session_timeout_s": 6.0,
        "clickhouse_dsn": chdb_dsn(tmp_path / "history"),
        "history_flush_s": 0.2,
        "masking_key": "integration-test-key",
        "batch_size": 8,
        "connect_timeout_s": 2.0,
        "total_timeout_s": 10.0,
        "audit_deadline_s": 90.0,
    }
    values.update(extra)
    return fleet.settings(**values)


async def _create(bootstrap: str, topics: dict[str, dict[str, str]], partitions: int = 2) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=cfg) for name, cfg in topics.items()]
        )
    finally:
        await admin.close()


async def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        await consumer.stop()


def _letters(messages: list[tuple[bytes | None, bytes]]) -> dict[bytes, DeadLetter]:
    letters = (DeadLetter.model_validate_json(v) for _, v in messages)
    return {base64.b64decode(letter.key_b64 or ""): letter for letter in letters}


async def test_900_kb_and_5_mb_malformed_requests_each_give_a_bounded_dead_letter(
    kafka_broker, kafka_namespace, small_fleet, tmp_path
):
    settings = _settings(small_fleet, kafka_broker, kafka_namespace, tmp_path)
    names = TopicNames(settings.topic_prefix)
    # the request topic accepts what a producer may send; dead-letter keeps the broker's 1 MiB default
    await _create(kafka_broker.bootstrap, {names.audit_requests: {"max.message.bytes": str(8 * 2**20)}})
    await ensure_topics(settings)
    big = {
        b"r-900k": b'{"audit_id": "' + b"x" * 900_000,
        b"r-5m": b'{"audit_id": "a", "selector": ' + b"[" * 5_000_000,
    }
    async with local_pipeline(settings, web_port=free_port()):
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, max_request_size=8 * 2**20)
        await producer.start()
        try:
            for key, value in big.items():
                await producer.send_and_wait(names.audit_requests, value, key=key)
        finally:
            await producer.stop()
        messages = await read_topic(
            kafka_broker.bootstrap, names.dead_letter, partitions=2, until=lambda m: len(m) >= 2, timeout_s=60
        )
        # the worker goes on: a valid audit after them completes
        devices = small_fleet.devices[:2]
        summary = await audit_via_broker(
            settings, request_for(devices=[d.device_id for d in devices]), devices, timeout_s=60
        )
        assert len(summary.events) == 2
    letters = _letters(messages)
    assert set(letters) == set(big)
    for key, value in big.items():
        letter = letters[key]
        assert letter.stage == "split"
        assert letter.payload_size == len(value)
        assert letter.payload_sha256 == hashlib.sha256(value).hexdigest()
        assert letter.payload_truncated
        assert base64.b64decode(letter.payload_b64) == value[: settings.dead_letter_payload_bytes]
    committed = await _committed(kafka_broker.bootstrap, f"{settings.app_id}.split", names.audit_requests, 2)
    assert sum(offset or 0 for offset in committed.values()) == 3  # both bad requests and the audit


async def test_a_drift_event_over_the_topic_limit_is_cut_and_delivered(
    kafka_broker, kafka_namespace, tmp_path
):
    limit = 20_000
    with simulated_fleet(
        tmp_path / "fleet", n=4, drifted=0, unreachable=0, transports_rest_only=True
    ) as fleet:
        settings = _settings(fleet, kafka_broker, kafka_namespace, tmp_path)
        names = TopicNames(settings.topic_prefix)
        huge = fleet.devices[0].device_id
        # the intended config of one device gains 3000 lines the device lacks: a ~200 KB drift event
        intended = Path(fleet.env["DRIFTAUDIT_INTENDED_DIR"]) / f"{huge}.cfg"
        extra = "".join(f"ntp server 10.{i // 250}.{i % 250}.1 prefer\n" for i in range(3000))
        intended.write_text(intended.read_text(encoding="utf-8") + extra, encoding="utf-8")
        await _create(kafka_broker.bootstrap, {names.drift_events: {"max.message.bytes": str(limit)}})
        ids = [d.device_id for d in fleet.devices]
        async with local_pipeline(settings, web_port=free_port()):
            summary = await audit_via_broker(settings, request_for(devices=ids), fleet.devices, timeout_s=90)
        events = {e.device_id: e for e in summary.events}
    assert set(events) == set(ids)
    event = events[huge]
    assert event.status is DeviceStatus.DRIFTED
    assert event.truncated is not None
    assert "cut to fit" in event.truncated
    assert event.removed_total is not None
    assert event.removed_total >= 3000
    assert 0 < len(event.removed) < event.removed_total
    assert len(event.model_dump_json()) <= limit
    assert all(events[d].truncated is None for d in ids if d != huge)


async def test_a_tiny_topic_limit_never_commits_an_input_without_a_dead_letter(
    kafka_broker, kafka_namespace, small_fleet, tmp_path
):
    settings = _settings(small_fleet, kafka_broker, kafka_namespace, tmp_path)
    names = TopicNames(settings.topic_prefix)
    # device-configs refuses every config and even the small "too large" error result;
    # dead-letter refuses anything but a letter cut to almost nothing
    await _create(
        kafka_broker.bootstrap,
        {
            names.device_configs: {"max.message.bytes": "200"},
            names.dead_letter: {"max.message.bytes": "1200"},
        },
    )
    ids = [d.device_id for d in small_fleet.devices]
    request = request_for(devices=ids)
    async with local_pipeline(settings, web_port=free_port()):
        from driftaudit.streams.client import AuditClient

        async with AuditClient(settings) as client:
            await client.publish(request)
        messages = await read_topic(
            kafka_broker.bootstrap,
            names.dead_letter,
            partitions=2,
            until=lambda m: _letters(m).keys() >= {i.encode() for i in ids},  # repeats may come too
            timeout_s=90,
        )
        await asyncio.sleep(3.0)  # a commit interval or more
        committed = await _committed(
            kafka_broker.bootstrap, f"{settings.app_id}.fetch", names.device_fetch, 2
        )
    letters = [DeadLetter.model_validate_json(v) for _, v in messages]
    fetch_letters = {
        base64.b64decode(letter.key_b64 or "").decode() for letter in letters if letter.stage == "fetch"
    }
    assert fetch_letters == set(ids), "every refused output must leave a dead letter"
    for letter in letters:
        assert "output refused" in letter.reason
        assert letter.payload_size is not None
        assert letter.payload_sha256 is not None
    # every fetch task is committed, and only after its dead letter went out
    assert sum(offset or 0 for offset in committed.values()) == len(ids)


async def test_an_undeliverable_dead_letter_holds_the_commit(
    kafka_broker, kafka_namespace, small_fleet, tmp_path
):
    settings = _settings(small_fleet, kafka_broker, kafka_namespace, tmp_path)
    names = TopicNames(settings.topic_prefix)
    # no dead letter fits in 100 bytes: the bad request can go nowhere, so it must stay uncommitted
    await _create(kafka_broker.bootstrap, {names.dead_letter: {"max.message.bytes": "100"}}, partitions=1)
    await _create(kafka_broker.bootstrap, {names.audit_requests: {}}, partitions=1)
    async with local_pipeline(settings, web_port=free_port()) as stream_app:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(names.audit_requests, b"{not json", key=b"r-bad")
        finally:
            await producer.stop()
        runner = stream_app.pipeline.runners["split"]
        for _ in range(100):
            if runner.failures >= 2:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.5)
        committed = await _committed(
            kafka_broker.bootstrap, f"{settings.app_id}.split", names.audit_requests, 1
        )
        assert runner.failures >= 2, "the undeliverable dead letter was not retried"
    assert committed[0] in (None, 0), f"committed past an input whose dead letter never went out: {committed}"
    assert DriftEvent  # the module's models are the wire contracts


async def test_the_deadline_closes_an_audit_naming_every_missing_device(
    kafka_broker, kafka_namespace, tmp_path
):
    from driftaudit.domain.models import AuditStatus
    from driftaudit.streams.client import AuditClient

    # devices answer after 8 s, the audit's deadline is 3 s: at the deadline nobody has reported
    with simulated_fleet(tmp_path / "fleet", n=3, drifted=0, unreachable=0, latency_s=8.0) as fleet:
        slow = {"connect_timeout_s": 30.0, "read_timeout_s": 30.0, "total_timeout_s": 30.0}
        settings = _settings(fleet, kafka_broker, kafka_namespace, tmp_path, audit_deadline_s=3.0, **slow)
        ids = [d.device_id for d in fleet.devices]
        async with local_pipeline(settings, web_port=free_port()):
            async with AuditClient(settings) as client:
                request = request_for(devices=ids)
                await client.publish(request)
                status, _ = await client.follow_status(request.audit_id, timeout_s=60)
    assert isinstance(status, AuditStatus)
    assert not status.complete
    assert status.expected == 3
    assert status.reported == 0
    assert set(status.missing) == set(ids)
    assert status.score is None


async def test_an_audit_whose_device_list_is_over_the_progress_topic_limit_still_completes(
    kafka_broker, kafka_namespace, tmp_path
):
    """The ``opened`` record of a huge audit (100k ids are megabytes) is refused by a 1 MiB topic.

    Scaled down: the progress topic takes 700 bytes, the audit's ids alone are
    more. Before chunking, split's ``opened`` record was refused for good and
    the whole request was dead-lettered; now the ids go in ``expected`` chunks
    and the audit-status record says complete.
    """
    from driftaudit.streams.completion import AuditProgress

    limit = 700
    with simulated_fleet(
        tmp_path / "fleet", n=40, drifted=4, unreachable=2, transports_rest_only=True
    ) as fleet:
        settings = _settings(fleet, kafka_broker, kafka_namespace, tmp_path)
        names = TopicNames(settings.topic_prefix)
        ids = [d.device_id for d in fleet.devices]
        whole = AuditProgress(kind="opened", audit_id="x" * 40, device_ids=tuple(ids))
        assert len(whole.model_dump_json()) > limit  # the premise: one record cannot carry the list
        await _create(kafka_broker.bootstrap, {names.audit_progress: {"max.message.bytes": str(limit)}})
        async with local_pipeline(settings, web_port=free_port()):
            summary = await audit_via_broker(settings, request_for(devices=ids), fleet.devices, timeout_s=120)
            progress = await read_topic(
                kafka_broker.bootstrap,
                names.audit_progress,
                partitions=2,
                until=lambda m: len(m) >= 3,
                timeout_s=30,
            )
    assert {e.device_id: e.status.value for e in summary.events} == fleet.expected
    records = [AuditProgress.model_validate_json(v) for _, v in progress]
    assert sum(r.kind == "expected" for r in records) >= 1
    (opened,) = [r for r in records if r.kind == "opened"]
    assert opened.expected_count == len(ids)
