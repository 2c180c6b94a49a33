"""The test broker: aiokafka round trip, its version, and clean start/stop of the launchers."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from deploy.kafka.launcher import CACHE_ROOT, KafkaBroker, ensure_jars

from driftaudit.streams.embedded_broker import BrokerStartError, EmbeddedTansu, free_port, probe_broker
from tests.plugins.broker import KafkaNamespace, TestBroker

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


async def _consume(broker: TestBroker, topic: str, group_id: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, group_id=group_id, auto_offset_reset="earliest"
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    received.extend((record.key, record.value) for record in records if record.key)
    finally:
        await consumer.stop()
    return received


async def test_produce_and_consume_round_trip(
    kafka_broker: TestBroker, kafka_namespace: KafkaNamespace
) -> None:
    topic = kafka_namespace.topic("round-trip")
    sent = [(f"device-{i % 3}".encode(), f"config {i}".encode()) for i in range(12)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in sent:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    received = await _consume(kafka_broker, topic, kafka_namespace.group_id, len(sent))

    assert received == sent
    print(f"round trip of {len(sent)} records on {kafka_broker.describe()}")


def test_broker_reports_its_version(kafka_broker: TestBroker) -> None:
    info = probe_broker(kafka_broker.host, kafka_broker.port)
    assert info is not None
    assert info.broker_count == 1
    print(f"broker version: {kafka_broker.kind} {kafka_broker.version} ({info.api_count} APIs)")
    if kafka_broker.kind == "kafka":
        assert re.fullmatch(r"3\.9\.\d+", kafka_broker.version)
        jar = CACHE_ROOT / f"kafka-{kafka_broker.version}" / f"kafka_2.13-{kafka_broker.version}.jar"
        assert jar.is_file(), "the version is the one of the jar the broker runs"
    elif kafka_broker.kind == "tansu":
        assert re.fullmatch(r"\d+\.\d+\.\d+", kafka_broker.version)


def test_namespaces_are_private(kafka_namespace: KafkaNamespace) -> None:
    other = KafkaNamespace(prefix="test.x.", group_id="g", app_id="a")
    assert kafka_namespace.topic("events").startswith(kafka_namespace.prefix)
    assert kafka_namespace.topic("events") != other.topic("events")
    assert kafka_namespace.group_id != kafka_namespace.app_id


def test_probe_of_a_closed_port_is_none() -> None:
    assert probe_broker("127.0.0.1", free_port(), timeout=0.5) is None


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_tansu_starts_answers_and_leaves_nothing_behind() -> None:
    tansu = EmbeddedTansu()
    with tansu:
        assert tansu.running
        pid = tansu._process.pid  # type: ignore[union-attr]
        info = probe_broker(tansu.host, tansu.port)
        assert info is not None
        assert info.broker_count == 1
        log = tansu.log_path
    assert not tansu.running
    assert _gone(pid)
    assert log is not None
    assert not log.exists()


def test_tansu_from_a_missing_binary_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(BrokerStartError, match="does not run"):
        EmbeddedTansu(binary=tmp_path / "no-such-tansu").start()


@pytest.mark.slow
def test_second_kafka_start_uses_the_cache_and_stops_cleanly(kafka_broker: TestBroker) -> None:
    if kafka_broker.kind != "kafka":
        pytest.skip("checks the Apache Kafka launcher; this run's broker is not one it started")
    jars, from_cache = ensure_jars(kafka_broker.version)
    assert from_cache, "the session broker already fetched the jars: nothing is downloaded again"
    broker = KafkaBroker(version=kafka_broker.version)
    with broker:
        assert broker.used_cache is True
        pid = broker.pid
        assert pid is not None
        assert broker.running
        workdir = broker.log_path.parent  # type: ignore[union-attr]
        info = probe_broker(broker.host, broker.port)
        assert info is not None
        assert info.broker_count == 1
        print(f"second Apache Kafka {broker.version}: started in {broker.startup_seconds:.1f} s from {jars}")
    assert _gone(pid)
    assert not workdir.exists()
