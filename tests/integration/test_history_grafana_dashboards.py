"""Every Grafana panel query runs against the real history schema (chDB).

Grafana cannot read chDB, but the SQL is the same ClickHouse dialect: the
test expands the grafana-clickhouse-datasource macros the way the plugin does
(``pkg/macros/macros.go``: ``$__timeFilter(c)`` becomes ``c >= toDateTime(s)
AND c <= toDateTime(s)`` and so on), substitutes the dashboard variables, and
runs each query on a store filled with a small fleet. A panel whose SQL no
longer matches the schema fails here instead of going blank in production.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftaudit.adapters.history.clickhouse import ClickHouseHistory
from driftaudit.domain.models import DeviceStatus, FeatureResult, FeatureStatus, FleetScore, Platform
from tests.plugins.history import T0, expand_macros, make_event, substitute_variables

pytestmark = pytest.mark.integration

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def _dashboard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        panels.extend(panel.get("panels", []) if panel.get("type") == "row" else [panel])
    return panels


def _targets() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for path in DASHBOARDS:
        for panel in _panels(_dashboard(path)):
            for target in panel.get("targets", []):
                found.append((f"{path.stem}:{panel['title']}:{target['refId']}", panel, target))
    return found


TARGETS = _targets()


def test_there_are_dashboards_and_panels() -> None:
    assert DASHBOARDS
    titles = {panel["title"] for _, panel, _ in TARGETS}
    assert {
        "Fleet score over time per tenant",
        "Drifted devices",
        "Drift by platform",
        "Drift by site",
        "Most drifted sections",
        "Unreachable devices",
        "Compliance by feature",
        "Non-compliant devices by feature and site",
        "Compliance score by feature over time",
    } <= titles


def test_panels_use_the_provisioned_data_source() -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text())
    (source,) = provisioning["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["protocol"] == "http"
    assert source["secureJsonData"]["password"].startswith("${")  # from the environment, never in the file
    for name, panel, target in TARGETS:
        assert target["datasource"]["uid"] == source["uid"], name
        assert panel["datasource"]["uid"] == source["uid"], name
        assert target["editorType"] == "sql", name
        assert target["rawSql"].strip(), name
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "driftaudit.yaml").read_text())
    assert providers["providers"][0]["options"]["path"].startswith("/var/lib/grafana/dashboards")


@pytest.fixture
def fleet_history(history_store: ClickHouseHistory) -> ClickHouseHistory:
    sites = ("par1", "lon1", "")
    platforms = (Platform.IOS, Platform.EOS, Platform.JUNOS)
    statuses = (DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED, DeviceStatus.UNREACHABLE, DeviceStatus.ERROR)
    events = []
    for hour in range(3):
        for i in range(12):
            events.append(
                make_event(
                    f"dev{i:02d}",
                    f"audit-{hour}",
                    at=T0 + timedelta(hours=hour, minutes=i),
                    status=statuses[(i + hour) % len(statuses)],
                    tenant=("acme", "globex")[i % 2],
                    site=sites[i % len(sites)],
                    platform=platforms[i % len(platforms)],
                    features=feature_results(statuses[(i + hour) % len(statuses)], i),
                )
            )
    history_store.write_events(events)
    history_store.write_scores(
        [
            (T0 + timedelta(hours=h), FleetScore(tenant=tenant, score=score, compliant=3, drifted=1))
            for h in range(3)
            for tenant, score in (("acme", 75.0), ("globex", 50.0), (None, 62.5))
        ]
    )
    return history_store


def feature_results(status: DeviceStatus, i: int) -> tuple[FeatureResult, ...]:
    """Per-feature results of a reachable device: ntp drifts on every third, aaa never applies on odd ones."""
    if status not in (DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED):
        return ()
    ntp = FeatureStatus.DRIFTED if i % 3 == 0 else FeatureStatus.COMPLIANT
    aaa = FeatureStatus.NOT_APPLICABLE if i % 2 else FeatureStatus.COMPLIANT
    return (
        FeatureResult(feature="ntp", status=ntp, added_count=int(ntp is FeatureStatus.DRIFTED)),
        FeatureResult(feature="aaa", status=aaa),
    )


def _run(store: ClickHouseHistory, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = store._ensure_client().query(sql)
    return list(result.column_names), [tuple(row) for row in result.result_rows]


@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=[t[0] for t in TARGETS])
def test_every_panel_query_runs_and_returns_rows(
    fleet_history: ClickHouseHistory, name: str, panel: dict[str, Any], target: dict[str, Any]
) -> None:
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    sql = substitute_variables(expand_macros(target["rawSql"], start, end), {"tenant": ["acme", "globex"]})
    assert "$" not in sql, name
    columns, rows = _run(fleet_history, sql)
    assert rows, f"{name} returned nothing on a filled history"
    if target["format"] == 0:  # time series: a time column first, in order
        assert columns[0] == "time", name
        times = [row[0] for row in rows]
        assert times == sorted(times), name

    one_tenant = substitute_variables(expand_macros(target["rawSql"], start, end), {"tenant": ["acme"]})
    _run(fleet_history, one_tenant)
    outside = substitute_variables(
        expand_macros(target["rawSql"], start - timedelta(days=30), start - timedelta(days=29)),
        {"tenant": ["acme", "globex"]},
    )
    _, old_rows = _run(fleet_history, outside)
    if "$__timeFilter" in target["rawSql"] and panel["type"] != "stat":
        assert old_rows == [], f"{name} ignores the time range"


def test_template_variable_queries_run(fleet_history: ClickHouseHistory) -> None:
    for path in DASHBOARDS:
        for variable in _dashboard(path).get("templating", {}).get("list", []):
            if variable["type"] == "query":
                _, rows = _run(fleet_history, expand_macros(variable["query"], T0 - timedelta(days=1), T0))
                assert sorted(r[0] for r in rows) == ["acme", "globex"]


def test_score_panel_matches_the_repository(fleet_history: ClickHouseHistory) -> None:
    (sql,) = [t["rawSql"] for _, p, t in TARGETS if p["title"] == "Fleet score now"]
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    _, rows = _run(
        fleet_history, substitute_variables(expand_macros(sql, start, end), {"tenant": ["acme", "globex"]})
    )
    latest = fleet_history.latest_status()
    compliant = sum(row["status"] == "compliant" for row in latest)
    reachable = sum(row["status"] in ("compliant", "drifted") for row in latest)
    assert rows[0][0] == pytest.approx(round(compliant / reachable * 100, 1))


def test_sections_panel_counts_only_the_latest_result_of_a_replayed_device(
    history_store: ClickHouseHistory,
) -> None:
    """A replay with fewer lines, and a compliant re-run, leave only current lines in the panel."""
    three = tuple((f" line {n}", ("interface Gi0/1",)) for n in range(3))
    history_store.write_events([make_event("r1", "a1", added=three), make_event("r2", "a1", added=three)])
    later = T0 + timedelta(minutes=5)
    history_store.write_events(
        [
            make_event("r1", "a1", at=later, added=three[:1], removed=()),
            make_event("r2", "a1", at=later, status=DeviceStatus.COMPLIANT),
        ]
    )
    (sql,) = [t["rawSql"] for _, p, t in TARGETS if p["title"] == "Most drifted sections"]
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    _, rows = _run(history_store, substitute_variables(expand_macros(sql, start, end), {"tenant": ["acme"]}))
    assert [(row[0], row[1], row[2]) for row in rows] == [("interface Gi0/1", 1, 1)]


def test_feature_panels_count_each_devices_newest_audit_like_the_repository(
    history_store: ClickHouseHistory,
) -> None:
    """A feature dropped from the rules stops counting once the device is audited again.

    The table and the bar chart must say what ``driftaudit history features``
    and ``GET /v1/features`` say: the features of each device's newest audit,
    not the newest row of every (device, feature) ever seen.
    """
    drifted_ntp = FeatureResult(feature="ntp", status=FeatureStatus.DRIFTED, added_count=1)
    compliant_ntp = FeatureResult(feature="ntp", status=FeatureStatus.COMPLIANT)
    snmp = FeatureResult(feature="snmp", status=FeatureStatus.DRIFTED, removed_count=2)
    history_store.write_events(
        [
            make_event("f1", "a1", features=(drifted_ntp, snmp)),
            make_event("f2", "a1", features=(compliant_ntp, snmp)),
            # the second audit runs rules without snmp: only ntp remains, f1 now compliant
            make_event("f1", "a2", at=T0 + timedelta(hours=1), features=(compliant_ntp,)),
        ]
    )
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)

    def panel_rows(title: str) -> list[tuple[Any, ...]]:
        (sql,) = [t["rawSql"] for _, p, t in TARGETS if p["title"] == title]
        return _run(
            history_store, substitute_variables(expand_macros(sql, start, end), {"tenant": ["acme"]})
        )[1]

    expected = {row["feature"]: (row["compliant"], row["drifted"]) for row in history_store.feature_matrix()}
    assert expected == {"ntp": (2, 0), "snmp": (0, 1)}  # f2's audit a1 still has snmp
    table = {row[0]: (row[1], row[2]) for row in panel_rows("Compliance by feature")}
    assert table == expected
    bars = {row[0]: (row[2], row[1]) for row in panel_rows("Non-compliant devices by feature and site")}
    assert bars == {f"{feature} @ par1": counts for feature, counts in expected.items()}
