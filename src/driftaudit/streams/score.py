"""The rolling fleet score: what the windowed table stores and how it is read.

The table is keyed by tenant. Its value, per window, maps each device id to
its latest ``[status, observed_at]`` in that window, so a device audited twice
in one window counts once, with the newer result, and a redelivered (older or
identical) event changes nothing. The counts and the score come from the
domain's :class:`~driftaudit.domain.scoring.FleetHealthScorer`, the same code
the in-process audit uses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from driftaudit.domain.models import SCHEMA_VERSION, DeviceStatus, DriftEvent, FleetScore, UtcDatetime
from driftaudit.domain.scoring import FleetHealthScorer

__all__ = [
    "ScoreObservation",
    "WindowValue",
    "fleet_score",
    "merge_latest",
    "observed_timestamp",
    "statuses_of",
    "total_score",
]

#: device_id -> [status, observed_at as POSIX seconds]; JSON-friendly for the changelog.
WindowValue = dict[str, list[Any]]


class ScoreObservation(BaseModel):
    """Internal message on the ``score-input`` topic (key: tenant)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    device_id: str
    status: DeviceStatus
    observed_at: UtcDatetime
    schema_version: Literal[1] = SCHEMA_VERSION

    def routing_key(self) -> bytes:
        """The message key: the tenant serialized as the table serializes its keys.

        Faust's table router finds a key's worker by hashing the key as the
        table's changelog serializes it (JSON), so the input topic is keyed the
        same way and a tenant's window lives where the router looks for it.
        """
        return json.dumps(self.tenant).encode()

    @classmethod
    def of(cls, event: DriftEvent) -> ScoreObservation:
        """The part of a drift event the score needs."""
        return cls(
            tenant=event.tenant,
            device_id=event.device_id,
            status=event.status,
            observed_at=event.observed_at,
        )


def observed_timestamp(event: Any | None) -> float:
    """Window timestamp of a table operation: the observation's ``observed_at``.

    Given to ``WindowWrapper.relative_to``. Faust calls it with the event being
    processed, whose value is the raw ``ScoreObservation`` bytes; outside a
    stream (a web view) there is no event and the window is the current one.
    """
    if event is None:
        return time.time()
    try:
        document = json.loads(event.value)
        return datetime.fromisoformat(document["observed_at"]).timestamp()
    except (TypeError, ValueError, KeyError):
        timestamp: float = event.message.timestamp
        return timestamp


def merge_latest(current: WindowValue | None, observation: ScoreObservation) -> WindowValue:
    """The window value with ``observation`` applied, unless a newer one is there.

    Used as the windowed-table operation, once per window the observation
    falls in. Returns a new dict: the table must see a set to log a change.
    """
    merged: WindowValue = dict(current or {})
    at = observation.observed_at.timestamp()
    previous = merged.get(observation.device_id)
    if previous is None or float(previous[1]) <= at:
        merged[observation.device_id] = [observation.status.value, at]
    return merged


def statuses_of(value: Mapping[str, list[Any]] | None) -> dict[str, DeviceStatus]:
    """device_id -> latest status of one window value."""
    return {device_id: DeviceStatus(entry[0]) for device_id, entry in (value or {}).items()}


def fleet_score(tenant: str | None, value: Mapping[str, list[Any]] | None) -> FleetScore:
    """The score of one tenant's window value (an empty window scores None)."""
    return FleetHealthScorer().score(statuses_of(value), tenant=tenant)


def total_score(values: Iterable[Mapping[str, list[Any]]]) -> FleetScore:
    """The score over several tenants' windows (tenant None); device ids are unique fleet-wide."""
    statuses: dict[str, DeviceStatus] = {}
    for value in values:
        statuses.update(statuses_of(value))
    return FleetHealthScorer().score(statuses, tenant=None)
