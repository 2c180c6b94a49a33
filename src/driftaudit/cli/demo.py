"""``driftaudit demo`` (``make run``): the whole pipeline on embedded defaults, in one command.

It starts an embedded Tansu broker, a simulated fleet (SSH and REST devices,
a few drifted, a few unreachable), a worker in this process with a chDB
history in a temporary directory, publishes one audit, shows its progress,
the drift report and the rolling fleet score the worker's web view serves,
then stops everything and exits 0. Nothing stays running, nothing is left
behind unless ``--keep`` names a directory to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.text import Text

from driftaudit.domain.errors import DriftAuditError
from driftaudit.domain.models import FleetScore, Transport
from driftaudit.settings import Settings

__all__ = ["demo", "register"]


async def _served_score(port: int, expected: int, *, timeout_s: float = 10.0) -> FleetScore | None:
    """The fleet score from the worker's web view, once it counts every device (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    document: dict[str, Any] | None = None
    async with httpx.AsyncClient(timeout=5.0) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = await http.get(f"http://127.0.0.1:{port}/fleet/score")
                document = answer.json()["fleet"]
                if document is not None and document["total"] >= expected:
                    break
            await asyncio.sleep(0.2)
    if document is None:
        return None
    return FleetScore.model_validate({k: v for k, v in document.items() if k not in ("reachable", "total")})


async def _wait_stored(stream_app: Any, expected: int, *, timeout_s: float = 10.0) -> int:
    """Events the history sink has durably written, waiting for ``expected`` (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    written: int = stream_app.recorder.events_written
    while written < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # noqa: ASYNC110 - polls a counter another task advances
        written = stream_app.recorder.events_written
    return written


async def _demo(
    workdir: Path, *, devices: int, drifted: int, unreachable: int, latency: float, console: Console
) -> None:
    from driftaudit.adapters.history.clickhouse import chdb_dsn
    from driftaudit.cli.audit_cmd import follow_with_progress, local_pipeline, request_for
    from driftaudit.cli.render import print_summary, score_line
    from driftaudit.cli.sim import SimOptions, write_fleet_files
    from driftaudit.sim.fleet import build_fleet
    from driftaudit.streams.embedded_broker import free_port
    from driftaudit.streams.runtime import broker_for

    started = time.perf_counter()
    fleet = build_fleet(
        devices,
        seed=7,
        drifted=drifted,
        unreachable=unreachable,
        transports=(Transport.SSH, Transport.REST),
        latency_s=latency,
    )
    options = SimOptions(devices=devices, out=workdir / "fleet", drifted=drifted, unreachable=unreachable)
    async with fleet.running() as sim:
        files = write_fleet_files(fleet, sim, options)
        console.print(
            Text(
                f"simulated fleet: {devices} devices (ssh port {sim.ssh_port}, http port {sim.http_port}), "
                f"{len(fleet.drift)} drifted, {len(fleet.unreachable)} unreachable"
            )
        )
        web_port = free_port()
        settings = Settings(_env_file=files.env)
        settings = settings.model_copy(
            update={
                "kafka_broker": None,
                "app_id": "driftaudit-demo",
                "clickhouse_dsn": chdb_dsn(workdir / "history"),
                "worker_web_port": web_port,
                "history_flush_s": 0.3,
                # a private, loopback-only demo: its web view needs no token whatever the environment says
                "api_token": None,
                "api_tokens_path": None,
            }
        )
        with broker_for(settings) as local:
            console.print(Text(f"embedded broker (Tansu) at {local.kafka_broker}; history in {workdir}"))
            async with local_pipeline(local, web_port=web_port) as stream_app:
                console.print(
                    Text(f"worker up; fleet score served at http://127.0.0.1:{web_port}/fleet/score")
                )
                request = request_for(requested_by="driftaudit demo")
                selected = stream_app.handlers.deps.inventory.select(request.selector)
                summary = await follow_with_progress(
                    local, request, selected, timeout_s=60.0, console=console, show=True
                )
                print_summary(summary, console)
                served = await _served_score(web_port, len(selected))
                if served is not None:
                    console.print(score_line(served, label="Rolling fleet score (worker web view)"))
                stored = await _wait_stored(stream_app, len(selected))
                console.print(Text(f"history: {stored} drift events stored", style="dim"))
    elapsed = time.perf_counter() - started
    console.print(Text(f"demo finished in {elapsed:.1f} s; everything stopped", style="dim"))


def demo(
    devices: Annotated[int, typer.Option("--devices", "-n", min=2, help="Simulated devices.")] = 50,
    drifted: Annotated[int, typer.Option(min=0, help="Drifted devices.")] = 5,
    unreachable: Annotated[int, typer.Option(min=0, help="Unreachable devices.")] = 3,
    latency: Annotated[float, typer.Option(min=0.0, help="Seconds each device takes to answer.")] = 0.0,
    keep: Annotated[Path | None, typer.Option(help="Keep the fleet files and history here.")] = None,
) -> None:
    """Run the local demo: embedded broker, simulated fleet, a worker, one audit, the report."""
    console = Console()
    workdir = keep.resolve() if keep is not None else Path(tempfile.mkdtemp(prefix="driftaudit-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(
            _demo(
                workdir,
                devices=devices,
                drifted=drifted,
                unreachable=unreachable,
                latency=latency,
                console=console,
            )
        )
    except DriftAuditError as exc:
        typer.echo(f"demo: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the ``driftaudit`` app."""
    app.command("demo")(demo)
