"""The worker factory: the pipeline stages, the fleet-score table (Faust) and its views.

:func:`create_app` builds everything from injected dependencies and connects
to nothing: the broker is contacted when a worker starts. The stages that
carry audits (split, fetch, analyze, record, report, track) run on aiokafka
with explicit rebalance handling and confirmed sends
(:mod:`driftaudit.streams.pipeline`); Faust keeps only the windowed
fleet-score table, its agent and its web views.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faust

from driftaudit.streams.agents import Agents, register_agents
from driftaudit.streams.analysis_pool import AnalysisPool
from driftaudit.streams.delivery import ConfirmedProducer
from driftaudit.streams.deps import StreamDeps
from driftaudit.streams.history_views import HistoryQueries, register_history_views
from driftaudit.streams.outbox import KafkaOutbox, Outbox
from driftaudit.streams.pipeline import PipelineService, bootstrap_of, rebalance_timeout_s
from driftaudit.streams.recorder import HistoryRecorder
from driftaudit.streams.scoreboard import FleetScoreboard
from driftaudit.streams.stages import StageHandlers
from driftaudit.streams.topics import Topics, declare_topics
from driftaudit.streams.views import register_views
from driftaudit.streams.worker_web import check_web_access, is_loopback

__all__ = ["StreamApp", "broker_url", "create_app"]


def broker_url(bootstrap: str) -> str:
    """A Faust broker URL (``kafka://host:port``) from ``host:port`` or a URL."""
    return bootstrap if "://" in bootstrap else f"kafka://{bootstrap}"


@dataclass(frozen=True, slots=True)
class StreamApp:
    """A built app and the parts tests and commands reach into."""

    app: faust.App
    topics: Topics
    agents: Agents
    handlers: StageHandlers
    scoreboard: FleetScoreboard
    recorder: HistoryRecorder
    pipeline: PipelineService


def create_app(
    deps: StreamDeps,
    *,
    outbox: Outbox | None = None,
    web_port: int | None = None,
    web_enabled: bool = True,
) -> StreamApp:
    """Build the driftaudit Faust app.

    Args:
        deps: adapters and settings (``settings.kafka_broker`` must be set:
            the commands start an embedded broker first when it is not).
        outbox: where stages send; None sends through a confirmed producer.
        web_port: the port of the worker's web server (fleet-score views);
            None uses ``settings.worker_web_port``.
        web_enabled: False runs without the web server.

    Returns:
        The app with its topics, agents, handlers and scoreboard.
    """
    settings = deps.settings
    session_timeout = settings.broker_session_timeout_s
    port = settings.worker_web_port if web_port is None else web_port
    token = settings.api_token.get_secret_value() if settings.api_token else None
    if web_enabled:
        check_web_access(settings.worker_web_bind, token)
    datadir = Path(tempfile.gettempdir()) / "driftaudit-faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=broker_url(settings.kafka_broker or "127.0.0.1:9092"),
        store="memory://",
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=max(0.5, min(3.0, session_timeout / 4)),
        broker_rebalance_timeout=rebalance_timeout_s(settings),
        broker_commit_interval=1.0,
        producer_max_request_size=max(settings.max_message_bytes * 2, 1_048_576),
        consumer_max_fetch_size=max(settings.max_message_bytes * 4, 4_194_304),
        web_enabled=web_enabled,
        web_host="127.0.0.1" if is_loopback(settings.worker_web_bind) else socket.getfqdn(),
        web_bind=settings.worker_web_bind,
        web_port=port,
        web_tables_enabled=False,
        table_cleanup_interval=max(1.0, min(30.0, settings.score_window_s)),
        # Faust creates its data directory even for the memory store; keep it
        # out of the working directory (one per app id, shared by its workers).
        datadir=str(datadir),
    )
    topics = declare_topics(app, prefix=settings.topic_prefix, partitions=settings.topic_partitions)
    recorder = HistoryRecorder(
        deps.history, batch_size=settings.history_batch_size, flush_s=settings.history_flush_s
    )
    producer = ConfirmedProducer(
        bootstrap_of(settings),
        max_request_size=max(settings.max_message_bytes * 2, 1_048_576),
        linger_ms=settings.producer_linger_ms,
    )
    # analysis in child processes only where the children can build what the worker has
    processes = settings.analysis_processes
    if processes is None:  # one per core, at most 8 (each child holds its own registry and rules)
        processes = min(os.cpu_count() or 1, 8)
    pool = (
        AnalysisPool(settings, processes) if outbox is None and deps.from_settings and processes > 0 else None
    )
    handlers = StageHandlers(
        deps,
        outbox or KafkaOutbox(producer),
        recorder,
        asyncio.Semaphore(settings.batch_size),
    )
    scoreboard = FleetScoreboard(app, settings, recorder)
    agents = register_agents(app, topics, handlers, scoreboard)
    if web_enabled:
        register_views(app, scoreboard, access=deps.access)
        if isinstance(deps.history, HistoryQueries):
            register_history_views(app, deps.history, token)
    handlers.pool = pool
    pipeline = PipelineService(handlers, producer, recorder)

    async def write_scores() -> None:
        await scoreboard.flush()

    app.timer(interval=settings.history_flush_s, name="driftaudit.write_scores")(write_scores)

    return StreamApp(app, topics, agents, handlers, scoreboard, recorder, pipeline)
