"""The fleet-score windowed table and its agent-side and view-side operations.

Windows are tumbling (``score_window_s``) or hopping when ``score_step_s`` is
set; they expire after ``score_retention_s``. The window of an observation is
chosen by its ``observed_at`` (``relative_to``), not by the broker timestamp,
so a replayed or late event lands in the window it belongs to. Reads use
``.value()``, which honours that setting (``.current()`` and ``.now()`` do not).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.tables.wrappers import WindowWrapper
from faust.types import EventT

from driftaudit.domain.models import FleetScore
from driftaudit.settings import Settings
from driftaudit.streams.codec import decode
from driftaudit.streams.recorder import HistoryRecorder
from driftaudit.streams.score import (
    ScoreObservation,
    fleet_score,
    merge_latest,
    observed_timestamp,
    total_score,
)

__all__ = ["FleetScoreboard"]

logger = logging.getLogger(__name__)

TABLE_NAME = "fleet-score"


class FleetScoreboard:
    """Owns the windowed table keyed by tenant.

    Args:
        app: the Faust app the table belongs to.
        settings: window size, step, retention, partitions.
        recorder: where changed scores are written (``flush``).
    """

    def __init__(self, app: faust.App, settings: Settings, recorder: HistoryRecorder) -> None:
        self._settings = settings
        self._recorder = recorder
        # Tables serialize keys and values as JSON by default. No shared
        # ``schema`` here: the key-index clone would mutate it (value_type=int)
        # and break the recovery of this table's own changelog.
        self.base = app.Table(
            TABLE_NAME,
            default=dict,
            partitions=settings.topic_partitions,
        )
        if settings.score_step_s:
            windowed = self.base.hopping(
                settings.score_window_s,
                settings.score_step_s,
                expires=settings.score_retention_s,
                key_index=True,
            )
        else:
            windowed = self.base.tumbling(
                settings.score_window_s, expires=settings.score_retention_s, key_index=True
            )
        self.table = cast(WindowWrapper, windowed).relative_to(observed_timestamp)
        #: (tenant, window start) -> latest score, not yet written to history
        self._dirty: dict[tuple[str, float], FleetScore] = {}

    def observe(self, event: EventT[bytes]) -> ScoreObservation:
        """Apply one raw observation to every window it falls in.

        Raises:
            InputError: the message is not a valid observation.
        """
        observation = decode(ScoreObservation, event.value, max_bytes=self._settings.max_message_bytes)
        windows = self.table[observation.tenant]
        windows.apply(merge_latest, observation, event)
        timestamp = observation.observed_at.timestamp()
        start = self.base.window.current(timestamp)[0]  # type: ignore[union-attr]
        self._dirty[(observation.tenant, start)] = fleet_score(observation.tenant, windows.value(event))
        return observation

    def score(self, tenant: str) -> FleetScore:
        """The tenant's score in the current window (None score when it saw nothing)."""
        value: Any = self.table[tenant].value()
        return fleet_score(tenant, value)

    def scores(self) -> dict[str, FleetScore]:
        """Every tenant this worker holds, in the current window."""
        return {str(tenant): fleet_score(str(tenant), value) for tenant, value in self.table.items()}

    def total(self) -> FleetScore:
        """The score over every tenant this worker holds, in the current window."""
        return total_score(value for _, value in self.table.items())

    async def flush(self) -> int:
        """Write the scores changed since the last flush to history; returns how many."""
        if not self._dirty:
            return 0
        pending, self._dirty = self._dirty, {}
        rows = [(datetime.fromtimestamp(start, UTC), score) for (_, start), score in pending.items()]
        await self._recorder.write_scores(rows)
        return len(rows)
