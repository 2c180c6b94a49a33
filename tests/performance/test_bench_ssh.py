"""SSH fetch throughput against the simulator: fresh connections against pooled sessions."""

from __future__ import annotations

import asyncio
import time

import pytest

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.pool import PoolLimits
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.domain.models import Device, Platform
from driftaudit.sim.fleet import build_fleet
from tests.samples_path import SAMPLES

pytestmark = [pytest.mark.bench, pytest.mark.integration]

DEVICES = 40
ROUNDS = 3
CONCURRENCY = 20
TIMEOUTS = FetchTimeouts(connect=20, read=20, total=60)


async def _throughput(adapter: SSHDeviceAdapter, devices: list[Device]) -> float:
    """Devices per second over ROUNDS passes of the fleet at CONCURRENCY fetches in flight."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(device: Device) -> int:
        async with gate:
            return len(await adapter.fetch_config(device))

    started = time.perf_counter()
    for _ in range(ROUNDS):
        sizes = await asyncio.gather(*(one(d) for d in devices))
        assert all(sizes)
    return ROUNDS * len(devices) / (time.perf_counter() - started)


async def test_bench_ssh_fetch_fresh_vs_pooled(tmp_path) -> None:
    fleet = build_fleet(
        DEVICES,
        seed=1,
        platforms=[Platform.IOS, Platform.NXOS, Platform.IOSXR, Platform.JUNOS],
        samples=SAMPLES,
    )
    with fleet.in_thread() as sim:
        files = fleet.write_files(tmp_path)
        devices = fleet.devices
        fresh = SSHDeviceAdapter(
            fleet.credential_source(), timeouts=TIMEOUTS, known_hosts=files.known_hosts, pooled=False
        )
        pooled = SSHDeviceAdapter(
            fleet.credential_source(),
            timeouts=TIMEOUTS,
            known_hosts=files.known_hosts,
            pool_limits=PoolLimits(per_host=1, idle_s=300),
        )
        try:
            fresh_rate = await _throughput(fresh, devices)
            await _throughput(pooled, devices)  # warm-up: one session per device
            pooled_rate = await _throughput(pooled, devices)
        finally:
            await fresh.aclose()
            await pooled.aclose()
        connections = sum(sim.counters(d.device_id).connections for d in devices)
    print(
        f"\nSSH fetch, {DEVICES} devices x {ROUNDS} rounds, concurrency {CONCURRENCY}:"
        f"\n  fresh connections: {fresh_rate:8.1f} devices/s"
        f"\n  pooled sessions:   {pooled_rate:8.1f} devices/s (pool warmed first)"
        f"\n  pooled / fresh:    {pooled_rate / fresh_rate:8.2f}x"
        f"\n  SSH connections opened: {connections} (fresh {DEVICES * ROUNDS} + pooled {DEVICES})"
    )
    assert connections == DEVICES * ROUNDS + DEVICES  # the pooled passes never reconnected
