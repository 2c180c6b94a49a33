"""The rich and JSON renderings of an audit summary."""

import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from driftaudit.audit.pipeline import summarize
from driftaudit.audit.summary import AuditSummary
from driftaudit.cli import render
from driftaudit.domain.models import (
    ChangeType,
    Device,
    DeviceStatus,
    DriftEvent,
    DriftLine,
    FleetScore,
    Platform,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(device_id: str, status: DeviceStatus, tenant: str = "acme", **extra: object) -> DriftEvent:
    return DriftEvent(
        audit_id="a-1",
        device_id=device_id,
        tenant=tenant,
        platform=Platform.EOS,
        status=status,
        requested_at=T0,
        observed_at=T0,
        **extra,
    )


def sample_summary() -> AuditSummary:
    section = ("interface [Ethernet1]",)
    events = [
        event("ok-1", DeviceStatus.COMPLIANT),
        event(
            "drift-1",
            DeviceStatus.DRIFTED,
            added=(DriftLine(change=ChangeType.ADDED, line="   shutdown", path=section),),
            removed=(
                DriftLine(change=ChangeType.REMOVED, line="   mtu 9000", path=section),
                DriftLine(change=ChangeType.REMOVED, line="ntp server 1.1.1.1"),
            ),
            unified_diff="--- intended\n+++ actual\n+   shutdown\n",
        ),
        event("down-1", DeviceStatus.UNREACHABLE, tenant="globex", reason="connection refused [port 22]"),
    ]
    devices = [
        Device(device_id=e.device_id, host="h", platform=Platform.EOS, tenant=e.tenant) for e in events
    ]
    return summarize(
        audit_id="a-1",
        requested_at=T0,
        devices=devices,
        events=events,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2.5),
        stored=False,
        history_error="history store down",
    )


def rendered(*, diffs: bool = False) -> str:
    console = Console(record=True, width=200, color_system=None)
    render.print_summary(sample_summary(), console, diffs=diffs)
    return console.export_text()


def test_table_shows_every_device_and_the_score() -> None:
    text = rendered()
    for expected in ("ok-1", "drift-1", "down-1", "compliant", "drifted", "unreachable", "+1", "-2"):
        assert expected in text
    # markup-like text from devices prints as itself
    assert "interface [Ethernet1] (2)" in text
    assert "connection refused [port 22]" in text
    assert "Top drifted sections" in text
    assert "Fleet score: 50.0" in text
    assert "1 compliant, 1 drifted of 2 reachable; 1 unreachable, 0 error" in text
    assert "tenant globex: n/a" in text
    assert "history not stored: history store down" in text
    assert "+++ actual" not in text


def test_diffs_are_opt_in() -> None:
    assert "+++ actual" in rendered(diffs=True)


def test_score_line_without_reachable_devices() -> None:
    line = render.score_line(FleetScore(score=None, unreachable=3)).plain
    assert line.startswith("Fleet score: n/a (no device reachable)")
    assert "3 unreachable" in line


def test_json_form() -> None:
    document = json.loads(render.summary_json(sample_summary()))
    assert document["audit_id"] == "a-1"
    assert document["duration_s"] == 2.5
    assert document["score"]["score"] == 50.0
    assert document["score"]["reachable"] == 2
    assert document["score"]["total"] == 3
    assert set(document["tenant_scores"]) == {"acme", "globex"}
    assert document["top_sections"] == {"interface [Ethernet1]": 2, "(top level)": 1}
    rows = {row["device_id"]: row for row in document["devices"]}
    assert rows["drift-1"]["added"] == 1
    assert rows["drift-1"]["removed"] == 2
    assert rows["down-1"]["reason"] == "connection refused [port 22]"
    assert "unified_diff" not in rows["drift-1"]
    with_diffs = json.loads(render.summary_json(sample_summary(), diffs=True))
    drift = next(r for r in with_diffs["devices"] if r["device_id"] == "drift-1")
    assert drift["unified_diff"].startswith("--- intended")
    assert len(drift["lines"]) == 3


def test_render_module_adds_no_command() -> None:
    assert not hasattr(render, "register")
