"""Running ``driftaudit worker`` as an operator does: faults at start, several workers per host.

Workers are real subprocesses on the real adapters and the device simulator,
on the session broker. Faults are real: the chDB path held by another process
(:class:`tests.plugins.history.StoreHolder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from driftaudit.adapters.history.clickhouse import WORKER_STATE_FILE, chdb_dsn, open_history
from driftaudit.cli import app as cli_app
from driftaudit.cli.api_cmd import build_api
from driftaudit.cli.audit_cmd import request_for
from driftaudit.settings import Settings
from driftaudit.streams.client import AuditClient, ensure_topics
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.history import make_event
from tests.plugins.streams import WorkerProcess, simulated_fleet, wait_for_group, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]


def _client_settings(env: dict[str, str]) -> Settings:
    return Settings(
        kafka_broker=env["DRIFTAUDIT_KAFKA_BROKER"],
        topic_prefix=env["DRIFTAUDIT_TOPIC_PREFIX"],
        topic_partitions=int(env["DRIFTAUDIT_TOPIC_PARTITIONS"]),
    )


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
        await wait_for_group(kafka_broker.bootstrap, kafka_namespace.app_id, 1, worker_processes)
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


TOKEN = "worker-views-test-token"
_URL = re.compile(r"worker web views at (http://\S+)")


async def _web_url(worker: WorkerProcess) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert worker.alive, worker.log()
        found = _URL.search(worker.log_path.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found.group(1)
        await asyncio.sleep(0.2)
    raise AssertionError(f"the worker never printed its web URL:\n{worker.log()}")


async def _get(url: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(100):
            try:
                return await http.get(url, headers=headers)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@contextlib.contextmanager
def _served(app: object) -> Iterator[str]:
    """The API under uvicorn on a free loopback port, in a thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the API server died at start"
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _state_url(history: Path) -> str | None:
    path = history / WORKER_STATE_FILE
    return json.loads(path.read_text())["url"] if path.exists() else None


