"""Pre-flight against the simulated fleet: the bound holds, connections are reused."""

from __future__ import annotations

import time

import pytest

from driftaudit.audit.preflight import preflight_check
from driftaudit.bootstrap import build_config_client, build_intended, build_inventory, build_masking
from driftaudit.domain.errors import UnknownDeviceError
from driftaudit.domain.models import DeviceStatus, Transport
from driftaudit.sim.devices import Fault
from tests.plugins.preflight import PreflightLab

pytestmark = pytest.mark.integration


def _parts(lab: PreflightLab):  # type: ignore[no-untyped-def]
    s = lab.settings
    return build_inventory(s), build_intended(s), build_masking(s), build_config_client(s)


async def test_hanging_device_is_a_timeout_within_the_bound(preflight_lab: PreflightLab) -> None:
    hanging, healthy = preflight_lab.healthy_ids(Transport.SSH)[-2:]
    inventory, intended, registry, client = _parts(preflight_lab)
    preflight_lab.sim.set_fault(hanging, Fault.HANG)
    bound = 2.0
    try:
        started = time.perf_counter()
        report = await preflight_check(
            [hanging, healthy],
            inventory=inventory,
            intended=intended,
            client=client,
            registry=registry,
            timeout_s=bound,
        )
        elapsed = time.perf_counter() - started
    finally:
        preflight_lab.sim.set_fault(hanging, Fault.NONE)
        await client.aclose()
    by_id = {event.device_id: event for event in report.results}
    print(f"\nhanging device reported after {elapsed:.2f} s (bound {bound:.1f} s)")
    assert by_id[hanging].status is DeviceStatus.UNREACHABLE
    assert by_id[hanging].reason == "timeout"
    assert by_id[healthy].status is DeviceStatus.COMPLIANT
    assert elapsed < bound + 1.5
    assert report.exit_code == 2


async def test_second_check_reuses_the_ssh_connection(preflight_lab: PreflightLab) -> None:
    device_id = preflight_lab.healthy_ids(Transport.SSH)[0]
    inventory, intended, registry, client = _parts(preflight_lab)
    before = preflight_lab.sim.counters(device_id).connections
    latencies = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            report = await preflight_check(
                [device_id], inventory=inventory, intended=intended, client=client, registry=registry
            )
            latencies.append(time.perf_counter() - started)
            assert report.results[0].status is DeviceStatus.COMPLIANT
    finally:
        await client.aclose()
    connections = preflight_lab.sim.counters(device_id).connections - before
    print(
        f"\nfirst check {latencies[0] * 1000:.1f} ms, second (pooled) {latencies[1] * 1000:.1f} ms, "
        f"ratio {latencies[1] / latencies[0]:.2f}; SSH connections opened: {connections}"
    )
    assert connections == 1


async def test_drifted_device_has_masked_diff_and_exit_code_1(preflight_lab: PreflightLab) -> None:
    device_id = next(iter(preflight_lab.fleet.drift))
    inventory, intended, registry, client = _parts(preflight_lab)
    try:
        report = await preflight_check(
            [device_id], inventory=inventory, intended=intended, client=client, registry=registry
        )
    finally:
        await client.aclose()
    event = report.results[0]
    assert event.status is DeviceStatus.DRIFTED
    assert event.added or event.removed
    assert event.unified_diff
    assert report.exit_code == 1
    password = preflight_lab.fleet.credentials[device_id].password
    assert password is not None
    assert password.get_secret_value() not in report.model_dump_json()


async def test_unknown_device_fetches_nothing(preflight_lab: PreflightLab) -> None:
    inventory, intended, registry, client = _parts(preflight_lab)
    try:
        with pytest.raises(UnknownDeviceError):
            await preflight_check(
                ["no-such-device"], inventory=inventory, intended=intended, client=client, registry=registry
            )
    finally:
        await client.aclose()
