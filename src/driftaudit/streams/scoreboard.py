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

from driftaudit.domain.errors import InputError
from driftaudit.domain.models import FleetScore
from driftaudit.settings import Settings
from driftaudit.streams.codec import decode
from driftaudit.streams.recorder import HistoryRecorder
from driftaudit.streams.score import (
    ScoreBatch,
    ScoreObservation,
    WindowTime,
    fleet_score,
    merge_all,
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
        #: (tenant, window start) -> the window's time, for a score not yet written to history;
        #: the score itself is computed at flush, once per window, not once per observation
        self._dirty: dict[tuple[str, float], WindowTime] = {}

    def observe(self, event: EventT[bytes]) -> int:
        """Apply one raw ``score-input`` message (a batch, or a single observation) to its windows.

        Called in the agent's stream iteration: the table logs each update to
        the changelog partition of the event being processed. Observations
        that fall in the same windows are applied in one update. Returns how
        many observations were applied.

        Raises:
            InputError: the message is neither a valid batch nor a valid observation.
        """
        limit = self._settings.max_message_bytes
        try:
            batch = decode(ScoreBatch, event.value, max_bytes=limit)
        except InputError:
            single = decode(ScoreObservation, event.value, max_bytes=limit)
            batch = ScoreBatch(tenant=single.tenant, observations=(single,))
        window = self.base.window
        assert window is not None
        groups: dict[tuple[Any, ...], list[ScoreObservation]] = {}
        for observation in batch.observations:
            if observation.tenant != batch.tenant:
                raise InputError("a score batch holds an observation of another tenant")
            ranges = tuple(window.ranges(observation.observed_at.timestamp()))
            groups.setdefault(ranges, []).append(observation)
        windows = self.table[batch.tenant]
        for observations in groups.values():
            at = WindowTime(observations[0].observed_at.timestamp())
            windows.apply(merge_all, observations, at)  # type: ignore[arg-type]
            self._dirty[(batch.tenant, window.current(at.timestamp)[0])] = at
        return len(batch.observations)

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
        rows = [
            (datetime.fromtimestamp(start, UTC), fleet_score(tenant, self.table[tenant].value(at)))  # type: ignore[arg-type]
            for (tenant, start), at in pending.items()
        ]
        await self._recorder.write_scores(rows)
        return len(rows)
