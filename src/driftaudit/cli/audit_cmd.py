"""``driftaudit audit``: publish an audit request and (with ``--wait``) follow it to the end.

With a broker (``DRIFTAUDIT_KAFKA_BROKER``) the request goes to
``audit-requests`` for the workers; ``--wait`` follows ``drift-events`` with
a progress bar until the audit's ``audit-status`` record arrives (the
pipeline publishes it when every selected device has reported, or at the
audit deadline naming the missing ones: no local copy of the inventory is
needed), then prints the summary and the fleet score. Without a broker it starts an
embedded Tansu and a worker in this process, so the same command works on a
laptop with no setup. ``--no-broker`` skips Kafka altogether and runs the
same steps in process (``trigger_fleet_audit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from driftaudit.audit.pipeline import summarize, summarize_reported
from driftaudit.audit.summary import AuditSummary
from driftaudit.domain.errors import DriftAuditError
from driftaudit.domain.models import AuditRequest, Device, DeviceSelector, DriftEvent, Platform
from driftaudit.settings import Settings

if TYPE_CHECKING:
    from driftaudit.streams.app import StreamApp

__all__ = ["audit", "audit_via_broker", "local_pipeline", "register", "request_for"]


def request_for(
    *,
    devices: Sequence[str] = (),
    tenant: str | None = None,
    site: str | None = None,
    role: str | None = None,
    platform: Platform | None = None,
    audit_id: str | None = None,
    requested_by: str = "driftaudit cli",
) -> AuditRequest:
    """An audit request for a selector (explicit ids, or filters that must all match)."""
    return AuditRequest(
        audit_id=audit_id or f"audit-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        requested_at=datetime.now(UTC),
        requested_by=requested_by,
        selector=DeviceSelector(
            device_ids=tuple(devices), tenant=tenant, site=site, role=role, platform=platform
        ),
    )


@contextlib.asynccontextmanager
async def local_pipeline(settings: Settings, *, web_port: int | None = None) -> AsyncIterator[StreamApp]:
    """A worker in this process, on real adapters from the composition root; released on exit."""
    from driftaudit.bootstrap import build_stream_deps
    from driftaudit.streams.app import create_app
    from driftaudit.streams.runtime import running

    deps = build_stream_deps(settings)
    try:
        async with running(create_app(deps, web_port=web_port)) as stream_app:
            yield stream_app
    finally:
        await deps.aclose()


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


#: How long after the audit deadline ``audit --wait`` still waits for the status record.
STATUS_GRACE_S = 30.0


def wait_for_status_s(settings: Settings) -> float:
    """The default ``--timeout``: past the audit deadline, when the pipeline publishes its status.

    An audit with a silent device gets its status record (naming the missing
    device) at ``audit_deadline_s``; a client that gives up before that
    would report a bare timeout instead of the pipeline's own account.
    """
    return settings.audit_deadline_s + STATUS_GRACE_S


async def audit_via_broker(
    settings: Settings,
    request: AuditRequest,
    devices: Sequence[Device] | None = None,
    *,
    timeout_s: float,
    on_event: Callable[[DriftEvent], None] | None = None,
) -> AuditSummary:
    """Publish ``request`` and follow it to its ``audit-status`` record, into a summary.

    ``devices`` (optional) orders the summary like the inventory; the status
    alone says whether any device is missing.

    Raises:
        AuditRejectedError: the pipeline dead-lettered the request.
        AuditTimeoutError: no status within ``timeout_s``, or a status naming missing devices.
        BrokerError: the broker is unreachable.
    """
    from driftaudit.streams.client import AuditClient, AuditTimeoutError

    started_at = datetime.now(UTC)
    async with AuditClient(settings) as client:
        await client.publish(request)
        status, events = await client.follow_status(request.audit_id, timeout_s=timeout_s, on_event=on_event)
    if not status.complete:
        deadline_s = (status.deadline_at - status.requested_at).total_seconds()
        raise AuditTimeoutError(status.missing or ["(list cut)"], deadline_s)
    if devices is None:
        return summarize_reported(
            audit_id=request.audit_id,
            requested_at=request.requested_at,
            events=events,
            started_at=started_at,
            finished_at=datetime.now(UTC),
        )
    order = {device.device_id: index for index, device in enumerate(devices)}
    return summarize(
        audit_id=request.audit_id,
        requested_at=request.requested_at,
        devices=devices,
        events=sorted((e for e in events if e.device_id in order), key=lambda event: order[event.device_id]),
        started_at=started_at,
        finished_at=datetime.now(UTC),
    )


async def follow_with_progress(
    settings: Settings,
    request: AuditRequest,
    devices: Sequence[Device] | None,
    *,
    timeout_s: float,
    console: Console,
    show: bool,
) -> AuditSummary:
    """:func:`audit_via_broker` with a rich progress bar (when ``show``)."""
    if not show:
        return await audit_via_broker(settings, request, devices, timeout_s=timeout_s)
    with _progress(console) as progress:
        task = progress.add_task("audit", total=len(devices) if devices else None, last="")

        def advance(event: DriftEvent) -> None:
            progress.update(task, advance=1, last=f"{event.device_id}: {event.status.value}")

        return await audit_via_broker(settings, request, devices, timeout_s=timeout_s, on_event=advance)


async def _publish_only(settings: Settings, request: AuditRequest) -> None:
    from driftaudit.streams.client import AuditClient

    async with AuditClient(settings) as client:
        await client.publish(request)


async def _run(
    settings: Settings, request: AuditRequest, *, wait: bool, timeout_s: float, console: Console, show: bool
) -> AuditSummary | None:
    from driftaudit.streams.runtime import broker_for

    if settings.kafka_broker:
        if not wait:
            await _publish_only(settings, request)
            return None
        return await follow_with_progress(
            settings, request, None, timeout_s=timeout_s, console=console, show=show
        )
    with broker_for(settings) as local:
        from driftaudit.streams.embedded_broker import free_port

        async with local_pipeline(local, web_port=free_port()):
            return await follow_with_progress(
                local, request, None, timeout_s=timeout_s, console=console, show=show
            )


def audit(
    device: Annotated[list[str] | None, typer.Option("--device", "-d", help="A device id (repeat).")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only devices of this tenant.")] = None,
    site: Annotated[str | None, typer.Option(help="Only devices of this site.")] = None,
    role: Annotated[str | None, typer.Option(help="Only devices with this role.")] = None,
    platform: Annotated[Platform | None, typer.Option(help="Only devices of this platform.")] = None,
    audit_id: Annotated[str | None, typer.Option(help="Audit id (default: a new random one).")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the audit to the end.")] = True,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=1.0,
            help="Seconds to wait for the audit's status record (default: the audit deadline + 30 s).",
        ),
    ] = None,
    no_broker: Annotated[bool, typer.Option("--no-broker", help="Run in process, no Kafka.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    diffs: Annotated[bool, typer.Option(help="Show each device's masked diff.")] = False,
) -> None:
    """Audit devices for drift: publish a request, follow it, print the report and the fleet score."""
    from driftaudit.cli.render import print_summary, summary_json

    settings = Settings()
    if timeout is None:
        timeout = wait_for_status_s(settings)
    request = request_for(
        devices=device or (), tenant=tenant, site=site, role=role, platform=platform, audit_id=audit_id
    )
    console = Console(stderr=as_json)
    try:
        if no_broker:
            from driftaudit.bootstrap import audit_in_process

            summary: AuditSummary | None = asyncio.run(audit_in_process(request, settings))
        else:
            summary = asyncio.run(
                _run(settings, request, wait=wait, timeout_s=timeout, console=console, show=not as_json)
            )
    except DriftAuditError as exc:
        typer.echo(f"audit: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if summary is None:
        typer.echo(f"published audit {request.audit_id}")
        return
    if as_json:
        typer.echo(summary_json(summary, diffs=diffs))
    else:
        print_summary(summary, console, diffs=diffs)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command to the ``driftaudit`` app."""
    app.command("audit")(audit)
