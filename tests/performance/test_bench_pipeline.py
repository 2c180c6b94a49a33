"""In-process fleet audit throughput against the device simulator.

Run with ``make bench``. One simulated fleet (SSH and REST devices, every
platform, 20 ms of device latency per answer) is audited end to end by
``trigger_fleet_audit`` (fetch, redact, analyze, score), once with one fetch
in flight and once with ``batch_size`` fetches in flight; the figure that
matters is the ratio, since absolute times depend on the machine.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.rest import RestDeviceAdapter
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.adapters.intended import DirectoryIntendedSource
from driftaudit.adapters.inventory import YamlInventory
from driftaudit.audit.fleet import RoutingConfigClient
from driftaudit.audit.pipeline import trigger_fleet_audit
from driftaudit.audit.summary import AuditSummary
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import AuditRequest, DeviceStatus, Transport
from driftaudit.sim.fleet import FleetFiles, SimFleet, build_fleet
from tests.samples_path import SAMPLES

pytestmark = pytest.mark.bench

DEVICES = 120
LATENCY_S = 0.02
BATCH = 40


async def _audit(
    fleet: SimFleet, files: FleetFiles, registry: MaskingRegistry, batch_size: int, audit_id: str
) -> tuple[float, AuditSummary]:
    credentials = fleet.credential_source()
    timeouts = FetchTimeouts(connect=10.0, read=10.0, total=60.0)
    client = RoutingConfigClient(
        adapters={
            Transport.SSH: SSHDeviceAdapter(credentials, timeouts=timeouts, known_hosts=files.known_hosts),
            Transport.REST: RestDeviceAdapter(credentials, timeouts=timeouts, **fleet.rest_adapter_options()),
        }
    )
    try:
        started = time.perf_counter()
        summary = await trigger_fleet_audit(
            AuditRequest(audit_id=audit_id, requested_at=datetime.now(UTC)),
            inventory=YamlInventory(files.inventory),
            intended=DirectoryIntendedSource(files.intended_dir),
            client=client,
            registry=registry,
            history=None,
            batch_size=batch_size,
        )
        return time.perf_counter() - started, summary
    finally:
        await client.aclose()


async def test_bench_in_process_audit(tmp_path: Path) -> None:
    fleet = build_fleet(
        DEVICES,
        seed=5,
        drifted=DEVICES // 10,
        unreachable=DEVICES // 20,
        transports=(Transport.SSH, Transport.REST),
        samples=SAMPLES,
        latency_s=LATENCY_S,
    )
    registry = MaskingRegistry.builtin(key=b"bench-masking-key")
    async with fleet.running():
        files = fleet.write_files(tmp_path)
        serial_s, serial = await _audit(fleet, files, registry, 1, "bench-serial")
        bounded_s, bounded = await _audit(fleet, files, registry, BATCH, "bench-bounded")

    for summary in (serial, bounded):
        assert summary.count(DeviceStatus.ERROR) == 0
        assert summary.count(DeviceStatus.UNREACHABLE) == len(fleet.unreachable)
        assert summary.count(DeviceStatus.DRIFTED) == len(fleet.drift)
    compared = (DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED)
    analyze = sorted(e.analyze_ms for e in bounded.events if e.status in compared)
    fetch = [e.fetch_ms for e in bounded.events if e.status is not DeviceStatus.UNREACHABLE]
    print(
        f"\nin-process audit of {DEVICES} simulated devices ({LATENCY_S * 1000:.0f} ms device latency):"
        f"\n  batch_size=1:  {serial_s:6.2f} s  {DEVICES / serial_s:7.1f} devices/s"
        f"\n  batch_size={BATCH}: {bounded_s:6.2f} s  {DEVICES / bounded_s:7.1f} devices/s"
        f"\n  speed-up: {serial_s / bounded_s:.1f}x"
        f"\n  per device (bounded run): fetch median {statistics.median(fetch):.1f} ms,"
        f" analyze median {statistics.median(analyze):.2f} ms, p95 {analyze[int(len(analyze) * 0.95)]:.2f} ms"
        f"\n  fleet score {bounded.score.score:.1f}"
    )
