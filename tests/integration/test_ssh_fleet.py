"""The fleet as driftaudit sees it: files written by the simulator, read by the real adapters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from driftaudit.adapters.credentials import YamlCredentialSource
from driftaudit.adapters.devices import FetchTimeouts, RestDeviceAdapter, SSHDeviceAdapter
from driftaudit.adapters.intended import DirectoryIntendedSource
from driftaudit.adapters.inventory import YamlInventory
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.errors import FetchError, UnreachableError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Device, Transport
from driftaudit.sim.fleet import build_fleet
from tests.samples_path import SAMPLES

pytestmark = pytest.mark.integration

REGISTRY = MaskingRegistry.builtin(key=b"test-masking-key-0123456789abcdef")


async def test_a_demo_sized_fleet_audits_as_generated(tmp_path: Path) -> None:
    fleet = build_fleet(
        50, seed=5, drifted=4, unreachable=3, transports=(Transport.SSH, Transport.REST), samples=SAMPLES
    )
    with fleet.in_thread() as sim:
        files = fleet.write_files(tmp_path)
        assert files.known_hosts is not None
        inventory = YamlInventory(files.inventory)
        credentials = YamlCredentialSource(files.credentials)
        intended = DirectoryIntendedSource(files.intended_dir)
        timeouts = FetchTimeouts(connect=10, read=10, total=30)
        ssh = SSHDeviceAdapter(credentials, timeouts=timeouts, known_hosts=files.known_hosts)
        rest = RestDeviceAdapter(credentials, timeouts=timeouts, **fleet.rest_adapter_options())
        gate = asyncio.Semaphore(16)

        async def audit(device: Device) -> str:
            adapter = ssh if device.transport is Transport.SSH else rest
            async with gate:
                try:
                    text = await adapter.fetch_config(device)
                except UnreachableError:
                    return "unreachable"
                except FetchError as exc:
                    return f"error: {exc}"
            wanted = intended.get_intended(device.device_id)
            assert wanted is not None
            report = calculate_diff(
                text, wanted, REGISTRY.for_platform(device.platform), platform=device.platform
            )
            return "compliant" if report.compliant else "drifted"

        devices = inventory.devices()
        try:
            results = await asyncio.gather(*map(audit, devices))
            statuses = dict(zip([d.device_id for d in devices], results, strict=True))
        finally:
            await ssh.aclose()
            await rest.aclose()
        assert {d.device_id for d in devices} == {d.device_id for d in fleet.devices}
        assert {d.transport for d in devices} == {Transport.SSH, Transport.REST}
        assert sim.ssh_port
        assert sim.http_port
    assert {k for k, v in statuses.items() if v == "unreachable"} == fleet.unreachable
    assert {k for k, v in statuses.items() if v == "drifted"} == set(fleet.drift)
    assert sum(v == "compliant" for v in statuses.values()) == 50 - 4 - 3
