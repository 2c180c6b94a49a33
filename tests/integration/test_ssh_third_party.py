"""netmiko and scrapli, clients we did not write, fetch the running config from the simulator.

If the simulator's CLI were not realistic (setup answers, abbreviations,
privilege levels, prompts, pagers), these clients would time out or
misread it, as they did before the simulator learnt real devices' manners.
Each fetched config must be the device's: compliant with its intended config.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from driftaudit.adapters.devices.profiles import profile_for
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Device, Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.sim.devices import DeviceSimulator
from driftaudit.sim.fleet import SimFleet, build_fleet
from tests.plugins.devices import NETMIKO_TYPES, SCRAPLI_DEFINITIONS
from tests.samples_path import SAMPLES

netmiko = pytest.importorskip("netmiko")
scrapli = pytest.importorskip("scrapli")

pytestmark = [
    pytest.mark.integration,
    # paramiko (under netmiko) still imports TripleDES, which cryptography deprecates.
    pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning"),
]

REGISTRY = MaskingRegistry.builtin(key=b"test-masking-key-0123456789abcdef")
NORMALIZER = ConfigNormalizer()
ENABLE = "third-party-enable-71"  # noqa: S105 - a lab secret
#: Platforms whose logins can land at user EXEC ('>') and need enable.
USER_EXEC = (Platform.IOS, Platform.EOS, Platform.ASA, Platform.NXOS)


def show_command(platform: Platform) -> str:
    """The show command without ``| no-more`` (the clients turn paging off themselves)."""
    return profile_for(platform).show_config.removesuffix(" | no-more")


class ThirdPartyLab:
    def __init__(self, fleet: SimFleet, sim: DeviceSimulator) -> None:
        self.fleet, self.sim = fleet, sim
        self._devices = {d.device_id: d for d in fleet.devices}

    def device(self, platform: Platform, *, privileged: bool) -> Device:
        for device in self._devices.values():
            if (
                device.platform is platform
                and self.sim.device(device.device_id).privileged_login is privileged
            ):
                return device
        raise LookupError(platform)

    def password(self, device: Device) -> str:
        secret = self.fleet.credentials[device.device_id].password
        assert secret is not None
        return secret.get_secret_value()

    def assert_compliant(self, device: Device, output: str) -> None:
        text = NORMALIZER.clean_cli(output)
        report = calculate_diff(
            text,
            self.fleet.intended[device.device_id],
            REGISTRY.for_platform(device.platform),
            platform=device.platform,
        )
        assert report.compliant, device.device_id


@pytest.fixture(scope="module")
def third_party(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThirdPartyLab]:
    fleet = build_fleet(14, seed=29, samples=SAMPLES, own_ports=True)
    for index, sim_device in enumerate(fleet.sim_devices):
        sim_device.auth_banner = "Authorized users only\n"
        if index >= 7 and sim_device.platform in USER_EXEC:  # the second of each platform
            sim_device.privileged_login = False
            sim_device.enable_secret = ENABLE
    with fleet.in_thread() as sim:
        fleet.write_files(Path(tmp_path_factory.mktemp("third-party")))
        yield ThirdPartyLab(fleet, sim)


def _netmiko_fetch(third_party: ThirdPartyLab, device: Device, *, enable: str | None = None) -> str:
    """The running config through netmiko; with ``enable``, escalated first (and checked)."""
    with netmiko.ConnectHandler(
        device_type=NETMIKO_TYPES[device.platform],
        host=device.host,
        port=device.port,
        username="admin",
        password=third_party.password(device),
        secret=enable or "",
    ) as conn:
        if enable is not None:
            conn.enable()
            assert conn.check_enable_mode()
        return str(conn.send_command(show_command(device.platform)))


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_netmiko_fetches_the_running_config_on_every_platform(
    third_party: ThirdPartyLab, platform: Platform
) -> None:
    device = third_party.device(platform, privileged=True)
    third_party.assert_compliant(device, _netmiko_fetch(third_party, device))


@pytest.mark.parametrize("platform", USER_EXEC, ids=lambda p: p.value)
def test_netmiko_enables_with_the_secret_on_an_unprivileged_login(
    third_party: ThirdPartyLab, platform: Platform
) -> None:
    device = third_party.device(platform, privileged=False)
    third_party.assert_compliant(device, _netmiko_fetch(third_party, device, enable=ENABLE))


def _scrapli_fetch(third_party: ThirdPartyLab, device: Device, *, enable: str | None = None) -> str:
    from scrapli import AuthOptions, Cli, LookupKeyValue
    from scrapli.transport import BinOptions

    auth = AuthOptions(
        username="admin",
        password=third_party.password(device),
        lookups=[LookupKeyValue(key="enable", value=enable)] if enable else None,
    )
    with Cli(
        device.host,
        port=device.port,
        definition_file_or_name=SCRAPLI_DEFINITIONS[device.platform],
        auth_options=auth,
        transport_options=BinOptions(enable_strict_key=False),
    ) as conn:
        return conn.send_input(input_=show_command(device.platform)).result


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_scrapli_fetches_the_running_config_on_every_platform(
    third_party: ThirdPartyLab, platform: Platform
) -> None:
    device = third_party.device(platform, privileged=True)
    third_party.assert_compliant(device, _scrapli_fetch(third_party, device))


@pytest.mark.parametrize("platform", USER_EXEC, ids=lambda p: p.value)
def test_scrapli_enables_with_the_secret_on_an_unprivileged_login(
    third_party: ThirdPartyLab, platform: Platform
) -> None:
    device = third_party.device(platform, privileged=False)
    third_party.assert_compliant(device, _scrapli_fetch(third_party, device, enable=ENABLE))