async def _wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_two_workers_on_one_host_both_run_and_history_is_read_through_the_owner(
    kafka_broker, kafka_namespace, tmp_path: Path, worker_processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same environment twice: the default web port, one embedded store."""
    history = tmp_path / "history"
    with simulated_fleet(tmp_path / "fleet", n=4, drifted=1, unreachable=0) as fleet:
        device = fleet.devices[0].device_id
        with open_history(chdb_dsn(history)) as store:  # a result from an earlier audit
            store.write_events([make_event(device, "earlier-audit", tenant=fleet.devices[0].tenant)])
        env = worker_env(fleet, kafka_broker.bootstrap, kafka_namespace, history, DRIFTAUDIT_API_TOKEN=TOKEN)
        await ensure_topics(_client_settings(env))
        first = WorkerProcess(env, tmp_path / "worker-1.log", web_port=None)
        worker_processes.append(first.start())
        first_url = await _web_url(first)
        await _wait_for(lambda: _state_url(history) == first_url, "the owner's state file")
        # the port is chosen before the web server binds it: two workers started in the same
        # instant can both pick it (the second then fails to bind, with the address in the error)
        await _get(f"{first_url}/fleet/score", TOKEN)
        second = WorkerProcess(env, tmp_path / "worker-2.log", web_port=None)
        worker_processes.append(second.start())
        second_url = await _web_url(second)
        assert first_url != second_url
        await wait_for_group(kafka_broker.bootstrap, kafka_namespace.app_id, 2, worker_processes)

        for url in (first_url, second_url):
            assert (await _get(f"{url}/fleet/score")).status_code == 401
            assert (await _get(f"{url}/fleet/score", "wrong-token")).status_code == 401
            assert (await _get(f"{url}/fleet/score", TOKEN)).status_code == 200
        assert (await _get(f"{first_url}/history/latest")).status_code == 401
        assert (await _get(f"{first_url}/history/devices/{device}?limit=abc", TOKEN)).status_code == 400
        assert (await _get(f"{first_url}/history/drift-by/colour", TOKEN)).status_code == 400
        waiting = await _get(f"{second_url}/history/latest", TOKEN)  # it does not hold the store
        assert waiting.status_code == 503
        assert "owns the history store" in waiting.json()["error"]
        assert _state_url(history) == first_url  # the waiting worker never claims the store
        log = second.log_path.read_text(encoding="utf-8", errors="replace")
        assert log.count("is unavailable, retrying") == 1, log[-4000:]
        assert f"owns the history store at {history}" in log
        assert f"(the worker at {first_url}, pid {first.process.pid})" in log  # type: ignore[union-attr]

        # the history command and the API, beside the running owner, read through it
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(cli_app, ["history", "device", device, "--json"])
        assert result.exit_code == 0, result.output
        assert [row["audit_id"] for row in json.loads(result.output)] == ["earlier-audit"]
        with _served(build_api(Settings())) as base:
            answer = await _get(f"{base}/v1/devices/{device}/history", TOKEN)
            assert answer.status_code == 200, answer.text
            assert [row["audit_id"] for row in answer.json()["results"]] == ["earlier-audit"]
            score = (await _get(f"{base}/v1/fleet/score", TOKEN)).json()
            assert score["fleet"]["drifted"] == 1, score

        # the owner stops: the waiting worker takes the store over and advertises itself
        assert first.stop() == 0, first.log()
        await _wait_for(lambda: _state_url(history) == second_url, "the new owner's state file")
        assert second.alive

        def taken_over() -> bool:
            return "is available again" in second.log_path.read_text(encoding="utf-8", errors="replace")

        await _wait_for(taken_over, "the waiting worker to log that it has the store")
        result = CliRunner().invoke(cli_app, ["history", "device", device, "--json"])
        assert result.exit_code == 0, result.output
        assert second.stop() == 0, second.log()
    assert not (history / WORKER_STATE_FILE).exists()


_HASH = re.compile(r"\$1\$[./0-9A-Za-z]{4,8}\$[./0-9A-Za-z]{22}")


def _known_values(fleet_env: dict[str, str]) -> tuple[list[str], list[str]]:
    """(secrets, config lines) of the fleet: device passwords and hashes, distinctive config lines."""
    credentials = yaml.safe_load(Path(fleet_env["DRIFTAUDIT_CREDENTIALS_PATH"]).read_text())["credentials"]
    secrets = [entry["password"] for entry in credentials.values() if entry.get("password")]
    lines: list[str] = []
    for config in Path(fleet_env["DRIFTAUDIT_INTENDED_DIR"]).glob("*.cfg"):
        text = config.read_text()
        secrets.extend(_HASH.findall(text))
        lines.extend(
            line.strip() for line in text.splitlines() if len(line.strip()) > 30 and not _HASH.search(line)
        )
    return secrets, lines[:200]


@pytest.mark.parametrize("loglevel", ["debug", "info"])
async def test_worker_logs_one_line_per_audit_and_never_a_payload_or_secret(
    kafka_broker, kafka_namespace, tmp_path: Path, worker_processes, loglevel: str
) -> None:
    with simulated_fleet(tmp_path / "fleet", n=6, drifted=2, unreachable=1) as fleet:
        secrets, config_lines = _known_values(fleet.env)
        assert secrets
        assert config_lines
        env = worker_env(fleet, kafka_broker.bootstrap, kafka_namespace, tmp_path / "history")
        client_settings = _client_settings(env)
        await ensure_topics(client_settings)
        worker = WorkerProcess(env, tmp_path / "worker.log", web_port=free_port(), loglevel=loglevel)
        worker_processes.append(worker.start())
        await wait_for_group(kafka_broker.bootstrap, kafka_namespace.app_id, 1, worker_processes)
        marker = f"payload-marker-{kafka_namespace.app_id}"
        request = request_for(requested_by=marker)
        ids = [d.device_id for d in fleet.devices]
        async with AuditClient(client_settings) as client:
            await client.publish(request)
            events = await client.follow(request.audit_id, ids, timeout_s=120)
        assert {e.device_id: e.status.value for e in events} == fleet.expected
        await asyncio.sleep(1.0)
        assert worker.stop() == 0, worker.log()

    log = worker.log_path.read_text(encoding="utf-8", errors="replace")
    assert log.count(f"audit {request.audit_id}: {len(ids)} devices to fetch") == 1, log[-3000:]
    assert "HTTP Request:" not in log  # httpx's line per device request
    unreachable = [d for d, status in fleet.expected.items() if status == "unreachable"]
    for device_id in unreachable:  # one line per problem
        assert log.count(f"device {device_id}: fetch failed") == 1, log[-3000:]
    assert marker not in log  # the audit request's payload
    assert request.audit_id not in log.replace(f"audit {request.audit_id}: {len(ids)} devices to fetch", "")
    leaked = [s for s in secrets if s in log]
    assert not leaked, f"secrets in the {loglevel} log: {leaked}"
    printed = [line for line in config_lines if line in log]
    assert not printed, f"config lines in the {loglevel} log: {printed[:5]}"
    if loglevel == "debug":
        assert "[DEBUG]" in log or " DEBUG " in log or "debug" in log.lower(), log[:2000]


async def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def test_a_pre_existing_audit_requests_topic_with_another_partition_count_is_used(
    kafka_broker, kafka_namespace, tmp_path: Path, worker_processes
) -> None:
    """A producer published first and the broker made the topic with 1 partition, not 4."""
    await _create_topic(kafka_broker.bootstrap, kafka_namespace.topic("audit-requests"), 1)
    with simulated_fleet(tmp_path / "fleet", n=5, drifted=1, unreachable=1) as fleet:
        env = worker_env(fleet, kafka_broker.bootstrap, kafka_namespace, tmp_path / "history")
        request = request_for(requested_by="published before any worker")
        ids = [d.device_id for d in fleet.devices]
        async with AuditClient(_client_settings(env)) as client:
            await client.publish(request)
            worker = WorkerProcess(env, tmp_path / "worker.log", web_port=free_port())
            worker_processes.append(worker.start())
            events = await client.follow(request.audit_id, ids, timeout_s=90)
        assert {e.device_id: e.status.value for e in events} == fleet.expected
        assert worker.stop() == 0, worker.log()
    log = worker.log_path.read_text(encoding="utf-8", errors="replace")
    assert f"topic {kafka_namespace.topic('audit-requests')} already exists with 1 partitions" in log


async def test_a_score_topic_with_another_partition_count_is_refused_at_once_with_the_fix(
    kafka_broker, kafka_namespace, tmp_path: Path, worker_processes
) -> None:
    await _create_topic(kafka_broker.bootstrap, kafka_namespace.topic("score-input"), 1)
    with simulated_fleet(tmp_path / "fleet", n=2, drifted=0, unreachable=0) as fleet:
        env = worker_env(fleet, kafka_broker.bootstrap, kafka_namespace, tmp_path / "history")
        worker = WorkerProcess(env, tmp_path / "worker.log", web_port=free_port())
        worker_processes.append(worker.start())
        assert worker.process is not None
        started = time.monotonic()
        code = await asyncio.to_thread(worker.process.wait, 30)
        print(f"refused after {time.monotonic() - started:.1f} s")
    assert code == 2
    log = worker.log_path.read_text(encoding="utf-8", errors="replace")
    assert "set DRIFTAUDIT_TOPIC_PARTITIONS=1" in log, log
    assert f"kafka-topics.sh --delete --topic {kafka_namespace.topic('score-input')}" in log
