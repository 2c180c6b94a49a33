"""The pipeline stages of one worker, each a :class:`StageRunner` on its own consumer group.

=========  ==================  ============================================  =========
stage      reads               emits (confirmed before the input is acked)   in flight
=========  ==================  ============================================  =========
split      audit-requests      audit-progress (opened), device-fetch; run     4
fetch      device-fetch        device-configs and drift-events (analyzed      2 x batch
                               in the analysis processes)
record     drift-events        history (buffered, stored before the ack)      2 x batch
report     drift-events        score-input, audit-progress (batched)          2000
track      audit-progress      audit-status                                   10000
=========  ==================  ============================================  =========

Each stage has its own group (``<app_id>.<stage>``), so two stages can read
the same topic and a rebalance of one never pauses another. The fleet-score
table stays a Faust table (:mod:`driftaudit.streams.scoreboard`) fed from
``score-input``.

The rebalance timeout is above every grace a revoke can take: a fetch is
bounded by ``total_timeout_s`` (plus the cancel grace), so a revoke waits at
most that for in-flight fetches and no member ever holds the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from mode import Service

from driftaudit.audit.fleet import CANCEL_GRACE_S
from driftaudit.settings import Settings
from driftaudit.streams.delivery import ConfirmedProducer
from driftaudit.streams.recorder import HistoryRecorder
from driftaudit.streams.runner import Handler, StageRunner, StageSpec
from driftaudit.streams.stages import StageHandlers

__all__ = ["PipelineService", "rebalance_timeout_s"]

logger = logging.getLogger(__name__)


def rebalance_timeout_s(settings: Settings) -> float:
    """How long the group waits for a member to rejoin: above the fetch deadline."""
    if settings.broker_rebalance_timeout_s is not None:
        return settings.broker_rebalance_timeout_s
    return max(settings.broker_session_timeout_s * 2, settings.total_timeout_s + CANCEL_GRACE_S + 10.0)


def bootstrap_of(settings: Settings) -> str:
    """``host:port`` of the configured broker."""
    if not settings.kafka_broker:
        raise ValueError("no broker configured (DRIFTAUDIT_KAFKA_BROKER)")
    return settings.kafka_broker.removeprefix("kafka://")


def freeze_startup_heap() -> None:
    """Keep what the worker built at start (modules, compiled patterns, clients) out of the collector's walks.

    A worker holds a large, long-lived heap and allocates a coroutine, a task
    and a few models per message, so the collector runs often, and every
    full collection walked the whole start-up heap again. Measured in the
    pipeline benchmark (gc callbacks in the worker): 12 % of the worker's CPU
    went to collections; frozen, with a young generation of 20,000 objects
    rather than 700 (a few MB held at most), 5 %, most of it at start-up.
    What is frozen is never freed, which is what a worker's start-up objects
    are. (The analysis processes spend about 1 % in the collector: left as is.)
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def stage_specs(handlers: StageHandlers) -> list[StageSpec]:
    """The stages of the pipeline on ``handlers``."""
    settings = handlers.settings
    names = handlers.names
    fetch_grace = settings.total_timeout_s + CANCEL_GRACE_S + 1.0

    def guarded(stage: str, topic: str, handler: Handler) -> Handler:
        async def run(key: bytes | None, value: bytes | None) -> None:
            await handlers.guard(stage, topic, key, value, handler)

        return run

    return [
        StageSpec("split", names.audit_requests, guarded("split", names.audit_requests, handlers.split), 4),
        StageSpec(
            "fetch",
            names.device_fetch,
            guarded("fetch", names.device_fetch, handlers.fetch),
            max(2, settings.batch_size * 2),
            revoke_grace_s=fetch_grace,
        ),
        StageSpec("record", names.drift_events, handlers.record, max(2, settings.history_batch_size * 2)),
        # many in flight: a report waits for its batch (a few ms) before it is acked
        StageSpec("report", names.drift_events, handlers.report, 2000),
        # an opened audit holds its record until its status is out: a revoke cancels at once
        StageSpec("track", names.audit_progress, handlers.track, 10_000, revoke_grace_s=0.0),
    ]


class PipelineService(Service):
    """Starts the producer, the history writer, the audit deadlines and every stage; stops them in reverse.

    Args:
        handlers: the stage logic (its outbox sends through ``producer``).
        producer: the worker's confirmed producer.
        recorder: the buffered history writer.
    """

    def __init__(
        self, handlers: StageHandlers, producer: ConfirmedProducer, recorder: HistoryRecorder
    ) -> None:
        super().__init__()
        self.handlers = handlers
        self.producer = producer
        self.recorder = recorder
        settings = handlers.settings
        bootstrap = bootstrap_of(settings)
        rebalance = rebalance_timeout_s(settings)
        self.runners = {
            spec.name: StageRunner(
                spec,
                bootstrap=bootstrap,
                group_id=f"{settings.app_id}.{spec.name}",
                session_timeout_s=settings.broker_session_timeout_s,
                rebalance_timeout_s=rebalance,
                max_fetch_bytes=max(settings.max_message_bytes * 4, 4_194_304),
                fetch_min_bytes=settings.broker_fetch_min_bytes,
                fetch_max_wait_ms=settings.broker_fetch_max_wait_ms,
            )
            for spec in stage_specs(handlers)
        }
        self._deadlines: asyncio.Task[None] | None = None
        #: set by a worker process that owns its interpreter (never in a test's process)
        self.freeze_heap = False

    async def on_start(self) -> None:
        """Connect the producer, then join every stage's group."""
        await self.producer.start()
        if self.handlers.pool is not None:
            await self.handlers.pool.start()
        await self.recorder.start()
        self._deadlines = asyncio.create_task(self.handlers.tracker.run_deadlines())
        await asyncio.gather(*(runner.start() for runner in self.runners.values()))
        # ready means joined: the first assignment comes after the group's initial rebalance delay
        await asyncio.gather(*(runner.wait_assigned(30.0) for runner in self.runners.values()))
        if self.freeze_heap:
            freeze_startup_heap()
        logger.info("pipeline stages started: %s", ", ".join(self.runners))

    async def on_stop(self) -> None:
        """Leave the groups (in-flight work finishes or stays uncommitted), then stop the rest."""
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()), return_exceptions=True)
        if self._deadlines is not None:
            self._deadlines.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deadlines
        await self.recorder.stop()
        if self.handlers.pool is not None:
            await self.handlers.pool.stop()
        await self.producer.stop()
