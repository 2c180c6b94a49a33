"""Chaos on a real Apache Kafka: staggered joins, a SIGKILL, a leaving worker and a broker restart mid-audit.

Each run takes a fresh topic prefix and consumer groups, publishes one audit
the moment the first worker starts (the group is not even formed: the hard
case of issue 11), starts two more workers at random delays of 0-6 s, kills
the first with SIGKILL once the audit is under way, restarts the broker
(starting a fourth worker while it is down), and lets the second leave.
Every device must be reported at least once and the audit's
``audit-status`` record must say complete. ``make test`` runs one
such run; ``make soak`` (marker ``soak``) repeats it and prints the tally.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy.kafka.launcher import KafkaBroker

from driftaudit.cli.audit_cmd import request_for
from driftaudit.domain.models import AuditStatus
from driftaudit.settings import Settings
from driftaudit.streams.client import AuditClient, ensure_topics
from driftaudit.streams.embedded_broker import free_port
from driftaudit.streams.topics import TopicNames
from tests.plugins.broker import KafkaNamespace
from tests.plugins.streams import WorkerProcess, drift_events, read_topic, simulated_fleet, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

DEVICES = 30
PARTITIONS = 4


@dataclass
class Tally:
    """What a chaos run (or many) delivered."""

    runs: int = 0
    devices: int = 0
    missing: int = 0
    duplicates: int = 0
    incomplete: int = 0

    def add(self, other: Tally) -> None:
        self.runs += other.runs
        self.devices += other.devices
        self.missing += other.missing
        self.duplicates += other.duplicates
        self.incomplete += other.incomplete

    def line(self) -> str:
        return (
            f"runs {self.runs}, devices {self.devices}, missing {self.missing}, "
            f"duplicates {self.duplicates}, incomplete statuses {self.incomplete}"
        )


@pytest.fixture(scope="module")
def restartable_broker():
    """An Apache Kafka of this module's own, so restarting it disturbs no other test."""
    broker = KafkaBroker(startup_timeout_s=180.0)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _namespace() -> KafkaNamespace:
    token = os.urandom(6).hex()
    return KafkaNamespace(prefix=f"chaos.{token}.", group_id=f"chaos-group-{token}", app_id=f"chaos-{token}")


async def _status(bootstrap: str, prefix: str, audit_id: str, timeout_s: float) -> AuditStatus | None:
    messages = await read_topic(
        bootstrap,
        TopicNames(prefix).audit_status,
        partitions=PARTITIONS,
        until=lambda m: any(AuditStatus.model_validate_json(v).audit_id == audit_id for _, v in m),
        timeout_s=timeout_s,
    )
    found = [AuditStatus.model_validate_json(v) for _, v in messages]
    return next((s for s in found if s.audit_id == audit_id), None)


async def chaos_run(broker: KafkaBroker, tmp_path: Path, rng: random.Random) -> Tally:
    """One run; returns its tally (the assertions are the caller's)."""
    namespace = _namespace()
    workers: list[WorkerProcess] = []
    with simulated_fleet(tmp_path / "fleet", n=DEVICES, drifted=4, unreachable=2, latency_s=0.6) as fleet:
        extra = {
            "DRIFTAUDIT_BATCH_SIZE": "2",
            "DRIFTAUDIT_TOPIC_PARTITIONS": str(PARTITIONS),
            "DRIFTAUDIT_TOTAL_TIMEOUT_S": "8",
            "DRIFTAUDIT_AUDIT_DEADLINE_S": "240",
        }

        def start(index: int) -> WorkerProcess:
            env = worker_env(fleet, broker.bootstrap, namespace, tmp_path / f"history-{index}", **extra)
            worker = WorkerProcess(env, tmp_path / f"worker-{index}.log", web_port=free_port()).start()
            workers.append(worker)
            return worker

        settings = Settings(
            kafka_broker=broker.bootstrap, topic_prefix=namespace.prefix, topic_partitions=PARTITIONS
        )
        await ensure_topics(settings)
        request = request_for(requested_by="chaos")
        ids = [d.device_id for d in fleet.devices]
        topic = TopicNames(namespace.prefix).drift_events
        try:
            first = start(0)
            async with AuditClient(settings) as client:
                await client.publish(request)
            await asyncio.sleep(rng.uniform(0, 6))
            start(1)
            await asyncio.sleep(rng.uniform(0, 6))
            start(2)
            reported = await read_topic(
                broker.bootstrap,
                topic,
                partitions=PARTITIONS,
                until=lambda m: len(drift_events(m, request.audit_id)) >= 5,
                timeout_s=120,
            )
            first.kill()
            assert len({e.device_id for e in drift_events(reported, request.audit_id)}) < DEVICES, (
                "the audit finished before the chaos began"
            )
            restart = asyncio.create_task(asyncio.to_thread(broker.restart, down_s=rng.uniform(1, 3)))
            await asyncio.sleep(0.5)
            start(3)  # a worker that starts while the broker is down must wait for it, not exit
            await restart
            await asyncio.sleep(rng.uniform(0, 4))
            workers[1].stop(timeout=30)
            status = await _status(broker.bootstrap, namespace.prefix, request.audit_id, timeout_s=240)
            messages = await read_topic(
                broker.bootstrap,
                topic,
                partitions=PARTITIONS,
                until=lambda m: len({e.device_id for e in drift_events(m, request.audit_id)}) >= DEVICES,
                timeout_s=10,
            )
        finally:
            for worker in workers:
                worker.stop(timeout=20)
    per_device = Counter(e.device_id for e in drift_events(messages, request.audit_id))
    missing = [d for d in ids if d not in per_device]
    tally = Tally(
        runs=1,
        devices=DEVICES,
        missing=len(missing),
        duplicates=sum(n - 1 for n in per_device.values()),
        incomplete=0 if status is not None and status.complete else 1,
    )
    print(f"\nchaos run: {tally.line()}; status {status.complete if status else None}; missing {missing}")
    if status is None or not status.complete or missing:
        for worker in workers:
            print(f"--- {worker.log_path.name}\n{worker.log()[-1500:]}")
    return tally


async def test_chaos_every_device_reported_and_the_status_says_complete(restartable_broker, tmp_path):
    tally = await chaos_run(restartable_broker, tmp_path, random.Random())
    assert tally.missing == 0
    assert tally.incomplete == 0


@pytest.mark.soak
async def test_chaos_soak(restartable_broker, tmp_path):
    runs = int(os.environ.get("DRIFTAUDIT_SOAK_RUNS", "20"))
    total = Tally()
    started = time.monotonic()
    for index in range(runs):
        total.add(await chaos_run(restartable_broker, tmp_path / f"run-{index}", random.Random(index)))
        print(
            f"soak tally after {index + 1}/{runs} runs ({time.monotonic() - started:.0f} s): {total.line()}"
        )
    print(f"\nSOAK TALLY: {total.line()}")
    assert total.missing == 0
    assert total.incomplete == 0
