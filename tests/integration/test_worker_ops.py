"""Running ``driftaudit worker`` as an operator does: faults at start, several workers per host.

Workers are real subprocesses on the real adapters and the device simulator,
on the session broker. Faults are real: the chDB path held by another process
(:class:`tests.plugins.history.StoreHolder`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from driftaudit.adapters.history.clickhouse import chdb_dsn, open_history
from driftaudit.cli.audit_cmd import request_for
from driftaudit.settings import Settings
from driftaudit.streams.client import AuditClient, ensure_topics
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.streams import WorkerProcess, group_members, simulated_fleet, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]


def _client_settings(env: dict[str, str]) -> Settings:
    return Settings(
        kafka_broker=env["DRIFTAUDIT_KAFKA_BROKER"],
        topic_prefix=env["DRIFTAUDIT_TOPIC_PREFIX"],
        topic_partitions=int(env["DRIFTAUDIT_TOPIC_PARTITIONS"]),
    )


async def _wait_for_members(bootstrap: str, group: str, members: int, workers: list[WorkerProcess]) -> None:
    deadline = time.monotonic() + 90
    state = ("", 0)
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.alive, f"worker died:\n{worker.log()}"
        try:
            state = await group_members(bootstrap, group)
        except Exception:  # noqa: BLE001 - the group does not exist before the first join
            state = ("", 0)
        if state == ("Stable", members):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"group {group} never became stable with {members} members: {state}")


async def test_a_worker_starts_with_the_store_down_and_writes_history_once_it_is_back(
    kafka_broker, kafka_namespace, tmp_path: Path, worker_processes, store_holder
) -> None:
    history = tmp_path / "history"
    holder = store_holder(chdb_dsn(history))  # another process owns the embedded store
    with simulated_fleet(tmp_path / "fleet", n=8, drifted=2, unreachable=1) as fleet:
        env = worker_env(fleet, kafka_broker.bootstrap, kafka_namespace, history)
        client_settings = _client_settings(env)
        await ensure_topics(client_settings)
        worker = WorkerProcess(env, tmp_path / "worker.log", web_port=free_port())
        worker_processes.append(worker.start())
        await _wait_for_members(kafka_broker.bootstrap, kafka_namespace.app_id, 1, worker_processes)
        await asyncio.sleep(3.0)  # several connect attempts in the background
        assert worker.alive, worker.log()

        request = request_for(requested_by="store down at start")
        ids = [d.device_id for d in fleet.devices]
        async with AuditClient(client_settings) as client:
            await client.publish(request)
            await asyncio.sleep(2.0)
            holder.release()  # the store comes back mid-audit
            events = await client.follow(request.audit_id, ids, timeout_s=120)
        assert {e.device_id: e.status.value for e in events} == fleet.expected
        await asyncio.sleep(1.5)  # let the history sink flush
        assert worker.stop() == 0, worker.log()

    log = worker.log_path.read_text(encoding="utf-8", errors="replace")
    assert log.count("is unavailable, retrying") == 1, log[-4000:]
    assert log.count("is available again") == 1, log[-4000:]
    with open_history(chdb_dsn(history)) as store:
        assert store.audit_run(request.audit_id) is not None
        for device_id, status in fleet.expected.items():
            rows = [r for r in store.device_timeline(device_id) if r["audit_id"] == request.audit_id]
            assert [r["status"] for r in rows] == [status], device_id
