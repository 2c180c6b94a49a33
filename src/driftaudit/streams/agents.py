"""The one Faust agent left: the fleet-score table's, reading ``score-input``.

The audit stages run on aiokafka (:mod:`driftaudit.streams.pipeline`), where
every acknowledgement follows confirmed sends and assignments are handled
explicitly. The fleet score is a rolling view (a windowed table keyed by
tenant, with its changelog), which Faust's tables serve well; audit
completeness does not depend on it (``audit-status`` is computed from the
audit's own progress records).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import AgentT, StreamT

from driftaudit.domain.errors import InputError
from driftaudit.streams.scoreboard import FleetScoreboard
from driftaudit.streams.stages import StageHandlers
from driftaudit.streams.topics import Topics

__all__ = ["Agents", "register_agents"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Agents:
    """The Faust agents of one app, for tests (``agent.test_context()``)."""

    score: AgentT[Any]


def register_agents(
    app: faust.App,
    topics: Topics,
    handlers: StageHandlers,
    scoreboard: FleetScoreboard,
) -> Agents:
    """Define the fleet-score agent on ``app``."""
    names = topics.names

    async def score(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                scoreboard.observe(event)
            except InputError as exc:
                await handlers.dead("score", str(exc), names.score_input, event.key, event.value)
            except Exception as exc:  # noqa: BLE001 - a table agent must not die on one event
                logger.exception("fleet score failed on a message of %s", names.score_input)
                await handlers.dead(
                    "score",
                    f"internal error: {type(exc).__name__}",
                    names.score_input,
                    event.key,
                    event.value,
                )

    return Agents(score=app.agent(topics.score_input, name="driftaudit.score")(score))
