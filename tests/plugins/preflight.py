"""Pytest fixtures for the pre-flight and API tests (loaded from tests/conftest.py).

``preflight_lab`` runs a simulated fleet of "snowflaked" devices (each with
its own hostname, addresses and volatile lines) in a background thread and
writes the files a real deployment reads (inventory, intended configs,
credentials, known_hosts), with settings pointing at them, so the tests go
through the real composition root.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from driftaudit.domain.models import Transport
from driftaudit.settings import Settings
from driftaudit.sim.devices import DeviceSimulator
from driftaudit.sim.fleet import SimFleet, build_fleet
from tests.samples_path import SAMPLES

PREFLIGHT_DEVICES = 100
API_TOKEN = "preflight-test-token-7f3a"  # noqa: S105 - a test token, not a secret


@dataclass
class PreflightLab:
    """A running simulated fleet and settings that point at it."""

    fleet: SimFleet
    sim: DeviceSimulator
    settings: Settings

    def healthy_ids(self, transport: Transport | None = None) -> list[str]:
        """Devices neither drifted nor unreachable (optionally of one transport)."""
        return [
            d.device_id
            for d in self.fleet.devices
            if d.device_id not in self.fleet.drift
            and d.device_id not in self.fleet.unreachable
            and (transport is None or d.transport is transport)
        ]


@pytest.fixture(scope="module")
def preflight_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreflightLab]:
    """100 devices over SSH and REST, 5 drifted, 2 unreachable, with files and settings."""
    fleet = build_fleet(
        PREFLIGHT_DEVICES,
        seed=23,
        drifted=5,
        unreachable=2,
        transports=(Transport.SSH, Transport.REST),
        samples=SAMPLES,
    )
    root = Path(tmp_path_factory.mktemp("preflight-lab"))
    with fleet.in_thread() as sim:
        files = fleet.write_files(root)
        settings = Settings(
            inventory_path=files.inventory,
            intended_dir=files.intended_dir,
            credentials_path=files.credentials,
            ssh_known_hosts=files.known_hosts,
            rest_scheme="http",
            rest_path_prefix="/d/{device_id}",
            clickhouse_dsn=f"chdb:///{root / 'history'}",
            api_token=SecretStr(API_TOKEN),
            connect_timeout_s=5.0,
            read_timeout_s=10.0,
            total_timeout_s=25.0,
        )
        yield PreflightLab(fleet=fleet, sim=sim, settings=settings)
