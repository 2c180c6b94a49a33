"""Connection reuse: the simulator's connection counters prove what the pool does."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from driftaudit.adapters.devices.pool import PoolLimits
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.domain.models import Platform
from tests.plugins.devices import FAST_TIMEOUTS, DeviceLab

pytestmark = pytest.mark.integration


def _adapter(lab: DeviceLab, **options: object) -> SSHDeviceAdapter:
    return SSHDeviceAdapter(
        lab.credentials, timeouts=FAST_TIMEOUTS, known_hosts=lab.files.known_hosts, **options
    )


async def test_repeated_fetches_share_one_connection(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.IOS)
    adapter = _adapter(device_lab)
    try:
        texts = [await adapter.fetch_config(device) for _ in range(4)]
    finally:
        await adapter.aclose()
    counters = device_lab.sim.counters(device.device_id)
    assert counters.connections == 1
    assert counters.logins == 1
    assert counters.fetches == 4
    assert len(set(texts)) == 4  # each fetch really asked the device
    stats = adapter.pool_stats()
    assert stats is not None
    assert stats.opened == 1
    assert stats.reused == 3


async def test_without_the_pool_every_fetch_connects(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.EOS)
    adapter = _adapter(device_lab, pooled=False)
    for _ in range(3):
        await adapter.fetch_config(device)
    await adapter.aclose()
    assert device_lab.sim.counters(device.device_id).connections == 3


async def test_a_dropped_pooled_session_is_replaced_without_failing(device_lab: DeviceLab, caplog) -> None:
    device = device_lab.spare(Platform.NXOS)
    adapter = _adapter(device_lab)
    try:
        await adapter.fetch_config(device)
        # Blocks this loop while the server aborts the session: the pool still
        # believes the connection is alive, so the next fetch finds it dead in use.
        assert device_lab.sim.drop_sessions(device.device_id) == 1
        with caplog.at_level(logging.INFO, logger="driftaudit.adapters.devices.ssh"):
            text = await adapter.fetch_config(device)
        assert device.device_id in text
        # Dropped again, this time noticed while idle: replaced before use.
        device_lab.sim.drop_sessions(device.device_id)
        await asyncio.sleep(0.2)
        assert device.device_id in await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert "was dead; reconnecting once" in caplog.text
    counters = device_lab.sim.counters(device.device_id)
    assert counters.connections == 3
    assert counters.fetches == 3


async def test_idle_sessions_are_closed_after_the_idle_time(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.JUNOS)
    adapter = _adapter(device_lab, pool_limits=PoolLimits(per_host=2, idle_s=0.2))
    try:
        await adapter.fetch_config(device)
        assert device_lab.sim.open_sessions(device.device_id) == 1
        deadline = time.monotonic() + 3
        while device_lab.sim.open_sessions(device.device_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert device_lab.sim.open_sessions(device.device_id) == 0
        await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert device_lab.sim.counters(device.device_id).connections == 2


@pytest.mark.parametrize("per_host", [1, 2])
async def test_concurrent_fetches_are_bounded_per_device(device_lab: DeviceLab, per_host: int) -> None:
    device = device_lab.spare(Platform.IOSXR)
    device_lab.sim.device(device.device_id).latency_s = 0.05
    adapter = _adapter(device_lab, pool_limits=PoolLimits(per_host=per_host, idle_s=60))
    try:
        results = await asyncio.gather(*(adapter.fetch_config(device) for _ in range(6)))
        assert device_lab.sim.open_sessions(device.device_id) == per_host
    finally:
        await adapter.aclose()
    assert all(device.device_id in text for text in results)
    assert device_lab.sim.counters(device.device_id).connections == per_host
    deadline = time.monotonic() + 3
    while device_lab.sim.open_sessions(device.device_id) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert device_lab.sim.open_sessions(device.device_id) == 0  # aclose closed them
