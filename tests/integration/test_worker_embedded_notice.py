"""A worker on a private embedded broker says so loudly; the sim's env file names what it lacks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftaudit.adapters.history.clickhouse import chdb_dsn
from driftaudit.cli.sim import ENV_FILE
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.streams import FleetUnderTest, WorkerProcess

pytestmark = pytest.mark.integration


def test_a_worker_on_its_own_embedded_broker_says_so_at_the_default_log_level(
    small_fleet: FleetUnderTest, tmp_path: Path, worker_processes: list[WorkerProcess]
) -> None:
    env = dict(small_fleet.env)
    env["DRIFTAUDIT_CLICKHOUSE_DSN"] = chdb_dsn(tmp_path / "history")
    assert "DRIFTAUDIT_KAFKA_BROKER" not in env
    worker = WorkerProcess(env, tmp_path / "worker.log", web_port=free_port()).start()
    worker_processes.append(worker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "DRIFTAUDIT_KAFKA_BROKER is not set" not in worker.log():
        assert worker.alive, worker.log()
        time.sleep(0.2)
    log = worker.log()
    assert "DRIFTAUDIT_KAFKA_BROKER is not set: this worker started its own in-memory broker" in log
    assert "set DRIFTAUDIT_KAFKA_BROKER=host:port" in log


def test_the_simulators_env_file_names_the_settings_it_cannot_know(small_fleet: FleetUnderTest) -> None:
    env_file = Path(small_fleet.env["DRIFTAUDIT_INVENTORY_PATH"]).parent / ENV_FILE
    text = env_file.read_text(encoding="utf-8")
    assert "# DRIFTAUDIT_KAFKA_BROKER=" in text
    assert "# DRIFTAUDIT_CLICKHOUSE_DSN=chdb:///" in text
    for line in text.splitlines():  # every non-comment line is still a plain KEY=value
        assert line.startswith("#") or (line.startswith("DRIFTAUDIT_") and "=" in line)
