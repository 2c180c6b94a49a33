"""How an audit summary looks on a terminal (rich) and as JSON.

Shared by every CLI path that ends in a summary (``audit`` with or without a
broker, ``demo``), so they print the same thing. Every cell is a
:class:`rich.text.Text`, never markup: device ids, section names and reasons
come from devices and operators, and a ``[`` in them must print as itself.
Everything shown is already masked: events carry redacted diffs only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from driftaudit.audit.summary import AuditSummary, score_document, top_sections
from driftaudit.domain.models import DeviceStatus, DriftEvent, FleetScore

__all__ = [
    "STATUS_STYLES",
    "device_table",
    "print_summary",
    "score_line",
    "sections_table",
    "summary_document",
    "summary_json",
]

STATUS_STYLES: Mapping[DeviceStatus, str] = {
    DeviceStatus.COMPLIANT: "green",
    DeviceStatus.DRIFTED: "yellow",
    DeviceStatus.UNREACHABLE: "red",
    DeviceStatus.ERROR: "magenta",
}

#: Sections listed per device in the device table.
DEVICE_SECTIONS = 3


def _device_sections(event: DriftEvent, n: int = DEVICE_SECTIONS) -> str:
    return ", ".join(f"{name} ({count})" for name, count in top_sections([event], n).items())


def device_table(summary: AuditSummary) -> Table:
    """One row per device: id, tenant, platform, status, +added/-removed, its top sections.

    A device that did not compare (unreachable, error) shows its reason in
    place of sections.
    """
    table = Table(title=Text(f"Audit {summary.audit_id}"), expand=False)
    # The id and the status are what a reader scans for: never cut them; the
    # detail column wraps instead.
    table.add_column("device", no_wrap=True)
    table.add_column("tenant", overflow="fold")
    table.add_column("platform", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("+add", justify="right", no_wrap=True)
    table.add_column("-rem", justify="right", no_wrap=True)
    table.add_column("sections or reason", overflow="fold", ratio=1)
    for event in summary.events:
        compared = event.status in (DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED)
        detail = _device_sections(event) if compared else (event.reason or "")
        table.add_row(
            Text(event.device_id),
            Text(event.tenant),
            Text(event.platform.value),
            Text(event.status.value, style=STATUS_STYLES[event.status]),
            Text(f"+{event.added_count}" if compared else "-", style="green" if event.added_count else ""),
            Text(f"-{event.removed_count}" if compared else "-", style="red" if event.removed_count else ""),
            Text(detail, overflow="fold"),
        )
    return table


def sections_table(sections: Mapping[str, int], *, title: str = "Top drifted sections") -> Table:
    """Section path and its number of drift lines, most first."""
    table = Table(title=Text(title))
    table.add_column("section")
    table.add_column("lines", justify="right")
    for name, count in sections.items():
        table.add_row(Text(name, overflow="fold"), Text(str(count)))
    return table


def features_table(features: Mapping[str, int], *, title: str = "Top non-compliant features") -> Table:
    """Compliance feature and the number of devices it drifted on, most first."""
    table = Table(title=Text(title), min_width=len(title) + 4)  # a title never wraps over a thin table
    table.add_column("feature")
    table.add_column("devices", justify="right")
    for name, count in features.items():
        table.add_row(Text(name), Text(str(count)))
    return table


def score_line(score: FleetScore, *, label: str = "Fleet score") -> Text:
    """``Fleet score: 87.5 (7 compliant, 1 drifted of 8 reachable; 1 unreachable, 0 error)``.

    The unreachable and errored devices are always printed beside the score,
    so a fleet that is mostly unreachable never looks healthy.
    """
    line = Text(f"{label}: ")
    if score.score is None:
        line.append("n/a", style="bold red")
        line.append(" (no device reachable)")
    else:
        style = "bold green" if score.score >= 99.95 else "bold yellow" if score.score >= 80 else "bold red"
        line.append(f"{score.score:.1f}", style=style)
    line.append(
        f"  {score.compliant} compliant, {score.drifted} drifted of {score.reachable} reachable;"
        f" {score.unreachable} unreachable, {score.error} error"
    )
    return line


def _renderables(summary: AuditSummary) -> list[Any]:
    parts: list[Any] = [device_table(summary)]
    if summary.top_sections:
        parts.append(sections_table(summary.top_sections))
    if summary.top_features:
        parts.append(features_table(summary.top_features))
    if len(summary.tenant_scores) > 1:
        parts.extend(
            score_line(score, label=f"  tenant {tenant}") for tenant, score in summary.tenant_scores.items()
        )
    parts.append(score_line(summary.score))
    parts.append(Text(f"{len(summary.events)} devices in {summary.duration_s:.2f} s", style="dim"))
    if summary.history_error is not None:
        parts.append(Text(f"history not stored: {summary.history_error}", style="bold red"))
    return parts


def print_summary(summary: AuditSummary, console: Console | None = None, *, diffs: bool = False) -> None:
    """Print the device table, the top sections and the score line; ``diffs`` adds masked diffs."""
    console = console or Console()
    console.print(Group(*_renderables(summary)))
    if diffs:
        for event in summary.events:
            if event.unified_diff:
                console.rule(Text(event.device_id))
                console.print(Text(event.unified_diff))


def summary_document(summary: AuditSummary, *, diffs: bool = False) -> dict[str, Any]:
    """The JSON form: per-device rows like the table, the scores, the top sections.

    Stable keys for scripts (``jq``) and CI gates; ``diffs`` adds each
    device's masked unified diff and drift lines.
    """
    devices = []
    for event in summary.events:
        row: dict[str, Any] = {
            "device_id": event.device_id,
            "tenant": event.tenant,
            "site": event.site,
            "role": event.role,
            "platform": event.platform.value,
            "status": event.status.value,
            "reason": event.reason,
            "added": event.added_count,
            "removed": event.removed_count,
            "top_sections": top_sections([event], DEVICE_SECTIONS),
            "fetch_ms": event.fetch_ms,
            "analyze_ms": event.analyze_ms,
        }
        if event.features:
            row["features"] = {result.feature: result.status.value for result in event.features}
        if diffs:
            row["unified_diff"] = event.unified_diff
            row["lines"] = [line.model_dump(mode="json") for line in (*event.added, *event.removed)]
        devices.append(row)

    return {
        "audit_id": summary.audit_id,
        "requested_at": summary.requested_at.isoformat(),
        "started_at": summary.started_at.isoformat(),
        "finished_at": summary.finished_at.isoformat(),
        "duration_s": round(summary.duration_s, 3),
        "score": score_document(summary.score),
        "tenant_scores": {tenant: score_document(value) for tenant, value in summary.tenant_scores.items()},
        "top_sections": dict(summary.top_sections),
        "top_features": summary.top_features,
        "devices": devices,
        "stored": summary.stored,
        "history_error": summary.history_error,
    }


def summary_json(summary: AuditSummary, *, diffs: bool = False) -> str:
    """:func:`summary_document` as indented JSON text."""
    return json.dumps(summary_document(summary, diffs=diffs), indent=2)
