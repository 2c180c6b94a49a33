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
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from operator import itemgetter
from typing import Any, Literal

from faust.serializers import codecs
from pydantic import BaseModel, ConfigDict

from driftaudit.domain.models import SCHEMA_VERSION, DeviceStatus, DriftEvent, FleetScore, UtcDatetime
from driftaudit.domain.scoring import FleetHealthScorer

__all__ = [
    "ScoreBatch",
    "ScoreObservation",
    "WindowTime",
    "WindowValue",
    "fleet_score",
    "merge_all",
    "merge_latest",
    "observed_timestamp",
    "status_counts",
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
        table's changelog serializes it (Faust's ``json`` codec, which is
        orjson when installed: a non-ASCII tenant is then UTF-8, not escaped
        to ASCII), so the input topic is keyed the same way and a tenant's
        window lives where the router looks for it.
        """
        return codecs.dumps("json", self.tenant)

    @classmethod
    def of(cls, event: DriftEvent) -> ScoreObservation:
        """The part of a drift event the score needs."""
        return cls(
            tenant=event.tenant,
            device_id=event.device_id,
            status=event.status,
            observed_at=event.observed_at,
        )


class ScoreBatch(BaseModel):
    """Wire model on ``score-input`` (key: the tenant, as :meth:`ScoreObservation.routing_key`).

    The report stage sends the observations of one tenant gathered over a few
    milliseconds as one message (:class:`~driftaudit.streams.batching.KeyedBatcher`),
    so the table takes one update per batch rather than one per device. A
    single :class:`ScoreObservation` is still read (messages of an older worker).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    observations: tuple[ScoreObservation, ...]
    schema_version: Literal[1] = SCHEMA_VERSION


class WindowTime:
    """The window timestamp of a table operation, given instead of an event (a batch spans windows)."""

    __slots__ = ("timestamp",)

    def __init__(self, timestamp: float) -> None:
        self.timestamp = timestamp


def observed_timestamp(event: Any | None) -> float:
    """Window timestamp of a table operation: the observation's ``observed_at``.

    Given to ``WindowWrapper.relative_to``. Faust calls it with the event being
    processed, whose value is the raw ``ScoreObservation`` bytes; outside a
    stream (a web view) there is no event and the window is the current one.
    """
    if event is None:
        return time.time()
    if isinstance(event, WindowTime):
        return event.timestamp
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
    return merge_all(current, (observation,))


def merge_all(current: WindowValue | None, observations: Iterable[ScoreObservation]) -> WindowValue:
    """:func:`merge_latest` of several observations at once: one copy of the window value, one table set.

    The table logs every set to its changelog as the whole window value, so
    applying a batch per set instead of one observation per set turns the
    cost of a large tenant from a changelog record per device into one per batch.
    """
    merged: WindowValue = dict(current or {})
    for observation in observations:
        at = observation.observed_at.timestamp()
        previous = merged.get(observation.device_id)
        if previous is None or float(previous[1]) <= at:
            merged[observation.device_id] = [observation.status.value, at]
    return merged


def statuses_of(value: Mapping[str, list[Any]] | None) -> dict[str, DeviceStatus]:
    """device_id -> latest status of one window value."""
    return {device_id: DeviceStatus(entry[0]) for device_id, entry in (value or {}).items()}


def status_counts(value: Mapping[str, list[Any]] | None) -> Counter[str]:
    """How many devices of one window value have each status (C-level: one pass, no object per entry)."""
    return Counter(map(itemgetter(0), (value or {}).values()))


def fleet_score(tenant: str | None, value: Mapping[str, list[Any]] | None) -> FleetScore:
    """The score of one tenant's window value (an empty window scores None).

    The domain scorer's counts, taken at C speed: a window of a thousand
    devices is scored at every history flush, and building a status member per
    entry cost a millisecond each time.
    """
    return FleetHealthScorer().score_counts(status_counts(value), tenant=tenant)


def total_score(values: Iterable[Mapping[str, list[Any]]]) -> FleetScore:
    """The score over several tenants' windows (tenant None); device ids are unique fleet-wide."""
    entries: dict[str, list[Any]] = {}
    for value in values:
        entries.update(value or {})
    return FleetHealthScorer().score_counts(status_counts(entries), tenant=None)
