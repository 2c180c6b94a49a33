"""Running the stream app: the broker it needs, in process or as a Faust worker.

* :func:`broker_for` yields settings that name a broker: the configured one,
  or an embedded Tansu started on a free loopback port when
  ``DRIFTAUDIT_KAFKA_BROKER`` is unset (stopped on exit). Its session timeout
  is short because Tansu's first group join waits about half of it.
* :func:`running` starts an app in the current event loop (the demo, the
  in-process ``audit``, tests) and stops it on exit.
* :func:`run_worker` runs an app as a Faust worker that owns the process
  (``driftaudit worker``): signals, logging (with the library loggers quieted:
  no request per line at INFO, no payload at DEBUG), a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import faust
from mode import Service

from driftaudit.settings import Settings
from driftaudit.streams.app import StreamApp
from driftaudit.streams.client import BrokerError, ensure_topics, initialize_group_offsets
from driftaudit.streams.deps import StreamDeps
from driftaudit.streams.embedded_broker import EmbeddedTansu
from driftaudit.streams.log_config import quiet_libraries

__all__ = [
    "EMBEDDED_SESSION_TIMEOUT_S",
    "broker_for",
    "prepare_broker",
    "run_worker",
    "running",
    "use_event_loop",
]

logger = logging.getLogger(__name__)

#: Tansu makes a first group join wait about half the session timeout.
EMBEDDED_SESSION_TIMEOUT_S = 2.0


def use_event_loop(kind: str) -> str:
    """Make ``kind`` (``uvloop`` or ``asyncio``) the event loop of the loops this process creates next.

    A worker's event loop carries every socket it has: Kafka fetches and
    produces, device HTTP and SSH sessions, the analysis children's replies.
    The stdlib's selector loop runs its transports in Python; uvloop's are
    libuv's, in C. Call it before anything creates a loop (the broker
    preparation, the Faust app). Returns the loop chosen: ``asyncio`` when
    uvloop cannot be imported (a warning says so).
    """
    if kind != "uvloop":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        logger.warning("uvloop is not installed: the worker runs on the asyncio event loop")
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[Settings]:
    """Settings naming a reachable broker, starting Tansu when none is configured."""
    if settings.kafka_broker:
        yield settings
        return
    with EmbeddedTansu() as tansu:
        logger.info("started embedded Tansu %s at %s", tansu.version, tansu.bootstrap)
        session = min(settings.broker_session_timeout_s, EMBEDDED_SESSION_TIMEOUT_S)
        update = {"kafka_broker": tansu.bootstrap, "broker_session_timeout_s": session}
        yield settings.model_copy(update=update)


async def prepare_broker(settings: Settings, *, patience_s: float | None = None) -> None:
    """Create missing topics and give the consumer group a start offset on every partition.

    Call before a worker starts (see :func:`initialize_group_offsets` for why).
    While the broker cannot be reached (not up yet, restarting) it retries with
    backoff, logging each attempt: for ever (``patience_s`` None, a worker), or
    for ``patience_s`` seconds (a command in the foreground).

    Raises:
        BrokerError: still unreachable after ``patience_s``.
    """
    loop = asyncio.get_running_loop()
    give_up = None if patience_s is None else loop.time() + patience_s
    delay = 0.5
    while True:
        try:
            partitions = await ensure_topics(settings)
            await initialize_group_offsets(settings, partitions)
            return
        except BrokerError as exc:
            if give_up is not None and loop.time() + delay > give_up:
                raise
            logger.warning("broker not ready (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


@contextlib.asynccontextmanager
async def running(stream_app: StreamApp) -> AsyncIterator[StreamApp]:
    """Run the app's consumers, agents, timers and web server in this event loop."""
    app = stream_app.app
    await prepare_broker(stream_app.handlers.settings, patience_s=60.0)
    await stream_app.pipeline.start()
    try:
        await app.start()
        try:
            yield stream_app
        finally:
            await app.stop()
    finally:
        await stream_app.pipeline.stop()


class _Worker(faust.Worker):
    """Faust's worker with driftaudit's logging rules (:mod:`driftaudit.streams.log_config`)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        quiet_libraries(logger)


class _Closer(Service):
    """Releases the injected adapters when the worker stops (after the app's agents)."""

    def __init__(self, deps: StreamDeps) -> None:
        super().__init__()
        self._deps = deps

    async def on_stop(self) -> None:
        await self._deps.aclose()


def run_worker(stream_app: StreamApp, *, loglevel: str = "warning") -> None:
    """Run the app as a Faust worker until SIGINT or SIGTERM; returns after a clean stop.

    The injected fetch client and history store are closed when it stops.
    Call :func:`prepare_broker` before building the
    app (``asyncio.run`` must not run between building the app and this call:
    the app's services bind the event loop current when they are built).
    """
    closer = _Closer(stream_app.handlers.deps)
    stream_app.pipeline.freeze_heap = True  # this process is the worker's: its start-up heap can be frozen
    # mode stops services in reverse order: the pipeline first (its in-flight fetches still
    # have their client), then the adapters, then the Faust app
    worker = _Worker(stream_app.app, closer, stream_app.pipeline, loglevel=loglevel, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
