"""A Faust table restored from its changelog after a worker restart holds exactly what was written.

Two real Faust workers (faust-streaming, ``faust worker``) run one after the
other as subprocesses of this very file, sharing an app id: the first counts
21 events over four keys into a table, then stops on SIGTERM; the second
starts with a fresh data directory and memory store, so everything it knows
comes from the table's changelog topic. The second worker writes out its
table as soon as Faust declares recovery complete (the moment its agents
would resume), and the test compares that with the counts sent. In between,
the test checks on the broker that the first worker committed every offset
(so nothing is replayed) and wrote one changelog record per event.

On Tansu this fails (its high watermark ignores how many records a batch
holds, so the changelog looks short and recovery stops early, leaving the
table stale): a known gap of that broker, hence a strict xfail there (on an
assertion only) rather than a skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # this file also runs as the worker script, where tests/ is not importable
    from tests.plugins.broker import KafkaNamespace, TestBroker

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

EXPECTED = {"r1": 7, "r2": 6, "r3": 5, "r4": 3}  # 21 events
#: round-robin over the keys, so each key's events are spread through the topic
EVENTS = [key for round_ in range(max(EXPECTED.values())) for key in EXPECTED if EXPECTED[key] > round_]
_WAIT_S = 90.0


# --- the worker: runs in a subprocess as `python test_table_recovery.py` ---


def _worker_main() -> None:
    import faust

    env = os.environ
    progress = Path(env["RECOVERY_PROGRESS"])
    app = faust.App(
        env["RECOVERY_APP_ID"],
        broker=f"kafka://{env['RECOVERY_BOOTSTRAP']}",
        store="memory://",
        datadir=env["RECOVERY_DATADIR"],
        topic_partitions=1,
        web_enabled=False,
        web_tables_enabled=False,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        autodiscover=False,
    )
    events = app.topic(env["RECOVERY_TOPIC"], key_serializer="raw", value_serializer="raw")
    counts = app.Table("counts", default=int, partitions=1)

    def note(record: dict[str, Any]) -> None:
        with progress.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    @app.agent(events)
    async def count(stream: Any) -> None:
        async for key, _value in stream.items():
            name = key.decode()
            counts[name] += 1
            note({"key": name, "count": counts[name]})

    async def dump_after_recovery() -> None:
        # Recovery sets this once the table holds everything its changelog had; streams start then too.
        await app.tables.recovery.completed.wait()  # type: ignore[attr-defined]
        note({"dump": {key: counts[key] for key in sorted(counts.keys())}})

    app.task(dump_after_recovery)

    app.main()


# --- the test ---


def _records(progress: Path) -> list[dict[str, Any]]:
    if not progress.exists():
        return []
    lines = progress.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


class _Worker:
    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.log = tmp_path / f"{name}.log"
        self.progress = tmp_path / f"{name}.jsonl"
        datadir = tmp_path / f"{name}-data"  # fresh per worker: no local table state carries over
        worker_env = {
            **os.environ,
            **env,
            "RECOVERY_DATADIR": str(datadir),
            "RECOVERY_PROGRESS": str(self.progress),
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, __file__, "worker", "--without-web", "--loglevel", "info"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=worker_env,
                cwd=tmp_path,
                start_new_session=True,
            )

    async def wait_for(self, done: Any, what: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            records = _records(self.progress)
            if done(records):
                return records
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.2)
        pytest.fail(f"worker never {what} (exit {self.process.poll()}):\n{_tail(self.log)}")

    def stop(self) -> int:
        """SIGTERM: Faust's worker shuts down cleanly, flushing the changelog and committing offsets."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
                pytest.fail(f"worker ignored SIGTERM for 60 s:\n{_tail(self.log)}")
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


async def _create_topic(bootstrap: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def _progress_on_broker(bootstrap: str, group: str, topic: str, changelog: str) -> tuple[int, int]:
    """The group's committed offset on ``topic`` and the end offset of ``changelog``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        committed = await consumer.committed(TopicPartition(topic, 0))
        changelog_tp = TopicPartition(changelog, 0)
        ends = await consumer.end_offsets([changelog_tp])
    finally:
        await consumer.stop()
    return (-1 if committed is None else committed), ends[changelog_tp]


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def test_table_restored_after_worker_restart_equals_what_was_written(
    kafka_broker: TestBroker, kafka_namespace: KafkaNamespace, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kafka_broker.kind == "tansu":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason="Tansu (memory) answers ListOffsets(LATEST) with a high watermark that ignores how "
                "many records a batch holds: the changelog looks short and a table restored from it is stale",
            )
        )
    expected = dict(Counter(EVENTS))
    assert expected == EXPECTED
    assert len(EVENTS) == 21
    topic = kafka_namespace.topic("events")
    env = {
        "RECOVERY_BOOTSTRAP": kafka_broker.bootstrap,
        "RECOVERY_APP_ID": kafka_namespace.app_id,
        "RECOVERY_TOPIC": topic,
    }
    await _create_topic(kafka_broker.bootstrap, topic)
    await _produce(kafka_broker.bootstrap, topic, [(key.encode(), b"event") for key in EVENTS])

    first = _Worker("worker-1", tmp_path, env)
    try:
        counted = await first.wait_for(
            lambda rs: sum("key" in r for r in rs) >= len(EVENTS), "counted 21 events"
        )
        exit_code = first.stop()
    finally:
        first.kill()
    before = {r["key"]: r["count"] for r in counted if "key" in r}
    assert before == expected, "the first worker counted every event once"
    committed, changelog_end = await _progress_on_broker(
        kafka_broker.bootstrap, kafka_namespace.app_id, topic, f"{kafka_namespace.app_id}-counts-changelog"
    )
    print(
        f"worker 1 counted {before}, exit code {exit_code}; committed {committed}, changelog {changelog_end}"
    )
    assert committed == len(EVENTS), "a clean stop commits every processed offset: nothing will be replayed"
    assert changelog_end == len(EVENTS), "each table write is one changelog record"

    second = _Worker("worker-2", tmp_path, env)
    try:
        dumped = await second.wait_for(lambda rs: any("dump" in r for r in rs), "finished recovery")
        second.stop()
    finally:
        second.kill()
    restored = next(r["dump"] for r in dumped if "dump" in r)

    print(f"worker 2 restored {restored} on {kafka_broker.describe()}")
    assert restored == expected


if __name__ == "__main__":
    _worker_main()
