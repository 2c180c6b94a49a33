"""Pytest fixtures for the devices tests (loaded from tests/conftest.py).

``device_lab`` runs one simulated fleet per test module in a background thread
(its own event loop), so sync tests and async tests (each in its own loop)
share it. It covers every platform over SSH and every REST style, plus spare
devices that tests may give a fault to (``lab.spare(platform, transport)``
hands each one out once per module).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.domain.models import Device, Platform, Transport
from driftaudit.domain.ports import BaseDeviceAdapter
from driftaudit.sim.devices import DeviceSimulator
from driftaudit.sim.fleet import FleetFiles, SimCredentialSource, SimFleet, build_fleet
from tests.samples_path import SAMPLES

#: Generous limits for fetches that must succeed on a loaded CI machine.
FAST_TIMEOUTS = FetchTimeouts(connect=5.0, read=5.0, total=20.0)
#: Short limits so the timeout tests end quickly.
FAULT_TIMEOUTS = FetchTimeouts(connect=1.0, read=0.8, total=6.0)


#: netmiko's device_type and scrapli's platform definition for each of our platforms
NETMIKO_TYPES = {
    Platform.IOS: "cisco_ios",
    Platform.NXOS: "cisco_nxos",
    Platform.IOSXR: "cisco_xr",
    Platform.EOS: "arista_eos",
    Platform.JUNOS: "juniper_junos",
    Platform.JUNOS_SET: "juniper_junos",
    Platform.ASA: "cisco_asa",
}
SCRAPLI_DEFINITIONS = {
    Platform.IOS: "cisco_iosxe",
    Platform.NXOS: "cisco_nxos",
    Platform.IOSXR: "cisco_iosxr",
    Platform.EOS: "arista_eos",
    Platform.JUNOS: "juniper_junos",
    Platform.JUNOS_SET: "juniper_junos",
    Platform.ASA: "cisco_asa",
}


@dataclass
class DeviceLab:
    """One running simulator with its fleet and files."""

    fleet: SimFleet
    sim: DeviceSimulator
    files: FleetFiles
    _taken: set[str] = field(default_factory=set)

    @property
    def credentials(self) -> SimCredentialSource:
        return self.fleet.credential_source()

    def device(self, device_id: str) -> Device:
        return next(d for d in self.fleet.devices if d.device_id == device_id)

    def spare(self, platform: Platform, transport: Transport = Transport.SSH) -> Device:
        """A healthy, undrifted device not handed out before in this module."""
        for device in self.fleet.devices:
            if (
                device.platform is platform
                and device.transport is transport
                and device.device_id not in self._taken
                and device.device_id not in self.fleet.drift
                and device.device_id not in self.fleet.unreachable
            ):
                self._taken.add(device.device_id)
                return device
        raise LookupError(f"no spare {platform.value} device over {transport.value}")

    def drifted(self, transport: Transport = Transport.SSH) -> Device:
        return next(
            d for d in self.fleet.devices if d.device_id in self.fleet.drift and d.transport is transport
        )


@pytest.fixture(scope="module")
def device_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceLab]:
    """A simulated fleet (every platform over SSH, every REST style) for one test module."""
    fleet = build_fleet(
        112,
        seed=11,
        drifted=12,
        transports=(Transport.SSH, Transport.SSH, Transport.REST),
        samples=SAMPLES,
    )
    with fleet.in_thread() as sim:
        files = fleet.write_files(Path(tmp_path_factory.mktemp("device-lab")))
        yield DeviceLab(fleet=fleet, sim=sim, files=files)


async def fetch_then_close(adapter: BaseDeviceAdapter, device: Device) -> str:
    """One fetch on a fresh adapter, closing its connections whatever the outcome."""
    try:
        return await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
