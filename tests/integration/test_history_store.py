"""ClickHouseHistory on real chDB (temporary paths) and a closed HTTP port."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest

from driftaudit.adapters.history.clickhouse import (
    ClickHouseHistory,
    chdb_dsn,
    open_history,
    parse_dsn,
)
from driftaudit.adapters.history.schema import MIGRATIONS, apply_migrations
from driftaudit.domain.errors import (
    ConfigurationError,
    HistoryError,
    StoreLockedError,
    StoreUnavailableError,
)
from driftaudit.domain.models import AuditRun, DeviceSelector, DeviceStatus, FleetScore, Platform
from tests.plugins.history import T0, make_event

pytestmark = pytest.mark.integration


def _rows(store: ClickHouseHistory, sql: str) -> list[tuple[object, ...]]:
    client = store._ensure_client()
    return [tuple(row) for row in client.query(sql).result_rows]


# ---- DSN ---------------------------------------------------------------


def test_chdb_dsn_relative_path_resolves_against_cwd(tmp_path: Path) -> None:
    target = parse_dsn("chdb:///.driftaudit/history", cwd=tmp_path)
    assert target.kind == "chdb"
    assert target.path == (tmp_path / ".driftaudit" / "history").resolve()


def test_chdb_dsn_absolute_path_and_helper_round_trip(tmp_path: Path) -> None:
    assert parse_dsn(f"chdb:///{tmp_path}/h").path == (tmp_path / "h").resolve()
    assert parse_dsn(chdb_dsn(tmp_path / "h")).path == (tmp_path / "h").resolve()
    assert parse_dsn("chdb://memory").path is None


def test_http_dsn_defaults_and_database() -> None:
    target = parse_dsn("http://clickhouse")
    assert (target.kind, target.host, target.port, target.database) == (
        "http",
        "clickhouse",
        8123,
        "driftaudit",
    )
    secure = parse_dsn("https://ch.example:9443/audits")
    assert (secure.secure, secure.port, secure.database) == (True, 9443, "audits")


@pytest.mark.parametrize("dsn", ["clickhouse://u:hunter2@host", "no-scheme", "chdb://", "http://:8123"])
def test_bad_dsn_is_a_configuration_error_without_the_secret(dsn: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_dsn(dsn)
    assert "hunter2" not in str(info.value)


# ---- schema ------------------------------------------------------------


def test_schema_is_created_once_and_reopening_is_idempotent(history_dsn: str) -> None:
    store = open_history(history_dsn)
    versions = _rows(store, "SELECT version FROM schema_migrations ORDER BY version")
    assert [v for (v,) in versions] == [m.version for m in MIGRATIONS]
    tables = {t for (t,) in _rows(store, "SHOW TABLES")}
    assert {"audit_runs", "device_results", "drift_lines", "fleet_scores", "schema_migrations"} <= tables
    assert apply_migrations(store._ensure_client(), ttl_days=365) == []
    store.close()

    again = open_history(history_dsn)
    try:
        versions = _rows(
            again, "SELECT version, count() FROM schema_migrations GROUP BY version ORDER BY version"
        )
        assert versions == [(m.version, 1) for m in MIGRATIONS]
        engines = dict(
            _rows(again, "SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
        )
        assert engines["device_results"] == "ReplacingMergeTree"
    finally:
        again.close()


def test_only_missing_migrations_are_applied(history_store: ClickHouseHistory) -> None:
    client = history_store._ensure_client()
    client.command("CREATE DATABASE IF NOT EXISTS scratch")
    client.database = "scratch"
    assert apply_migrations(client, ttl_days=7, migrations=MIGRATIONS[:1]) == [1]
    assert apply_migrations(client, ttl_days=7) == [m.version for m in MIGRATIONS[1:]]
    assert apply_migrations(client, ttl_days=7) == []
    client.database = "driftaudit"


def test_rows_older_than_the_ttl_are_dropped(history_dsn: str) -> None:
    with open_history(history_dsn, ttl_days=30) as store:
        store.write_events([make_event("fresh", "a1"), make_event("stale", "a0", at=T0 - timedelta(days=45))])
        store._ensure_client().command("OPTIMIZE TABLE device_results FINAL")
        assert [row["device_id"] for row in store.latest_status()] == ["fresh"]


def test_ttl_follows_the_setting_across_restarts(history_dsn: str) -> None:
    open_history(history_dsn, ttl_days=30).close()
    store = open_history(history_dsn, ttl_days=90)
    try:
        engines = _rows(
            store, "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"
        )
        ttl = {name: engine for name, engine in engines if name != "schema_migrations"}
        assert ttl
        assert all("toIntervalDay(90)" in str(engine) for engine in ttl.values())
    finally:
        store.close()


# ---- writes and reads ----------------------------------------------------


def test_redelivered_results_never_show_twice(history_store: ClickHouseHistory) -> None:
    event = make_event("r1", "audit-1")
    history_store.write_events([event, event])
    history_store.write_events([event])
    history_store.write_events([make_event("r1", "audit-1")])

    assert len(history_store.device_timeline("r1")) == 1
    assert len(history_store.latest_status()) == 1
    sections = {
        row["section"]: row for row in history_store.most_drifted_sections(since=T0 - timedelta(days=1))
    }
    assert sections["interface Gi0/1"]["lines"] == 1
    assert sections["(top level)"]["lines"] == 1


def test_device_timeline_is_newest_first_with_the_written_values(history_store: ClickHouseHistory) -> None:
    events = [
        make_event("r1", f"audit-{i}", at=T0 + timedelta(hours=i), status=status)
        for i, status in enumerate([DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED, DeviceStatus.UNREACHABLE])
    ]
    history_store.write_events([*events, make_event("other", "audit-0")])

    timeline = history_store.device_timeline("r1")
    assert [row["audit_id"] for row in timeline] == ["audit-2", "audit-1", "audit-0"]
    drifted = timeline[1]
    assert drifted["status"] == "drifted"
    assert (drifted["added_count"], drifted["removed_count"]) == (1, 1)
    assert drifted["unified_diff"] == events[1].unified_diff
    assert drifted["observed_at"] == T0 + timedelta(hours=1)
    assert drifted["observed_at"].tzinfo is not None
    assert drifted["fetch_ms"] == pytest.approx(12.5)
    assert history_store.device_timeline("r1", limit=1)[0]["audit_id"] == "audit-2"
    assert history_store.device_timeline("nobody") == []


def test_timestamps_are_stored_in_utc(history_store: ClickHouseHistory) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = make_event("tz", "audit-tz", at=T0.astimezone(plus_two))
    assert local.observed_at.tzinfo is UTC  # the wire model normalizes every timestamp to UTC
    history_store.write_events([local])
    assert history_store.device_timeline("tz")[0]["observed_at"] == T0
    assert T0.tzinfo is UTC
    with pytest.raises(ValueError, match="naive datetime"):  # a naive event never reaches the store
        make_event("naive", "audit-tz", at=T0.replace(tzinfo=None))


def test_latest_status_unreachable_and_drift_by(history_store: ClickHouseHistory) -> None:
    history_store.write_events(
        [
            make_event("r1", "a1", at=T0, status=DeviceStatus.COMPLIANT),
            make_event(
                "r1", "a2", at=T0 + timedelta(hours=1), status=DeviceStatus.UNREACHABLE, reason="timeout"
            ),
            make_event(
                "r1", "a3", at=T0 + timedelta(hours=2), status=DeviceStatus.UNREACHABLE, reason="refused"
            ),
            make_event("r2", "a3", at=T0 + timedelta(hours=2), status=DeviceStatus.DRIFTED, site="lon1"),
            make_event(
                "r3", "a3", at=T0 + timedelta(hours=2), status=DeviceStatus.COMPLIANT, platform=Platform.EOS
            ),
            make_event("r4", "a3", at=T0, status=DeviceStatus.ERROR, tenant="globex", reason="bad output"),
            make_event("r5", "a1", at=T0, status=DeviceStatus.UNREACHABLE),
            make_event("r5", "a2", at=T0 + timedelta(hours=1), status=DeviceStatus.COMPLIANT),
        ]
    )
    latest = {row["device_id"]: row for row in history_store.latest_status()}
    assert {d: r["status"] for d, r in latest.items()} == {
        "r1": "unreachable",
        "r2": "drifted",
        "r3": "compliant",
        "r4": "error",
        "r5": "compliant",
    }
    assert latest["r1"]["reason"] == "refused"
    assert latest["r2"]["site"] == "lon1"

    unreachable = history_store.unreachable_devices()
    assert [row["device_id"] for row in unreachable] == ["r1"]
    assert unreachable[0]["unreachable_since"] == T0 + timedelta(hours=1)

    by_tenant = {row["value"]: row for row in history_store.drift_by("tenant")}
    assert by_tenant["acme"]["compliant"] == 2
    assert by_tenant["acme"]["drifted"] == 1
    assert by_tenant["acme"]["unreachable"] == 1
    assert by_tenant["acme"]["score"] == pytest.approx(66.67)
    assert by_tenant["globex"]["score"] is None  # nothing reachable: undefined, not 0
    by_platform = {row["value"]: row["total"] for row in history_store.drift_by("platform")}
    assert by_platform == {"cisco_ios": 4, "arista_eos": 1}
    with pytest.raises(ValueError, match="dimension"):
        history_store.drift_by("status; DROP TABLE device_results")


def test_most_drifted_sections_counts_devices_and_respects_since(history_store: ClickHouseHistory) -> None:
    bgp = (("neighbor 10.0.0.2 remote-as 65001", ("router bgp 65000",)),)
    history_store.write_events(
        [
            make_event("r1", "a1", added=bgp),
            make_event("r2", "a1", added=bgp),
            make_event("r3", "a1", added=((" shutdown", ("interface Gi0/1",)),)),
            make_event("old", "a0", at=T0 - timedelta(days=60), added=((" x", ("line vty 0 4",)),)),
        ]
    )
    sections = history_store.most_drifted_sections(limit=10, since=T0 - timedelta(days=1))
    assert [(row["section"], row["devices"]) for row in sections] == [
        ("(top level)", 3),
        ("router bgp 65000", 2),
        ("interface Gi0/1", 1),
    ]
    assert sections[1]["added"] == 2
    assert sections[1]["removed"] == 0
    assert len(history_store.most_drifted_sections(limit=1, since=T0 - timedelta(days=1))) == 1


def test_scores_and_audit_runs(history_store: ClickHouseHistory) -> None:
    w0, w1 = T0, T0 + timedelta(hours=1)
    history_store.write_scores(
        [
            (w1, FleetScore(tenant="acme", score=50.0, compliant=1, drifted=1)),
            (w0, FleetScore(tenant="acme", score=100.0, compliant=2)),
            (w0, FleetScore(tenant=None, score=None, unreachable=3)),
        ]
    )
    history_store.write_scores(
        [(w1, FleetScore(tenant="acme", score=75.0, compliant=3, drifted=1))]
    )  # window updated

    acme = history_store.score_over_time("acme")
    assert [(row["window_start"], row["score"]) for row in acme] == [(w0, 100.0), (w1, 75.0)]
    assert acme[1]["reachable"] == 4
    assert acme[1]["total"] == 4
    everything = history_store.score_over_time()
    assert [(row["tenant"], row["score"]) for row in everything] == [
        (None, None),
        ("acme", 100.0),
        ("acme", 75.0),
    ]
    assert history_store.score_over_time("acme", limit=1)[0]["window_start"] == w1

    run = AuditRun(
        audit_id="audit-9",
        requested_at=T0,
        requested_by="ci",
        device_ids=("r1", "r2"),
        selector=DeviceSelector(),
    )
    history_store.record_audit_run(run)
    history_store.record_audit_run(run)
    stored = history_store.audit_run("audit-9")
    assert stored is not None
    assert (stored["device_count"], stored["device_ids"], stored["requested_by"]) == (2, ["r1", "r2"], "ci")
    assert history_store.audit_run("missing") is None


# ---- lifecycle, locking, failures ---------------------------------------


def test_data_survives_close_and_reopen(history_dsn: str) -> None:
    store = open_history(history_dsn)
    store.write_events([make_event("r1", "a1")])
    store.close()
    with pytest.raises(HistoryError, match="closed"):
        store.latest_status()
    with open_history(history_dsn) as again:
        assert [row["audit_id"] for row in again.device_timeline("r1")] == ["a1"]


def test_data_written_by_another_process_survives_its_exit(history_dsn: str) -> None:
    script = textwrap.dedent(
        """
        import sys
        from driftaudit.adapters.history.clickhouse import open_history
        from tests.plugins.history import make_event
        with open_history(sys.argv[1]) as store:
            store.write_events([make_event("r7", "from-child")])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, history_dsn], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    with open_history(history_dsn) as store:
        assert [row["audit_id"] for row in store.device_timeline("r7")] == ["from-child"]


