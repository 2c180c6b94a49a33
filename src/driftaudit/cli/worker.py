"""``driftaudit worker``: run the stream topology as a Faust worker.

Start as many as there are partitions to share: workers with the same
``DRIFTAUDIT_APP_ID`` form one consumer group. With no
``DRIFTAUDIT_KAFKA_BROKER`` it starts an embedded Tansu first (printed, so
``driftaudit audit`` can be pointed at it) and stops it on exit.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from driftaudit.domain.errors import DriftAuditError
from driftaudit.settings import Settings

__all__ = ["register", "worker"]

#: Printed whatever the log level: a worker on a private broker is never what a producer elsewhere expects.
_EMBEDDED = (
    "DRIFTAUDIT_KAFKA_BROKER is not set: this worker started its own in-memory broker (Tansu) at {broker}. "
    "Only processes given DRIFTAUDIT_KAFKA_BROKER={broker} see its topics, and they vanish when it stops; "
    "set DRIFTAUDIT_KAFKA_BROKER=host:port to use your Kafka."
)


def worker(
    loglevel: Annotated[str, typer.Option(help="Faust log level: debug, info, warning, error.")] = "warning",
    web_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Web port [default: DRIFTAUDIT_WORKER_WEB_PORT].")
    ] = None,
) -> None:
    """Run a stream worker: split, fetch, analyze, history sink, fleet score and its web views."""
    from driftaudit.bootstrap import build_stream_deps
    from driftaudit.streams.app import create_app
    from driftaudit.streams.runtime import broker_for, prepare_broker, run_worker

    settings = Settings()
    try:
        with broker_for(settings) as local:
            if not settings.kafka_broker:
                typer.echo(_EMBEDDED.format(broker=local.kafka_broker), err=True)
            asyncio.run(prepare_broker(local))  # before the app exists: it binds the loop current then
            stream_app = create_app(build_stream_deps(local), web_port=web_port)
            run_worker(stream_app, loglevel=loglevel)
    except DriftAuditError as exc:
        typer.echo(f"worker: {exc}", err=True)
        raise typer.Exit(code=2) from exc


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``driftaudit`` app."""
    app.command("worker")(worker)
