"""Every message on every topic, read by third-party code, validates against the published schemas.

A producer and a consumer that are not ours (confluent-kafka, librdkafka) and
a JSON Schema validator that is not ours (``jsonschema`` with RFC 3339 format
checking) look at an audit exactly as an outside team would: the schemas come
from ``driftaudit schemas`` (written to disk and read back), the request is
published as plain JSON bytes, and each topic is read from the beginning.

Also here: an intended file changed while the worker runs is used by the next
audit, and each event names the intended version it was compared with.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from driftaudit.cli.audit_cmd import local_pipeline
from driftaudit.cli.schemas import TOPIC_CONTRACTS, write_schemas
from driftaudit.streams.client import AuditClient
from driftaudit.streams.embedded_broker import free_port
from tests.integration.test_streams_pipeline import _settings
from tests.plugins.streams import FleetUnderTest

confluent_kafka = pytest.importorskip("confluent_kafka")

pytestmark = [pytest.mark.usefixtures("faust_garbage"), pytest.mark.integration, pytest.mark.kafka]

PARTITIONS = 2

#: requested_at values a careless producer sends; each must come back as a dead letter.
REFUSED_TIMESTAMPS = {
    "naive": "2026-12-01T19:40:00",
    "space": "2026-12-01 19:40:00Z",
    "date-only": "2026-12-01",
    "epoch": 1764618000,
    "epoch-string": "1764618000",
}


def _validators(tmp_path: Path) -> dict[str, jsonschema.Draft202012Validator]:
    """The published schemas, as files on disk, one validator per topic (format checks on)."""
    written = {path.name.removesuffix(".schema.json"): path for path in write_schemas(tmp_path / "schemas")}
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    assert "date-time" in checker.checkers  # rfc3339-validator is installed: formats are really checked
    validators = {}
    for topic, model in TOPIC_CONTRACTS.items():
        schema = json.loads(written[model.__name__].read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        validators[topic] = jsonschema.Draft202012Validator(schema, format_checker=checker)
    return validators


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for key, value in messages:
        producer.produce(topic, value=value, key=key, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert failures == []


def _consume(
    bootstrap: str, topics: list[str], *, done: Any, timeout_s: float
) -> dict[str, list[tuple[bytes | None, bytes]]]:
    """Read every partition of ``topics`` from the beginning until ``done(messages)`` or the timeout."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"contract-reader-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, partition, confluent_kafka.OFFSET_BEGINNING)
                for topic in topics
                for partition in range(PARTITIONS)
            ]
        )
        seen: dict[str, list[tuple[bytes | None, bytes]]] = {topic: [] for topic in topics}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not done(seen):
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error: {message.error()}")
            seen[message.topic()].append((message.key(), message.value()))
        return seen
    finally:
        consumer.close()


def _request(audit_id: str, requested_at: object, selector: dict[str, Any]) -> bytes:
    """An audit request as an outside producer writes it: plain JSON, no driftaudit code."""
    return json.dumps(
        {
            "audit_id": audit_id,
            "requested_at": requested_at,
            "requested_by": "contract test",
            "selector": selector,
        }
    ).encode()


def _invalid(validator: jsonschema.Draft202012Validator, value: bytes) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(json.loads(value))
    ]