def test_second_process_gets_store_locked_error(history_dsn: str, store_holder) -> None:
    holder = store_holder(history_dsn)
    with pytest.raises(StoreLockedError, match="another driftaudit process owns the history store"):
        open_history(history_dsn)
    holder.release()
    with open_history(history_dsn) as store:  # released: usable, not corrupted
        store.write_events([make_event()])
        assert len(store.latest_status()) == 1


def test_two_stores_of_one_process_share_a_path(history_store: ClickHouseHistory, history_dsn: str) -> None:
    with open_history(history_dsn) as second:
        history_store.write_events([make_event("shared")])
        assert [row["device_id"] for row in second.latest_status()] == ["shared"]
    assert history_store.latest_status()  # closing one left the other working


def test_another_path_in_the_same_process_is_refused(
    history_store: ClickHouseHistory, tmp_path: Path
) -> None:
    with pytest.raises(HistoryError, match="already hosts"):
        open_history(chdb_dsn(tmp_path / "elsewhere"))
    assert history_store.latest_status() == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_store_on_a_closed_port_fails_fast_and_clearly() -> None:
    dsn = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        open_history(dsn, password="hunter2", connect_timeout=2)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "unavailable" in message
    assert "hunter2" not in message


def test_lazy_store_reports_unavailable_on_each_call_and_hides_the_password() -> None:
    store = open_history(f"http://127.0.0.1:{_closed_port()}", password="hunter2", connect=False)
    assert "hunter2" not in repr(store)
    for _ in range(2):
        with pytest.raises(StoreUnavailableError):
            store.write_events([make_event()])
    store.close()
