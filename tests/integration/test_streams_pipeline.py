"""The topology on a real Kafka with one in-process worker and a simulated fleet.

Real parts on every path: Apache Kafka (the session broker), the device
simulator over SSH and REST on loopback, the real adapters from the
composition root, chDB on a temporary path.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from driftaudit.adapters.history.clickhouse import chdb_dsn
from driftaudit.cli.audit_cmd import audit_via_broker, local_pipeline, request_for
from driftaudit.domain.models import DeadLetter, DeviceStatus
from driftaudit.domain.scoring import FleetHealthScorer
from driftaudit.settings import Settings
from driftaudit.streams.client import AuditClient
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.streams import FleetUnderTest, drift_events, read_topic

pytestmark = [pytest.mark.usefixtures("faust_garbage"), pytest.mark.integration, pytest.mark.kafka]


def _settings(fleet: FleetUnderTest, broker: object, ns: object, tmp_path: Path, **extra: object) -> Settings:
    return fleet.settings(
        kafka_broker=broker.bootstrap,  # type: ignore[attr-defined]
        topic_prefix=ns.prefix,  # type: ignore[attr-defined]
        app_id=ns.app_id,  # type: ignore[attr-defined]
        topic_partitions=2,
        broker_session_timeout_s=6.0,
        clickhouse_dsn=chdb_dsn(tmp_path / "history"),
        history_flush_s=0.2,
        masking_key="integration-test-key",
        batch_size=8,
        connect_timeout_s=2.0,
        total_timeout_s=20.0,
        **extra,
    )


async def _served(port: int, path: str, total: int) -> dict:
    async with httpx.AsyncClient(timeout=5.0) as http:
        for _ in range(100):
            document = (await http.get(f"http://127.0.0.1:{port}{path}")).json()
            if (document.get("fleet") or document)["total"] >= total:
                return document
            await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never counted {total} devices: {document}")


async def test_audit_yields_one_event_per_device_and_the_served_score_matches(
    kafka_broker, kafka_namespace, small_fleet, tmp_path
):
    settings = _settings(small_fleet, kafka_broker, kafka_namespace, tmp_path)
    port = free_port()
    request = request_for(requested_by="integration test")
    n = len(small_fleet.devices)
    async with local_pipeline(settings, web_port=port):
        summary = await audit_via_broker(settings, request, small_fleet.devices, timeout_s=120)
        assert {e.device_id: e.status.value for e in summary.events} == small_fleet.expected

        messages = await read_topic(
            settings.kafka_broker,
            kafka_namespace.topic("drift-events"),
            partitions=2,
            until=lambda m: len(m) > n,  # wait for any repeat, then give up after the timeout
            timeout_s=2.0,
        )
        assert len(drift_events(messages, request.audit_id)) == n

        statuses = {e.device_id: e.status for e in summary.events}
        fleet_doc = await _served(port, "/fleet/score", n)
        expected_fleet = FleetHealthScorer().score(statuses)
        assert fleet_doc["fleet"]["score"] == pytest.approx(expected_fleet.score)
        for status in DeviceStatus:
            assert fleet_doc["fleet"][status.value] == getattr(expected_fleet, status.value)
        for tenant in {d.tenant for d in small_fleet.devices}:
            ids = {d.device_id for d in small_fleet.devices if d.tenant == tenant}
            want = FleetHealthScorer().score({i: s for i, s in statuses.items() if i in ids}, tenant=tenant)
            got = await _served(port, f"/fleet/score/{tenant}", len(ids))
            assert got["score"] == pytest.approx(want.score)
            assert (got["compliant"], got["drifted"], got["unreachable"], got["error"]) == (
                want.compliant,
                want.drifted,
                want.unreachable,
                want.error,
            )
            assert fleet_doc["tenants"][tenant]["total"] == len(ids)

    from driftaudit.bootstrap import build_history

    history = build_history(settings)
    try:
        run = history.audit_run(request.audit_id)
        assert run is not None
        for device in small_fleet.devices:
            rows = [r for r in history.device_timeline(device.device_id) if r["audit_id"] == request.audit_id]
            assert len(rows) == 1, device.device_id
            assert rows[0]["status"] == small_fleet.expected[device.device_id]
    finally:
        history.close()


async def test_bad_input_goes_to_dead_letter_and_the_worker_goes_on(
    kafka_broker, kafka_namespace, small_fleet, tmp_path
):
    settings = _settings(small_fleet, kafka_broker, kafka_namespace, tmp_path, max_message_bytes=65536)
    names = {t: kafka_namespace.topic(t) for t in ("audit-requests", "device-fetch")}
    valid = request_for(devices=[d.device_id for d in small_fleet.devices[:3]])
    extra_field = valid.model_dump_json()[:-1].encode() + b', "evil": 1}'
    unknown_device = request_for(devices=["no-such-device"], audit_id="r-device").model_dump_json()
    unknown_tenant = request_for(tenant="no-such-tenant", audit_id="r-tenant").model_dump_json()
    requests = names["audit-requests"]
    bad = [
        (requests, b"r-json", b"{not json"),
        (requests, b"r-schema", json.dumps({"audit_id": "x"}).encode()),
        (requests, b"r-extra", extra_field),
        (requests, b"r-device", unknown_device.encode()),
        (requests, b"r-tenant", unknown_tenant.encode()),
        (requests, b"r-big", b'{"audit_id": "' + b"x" * 70000 + b'"}'),
        (names["device-fetch"], b"f-schema", b'{"audit_id": "a"}'),
    ]
    async with local_pipeline(settings, web_port=free_port()):
        async with AuditClient(settings):  # creates the topics with the configured partitions
            pass
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_broker)
        await producer.start()
        try:
            for topic, key, value in bad:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()
        summary = await audit_via_broker(settings, valid, small_fleet.devices[:3], timeout_s=120)
        assert len(summary.events) == 3

        messages = await read_topic(
            settings.kafka_broker,
            kafka_namespace.topic("dead-letter"),
            partitions=2,
            until=lambda m: len(m) >= len(bad),
            timeout_s=30.0,
        )
    letters = {
        base64.b64decode(letter.key_b64 or ""): letter
        for letter in (DeadLetter.model_validate_json(v) for _, v in messages)
    }
    assert set(letters) == {key for _, key, _ in bad}
    for topic, key, value in bad:
        letter = letters[key]
        assert letter.topic == topic
        kept = base64.b64decode(letter.payload_b64)
        assert kept == value[: settings.dead_letter_payload_bytes]
        assert letter.payload_size == len(value)
        assert letter.payload_sha256 == hashlib.sha256(value).hexdigest()
        assert letter.payload_truncated is (len(value) > settings.dead_letter_payload_bytes)
    assert {letters[k].stage for k in (b"r-json", b"r-schema", b"r-device", b"r-tenant", b"r-big")} == {
        "split"
    }
    assert letters[b"f-schema"].stage == "fetch"
    assert letters[b"r-json"].reason == "invalid JSON"
    assert "schema violation" in letters[b"r-schema"].reason
    assert "schema violation" in letters[b"r-extra"].reason
    assert "no-such-device" in letters[b"r-device"].reason
    assert "matches no device" in letters[b"r-tenant"].reason
    assert "exceeds max_message_bytes" in letters[b"r-big"].reason
