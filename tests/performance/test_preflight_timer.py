"""The pre-flight bound: 100 snowflaked devices, each checked alone, p95 under 30 s.

This is the one test with a timing assert (the issue names it). Each check is
timed from the call to the answer, through the real composition root, SSH and
REST adapters and the simulator; figures are printed.
"""

from __future__ import annotations

import statistics
import time

import pytest

from driftaudit.audit.preflight import preflight_check
from driftaudit.bootstrap import build_config_client, build_intended, build_inventory, build_masking
from driftaudit.domain.models import DeviceStatus
from tests.plugins.preflight import PREFLIGHT_DEVICES, PreflightLab

pytestmark = pytest.mark.integration

BOUND_S = 30.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def test_preflight_p95_under_bound(preflight_lab: PreflightLab) -> None:
    settings = preflight_lab.settings
    inventory, intended, registry = (
        build_inventory(settings),
        build_intended(settings),
        build_masking(settings),
    )
    client = build_config_client(settings)
    timings: list[float] = []
    statuses: dict[str, DeviceStatus] = {}
    try:
        for device in preflight_lab.fleet.devices:
            started = time.perf_counter()
            report = await preflight_check(
                [device.device_id],
                inventory=inventory,
                intended=intended,
                client=client,
                registry=registry,
                timeout_s=BOUND_S,
            )
            timings.append(time.perf_counter() - started)
            statuses[device.device_id] = report.results[0].status
    finally:
        await client.aclose()

    p50, p95 = statistics.median(timings), _percentile(timings, 0.95)
    print(
        f"\npre-flight over {len(timings)} devices: p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms (bound {BOUND_S:.0f} s)"
    )
    assert len(timings) == PREFLIGHT_DEVICES
    assert p95 < BOUND_S
    fleet = preflight_lab.fleet
    expected = {
        d.device_id: DeviceStatus.UNREACHABLE
        if d.device_id in fleet.unreachable
        else DeviceStatus.DRIFTED
        if d.device_id in fleet.drift
        else DeviceStatus.COMPLIANT
        for d in fleet.devices
    }
    assert statuses == expected
