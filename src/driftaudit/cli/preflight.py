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
from driftaudit.domain.models import FeatureStatus
from driftaudit.domain.remediation import reveal, secret_values
from driftaudit.settings import Settings

__all__ = ["register", "run_preflight"]

EXIT_NOT_RUN = 3

_FEATURE_STYLES = {
    FeatureStatus.COMPLIANT: "green",
    FeatureStatus.DRIFTED: "yellow",
    FeatureStatus.NOT_APPLICABLE: "dim",
}


async def run_preflight(device_ids: list[str], settings: Settings, timeout_s: float) -> PreflightReport:
    """Build the adapters, check the devices once, and release the connections."""
    from driftaudit.bootstrap import build_comparison, build_config_client

    comparison = build_comparison(settings)
    rules = comparison.rules
    client = build_config_client(settings)
    try:
        return await preflight_check(
            device_ids,
            inventory=comparison.inventory,
            intended=comparison.intended,
            client=client,
            registry=comparison.registry,
            timeout_s=timeout_s,
            batch_size=settings.batch_size,
            rules=rules,
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


def _features_table(report: PreflightReport) -> Table:
    """One row per device and compliance feature in scope (``--features``)."""
    table = Table(title=Text("Compliance features"))
    for header in ("device", "feature", "status", "+added", "-removed", "failed policies"):
        table.add_column(header, justify="right" if header[0] in "+-" else "left")
    for event in report.results:
        for result in event.features:
            failed = ", ".join(policy.name for policy in result.policies if not policy.passed)
            table.add_row(
                Text(event.device_id),
                Text(result.feature),
                Text(result.status.value, style=_FEATURE_STYLES[result.status]),
                Text(str(result.added_count)),
                Text(str(result.removed_count)),
                Text(failed),
            )
    return table


def _secret_values(settings: Settings, device_ids: list[str]) -> dict[str, dict[str, str]]:
    """Per device, its intended file's secret tokens and values (``--with-secrets``: local only)."""
    from driftaudit.bootstrap import build_intended, build_inventory, build_masking

    inventory, intended, registry = (
        build_inventory(settings),
        build_intended(settings),
        build_masking(settings),
    )
    values: dict[str, dict[str, str]] = {}
    for device_id in device_ids:
        text = intended.get_intended(device_id)
        if text is not None:
            patterns = registry.for_platform(inventory.get(device_id).platform)
            values[device_id] = secret_values(text, patterns)
    return values


def _print_remediation(report: PreflightReport, secrets: dict[str, dict[str, str]] | None) -> None:
    """Each drifted device's remediation (``--remediation``), secrets withheld unless given."""
    console = Console()
    for event in report.results:
        if not event.remediation:
            continue
        console.rule(Text(f"remediation for {event.device_id} ({event.platform.value})"))
        lines = event.remediation
        if secrets is not None:
            lines = reveal(lines, secrets.get(event.device_id, {}))
        console.print(Text("\n".join(lines)), highlight=False)


def preflight(
    devices: Annotated[list[str], typer.Argument(help="Device ids from the inventory.")],
    timeout: Annotated[
        float | None, typer.Option(help="Bound in seconds (default: DRIFTAUDIT_PREFLIGHT_TIMEOUT_S).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    diffs: Annotated[bool, typer.Option("--diff", help="Show the masked unified diffs.")] = False,
    features: Annotated[
        bool, typer.Option("--features", help="Show each compliance feature's verdict.")
    ] = False,
    remediation: Annotated[
        bool, typer.Option("--remediation", help="Show the commands that would fix each drifted device.")
    ] = False,
    with_secrets: Annotated[
        bool,
        typer.Option(
            "--with-secrets",
            help="With --remediation: print real secret values from the local intended files (never logged).",
        ),
    ] = False,
) -> None:
    """Fetch the devices now and compare them with their intended configs."""
    if with_secrets and (not remediation or as_json):
        raise typer.BadParameter("needs --remediation and the text output", param_hint="--with-secrets")
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
        if features:
            Console().print(_features_table(report))
        if remediation:
            _print_remediation(report, _secret_values(settings, devices) if with_secrets else None)
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``preflight`` to the root command."""
    app.command("preflight")(preflight)
