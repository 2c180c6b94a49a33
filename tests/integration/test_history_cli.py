"""`driftaudit history ...` and `driftaudit score` on a real chDB store."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from driftaudit.adapters.history.clickhouse import open_history
from driftaudit.cli import app
from driftaudit.domain.models import DeviceStatus, FleetScore
from tests.plugins.history import T0, make_event

pytestmark = pytest.mark.integration


@pytest.fixture
def filled_dsn(history_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with open_history(history_dsn) as store:
        store.write_events(
            [
                make_event("r1", "a1", at=T0, status=DeviceStatus.COMPLIANT),
                make_event("r1", "a2", at=T0 + timedelta(hours=1)),
                make_event(
                    "r2", "a2", at=T0 + timedelta(hours=1), status=DeviceStatus.UNREACHABLE, reason="timeout"
                ),
                make_event(
                    "r3", "a2", at=T0 + timedelta(hours=1), status=DeviceStatus.COMPLIANT, tenant="globex"
                ),
            ]
        )
        store.write_scores([(T0, FleetScore(tenant="acme", score=50.0, compliant=1, drifted=1))])
    monkeypatch.setenv("DRIFTAUDIT_CLICKHOUSE_DSN", history_dsn)
    return history_dsn


def test_history_device_json(filled_dsn: str) -> None:
    result = CliRunner().invoke(app, ["history", "device", "r1", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(row["audit_id"], row["status"]) for row in rows] == [("a2", "drifted"), ("a1", "compliant")]
    assert rows[0]["observed_at"].endswith("+00:00")


def test_history_device_table_with_diff(filled_dsn: str) -> None:
    result = CliRunner().invoke(app, ["history", "device", "r1", "--diff"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "history of r1" in result.output
    assert "drifted" in result.output
    assert "+ shutdown" in result.output


def test_history_fleet_and_score(filled_dsn: str) -> None:
    fleet = CliRunner().invoke(app, ["history", "fleet", "--json"])
    assert fleet.exit_code == 0, fleet.output
    assert [(row["tenant"], row["score"]) for row in json.loads(fleet.output)] == [("acme", 50.0)]

    score = CliRunner().invoke(app, ["score", "--json"])
    assert score.exit_code == 0, score.output
    body = json.loads(score.output)
    groups = {row["value"]: row for row in body["groups"]}
    assert groups["acme"]["score"] == 0.0
    assert groups["acme"]["unreachable"] == 1
    assert groups["globex"]["score"] == 100.0
    assert body["fleet"]["score"] == 50.0
    assert body["fleet"]["total"] == 3

    table = CliRunner().invoke(app, ["score", "--by", "platform"], env={"COLUMNS": "160"})
    assert table.exit_code == 0
    assert "cisco_ios" in table.output
    assert "(fleet)" in table.output


def test_sections_and_unreachable(filled_dsn: str) -> None:
    sections = CliRunner().invoke(app, ["history", "sections", "--json"])
    assert sections.exit_code == 0, sections.output
    assert {row["section"] for row in json.loads(sections.output)} == {"interface Gi0/1", "(top level)"}
    unreachable = CliRunner().invoke(app, ["history", "unreachable", "--json"])
    assert [row["device_id"] for row in json.loads(unreachable.output)] == ["r2"]


def test_locked_store_gives_a_clear_error_and_exit_2(filled_dsn: str, store_holder) -> None:
    holder = store_holder(filled_dsn)
    result = CliRunner().invoke(app, ["history", "device", "r1"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "another driftaudit process owns the history store" in result.output
    holder.release()
    after = CliRunner().invoke(app, ["history", "device", "r1", "--json"])  # the store is intact
    assert after.exit_code == 0
    assert len(json.loads(after.output)) == 2


def test_unknown_dimension_is_a_usage_error(filled_dsn: str) -> None:
    result = CliRunner().invoke(app, ["score", "--by", "colour"])
    assert result.exit_code == 2
