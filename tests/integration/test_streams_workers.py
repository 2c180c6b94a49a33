"""Worker processes on a real Kafka: a consumer group shares the work, and a SIGKILL loses nothing.

Workers run as ``driftaudit worker`` subprocesses on the real adapters and the
device simulator; each opens its own chDB history (one process per path), and
the test reads the history after the worker has stopped.

The two-worker test publishes the moment the history stage's group is
stable with both members (no settling time): a record that lands at offset 0
of a fresh partition while the group settles must be read, not skipped
(issue 11). The chaos test (test_streams_chaos.py) publishes even earlier.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from driftaudit.cli.audit_cmd import request_for
from driftaudit.settings import Settings
from driftaudit.streams.client import AuditClient, ensure_topics
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.streams import (
    WorkerProcess,
    drift_events,
    read_topic,
    simulated_fleet,
    wait_for_group,
    worker_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]


def _client_settings(env: dict[str, str]) -> Settings:
    return Settings(
        kafka_broker=env["DRIFTAUDIT_KAFKA_BROKER"],
        topic_prefix=env["DRIFTAUDIT_TOPIC_PREFIX"],
        topic_partitions=int(env["DRIFTAUDIT_TOPIC_PARTITIONS"]),
    )


def _history_rows(path: Path, audit_id: str, device_ids: list[str]) -> dict[str, list[dict]]:
    from driftaudit.adapters.history.clickhouse import chdb_dsn, open_history

    history = open_history(chdb_dsn(path))
    try:
        return {
            device_id: [r for r in history.device_timeline(device_id) if r["audit_id"] == audit_id]
            for device_id in device_ids
        }
    finally:
        history.close()


async def test_two_workers_in_one_group_share_the_partitions(
    kafka_broker, kafka_namespace, tmp_path, worker_processes
):
    with simulated_fleet(tmp_path / "fleet", n=24, drifted=4, unreachable=2) as fleet:
        histories = [tmp_path / "history-a", tmp_path / "history-b"]
        envs = [worker_env(fleet, kafka_broker.bootstrap, kafka_namespace, h) for h in histories]
        client_settings = _client_settings(envs[0])
        await ensure_topics(client_settings)
        for index, env in enumerate(envs):
            worker = WorkerProcess(env, tmp_path / f"worker-{index}.log", web_port=free_port())
            worker_processes.append(worker.start())
        record_group = f"{kafka_namespace.app_id}.record"
        await wait_for_group(kafka_broker.bootstrap, record_group, 2, worker_processes)

        request = request_for(requested_by="two workers")
        ids = [d.device_id for d in fleet.devices]
        async with AuditClient(client_settings) as client:
            await client.publish(request)
            events = await client.follow(request.audit_id, ids, timeout_s=120)
        assert {e.device_id: e.status.value for e in events} == fleet.expected
        await asyncio.sleep(1.5)  # let both history sinks flush (history_flush_s=0.2)
        for worker in worker_processes:
            assert worker.stop() == 0, worker.log()

    per_worker = [_history_rows(h, request.audit_id, ids) for h in histories]
    stored = [{d for d, rows in rows_by_device.items() if rows} for rows_by_device in per_worker]
    assert all(stored), f"one worker got no partition: {[len(s) for s in stored]}"
    assert stored[0] | stored[1] == set(ids)
    assert not stored[0] & stored[1]
    for rows_by_device in per_worker:
        assert all(len(rows) <= 1 for rows in rows_by_device.values())


async def test_a_worker_killed_mid_audit_is_replaced_and_nothing_is_lost(
    kafka_broker, kafka_namespace, tmp_path, worker_processes
):
    history = tmp_path / "history"
    with simulated_fleet(tmp_path / "fleet", n=30, drifted=4, unreachable=2, latency_s=0.25) as fleet:
        env = worker_env(fleet, kafka_broker.bootstrap, kafka_namespace, history, DRIFTAUDIT_BATCH_SIZE="3")
        client_settings = _client_settings(env)
        await ensure_topics(client_settings)
        first = WorkerProcess(env, tmp_path / "worker-1.log", web_port=free_port())
        worker_processes.append(first.start())
        await wait_for_group(kafka_broker.bootstrap, f"{kafka_namespace.app_id}.fetch", 1, worker_processes)

        request = request_for(requested_by="kill test")
        ids = [d.device_id for d in fleet.devices]
        topic = kafka_namespace.topic("drift-events")
        async with AuditClient(client_settings) as client:
            await client.publish(request)
            before = await read_topic(
                kafka_broker.bootstrap,
                topic,
                partitions=4,
                until=lambda m: len(drift_events(m, request.audit_id)) >= 6,
                timeout_s=60,
            )
            first.kill()
            reported_before_kill = {e.device_id for e in drift_events(before, request.audit_id)}
            assert 6 <= len(reported_before_kill) < len(ids), "the kill did not land mid-audit"

            second = WorkerProcess(env, tmp_path / "worker-2.log", web_port=free_port())
            worker_processes.append(second.start())
            events = await client.follow(request.audit_id, ids, timeout_s=150)
        assert {e.device_id: e.status.value for e in events} == fleet.expected
        await asyncio.sleep(1.5)  # let the history sink flush
        assert second.stop() == 0, second.log()

    rows = _history_rows(history, request.audit_id, ids)
    missing = [d for d, r in rows.items() if not r]
    assert not missing, f"devices missing from history: {missing}"
    twice = [d for d, r in rows.items() if len(r) > 1]
    assert not twice, f"devices stored twice: {twice}"
    assert {d: r[0]["status"] for d, r in rows.items()} == fleet.expected
