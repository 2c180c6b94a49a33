"""The Faust agents: thin loops that hand each message to :class:`StageHandlers`.

Delivery is at-least-once, made effectively-once by idempotent sinks:

* An agent iterating ``stream.events()`` acknowledges an event only when it
  asks for the next one, i.e. after its handler returned. Faust commits an
  offset only once every event up to it is acknowledged (it tracks gaps, so
  concurrent fetch actors finishing out of order are safe) and flushes the
  producer before committing, so whatever a handler sent is on the broker
  before the offset of its input is committed. A crash before the commit
  replays the input; downstream sees a repeat, never a gap.
* Handlers never raise: :meth:`StageHandlers.guard` turns every failure into
  a dead letter, because an exception escaping an agent kills its actor and
  quietly stalls the commits of its partitions.
* The history sink reads ``stream.take_events(n, within=...)``: Faust disables
  automatic acks for a ``take`` and acknowledges the buffered events only
  when the loop body has finished with the batch and asks for the next one,
  which is after the awaited durable write (retried until it succeeds). A
  crash mid-write replays the batch; the store's idempotent keys
  (audit_id, device_id) keep one row per device and audit.
* ``exactly_once`` is not used: Tansu has no transactions and Faust's
  transactional mode has open duplicate bugs.

Only ``fetch`` runs several actors (it writes no table and needs no order);
the worker-wide semaphore inside the handler bounds fetches in flight to
``batch_size`` whatever the concurrency.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import AgentT, StreamT

from driftaudit.domain.errors import InputError
from driftaudit.streams.scoreboard import FleetScoreboard
from driftaudit.streams.stages import StageHandlers
from driftaudit.streams.topics import Topics

__all__ = ["Agents", "register_agents"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Agents:
    """The agents of one app, for tests (``agent.test_context()``) and introspection."""

    split: AgentT[Any]
    fetch: AgentT[Any]
    analyze: AgentT[Any]
    record: AgentT[Any]
    route_score: AgentT[Any]
    score: AgentT[Any]


def register_agents(
    app: faust.App,
    topics: Topics,
    handlers: StageHandlers,
    scoreboard: FleetScoreboard,
) -> Agents:
    """Define the agents of the pipeline on ``app``."""
    names = topics.names
    settings = handlers.settings
    fetch_concurrency = max(1, settings.batch_size)

    async def split(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await handlers.guard("split", names.audit_requests, event.key, event.value, handlers.split)

    async def fetch(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await handlers.guard("fetch", names.device_fetch, event.key, event.value, handlers.fetch)

    async def analyze(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await handlers.guard("analyze", names.device_configs, event.key, event.value, handlers.analyze)

    async def record(stream: StreamT[bytes]) -> None:
        size, within = settings.history_batch_size, settings.history_flush_s
        batches = cast(Stream[bytes], stream).take_events(size, within=within)
        async for batch in batches:
            await handlers.record([(event.key, event.value) for event in batch])

    async def route_score(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await handlers.guard("score", names.drift_events, event.key, event.value, handlers.route_score)

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

    return Agents(
        split=app.agent(topics.audit_requests, name="driftaudit.split")(split),
        fetch=app.agent(topics.device_fetch, name="driftaudit.fetch", concurrency=fetch_concurrency)(fetch),
        analyze=app.agent(topics.device_configs, name="driftaudit.analyze")(analyze),
        record=app.agent(topics.drift_events, name="driftaudit.record")(record),
        route_score=app.agent(topics.drift_events, name="driftaudit.route_score")(route_score),
        score=app.agent(topics.score_input, name="driftaudit.score")(score),
    )
