"""A history store that is down when its process starts: retried in the background, logged once.

Real faults, no mocks: a chDB path another process holds (chDB allows one
process per path, the flock decides it), a path that cannot be created (a
regular file where its parent directory should be), and a store on a tiny
tmpfs that is filled up. Each test then removes
the fault and expects the store to come up on its own and take writes.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftaudit.adapters.history.clickhouse import ClickHouseHistory, chdb_dsn, open_history
from driftaudit.adapters.history.sink import BatchingHistorySink
from driftaudit.domain.errors import StoreLockedError, StoreUnavailableError
from driftaudit.settings import Settings, default_history_dir, default_history_dsn
from tests.plugins.history import make_event

pytestmark = pytest.mark.integration

_LOGGER = "driftaudit.adapters.history.clickhouse"


def _wait_available(store: ClickHouseHistory, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not store.available:
        assert time.monotonic() < deadline, "the store never came back"
        time.sleep(0.05)


def _store_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == _LOGGER and r.levelno == level]


def test_a_path_that_cannot_be_created_is_retried_and_used_once_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the store's parent directory should be")
    caplog.set_level(logging.DEBUG, logger=_LOGGER)
    store = open_history(chdb_dsn(blocker / "history"), connect=False)
    try:
        store.connect_in_background(initial_backoff_s=0.05, max_backoff_s=0.1)
        for _ in range(5):
            with pytest.raises(StoreUnavailableError, match="cannot open the history store"):
                store.write_events([make_event("r1", "a1")])
            time.sleep(0.1)
        assert not store.available
        (warning,) = _store_lines(caplog, logging.WARNING)  # many attempts, one line
        assert "unavailable" in warning
        assert "Not a directory" in warning

        blocker.unlink()
        blocker.mkdir()
        _wait_available(store)
        store.write_events([make_event("r1", "a1")])
        assert [row["device_id"] for row in store.latest_status()] == ["r1"]
        assert _store_lines(caplog, logging.WARNING)[1:] == [
            f"history store {store.target.describe()} is available again"
        ]
    finally:
        store.close()


def test_a_path_held_by_another_process_is_taken_when_it_is_released(
    history_dsn: str, store_holder, caplog: pytest.LogCaptureFixture
) -> None:
    holder = store_holder(history_dsn)
    caplog.set_level(logging.INFO, logger=_LOGGER)
    store = open_history(history_dsn, connect=False)
    try:
        store.connect_in_background(initial_backoff_s=0.05, max_backoff_s=0.2)
        with pytest.raises(StoreLockedError):
            store.write_events([make_event("r1", "a1")])
        time.sleep(1.0)  # several background attempts
        assert len(_store_lines(caplog, logging.WARNING)) == 1
        assert not store.available

        holder.release()
        _wait_available(store)
        store.write_events([make_event("r1", "a1")])
        assert store.device_timeline("r1")[0]["audit_id"] == "a1"
        assert len(_store_lines(caplog, logging.WARNING)) == 2
    finally:
        store.close()


def test_closing_stops_the_background_attempts(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = open_history(chdb_dsn(blocker / "history"), connect=False)
    store.connect_in_background(initial_backoff_s=0.05, max_backoff_s=0.05)
    store.close()
    blocker.unlink()
    blocker.mkdir()
    time.sleep(0.3)
    assert not (blocker / "history").exists()
    assert not store.available


def test_the_default_store_path_is_absolute_and_per_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTAUDIT_CLICKHOUSE_DSN", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert default_history_dir() == tmp_path / "xdg" / "driftaudit" / "history"
    assert Settings().clickhouse_dsn == default_history_dsn() == f"chdb:///{tmp_path}/xdg/driftaudit/history"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Settings().clickhouse_dsn == f"chdb:///{tmp_path}/xdg/driftaudit/history"

    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_history_dir() == tmp_path / "home" / ".local" / "share" / "driftaudit" / "history"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_history_dir().is_absolute()


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs of its own (needs root; the test says so instead of pretending)."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
        except OSError:
            pass
    return filler


async def test_a_full_store_is_retried_and_written_once_space_is_freed(
    tiny_filesystem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=_LOGGER)
    store = open_history(chdb_dsn(tiny_filesystem / "history"), connect=False)
    store.connect_in_background()
    _wait_available(store)
    big = tuple((f" description line {n} " + "x" * 200, ("interface Gi0/1",)) for n in range(3000))
    filler = _fill(tiny_filesystem)
    try:
        with pytest.raises(StoreUnavailableError, match="full"):
            store.write_events([make_event("r1", "a1", added=big)])
        sink = BatchingHistorySink(store, initial_backoff_s=0.05, max_backoff_s=0.2)
        await sink.add(make_event("r2", "a1", added=big))
        flushing = asyncio.create_task(sink.flush())
        await asyncio.sleep(1.0)
        assert not flushing.done()  # retrying, not dropped, not failed
        assert sink.retries >= 2
        filler.unlink()
        assert await asyncio.wait_for(flushing, 30) == 1
        assert [row["device_id"] for row in store.latest_status()] == ["r2"]
        assert len(store.result_lines("r2", "a1")) == 3001  # 3000 added, the default removed line
        warnings = _store_lines(caplog, logging.WARNING)
        assert len(warnings) == 2, warnings  # unavailable (full) once, available again once
        assert "full" in warnings[0]
    finally:
        filler.unlink(missing_ok=True)
        store.close()
