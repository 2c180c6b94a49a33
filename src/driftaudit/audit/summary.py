"""What one audit found, as the CLI and the API show it.

``AuditSummary`` is built from drift events alone (plus the fleet score), so
the in-process pipeline and a consumer of ``drift-events`` can produce the
same summary from the same events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from driftaudit.domain.models import DeviceStatus, DriftEvent, FeatureStatus, FleetScore

__all__ = ["TOP_LEVEL", "AuditSummary", "score_document", "section_name", "top_features", "top_sections"]

#: The section name of drift lines that live at the top level of a config.
TOP_LEVEL = "(top level)"

#: Separator between the levels of a nested section path.
SECTION_SEPARATOR = " > "


def section_name(path: tuple[str, ...]) -> str:
    """A drift line's section path as one readable key (``TOP_LEVEL`` when empty)."""
    return SECTION_SEPARATOR.join(path) if path else TOP_LEVEL


def top_sections(events: Iterable[DriftEvent], n: int | None = 10) -> dict[str, int]:
    """The sections with the most drift lines (added and removed), most first.

    Ties are broken by section name so the order is stable between runs.
    ``n=None`` keeps every section.
    """
    counts: Counter[str] = Counter()
    for event in events:
        for line in (*event.added, *event.removed):
            counts[section_name(line.path)] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked if n is None else ranked[:n])


def top_features(events: Iterable[DriftEvent], n: int | None = 10) -> dict[str, int]:
    """The compliance features drifted on the most devices, most first (ties by name).

    ``n=None`` keeps every feature that drifted somewhere.
    """
    counts: Counter[str] = Counter()
    for event in events:
        for result in event.features:
            if result.status is FeatureStatus.DRIFTED:
                counts[result.feature] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked if n is None else ranked[:n])


def score_document(score: FleetScore) -> dict[str, Any]:
    """The JSON form of a score, with its derived ``reachable`` and ``total`` counts."""
    return {**score.model_dump(mode="json"), "reachable": score.reachable, "total": score.total}


class AuditSummary(BaseModel):
    """One audit's results: every device's event, the fleet score and where drift concentrates.

    ``stored`` says whether the history kept the run and its events;
    ``history_error`` says why not when a configured history failed, so a
    caller can show the results it has and still report the failure.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    audit_id: str
    requested_at: datetime
    started_at: datetime
    finished_at: datetime
    device_ids: tuple[str, ...]
    events: tuple[DriftEvent, ...]
    score: FleetScore
    tenant_scores: Mapping[str, FleetScore] = Field(default_factory=dict)
    top_sections: Mapping[str, int] = Field(default_factory=dict)
    stored: bool = False
    history_error: str | None = None

    @property
    def duration_s(self) -> float:
        """Wall-clock seconds from start to finish."""
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def top_features(self) -> dict[str, int]:
        """The compliance features drifted on the most devices (the ten first), from the events."""
        return top_features(self.events)

    def count(self, status: DeviceStatus) -> int:
        """How many devices ended with ``status``."""
        return sum(1 for event in self.events if event.status == status)
