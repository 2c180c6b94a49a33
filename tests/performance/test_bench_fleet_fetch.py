"""Bounded fleet fetch against the N*L/B bound, over real HTTP (run by ``make bench``).

N devices whose NMS answers after L seconds, fetched B at a time, cannot
finish faster than N*L/B; the ratio measured/bound says how much the client,
the server and the event loop add on top. The simulator serves from its own
thread, as a remote NMS would from its own machine (here: the same 2 cores).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from driftaudit.adapters.nms import client as client_module
from driftaudit.adapters.nms.auth import AuthManager
from driftaudit.adapters.nms.client import NMSConfigClient
from driftaudit.audit.fleet import fetch_fleet_configs
from driftaudit.domain.models import ConfigResult
from driftaudit.sim.nms import NMSSimulator
from tests.plugins.nms import environ_for, nms_device

pytestmark = [pytest.mark.bench, pytest.mark.integration]


async def _measure(sim: NMSSimulator, devices: int, batch_size: int) -> float:
    tenants = [sim.nms_tenant(t) for t in sim.tenants]
    async with (
        AuthManager(tenants, environ=environ_for(sim)) as auth,
        NMSConfigClient(tenants, auth, max_connections=max(100, batch_size)) as client,
    ):
        await client.fetch_device_config(nms_device("warm-up", "acme"))
        sim.reset_counters()
        started = time.perf_counter()
        outcomes = await fetch_fleet_configs(
            [f"bench-{i}" for i in range(devices)],
            client,
            resolve=lambda d: nms_device(d, "acme"),
            batch_size=batch_size,
        )
        elapsed = time.perf_counter() - started
    assert all(isinstance(o, ConfigResult) for o in outcomes)
    assert sim.max_in_flight <= batch_size
    return elapsed


@pytest.mark.parametrize(
    ("devices", "latency_s", "batch_size"),
    [(1000, 0.02, 10), (1000, 0.02, 50), (1000, 0.02, 100), (2000, 0.05, 200)],
)
def test_fleet_fetch_against_the_latency_bound(
    nms_sim_thread: NMSSimulator, devices: int, latency_s: float, batch_size: int
) -> None:
    sim = nms_sim_thread
    sim.reset()
    sim.set_latency(latency_s)
    elapsed = asyncio.run(_measure(sim, devices, batch_size))
    bound = devices * latency_s / batch_size
    print(
        f"\nfleet fetch N={devices} L={latency_s * 1000:.0f}ms B={batch_size}: "
        f"{elapsed:.2f}s vs bound {bound:.2f}s, ratio {elapsed / bound:.2f}, "
        f"{devices / elapsed:.0f} devices/s, max in flight {sim.max_in_flight}"
    )


def test_linear_pool_against_the_stock_httpcore_pool(
    nms_sim_thread: NMSSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = nms_sim_thread
    sim.reset()
    sim.set_latency(0.02)
    linear = asyncio.run(_measure(sim, 1000, 50))
    monkeypatch.setattr(
        client_module,
        "pooled_transport",
        lambda *, verify, limits: httpx.AsyncHTTPTransport(verify=verify, limits=limits),
    )
    stock = asyncio.run(_measure(sim, 1000, 50))
    print(
        f"\nN=1000 L=20ms B=50: linear pool {linear:.2f}s, stock httpcore pool {stock:.2f}s, "
        f"stock/linear {stock / linear:.2f}"
    )
