"""Latest result wins whole for compliance features too (migration 16), on real chDB.

A replayed (audit_id, device_id) with fewer or other features (a rules change
between the two runs) must leave only the new result's feature rows in the
matrix, the trend, the per-device latest read and the Grafana panels, before
and after background merges; the same event written twice stays one; rows
written before migration 16 still count and are replaced whole by a replay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from driftaudit.adapters.history import queries
from driftaudit.adapters.history.clickhouse import ClickHouseHistory, open_history
from driftaudit.adapters.history.schema import MIGRATIONS, apply_migrations
from driftaudit.domain.models import DeviceStatus, FeatureResult, FeatureStatus
from tests.integration.test_history_grafana_dashboards import TARGETS
from tests.plugins.history import T0, expand_macros, make_event, substitute_variables

pytestmark = pytest.mark.integration

C, D = FeatureStatus.COMPLIANT, FeatureStatus.DRIFTED
FEATURE_PANELS = (
    "Compliance by feature",
    "Non-compliant devices by feature and site",
    "Compliance score by feature over time",
)


def _features(**statuses: FeatureStatus) -> tuple[FeatureResult, ...]:
    return tuple(
        FeatureResult(feature=name, status=status, added_count=int(status is D))
        for name, status in statuses.items()
    )


def _optimize(store: ClickHouseHistory) -> None:
    client = store._ensure_client()
    for table in ("device_results", "feature_results"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")


def _matrix(store: ClickHouseHistory, by: str | None = None) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r["feature"], r["value"]): (r["compliant"], r["drifted"]) for r in store.feature_matrix(by)}


def _per_device(store: ClickHouseHistory) -> set[tuple[str, str, str]]:
    rows = store._rows(queries.FEATURE_LATEST, {"tenants": []})
    return {(r["device_id"], r["feature"], r["status"]) for r in rows}


def _trend(store: ClickHouseHistory) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for row in store.feature_trend(None, days=7):
        compliant, drifted = totals.get(row["feature"], (0, 0))
        totals[row["feature"]] = (compliant + row["compliant"], drifted + row["drifted"])
    return totals


def _panel(store: ClickHouseHistory, title: str) -> list[tuple[Any, ...]]:
    (sql,) = [t["rawSql"] for _, p, t in TARGETS if p["title"] == title]
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    text = substitute_variables(expand_macros(sql, start, end), {"tenant": ["acme", "globex"]})
    return [tuple(row) for row in store._ensure_client().query(text).result_rows]


def _replayed(store: ClickHouseHistory) -> None:
    """r1 first has ntp drifted and aaa compliant; its replay (rules changed) has only snmp compliant."""
    store.write_events(
        [
            make_event("r1", "a1", at=T0, features=_features(ntp=D, aaa=C)),
            make_event("r2", "a1", at=T0, site="lon1", features=_features(ntp=C)),
        ]
    )
    store.write_events(
        [
            make_event(
                "r1",
                "a1",
                at=T0 + timedelta(minutes=5),
                status=DeviceStatus.COMPLIANT,
                features=_features(snmp=C),
            )
        ]
    )


def test_a_replay_with_other_features_replaces_the_feature_rows_whole(
    history_store: ClickHouseHistory,
) -> None:
    _replayed(history_store)
    for _ in range(2):  # as written, then after background merges
        assert _matrix(history_store) == {("ntp", ""): (1, 0), ("snmp", ""): (1, 0)}
        assert _matrix(history_store, "site") == {("ntp", "lon1"): (1, 0), ("snmp", "par1"): (1, 0)}
        assert _per_device(history_store) == {("r1", "snmp", "compliant"), ("r2", "ntp", "compliant")}
        assert _trend(history_store) == {"ntp": (1, 0), "snmp": (1, 0)}
        _optimize(history_store)


def test_a_replay_without_features_leaves_none_of_the_old_ones(history_store: ClickHouseHistory) -> None:
    history_store.write_events([make_event("r1", "a1", at=T0, features=_features(ntp=D, aaa=C))])
    history_store.write_events(
        [make_event("r1", "a1", at=T0 + timedelta(minutes=5), status=DeviceStatus.ERROR)]
    )
    assert history_store.feature_matrix() == []
    assert _per_device(history_store) == set()
    assert history_store.feature_trend(None, days=7) == []
    for title in FEATURE_PANELS:
        assert _panel(history_store, title) == [], title


def test_a_replay_leaves_only_the_new_features_in_the_grafana_panels(
    history_store: ClickHouseHistory,
) -> None:
    _replayed(history_store)
    by_feature = {row[0]: row[1:3] for row in _panel(history_store, "Compliance by feature")}
    assert by_feature == {"ntp": (1, 0), "snmp": (1, 0)}
    by_site = {row[0]: row[1:] for row in _panel(history_store, "Non-compliant devices by feature and site")}
    assert by_site == {"ntp @ lon1": (0, 1), "snmp @ par1": (0, 1)}
    over_time = {row[1]: row[2] for row in _panel(history_store, "Compliance score by feature over time")}
    assert over_time == {"ntp": 100.0, "snmp": 100.0}


def test_a_duplicate_write_stays_one(history_store: ClickHouseHistory) -> None:
    event = make_event("r1", "a1", at=T0, features=_features(ntp=D, aaa=C))
    history_store.write_events([event])
    history_store.write_events([event.model_copy()])
    client = history_store._ensure_client()
    (count,) = client.query("SELECT count() FROM feature_results FINAL").result_rows[0]
    assert count == 2
    assert _matrix(history_store) == {("aaa", ""): (1, 0), ("ntp", ""): (0, 1)}
    assert _trend(history_store) == {"aaa": (1, 0), "ntp": (0, 1)}


def test_feature_rows_written_before_migration_16_keep_counting_and_are_replaced_whole(
    history_dsn: str,
) -> None:
    """A store made by migrations up to 15 is upgraded in place: its feature rows get their result's id."""
    before = [m for m in MIGRATIONS if m.version < 16]
    with open_history(history_dsn) as store:
        client = store._ensure_client()
        client.command("CREATE DATABASE IF NOT EXISTS legacy")
        client.database = "legacy"
        apply_migrations(client, ttl_days=365, migrations=before)
        client.command(
            "INSERT INTO device_results (audit_id, device_id, status, tenant, requested_at, observed_at,"
            " result_id) VALUES ('a1', 'r1', 'drifted', 'acme', yesterday(), yesterday(), 42)"
        )
        client.command(
            "INSERT INTO feature_results (audit_id, device_id, feature, status, tenant, added_count,"
            " requested_at, observed_at) VALUES"
            " ('a1', 'r1', 'ntp', 'drifted', 'acme', 1, yesterday(), yesterday()),"
            " ('a1', 'r1', 'aaa', 'compliant', 'acme', 0, yesterday(), yesterday())"
        )
    with open_history(f"{history_dsn}?database=legacy") as upgraded:
        assert _matrix(upgraded) == {("aaa", ""): (1, 0), ("ntp", ""): (0, 1)}
        assert _panel(upgraded, "Compliance by feature") != []
        # a second run of the copy (two processes migrating at once) collapses into the first
        copy = [m for m in MIGRATIONS if m.version == 16][0].statements[-1]
        upgraded._ensure_client().command(copy)
        assert _matrix(upgraded) == {("aaa", ""): (1, 0), ("ntp", ""): (0, 1)}
        upgraded.write_events(
            [make_event("r1", "a1", status=DeviceStatus.COMPLIANT, features=_features(snmp=C))]
        )
        for _ in range(2):
            assert _matrix(upgraded) == {("snmp", ""): (1, 0)}
            assert _per_device(upgraded) == {("r1", "snmp", "compliant")}
            _optimize(upgraded)
