"""The simulated fleet's generation (pure: renders configs, starts no server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driftaudit.adapters.devices.profiles import profile_for
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Platform, Transport
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.sim.devices import Fault
from driftaudit.sim.fleet import DriftKind, build_fleet
from tests.samples_path import SAMPLES

REGISTRY = MaskingRegistry.builtin(key=b"test-masking-key-0123456789abcdef")
NORMALIZER = ConfigNormalizer()


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    a = build_fleet(14, seed=3, drifted=2, samples=SAMPLES)
    b = build_fleet(14, seed=3, drifted=2, samples=SAMPLES)
    c = build_fleet(14, seed=4, drifted=2, samples=SAMPLES)
    assert a.intended == b.intended
    assert a.drift == b.drift
    assert a.credentials == b.credentials
    assert a.drift != c.drift or a.credentials != c.credentials


def test_each_device_has_its_own_hostname_addresses_and_credential() -> None:
    fleet = build_fleet(16, seed=1, platforms=[Platform.IOS, Platform.JUNOS_SET], samples=SAMPLES)
    ids = [d.device_id for d in fleet.sim_devices]
    assert len(set(ids)) == 16
    for device in fleet.sim_devices:
        assert device.device_id in fleet.intended[device.device_id]
        assert device.hostname == device.device_id
        credential = fleet.credentials[device.device_id]
        assert credential.username == f"admin@{device.device_id}"
    addresses = [
        frozenset(re.findall(r"\b(?:10|172|192)\.\d+\.\d+\.\d+\b", text)) for text in fleet.intended.values()
    ]
    with_addresses = [a for a in addresses if a]
    assert len(set(with_addresses)) == len(with_addresses)
    assert len({d.password for d in fleet.sim_devices}) == 16


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_renders_differ_only_in_volatile_lines_and_stay_compliant(platform: Platform) -> None:
    fleet = build_fleet(3, seed=5, platforms=[platform], samples=SAMPLES)
    patterns = REGISTRY.for_platform(platform)
    for device in fleet.sim_devices:
        first, second = device.render(1), device.render(2)
        assert first != second
        for text in (first, second):
            report = calculate_diff(
                NORMALIZER.clean_cli(text), fleet.intended[device.device_id], patterns, platform=platform
            )
            assert report.compliant, report.unified_diff


@pytest.mark.parametrize("kind", DriftKind.ALL)
def test_drifted_devices_are_found_drifted_and_others_are_not(kind: str) -> None:
    fleet = build_fleet(21, seed=2, drifted=7, drift_kinds=[kind], samples=SAMPLES)
    assert len(fleet.drift) == 7
    for device in fleet.sim_devices:
        patterns = REGISTRY.for_platform(device.platform)
        actual = NORMALIZER.clean_cli(device.render(1))
        report = calculate_diff(actual, fleet.intended[device.device_id], patterns, platform=device.platform)
        assert report.compliant is (device.device_id not in fleet.drift), (device.device_id, fleet.drift)


def test_secret_lines_are_stable_between_fetches() -> None:
    fleet = build_fleet(7, seed=9, samples=SAMPLES)
    for device in fleet.sim_devices:
        secrets = [
            {
                line
                for line in device.render(n).splitlines()
                if re.search(r"secret|password|\$1\$|\$9\$", line)
            }
            for n in (1, 2)
        ]
        assert secrets[0] == secrets[1]


def test_unreachable_devices_refuse_and_rest_only_where_a_device_api_exists() -> None:
    fleet = build_fleet(28, seed=0, unreachable=3, transports=(Transport.REST,), samples=SAMPLES)
    refused = {d.device_id for d in fleet.sim_devices if d.fault is Fault.REFUSE}
    assert refused == fleet.unreachable
    assert len(refused) == 3
    for plan in fleet._plans:
        has_api = profile_for(plan.platform).rest_style is not None
        assert plan.transport is (Transport.REST if has_api else Transport.SSH)


def test_devices_need_a_running_simulator() -> None:
    fleet = build_fleet(2, samples=SAMPLES)
    with pytest.raises(RuntimeError, match="start a simulator"):
        _ = fleet.devices


def test_missing_samples_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="sample configs not found"):
        build_fleet(2, samples=tmp_path)
    (tmp_path / "configs" / "cisco_ios").mkdir(parents=True)
    (tmp_path / "configs" / "cisco_ios" / "r1.cfg").write_text("hostname r1\n!\nend\n")
    with pytest.raises(ConfigurationError, match="no sample config for platform cisco_nxos"):
        build_fleet(2, samples=tmp_path, platforms=[Platform.IOS, Platform.NXOS])


def test_counts_must_fit() -> None:
    with pytest.raises(ConfigurationError):
        build_fleet(3, drifted=2, unreachable=2, samples=SAMPLES)
