"""The Faust app factory: topics, agents, the fleet-score table and its views.

:func:`create_app` builds everything from injected dependencies and connects
to nothing: the broker is contacted when a worker starts the app.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faust

from driftaudit.streams.agents import Agents, register_agents
from driftaudit.streams.deps import StreamDeps
from driftaudit.streams.history_views import HistoryQueries, register_history_views
from driftaudit.streams.outbox import FaustOutbox, Outbox
from driftaudit.streams.recorder import HistoryRecorder
from driftaudit.streams.scoreboard import FleetScoreboard
from driftaudit.streams.stages import StageHandlers
from driftaudit.streams.stall_guard import StallGuard
from driftaudit.streams.topics import Topics, declare_topics
from driftaudit.streams.views import register_views
from driftaudit.streams.worker_web import check_web_access, is_loopback

__all__ = ["StreamApp", "broker_url", "create_app"]

logger = logging.getLogger(__name__)

#: How often the stall guard looks, and how long an idle partition may lag unchanged
#: (several commit intervals, so acked events have surely been committed).
_STALL_CHECK_S = 2.0
_STALL_S = 6.0


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
        outbox: where agents send; None sends to the app's topics.
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
        broker_rebalance_timeout=max(session_timeout * 2, 10.0),
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
    recorder = HistoryRecorder(deps.history)
    handlers = StageHandlers(
        deps,
        outbox or FaustOutbox(topics),
        recorder,
        asyncio.Semaphore(settings.batch_size),
    )
    scoreboard = FleetScoreboard(app, settings, recorder)
    agents = register_agents(app, topics, handlers, scoreboard)
    if web_enabled:
        register_views(app, scoreboard, token)
        if isinstance(deps.history, HistoryQueries):
            register_history_views(app, deps.history, token)
    names = topics.names
    sources = (names.audit_requests, names.device_fetch, names.device_configs, names.drift_events)
    guard = StallGuard(app, (*sources, names.score_input), stall_s=_STALL_S)

    async def reread_stalled_partitions() -> None:
        # A watchdog must never take the worker down: log and try again next tick.
        try:
            await guard.check()
        except Exception:  # noqa: BLE001
            logger.warning("stall check failed", exc_info=True)

    app.timer(interval=_STALL_CHECK_S, name="driftaudit.reread_stalled_partitions")(reread_stalled_partitions)

    async def write_scores() -> None:
        await scoreboard.flush()

    app.timer(interval=settings.history_flush_s, name="driftaudit.write_scores")(write_scores)

    return StreamApp(app, topics, agents, handlers, scoreboard, recorder)