async def test_every_message_of_an_audit_validates_and_bad_timestamps_are_dead_lettered(
    kafka_broker: Any, kafka_namespace: Any, small_fleet: FleetUnderTest, tmp_path: Path
) -> None:
    settings = _settings(small_fleet, kafka_broker, kafka_namespace, tmp_path)
    validators = _validators(tmp_path)
    topics = {name: kafka_namespace.topic(name) for name in TOPIC_CONTRACTS}
    n = len(small_fleet.devices)
    audit_id = f"contract-{time.time_ns()}"
    good = _request(audit_id, "2026-12-01T20:40:00+01:00", {})  # empty selector: the whole fleet
    bad = [
        (f"bad-{kind}".encode(), _request(f"bad-{kind}", value, {}))
        for kind, value in REFUSED_TIMESTAMPS.items()
    ]
    for key, value in bad:  # the published schema refuses them too: one rule on both sides
        assert _invalid(validators["audit-requests"], value), key
    assert _invalid(validators["audit-requests"], good) == []

    async with local_pipeline(settings, web_port=free_port()):
        async with AuditClient(settings):  # creates the topics with the configured partitions
            pass
        await asyncio.to_thread(
            _produce, settings.kafka_broker, topics["audit-requests"], [*bad, (b"good", good)]
        )

        def done(seen: dict[str, list[tuple[bytes | None, bytes]]]) -> bool:
            events = [v for _, v in seen[topics["drift-events"]] if json.loads(v)["audit_id"] == audit_id]
            # every topic asserted on below is awaited: the reader may return one topic's
            # partitions before another's, so the drift events alone do not mean the rest was read
            return (
                len(events) >= n
                and len(seen[topics["device-fetch"]]) >= n
                and len(seen[topics["device-configs"]]) >= n
                and len(seen[topics["dead-letter"]]) >= len(bad)
                # the report stage batches: one score-input message carries many observations
                and sum(len(json.loads(v)["observations"]) for _, v in seen[topics["score-input"]]) >= n
            )

        seen = await asyncio.to_thread(
            _consume, settings.kafka_broker, list(topics.values()), done=done, timeout_s=120
        )

    failures = {}
    for name, topic in topics.items():
        for key, value in seen[topic]:
            if name == "audit-requests" and key != b"good":
                continue  # the producer's deliberate mistakes, checked above and below
            errors = _invalid(validators[name], value)
            if errors:
                failures[f"{name} {key!r}"] = errors
    assert failures == {}
    counts = {name: len(seen[topic]) for name, topic in topics.items()}
    assert counts["device-fetch"] >= n
    assert counts["device-configs"] >= n
    events = [json.loads(v) for _, v in seen[topics["drift-events"]] if json.loads(v)["audit_id"] == audit_id]
    assert {e["device_id"]: e["status"] for e in events} == small_fleet.expected
    assert {e["requested_at"] for e in events} == {"2026-12-01T19:40:00Z"}  # normalized to UTC
    for event in events:
        assert event["observed_at"].endswith("Z")
        if event["status"] in ("compliant", "drifted"):
            assert event["intended_version"].startswith(("sha256:", "git:"))

    letters = {
        base64.b64decode(letter["key_b64"]): letter
        for letter in (json.loads(v) for _, v in seen[topics["dead-letter"]])
    }
    assert set(letters) == {key for key, _ in bad}
    for key, value in bad:
        letter = letters[key]
        assert letter["stage"] == "split"
        assert base64.b64decode(letter["payload_b64"]) == value
        assert "requested_at" in letter["reason"]
        assert "RFC 3339" in letter["reason"]
    assert "naive" in letters[b"bad-naive"]["reason"]
    assert "bare date" in letters[b"bad-date-only"]["reason"]
    assert "epoch" in letters[b"bad-epoch"]["reason"]
    assert "epoch" in letters[b"bad-epoch-string"]["reason"]
    assert "space instead of 'T'" in letters[b"bad-space"]["reason"]


async def test_an_intended_file_changed_during_the_workers_life_is_used_by_the_next_audit(
    kafka_broker: Any, kafka_namespace: Any, small_fleet: FleetUnderTest, tmp_path: Path
) -> None:
    settings = _settings(small_fleet, kafka_broker, kafka_namespace, tmp_path)
    device = next(d for d, status in small_fleet.expected.items() if status == "compliant")
    path = settings.intended_dir / f"{device}.cfg"
    topic = kafka_namespace.topic("drift-events")

    def event_of(audit_id: str) -> dict[str, Any]:
        def done(seen: dict[str, list[tuple[bytes | None, bytes]]]) -> bool:
            return any(json.loads(v)["audit_id"] == audit_id for _, v in seen[topic])

        seen = _consume(settings.kafka_broker, [topic], done=done, timeout_s=90)
        (event,) = [json.loads(v) for _, v in seen[topic] if json.loads(v)["audit_id"] == audit_id]
        return event

    async with local_pipeline(settings, web_port=free_port()) as stream_app:
        async with AuditClient(settings):
            pass
        requests = kafka_namespace.topic("audit-requests")

        def audit(audit_id: str, requested_at: str) -> dict[str, Any]:
            request = _request(audit_id, requested_at, {"device_ids": [device]})
            _produce(settings.kafka_broker, requests, [(audit_id.encode(), request)])
            return event_of(audit_id)

        first = await asyncio.to_thread(audit, "v1", "2026-12-01T19:40:00Z")
        original = path.read_bytes()
        assert first["status"] == "compliant"
        assert first["intended_version"] == "sha256:" + hashlib.sha256(original).hexdigest()

        updated = original + b"ntp server 192.0.2.123\n"  # a golden-config update the device lacks
        path.write_bytes(updated)
        second = await asyncio.to_thread(audit, "v2", "2026-12-01T19:45:00Z")
        for _ in range(300):  # both results stored before the worker stops
            if stream_app.recorder.events_written >= 2:
                break
            await asyncio.sleep(0.1)

    assert second["status"] == "drifted"
    assert second["intended_version"] == "sha256:" + hashlib.sha256(updated).hexdigest()
    assert any("192.0.2.123" in line["line"] for line in second["removed"])

    from driftaudit.bootstrap import build_history

    history = build_history(settings)
    try:
        rows = {row["audit_id"]: row for row in history.device_timeline(device)}
    finally:
        history.close()
    assert rows["v1"]["intended_version"] == first["intended_version"]
    assert rows["v2"]["intended_version"] == second["intended_version"]
