"""Latest result wins whole: a replayed (audit, device) replaces its result and all its lines.

On real chDB (temporary paths). Each test writes one result, replays the same
(audit_id, device_id) with a different outcome, and reads it back through
every query that touches drift lines, before and after background merges
(``OPTIMIZE ... FINAL``), so neither the ``FINAL`` read nor a merge can bring
an old line back.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from driftaudit.adapters.history.clickhouse import ClickHouseHistory, open_history, result_id
from driftaudit.adapters.history.schema import MIGRATIONS, apply_migrations
from driftaudit.domain.models import DeviceStatus, DriftEvent
from tests.plugins.history import T0, make_event

pytestmark = pytest.mark.integration

SINCE = T0 - timedelta(days=1)
THREE = (
    (" shutdown", ("interface Gi0/1",)),
    (" description uplink", ("interface Gi0/1",)),
    ("neighbor 10.0.0.2 remote-as 65001", ("router bgp 65000",)),
)
ONE = ((" shutdown", ("interface Gi0/1",)),)


def _optimize(store: ClickHouseHistory) -> None:
    client = store._ensure_client()
    for table in ("device_results", "drift_lines"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")


def _lines(store: ClickHouseHistory, device_id: str = "r1", audit_id: str = "audit-1") -> list[str]:
    return [f"{row['change']}:{row['line']}" for row in store.result_lines(device_id, audit_id)]


def _sections(store: ClickHouseHistory) -> dict[str, int]:
    return {row["section"]: row["lines"] for row in store.most_drifted_sections(limit=50, since=SINCE)}


def _replay(event: DriftEvent, **changes: object) -> DriftEvent:
    """The same (audit, device) fetched again a minute later, with other findings."""
    return make_event(event.device_id, event.audit_id, at=T0 + timedelta(minutes=1), **changes)  # type: ignore[arg-type]


def test_a_replay_with_fewer_lines_leaves_only_the_new_lines(history_store: ClickHouseHistory) -> None:
    first = make_event("r1", "audit-1", added=THREE, removed=(("ntp server 10.0.0.1", ()),))
    history_store.write_events([first])
    assert len(_lines(history_store)) == 4
    assert _sections(history_store) == {"interface Gi0/1": 2, "router bgp 65000": 1, "(top level)": 1}

    history_store.write_events([_replay(first, added=ONE, removed=())])
    for _ in range(2):  # as read with FINAL, then after every part is merged
        assert _lines(history_store) == ["added: shutdown"]
        assert _sections(history_store) == {"interface Gi0/1": 1}
        (timeline,) = history_store.device_timeline("r1")
        assert (timeline["added_count"], timeline["removed_count"]) == (1, 0)
        _optimize(history_store)


def test_a_compliant_rerun_leaves_no_drift_lines(history_store: ClickHouseHistory) -> None:
    first = make_event("r1", "audit-1", added=THREE)
    other = make_event("r2", "audit-1", added=ONE)
    history_store.write_events([first, other])
    history_store.write_events([_replay(first, status=DeviceStatus.COMPLIANT)])
    for _ in range(2):
        assert _lines(history_store) == []
        assert _lines(history_store, "r2") == ["added: shutdown", "removed:ntp server 10.0.0.1"]
        assert _sections(history_store) == {"interface Gi0/1": 1, "(top level)": 1}
        assert [row["status"] for row in history_store.device_timeline("r1")] == ["compliant"]
        _optimize(history_store)


def test_replaying_the_older_result_again_brings_back_exactly_its_lines(
    history_store: ClickHouseHistory,
) -> None:
    first = make_event("r1", "audit-1", added=THREE)
    second = _replay(first, added=ONE, removed=())
    history_store.write_events([first])
    history_store.write_events([second])
    history_store.write_events([first])  # a stale copy re-delivered last: it is the latest write
    _optimize(history_store)
    assert sorted(_lines(history_store)) == sorted(
        [f"added:{line}" for line, _ in THREE] + ["removed:ntp server 10.0.0.1"]
    )


def test_duplicate_and_concurrent_writes_stay_one_result(history_dsn: str) -> None:
    """Two stores on one path (one process), writing from threads at once."""
    first = make_event("r1", "audit-1", added=THREE)
    replay = _replay(first, added=ONE, removed=())
    assert result_id(first) == result_id(first.model_copy())
    assert result_id(first) != result_id(replay)
    with open_history(history_dsn) as one, open_history(history_dsn) as two:
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def write(store: ClickHouseHistory, event: DriftEvent) -> None:
            try:
                barrier.wait(timeout=10)
                for _ in range(5):
                    store.write_events([event])
            except BaseException as exc:  # noqa: BLE001 - reported by the assert below
                errors.append(exc)

        threads = [
            threading.Thread(target=write, args=(store, event))
            for store in (one, two)
            for event in (first, replay)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        for _ in range(2):
            (result,) = one.device_timeline("r1")
            lines = _lines(one)
            expected = (result["added_count"], result["removed_count"])
            assert (
                sum(line.startswith("added:") for line in lines),
                sum(line.startswith("removed:") for line in lines),
            ) == expected
            assert expected in ((3, 1), (1, 0))
            assert sum(_sections(one).values()) == len(lines)
            _optimize(one)


def test_rows_written_before_the_migration_keep_their_lines_and_are_replaced_whole(
    history_dsn: str,
) -> None:
    """A store made by the schema of before (migrations 1-2) is upgraded in place."""
    with open_history(history_dsn) as store:
        client = store._ensure_client()
        client.command("CREATE DATABASE IF NOT EXISTS legacy")
        client.database = "legacy"
        apply_migrations(client, ttl_days=365, migrations=MIGRATIONS[:2])
        client.command(
            "INSERT INTO device_results (audit_id, device_id, status, tenant, added_count, requested_at,"
            " observed_at) VALUES ('audit-1', 'r1', 'drifted', 'acme', 2, now64(3), now64(3))"
        )
        client.command(
            "INSERT INTO drift_lines (audit_id, device_id, tenant, change, line_no, section, line,"
            " requested_at, observed_at) VALUES"
            " ('audit-1', 'r1', 'acme', 'added', 0, 's', 'old one', now64(3), now64(3)),"
            " ('audit-1', 'r1', 'acme', 'added', 1, 's', 'old two', now64(3), now64(3))"
        )
    with open_history(f"{history_dsn}?database=legacy") as upgraded:
        assert _lines(upgraded) == ["added:old one", "added:old two"]
        upgraded.write_events([make_event("r1", "audit-1", status=DeviceStatus.COMPLIANT)])
        _optimize(upgraded)
        assert _lines(upgraded) == []
