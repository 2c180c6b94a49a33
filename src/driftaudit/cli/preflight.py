"""``driftaudit preflight DEVICE...``: is this device compliant right now?

Exit codes are for scripts and CI gates: 0 every device compliant, 1 any
drifted, 2 any unreachable or errored (the worst wins), 3 the check could not
run (bad configuration, unknown device).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from driftaudit.audit.preflight import PreflightReport, preflight_check
from driftaudit.cli.render import STATUS_STYLES
from driftaudit.domain.errors import DriftAuditError
from driftaudit.settings import Settings

__all__ = ["register", "run_preflight"]

EXIT_NOT_RUN = 3


async def run_preflight(device_ids: list[str], settings: Settings, timeout_s: float) -> PreflightReport:
    """Build the adapters, check the devices once, and release the connections."""
    from driftaudit.bootstrap import build_config_client, build_intended, build_inventory, build_masking

    inventory = build_inventory(settings)
    intended = build_intended(settings)
    registry = build_masking(settings)
    client = build_config_client(settings)
    try:
        return await preflight_check(
            device_ids,
            inventory=inventory,
            intended=intended,
            client=client,
            registry=registry,
            timeout_s=timeout_s,
            batch_size=settings.batch_size,
        )
    finally:
        await client.aclose()


def _table(report: PreflightReport, diffs: bool) -> Table:
    table = Table(title=Text(f"Pre-flight {report.check_id} ({report.elapsed_ms / 1000:.2f} s)"))
    for header in ("device", "platform", "status", "+added", "-removed", "detail"):
        table.add_column(header, justify="right" if header[0] in "+-" else "left")
    for event in report.results:
        detail = event.reason or ""
        if diffs and event.unified_diff:
            detail = event.unified_diff
        table.add_row(
            Text(event.device_id),
            Text(event.platform.value),
            Text(event.status.value, style=STATUS_STYLES[event.status]),
            Text(str(event.added_count)),
            Text(str(event.removed_count)),
            Text(detail),
        )
    return table


def preflight(
    devices: Annotated[list[str], typer.Argument(help="Device ids from the inventory.")],
    timeout: Annotated[
        float | None, typer.Option(help="Bound in seconds (default: DRIFTAUDIT_PREFLIGHT_TIMEOUT_S).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    diffs: Annotated[bool, typer.Option("--diff", help="Show the masked unified diffs.")] = False,
) -> None:
    """Fetch the devices now and compare them with their intended configs."""
    settings = Settings()
    try:
        report = asyncio.run(run_preflight(devices, settings, timeout or settings.preflight_timeout_s))
    except DriftAuditError as exc:
        Console(stderr=True).print(Text(f"pre-flight could not run: {exc}", style="red"))
        raise typer.Exit(EXIT_NOT_RUN) from exc
    if as_json:
        document = {
            **report.model_dump(mode="json"),
            "compliant": report.compliant,
            "exit_code": report.exit_code,
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        Console().print(_table(report, diffs))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``preflight`` to the root command."""
    app.command("preflight")(preflight)
