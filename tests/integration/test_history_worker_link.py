"""The state file beside an embedded store and the reader that asks the owning worker.

Real parts: chDB on temporary paths, a second process holding the store, a
closed loopback port, a finished process's pid. (The full path, a running
worker answering the history CLI and the API, is in ``test_worker_ops.py``.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from driftaudit.adapters.history.clickhouse import WORKER_STATE_FILE, chdb_dsn, open_history, parse_dsn
from driftaudit.adapters.history.worker_link import WorkerHistory, find_worker, open_history_reader
from driftaudit.domain.errors import StoreLockedError, StoreUnavailableError
from driftaudit.settings import Settings

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_state_file_names_the_holder_only_while_it_holds_the_store(tmp_path: Path) -> None:
    dsn = chdb_dsn(tmp_path / "history")
    target = parse_dsn(dsn)
    state = tmp_path / "history" / WORKER_STATE_FILE
    store = open_history(dsn, connect=False)
    store.advertise("http://127.0.0.1:7000")
    assert not state.exists()  # not holding the store yet
    store.connect()
    assert json.loads(state.read_text()) == {"url": "http://127.0.0.1:7000", "pid": os.getpid()}
    assert find_worker(target) == "http://127.0.0.1:7000"
    store.close()
    assert not state.exists()
    assert find_worker(target) is None


def test_a_state_file_left_by_a_dead_worker_is_ignored(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(finished.stdout)
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / WORKER_STATE_FILE).write_text(json.dumps({"url": "http://x:1", "pid": dead_pid}))
    assert find_worker(parse_dsn(chdb_dsn(tmp_path / "history"))) is None
    (tmp_path / "history" / WORKER_STATE_FILE).write_text("not json")
    assert find_worker(parse_dsn(chdb_dsn(tmp_path / "history"))) is None


def test_a_store_held_by_a_process_that_advertises_nothing_says_what_to_do(
    history_dsn: str, store_holder
) -> None:
    store_holder(history_dsn)
    with pytest.raises(StoreLockedError, match="no running worker advertises it") as info:
        open_history_reader(Settings(clickhouse_dsn=history_dsn))
    assert "ClickHouse server" in str(info.value)


def test_an_unreachable_worker_is_a_store_unavailable_error_without_the_token() -> None:
    reader = WorkerHistory(f"http://127.0.0.1:{_closed_port()}", token=SecretStr("tok-en-123"), timeout_s=2)
    with reader, pytest.raises(StoreUnavailableError, match="cannot be reached") as info:
        reader.device_timeline("r1")
    assert "tok-en-123" not in str(info.value)
    assert "tok-en-123" not in repr(reader)
