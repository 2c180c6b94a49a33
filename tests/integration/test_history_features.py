"""Per-feature compliance in the history (chDB): one row per (audit, device, feature), matrix, trend, CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from driftaudit.adapters.history.clickhouse import ClickHouseHistory, open_history
from driftaudit.cli import app
from driftaudit.domain.models import (
    DeviceStatus,
    FeatureResult,
    FeatureStatus,
    PolicyKind,
    PolicyResult,
)
from tests.plugins.history import T0, make_event

pytestmark = pytest.mark.integration

C, D, N = FeatureStatus.COMPLIANT, FeatureStatus.DRIFTED, FeatureStatus.NOT_APPLICABLE


def _features(**statuses: FeatureStatus) -> tuple[FeatureResult, ...]:
    failed = PolicyResult(name="p", kind=PolicyKind.PRESENT, passed=False, missing=("x",))
    return tuple(
        FeatureResult(
            feature=name,
            status=status,
            added_count=2 if status is D else 0,
            removed_count=1 if status is D else 0,
            policies=(failed,) if status is D else (),
        )
        for name, status in statuses.items()
    )


def _fill(store: ClickHouseHistory) -> None:
    store.write_events(
        [
            # an older audit where r1's ntp drifted: the newest result (compliant) wins in the matrix
            make_event("r1", "a1", at=T0, features=_features(ntp=D, aaa=C)),
            make_event("r1", "a2", at=T0 + timedelta(hours=1), features=_features(ntp=C, aaa=C)),
            make_event("r2", "a2", at=T0 + timedelta(hours=1), site="lon1", features=_features(ntp=D, aaa=N)),
            make_event(
                "r3", "a2", at=T0 + timedelta(hours=1), tenant="globex", site="nyc", features=_features(ntp=D)
            ),
            make_event("r4", "a2", at=T0 + timedelta(hours=1), status=DeviceStatus.UNREACHABLE),
        ]
    )


def test_one_row_per_audit_device_feature_and_replay_is_idempotent(history_store: ClickHouseHistory) -> None:
    _fill(history_store)
    _fill(history_store)  # a re-delivered batch replaces, never doubles
    client = history_store._ensure_client()
    rows = client.query(
        "SELECT audit_id, device_id, feature, status, added_count, removed_count, policies_failed"
        " FROM feature_results FINAL ORDER BY audit_id, device_id, feature"
    ).result_rows
    assert [tuple(row) for row in rows] == [
        ("a1", "r1", "aaa", "compliant", 0, 0, 0),
        ("a1", "r1", "ntp", "drifted", 2, 1, 1),
        ("a2", "r1", "aaa", "compliant", 0, 0, 0),
        ("a2", "r1", "ntp", "compliant", 0, 0, 0),
        ("a2", "r2", "aaa", "not_applicable", 0, 0, 0),
        ("a2", "r2", "ntp", "drifted", 2, 1, 1),
        ("a2", "r3", "ntp", "drifted", 2, 1, 1),
    ]


def test_feature_score_matrix_and_tenant_filter(history_store: ClickHouseHistory) -> None:
    _fill(history_store)
    fleet = {row["feature"]: row for row in history_store.feature_matrix()}
    assert (fleet["ntp"]["compliant"], fleet["ntp"]["drifted"], fleet["ntp"]["score"]) == (1, 2, 33.33)
    assert (fleet["aaa"]["compliant"], fleet["aaa"]["not_applicable"], fleet["aaa"]["score"]) == (1, 1, 100.0)
    by_site = {(row["feature"], row["value"]): row for row in history_store.feature_matrix("site")}
    assert by_site[("ntp", "par1")]["score"] == 100.0
    assert by_site[("ntp", "lon1")]["drifted"] == 1
    assert by_site[("ntp", "nyc")]["drifted"] == 1
    only_acme = {(row["feature"], row["value"]) for row in history_store.feature_matrix("tenant", ["acme"])}
    assert only_acme == {("ntp", "acme"), ("aaa", "acme")}
    assert history_store.feature_matrix("tenant", ["nobody"]) == []
    with pytest.raises(ValueError, match="dimension"):
        history_store.feature_matrix("feature; DROP TABLE x")


def test_feature_trend_per_day(history_store: ClickHouseHistory) -> None:
    _fill(history_store)
    trend = history_store.feature_trend("ntp", days=7)
    assert {row["feature"] for row in trend} == {"ntp"}
    assert sum(row["drifted"] for row in trend) == 3
    assert sum(row["compliant"] for row in trend) == 1
    assert history_store.feature_trend("ntp", days=7, tenants=["globex"])[0]["drifted"] == 1


def test_history_features_cli(history_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_history(history_dsn) as store:
        _fill(store)
    monkeypatch.setenv("DRIFTAUDIT_CLICKHOUSE_DSN", history_dsn)
    result = CliRunner().invoke(app, ["history", "features", "--by", "site", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {(row["feature"], row["site"]) for row in rows} >= {
        ("ntp", "lon1"),
        ("ntp", "par1"),
        ("aaa", "par1"),
    }
    table = CliRunner().invoke(app, ["history", "features", "--by", "role"])
    assert table.exit_code == 0, table.output
    assert "compliance by feature x role" in table.output
    assert "ntp" in table.output
    trend = CliRunner().invoke(app, ["history", "features", "--trend", "--json"])
    assert trend.exit_code == 0, trend.output
    assert {row["feature"] for row in json.loads(trend.output)} == {"ntp", "aaa"}
    bad = CliRunner().invoke(app, ["history", "features", "--by", "colour"])
    assert bad.exit_code != 0


def test_a_feature_dropped_from_the_rules_stops_counting_at_the_next_audit(
    history_store: ClickHouseHistory,
) -> None:
    history_store.write_events(
        [
            make_event("r1", "a1", at=T0, features=_features(ntp=D, legacy=D)),
            make_event("r1", "a2", at=T0 + timedelta(hours=1), features=_features(ntp=C)),
        ]
    )
    assert {row["feature"]: row["compliant"] for row in history_store.feature_matrix()} == {"ntp": 1}
