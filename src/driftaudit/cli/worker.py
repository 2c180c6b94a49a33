"""``driftaudit worker``: run the stream topology as a Faust worker.

Start as many as there are partitions to share: workers with the same
``DRIFTAUDIT_APP_ID`` form one consumer group. With no
``DRIFTAUDIT_KAFKA_BROKER`` it starts an embedded Tansu first (printed, so
``driftaudit audit`` can be pointed at it) and stops it on exit.

Several workers on one host: each gets a free web port when the default one
is taken (an explicitly configured port that is taken is an error at once);
only one can hold an embedded chDB store, the others run and say so, and take
it over when it is released. The URL of the web views is printed, and written
next to the store while this worker holds it, so ``driftaudit history`` and
the API read the history through it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from driftaudit.domain.errors import DriftAuditError
from driftaudit.settings import Settings
from driftaudit.streams.worker_web import choose_web_port, is_loopback

__all__ = ["register", "worker"]

#: Printed whatever the log level: a worker on a private broker is never what a producer elsewhere expects.
_EMBEDDED = (
    "DRIFTAUDIT_KAFKA_BROKER is not set: this worker started its own in-memory broker (Tansu) at {broker}. "
    "Only processes given DRIFTAUDIT_KAFKA_BROKER={broker} see its topics, and they vanish when it stops; "
    "set DRIFTAUDIT_KAFKA_BROKER=host:port to use your Kafka."
)


def _advertised_url(bind: str, port: int) -> str:
    """How a process on this host reaches the web server bound to ``bind``."""
    host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") or is_loopback(bind) else bind  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def worker(
    loglevel: Annotated[
        str,
        typer.Option(
            help="Log level: debug, info, warning or error. Library loggers never print payloads or "
            "per-request lines (see README, Worker operations)."
        ),
    ] = "warning",
    web_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Port of the web views (default: DRIFTAUDIT_WORKER_WEB_PORT, 6066, or a free port when "
            "6066 is taken; 0: any free port).",
        ),
    ] = None,
) -> None:
    """Run a stream worker: split, fetch, analyze, history sink, fleet score and its web views."""
    from driftaudit.bootstrap import build_stream_deps
    from driftaudit.streams.app import create_app
    from driftaudit.streams.runtime import broker_for, prepare_broker, run_worker, use_event_loop

    settings = Settings()
    use_event_loop(settings.event_loop)
    try:
        explicit = web_port is not None or "worker_web_port" in settings.model_fields_set
        requested = settings.worker_web_port if web_port is None else web_port
        port = choose_web_port(settings.worker_web_bind, requested, explicit=explicit)
        with broker_for(settings) as local:
            if not settings.kafka_broker:
                typer.echo(_EMBEDDED.format(broker=local.kafka_broker), err=True)
            asyncio.run(prepare_broker(local))  # before the app exists: it binds the loop current then
            deps = build_stream_deps(local)
            url = _advertised_url(settings.worker_web_bind, port)
            advertise = getattr(deps.history, "advertise", None)
            if advertise is not None:
                advertise(url)  # in the store's state file, while this worker holds the store
            typer.echo(f"worker web views at {url}", err=True)
            stream_app = create_app(deps, web_port=port)
            run_worker(stream_app, loglevel=loglevel)
    except DriftAuditError as exc:
        typer.echo(f"worker: {exc}", err=True)
        raise typer.Exit(code=2) from exc


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``driftaudit`` app."""
    app.command("worker")(worker)
