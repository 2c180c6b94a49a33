"""The in-process audit against the real device simulator and chDB on a temporary path.

The fleet comes from ``driftaudit sim``'s own code path (``serve_fleet``), and
the audit is wired by the composition root from the ``driftaudit.env`` it
writes, exactly as docker-compose's ``sim`` profile and the demo do.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from driftaudit import bootstrap
from driftaudit.adapters.history.clickhouse import chdb_dsn, open_history
from driftaudit.adapters.inventory import YamlInventory
from driftaudit.cli import sim as sim_cli
from driftaudit.domain.models import AuditRequest, DeviceSelector, DeviceStatus, Transport
from driftaudit.settings import Settings
from driftaudit.sim.fleet import DriftKind, SimFleet
from tests.plugins.history import StoreHolder
from tests.samples_path import SAMPLES

pytestmark = pytest.mark.integration

DIRECT = 12
NMS_DEVICES = 4
HASH = re.compile(r"\$(?:1|5|6|9)\$[./0-9A-Za-z]{2,16}\$[./0-9A-Za-z]{8,}")


@dataclass
class RunningFleet:
    fleet: SimFleet
    files: sim_cli.SimulatedFleetFiles
    settings: Settings


@pytest.fixture
async def running_fleet(tmp_path: Path) -> AsyncIterator[RunningFleet]:
    options = sim_cli.SimOptions(
        devices=DIRECT,
        out=tmp_path / "sim",
        seed=3,  # a seed whose drift covers every kind (a secret rotation included)
        drifted=4,
        unreachable=2,
        transports=(Transport.SSH, Transport.REST),
        samples=SAMPLES,
        drift_kinds=(DriftKind.SECRET, DriftKind.DESCRIPTION, DriftKind.NTP_REMOVED, DriftKind.ACL_LINE),
        nms_devices=NMS_DEVICES,
    )
    stop = asyncio.Event()
    ready: asyncio.Future[tuple[SimFleet, sim_cli.SimulatedFleetFiles]]
    ready = asyncio.get_running_loop().create_future()

    def on_ready(fleet: SimFleet, _sim: object, files: sim_cli.SimulatedFleetFiles) -> None:
        ready.set_result((fleet, files))

    task = asyncio.create_task(sim_cli.serve_fleet(options, stop=stop, on_ready=on_ready))
    try:
        await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what stopped the simulator
        fleet, files = ready.result()
        settings = Settings(
            _env_file=files.env,  # type: ignore[call-arg]
            clickhouse_dsn=chdb_dsn(tmp_path / "history"),
            masking_key="integration-test-key",
            connect_timeout_s=3.0,
            read_timeout_s=5.0,
            total_timeout_s=15.0,
            batch_size=4,
        )
        yield RunningFleet(fleet, files, settings)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def audit_request(audit_id: str, selector: DeviceSelector | None = None) -> AuditRequest:
    return AuditRequest(
        audit_id=audit_id,
        requested_at=datetime.now(UTC),
        requested_by="integration",
        selector=selector or DeviceSelector(),
    )


async def test_fleet_audit_finds_exactly_the_injected_drift(running_fleet: RunningFleet) -> None:
    fleet, settings = running_fleet.fleet, running_fleet.settings
    assert settings.rest_scheme == "http"
    assert settings.inventory_path == running_fleet.files.inventory

    summary = await bootstrap.audit_in_process(audit_request("it-audit-1"), settings)

    statuses = {event.device_id: event.status for event in summary.events}
    assert len(statuses) == DIRECT + NMS_DEVICES
    nms = {e.device_id: e for e in summary.events if e.device_id.startswith("nms-")}
    assert len(nms) == NMS_DEVICES
    assert {e.tenant for e in nms.values()} == {"acme", "globex"}
    assert {d for d, s in statuses.items() if s is DeviceStatus.UNREACHABLE} == fleet.unreachable
    assert {d for d, s in statuses.items() if s is DeviceStatus.DRIFTED} == set(fleet.drift)
    expected_compliant = set(statuses) - fleet.unreachable - set(fleet.drift)
    compliant = {d for d, s in statuses.items() if s is DeviceStatus.COMPLIANT}
    errors = {e.device_id: e.reason for e in summary.events if e.status is DeviceStatus.ERROR}
    assert errors == {}
    rotated = [d for d, detail in fleet.drift.items() if detail.startswith("secret")]
    assert len(rotated) == 1
    # the rotated secret is drift, shown only as fingerprint tokens
    event = next(e for e in summary.events if e.device_id == rotated[0])
    assert any("<secret:" in line.line for line in event.added)
    assert any("<secret:" in line.line for line in event.removed)
    assert compliant == expected_compliant
    assert summary.score.score == pytest.approx(100.0 * len(compliant) / (len(compliant) + len(fleet.drift)))
    assert summary.top_sections
    assert summary.stored is True

    # no secret of the fleet travels in an event: not the sample hashes, not a login password
    dumped = summary.model_dump_json()
    assert HASH.search(dumped) is None
    for credential in fleet.credentials.values():
        assert credential.password is not None
        assert credential.password.get_secret_value() not in dumped

    history = open_history(settings.clickhouse_dsn)
    try:
        latest = history.latest_status()
        assert {row["device_id"] for row in latest} == set(statuses)
        drifted_id = sorted(fleet.drift)[0]
        timeline = history.device_timeline(drifted_id)
        assert [row["status"] for row in timeline] == ["drifted"]
        assert HASH.search(json.dumps(timeline, default=str)) is None
    finally:
        history.close()


async def test_selector_and_idempotent_rerun(running_fleet: RunningFleet) -> None:
    settings = running_fleet.settings
    tenant_devices = [d for d in YamlInventory(settings.inventory_path).devices() if d.tenant == "acme"]
    assert {d.transport for d in tenant_devices} == {Transport.SSH, Transport.REST, Transport.NMS}
    request = audit_request("it-audit-2", DeviceSelector(tenant="acme"))
    first = await bootstrap.audit_in_process(request, settings)
    again = await bootstrap.audit_in_process(request, settings)
    assert first.device_ids == again.device_ids == tuple(d.device_id for d in tenant_devices)
    history = open_history(settings.clickhouse_dsn)
    try:
        device_id = tenant_devices[0].device_id
        assert len(history.device_timeline(device_id)) == 1  # re-delivery made no second row
    finally:
        history.close()


def test_sim_command_writes_the_files(tmp_path: Path) -> None:
    app = typer.Typer()
    sim_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Keep typer in multi-command mode."""

    out = tmp_path / "fleet"
    result = CliRunner().invoke(
        app,
        [
            "sim",
            "--devices",
            "4",
            "--out",
            str(out),
            "--duration",
            "0.2",
            "--samples",
            str(SAMPLES),
            "--advertise-host",
            "localhost",
            "--transports",
            "ssh",
            "--nms-devices",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "serving 4 simulated devices" in result.output
    assert "simulated NMS for tenants acme, globex" in result.output
    lines = (out / "driftaudit.env").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    assert "# DRIFTAUDIT_KAFKA_BROKER=" in lines[-3]  # what the file cannot know is said in it
    assert env["DRIFTAUDIT_INVENTORY_PATH"] == str((out / "inventory.yaml").resolve())
    assert env["DRIFTAUDIT_REST_SCHEME"] == "http"
    inventory = (out / "inventory.yaml").read_text()
    assert inventory.count("host: localhost") == 6
    assert (out / "known_hosts").read_text().startswith("[localhost]:")
    assert len(list((out / "intended").glob("*.cfg"))) == 6  # 4 direct + 2 behind the NMS
    assert env["DRIFTAUDIT_TENANTS_PATH"] == str((out / "tenants.yaml").resolve())
    tenants = (out / "tenants.yaml").read_text()
    assert tenants.count("base_url: http://localhost:") == 2
    assert (out / "nms" / "acme.yaml").stat().st_mode & 0o077 == 0


def test_sim_command_rejects_bad_transport(tmp_path: Path) -> None:
    app = typer.Typer()
    sim_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Keep typer in multi-command mode."""

    result = CliRunner().invoke(app, ["sim", "--out", str(tmp_path), "--transports", "nms"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["sim", "--out", str(tmp_path), "--drift-kinds", "acl_line,bogus"])
    assert result.exit_code == 2


async def test_locked_history_keeps_the_results(running_fleet: RunningFleet) -> None:
    settings = running_fleet.settings
    holder = StoreHolder(settings.clickhouse_dsn)  # another process owns the chDB path
    try:
        summary = await bootstrap.audit_in_process(audit_request("it-audit-3"), settings)
    finally:
        holder.release()
    assert summary.stored is False
    assert summary.history_error is not None
    assert "lock" in summary.history_error.lower() or "another process" in summary.history_error
    assert len(summary.events) == DIRECT + NMS_DEVICES
    assert summary.count(DeviceStatus.DRIFTED) == len(running_fleet.fleet.drift)
