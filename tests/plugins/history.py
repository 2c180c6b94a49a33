"""Pytest fixtures for the history tests (loaded from tests/conftest.py).

chDB hosts one engine per process, but a process may open another path once
every client of the previous one is closed; so each test gets its own store
on its own temporary path, and closes it. Restart and lock tests use a real
second process (:class:`StoreHolder`).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftaudit.adapters.history.clickhouse import ClickHouseHistory, chdb_dsn, open_history
from driftaudit.domain.models import ChangeType, DeviceStatus, DriftEvent, DriftLine, Platform

#: a recent whole hour, so rows stay inside the TTL of the test stores
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)

_HOLDER = textwrap.dedent(
    """
    import sys
    from driftaudit.adapters.history.clickhouse import open_history
    store = open_history(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    store.close()
    """
)


class StoreHolder:
    """A second process that owns a chDB store until :meth:`release`."""

    def __init__(self, dsn: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, dsn],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.release()
            raise RuntimeError(f"store holder did not start: {line!r}")

    def release(self) -> None:
        """Close the store in the other process and wait for it to exit."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def history_dsn(tmp_path: Path) -> str:
    """A chDB DSN on a fresh temporary path."""
    return chdb_dsn(tmp_path / "history")


@pytest.fixture
def history_store(history_dsn: str) -> Iterator[ClickHouseHistory]:
    """An open chDB history on a temporary path, closed after the test."""
    store = open_history(history_dsn, ttl_days=365)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def store_holder() -> Iterator[Callable[[str], StoreHolder]]:
    """Start processes that hold a store; every one is released after the test."""
    holders: list[StoreHolder] = []

    def start(dsn: str) -> StoreHolder:
        holder = StoreHolder(dsn)
        holders.append(holder)
        return holder

    yield start
    for holder in holders:
        holder.release()


def make_event(
    device_id: str = "r1",
    audit_id: str = "audit-1",
    *,
    status: DeviceStatus = DeviceStatus.DRIFTED,
    at: datetime = T0,
    tenant: str = "acme",
    site: str = "par1",
    role: str = "core",
    platform: Platform = Platform.IOS,
    added: tuple[tuple[str, tuple[str, ...]], ...] = ((" shutdown", ("interface Gi0/1",)),),
    removed: tuple[tuple[str, tuple[str, ...]], ...] = (("ntp server 10.0.0.1", ()),),
    **overrides: Any,
) -> DriftEvent:
    """A drift event; ``added``/``removed`` are (line, path) pairs, ignored unless drifted."""
    drifted = status is DeviceStatus.DRIFTED
    return DriftEvent(
        audit_id=audit_id,
        device_id=device_id,
        tenant=tenant,
        site=site,
        role=role,
        platform=platform,
        status=status,
        added=tuple(DriftLine(change=ChangeType.ADDED, line=line, path=path) for line, path in added)
        if drifted
        else (),
        removed=tuple(DriftLine(change=ChangeType.REMOVED, line=line, path=path) for line, path in removed)
        if drifted
        else (),
        unified_diff="--- intended\n+++ actual\n+ shutdown\n" if drifted else "",
        actual_hash="a" * 8,
        intended_hash="i" * 8,
        requested_at=at - timedelta(seconds=5),
        observed_at=at,
        fetch_ms=12.5,
        analyze_ms=1.5,
        **overrides,
    )


# ---- Grafana: the plugin's macros and variable interpolation ----------------

GRAFANA_INTERVAL_S = 300
_MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def _datetime(ts: datetime) -> str:
    return f"toDateTime({int(ts.timestamp())})"


def _datetime64(ts: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(ts.timestamp() * 1000)})"


def expand_macros(sql: str, start: datetime, end: datetime, interval_s: int = GRAFANA_INTERVAL_S) -> str:
    """The plugin's macros, with the same output SQL (unknown macros raise)."""

    def replace(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2)
        column = (args or "").strip()
        expansions = {
            "timeFilter": lambda: f"{column} >= {_datetime(start)} AND {column} <= {_datetime(end)}",
            "timeFilter_ms": lambda: f"{column} >= {_datetime64(start)} AND {column} <= {_datetime64(end)}",
            "dateFilter": lambda: (
                f"{column} >= toDate('{start:%Y-%m-%d}') AND {column} <= toDate('{end:%Y-%m-%d}')"
            ),
            "fromTime": lambda: _datetime(start),
            "toTime": lambda: _datetime(end),
            "fromTime_ms": lambda: _datetime64(start),
            "toTime_ms": lambda: _datetime64(end),
            "timeInterval": lambda: f"toStartOfInterval(toDateTime({column}), INTERVAL {interval_s} second)",
            "timeInterval_ms": lambda: (
                f"toStartOfInterval(toDateTime64({column}, 3), INTERVAL {interval_s * 1000} millisecond)"
            ),
            "interval_s": lambda: str(interval_s),
        }
        if name not in expansions:
            raise AssertionError(f"unknown Grafana macro $__{name}")
        return expansions[name]()

    return _MACRO.sub(replace, sql)


def substitute_variables(sql: str, values: dict[str, list[str]]) -> str:
    """Grafana's variable interpolation for the formats the dashboards use."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2) or "singlequote"
        if name not in values:
            raise AssertionError(f"undefined dashboard variable ${name}")
        if fmt != "singlequote":
            raise AssertionError(f"unsupported variable format {fmt}")
        return ",".join("'" + value.replace("'", "\\'") + "'" for value in values[name])

    return _VARIABLE.sub(replace, sql)
