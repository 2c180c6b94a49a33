"""Properties of the bounded fleet fetch, over real HTTP against the NMS simulator.

The simulator serves from its own thread (one per module); each Hypothesis
example runs its own event loop with ``asyncio.run`` and a fresh client, and
resets the simulator's counters first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from driftaudit.adapters.nms.auth import AuthManager
from driftaudit.adapters.nms.client import NMSConfigClient, RetryPolicy
from driftaudit.adapters.nms.tenants import NMSTimeouts
from driftaudit.audit.fleet import fetch_fleet_configs
from driftaudit.domain.models import ConfigResult, FetchFailure, FetchOutcome
from driftaudit.sim.nms import NMSSimulator
from tests.plugins.nms import environ_for, nms_device

pytestmark = pytest.mark.integration

FLOOD = 1000


async def _fleet(
    sim: NMSSimulator,
    device_ids: list[str],
    batch_size: int,
    *,
    retry: RetryPolicy | None = None,
    prepare: Callable[[], None] = lambda: None,
) -> list[FetchOutcome]:
    tenants = [sim.nms_tenant(t) for t in sim.tenants]
    async with (
        AuthManager(tenants, environ=environ_for(sim)) as auth,
        NMSConfigClient(tenants, auth, retry=retry, timeouts=NMSTimeouts(total_s=30)) as client,
    ):
        await client.fetch_device_config(nms_device("warm-up", "acme"))  # token outside the measurement
        sim.reset_counters()
        prepare()
        return await fetch_fleet_configs(
            device_ids, client, resolve=lambda d: nms_device(d, "acme"), batch_size=batch_size
        )


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch_size=st.integers(min_value=8, max_value=32),
    low_ms=st.integers(min_value=1, max_value=10),
    extra_ms=st.integers(min_value=0, max_value=9),
)
def test_flood_never_exceeds_batch_size_and_reaches_it(
    nms_sim_thread: NMSSimulator, batch_size: int, low_ms: int, extra_ms: int
) -> None:
    sim = nms_sim_thread
    sim.reset()
    high_ms = min(10, low_ms + extra_ms)
    sim.set_latency((low_ms / 1000, high_ms / 1000))
    device_ids = [f"flood-{i}" for i in range(FLOOD)]

    def hold_first_wave() -> None:
        # Reachability is shown by a barrier, not by timing: with L ~ 1 ms the
        # client's CPU (not its bound) can limit concurrency on a busy machine.
        sim.hold_until_in_flight(batch_size, timeout_s=5)

    outcomes = asyncio.run(_fleet(sim, device_ids, batch_size, prepare=hold_first_wave))
    note(f"batch_size={batch_size} latency={low_ms}-{high_ms} ms max_in_flight={sim.max_in_flight}")
    assert [o.device_id for o in outcomes] == device_ids
    assert all(isinstance(o, ConfigResult) for o in outcomes)
    assert sim.config_requests["acme"] == FLOOD
    assert sim.max_in_flight <= batch_size
    assert sim.max_in_flight == batch_size  # more devices than slots: the bound is reachable
    assert sim.in_flight == 0


@settings(max_examples=10, deadline=None)
@given(
    fleet=st.lists(
        st.tuples(st.sampled_from(["ok", "404", "500", "503"]), st.integers(0, 10_000)),
        min_size=0,
        max_size=30,
    ),
    batch_size=st.integers(min_value=1, max_value=12),
)
def test_every_device_gets_exactly_one_outcome_in_order(
    nms_sim_thread: NMSSimulator, fleet: list[tuple[str, int]], batch_size: int
) -> None:
    sim = nms_sim_thread
    sim.reset()
    device_ids = [f"{kind}-{n}-{i}" for i, (kind, n) in enumerate(fleet)]
    for device_id, (kind, _) in zip(device_ids, fleet, strict=True):
        if kind != "ok":
            sim.fail_device(device_id, int(kind))
    retry = RetryPolicy(max_retries=1, backoff_s=0.001, max_wait_s=0.01, max_total_wait_s=0.01)
    outcomes = asyncio.run(_fleet(sim, device_ids, batch_size, retry=retry))
    assert [o.device_id for o in outcomes] == device_ids
    for outcome, (kind, _) in zip(outcomes, fleet, strict=True):
        if kind == "ok":
            assert isinstance(outcome, ConfigResult)
        else:
            assert isinstance(outcome, FetchFailure)
            assert outcome.error_type == ("RateLimitedError" if kind == "503" else "RemoteError")
    assert sim.max_in_flight <= batch_size


def test_a_large_batch_is_reached_by_timing_alone_when_latency_dominates(
    nms_sim_thread: NMSSimulator,
) -> None:
    sim = nms_sim_thread
    sim.reset()
    sim.set_latency(0.5)
    outcomes = asyncio.run(_fleet(sim, [f"big-{i}" for i in range(200)], 100))
    assert all(isinstance(o, ConfigResult) for o in outcomes)
    assert sim.max_in_flight == 100
