"""What real fleets do to an SSH fetch, injected on the simulator: privilege, CLI errors, prompts, legacy SSH.

Every device here has a port of its own (plain login name, a real link) and a
pre-login banner; each test gives its device the behaviour it checks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from driftaudit.adapters.devices import profiles
from driftaudit.adapters.devices.kexinit import negotiation_failure, server_algorithms
from driftaudit.adapters.devices.options import FetchTimeouts, SSHAlgorithmPolicy, SSHAlgorithms
from driftaudit.adapters.devices.pool import PoolLimits
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.errors import (
    AuthError,
    ConnectError,
    FetchTimeoutError,
    ProtocolError,
    RemoteError,
)
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Credential, Device, Platform
from driftaudit.settings import Settings
from driftaudit.sim.devices import DeviceSimulator, SimDevice
from driftaudit.sim.fleet import SimCredentialSource, SimFleet, build_fleet
from tests.plugins.devices import fetch_then_close
from tests.samples_path import SAMPLES

pytestmark = [
    pytest.mark.integration,
    # Legacy key exchange is finite-field Diffie-Hellman, which cryptography deprecates.
    pytest.mark.filterwarnings(
        "ignore:Diffie-Hellman over finite fields:cryptography.utils.CryptographyDeprecationWarning"
    ),
]

REGISTRY = MaskingRegistry.builtin(key=b"test-masking-key-0123456789abcdef")
TIMEOUTS = FetchTimeouts(connect=5.0, read=5.0, total=20.0, prompt=1.0)
ENABLE = "en-secret-5f1c"  # noqa: S105 - a lab secret
CISCO_FAMILY = [Platform.IOS, Platform.NXOS, Platform.IOSXR, Platform.EOS, Platform.ASA]
LEGACY = SSHAlgorithms(
    kex="+diffie-hellman-group14-sha1",
    ciphers="+aes128-cbc",
    macs="+hmac-sha1",
    host_key="+ssh-rsa",
)


@dataclasses.dataclass
class Lab:
    fleet: SimFleet
    sim: DeviceSimulator
    known_hosts: Path
    _taken: set[str] = dataclasses.field(default_factory=set)

    def take(self, platform: Platform, *, legacy: bool = False) -> tuple[Device, SimDevice]:
        for device in self.fleet.devices:
            sim_device = self.sim.device(device.device_id)
            if (
                device.platform is platform
                and device.device_id not in self._taken
                and sim_device.legacy_ssh is legacy
            ):
                self._taken.add(device.device_id)
                return device, sim_device
        raise LookupError(platform)

    def credentials(self, device: Device, **extra: str) -> SimCredentialSource:
        base = self.fleet.credentials[device.device_id]
        fields = {key: SecretStr(value) for key, value in extra.items()}
        return SimCredentialSource({device.device_id: base.model_copy(update=fields)})

    def adapter(self, device: Device, **options: object) -> SSHDeviceAdapter:
        credentials = options.pop("credentials", None) or self.credentials(device)
        options.setdefault("timeouts", TIMEOUTS)
        options.setdefault("use_exec", False)  # the shell, where prompts and setup commands matter
        return SSHDeviceAdapter(credentials, known_hosts=self.known_hosts, **options)  # type: ignore[arg-type]

    def compliant(self, device: Device, text: str) -> bool:
        intended = self.fleet.intended[device.device_id]
        pack = REGISTRY.for_platform(device.platform)
        return calculate_diff(text, intended, pack, platform=device.platform).compliant


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    fleet = build_fleet(70, seed=5, samples=SAMPLES, own_ports=True)
    for index, sim_device in enumerate(fleet.sim_devices):
        sim_device.auth_banner = "UNAUTHORIZED ACCESS TO THIS DEVICE IS PROHIBITED\n"
        sim_device.legacy_ssh = index >= 63  # one legacy-only device per platform
    with fleet.in_thread() as sim:
        files = fleet.write_files(Path(tmp_path_factory.mktemp("real-devices")))
        assert files.known_hosts is not None
        yield Lab(fleet, sim, files.known_hosts)


@pytest.mark.parametrize("platform", CISCO_FAMILY, ids=lambda p: p.value)
async def test_unprivileged_login_with_an_enable_secret_is_compliant(lab: Lab, platform: Platform) -> None:
    device, sim_device = lab.take(platform)
    sim_device.privileged_login = False
    sim_device.enable_secret = ENABLE
    adapter = lab.adapter(device, credentials=lab.credentials(device, enable_secret=ENABLE))
    text = await fetch_then_close(adapter, device)
    assert lab.compliant(device, text)
    assert lab.sim.counters(device.device_id).fetches == 1


async def test_privileged_login_over_exec_is_compliant_without_a_shell(lab: Lab) -> None:
    device, _ = lab.take(Platform.EOS)
    adapter = lab.adapter(device, use_exec=True)
    assert lab.compliant(device, await fetch_then_close(adapter, device))
    assert lab.sim.counters(device.device_id).commands == 1  # the show command alone, no setup


@pytest.mark.parametrize("platform", [Platform.IOS, Platform.ASA], ids=lambda p: p.value)
async def test_unprivileged_login_over_exec_falls_back_to_a_shell_with_enable(
    lab: Lab, platform: Platform
) -> None:
    device, sim_device = lab.take(platform)
    sim_device.privileged_login = False
    sim_device.enable_secret = ENABLE
    adapter = lab.adapter(device, credentials=lab.credentials(device, enable_secret=ENABLE), use_exec=True)
    assert lab.compliant(device, await fetch_then_close(adapter, device))


@pytest.mark.parametrize("platform", [Platform.IOS, Platform.EOS], ids=lambda p: p.value)
async def test_unprivileged_login_without_an_enable_secret_is_an_error_naming_privilege(
    lab: Lab, platform: Platform
) -> None:
    device, sim_device = lab.take(platform)
    sim_device.privileged_login = False
    sim_device.enable_secret = ENABLE
    with pytest.raises(AuthError) as caught:
        await fetch_then_close(lab.adapter(device), device)
    assert caught.value.status == "error"
    assert "privilege" in caught.value.reason
    assert f"{sim_device.hostname}>" in caught.value.reason
    assert lab.sim.counters(device.device_id).fetches == 0


@pytest.mark.parametrize("platform", [Platform.IOS, Platform.EOS, Platform.ASA], ids=lambda p: p.value)
async def test_a_wrong_enable_secret_is_an_error_that_never_shows_it(lab: Lab, platform: Platform) -> None:
    device, sim_device = lab.take(platform)
    sim_device.privileged_login = False
    sim_device.enable_secret = ENABLE
    wrong = "not-the-enable-secret-93"
    adapter = lab.adapter(device, credentials=lab.credentials(device, enable_secret=wrong))
    with pytest.raises(AuthError) as caught:
        await fetch_then_close(adapter, device)
    assert "privilege escalation failed" in caught.value.reason
    assert wrong not in str(caught.value)
    assert ENABLE not in str(caught.value)


@pytest.mark.parametrize(
    ("platform", "said"),
    [
        (Platform.IOS, "Command authorization failed."),
        (Platform.NXOS, "Command authorization failed."),
        (Platform.JUNOS, "error: permission denied"),
    ],
    ids=lambda v: getattr(v, "value", "msg"),
)
async def test_a_cli_error_is_an_error_with_the_devices_words_never_a_config(
    lab: Lab, platform: Platform, said: str
) -> None:
    device, sim_device = lab.take(platform)
    sim_device.config_denied = True
    with pytest.raises(RemoteError) as caught:
        await fetch_then_close(lab.adapter(device), device)
    assert caught.value.status == "error"
    assert said in caught.value.reason


async def test_a_wrong_platform_in_the_inventory_is_an_error_not_drift(lab: Lab) -> None:
    junos, _ = lab.take(Platform.JUNOS)
    ios, _ = lab.take(Platform.IOS)
    as_ios = junos.model_copy(update={"platform": Platform.IOS})
    as_junos = ios.model_copy(update={"platform": Platform.JUNOS})
    with pytest.raises(ProtocolError) as junos_caught:  # a Junos prompt is no IOS prompt
        await fetch_then_close(lab.adapter(junos), as_ios)
    assert "unrecognised prompt 'admin@" in junos_caught.value.reason
    with pytest.raises(RemoteError) as ios_caught:  # Junos's commands on IOS
        await fetch_then_close(lab.adapter(ios), as_junos)
    assert "% Invalid input detected at '^' marker." in ios_caught.value.reason


async def test_an_unrecognised_prompt_is_an_error_naming_it_not_a_silent_device(lab: Lab) -> None:
    device, sim_device = lab.take(Platform.IOS)
    sim_device.prompt_override = "[netops@jumpbox ~]$ "
    started = time.perf_counter()
    with pytest.raises(ProtocolError) as caught:
        await fetch_then_close(lab.adapter(device), device)
    elapsed = time.perf_counter() - started
    assert "unrecognised prompt" in caught.value.reason
    assert "[netops@jumpbox ~]$" in caught.value.reason
    assert elapsed < TIMEOUTS.read  # reported after the prompt wait, not the read timeout


async def test_a_device_that_prints_nothing_after_login_is_unreachable(lab: Lab) -> None:
    device, sim_device = lab.take(Platform.NXOS)
    sim_device.banner = ""
    sim_device.prompt_override = ""
    adapter = lab.adapter(device, timeouts=FetchTimeouts(connect=5.0, read=1.0, total=10.0, prompt=0.5))
    with pytest.raises(FetchTimeoutError) as caught:
        await fetch_then_close(adapter, device)
    assert caught.value.status == "unreachable"
    assert "read timeout" in caught.value.reason


async def test_a_junos_prompt_without_user_is_recognised(lab: Lab) -> None:
    device, sim_device = lab.take(Platform.JUNOS)
    sim_device.prompt_override = f"\n{{master:0}}\n{sim_device.hostname}> "
    assert lab.compliant(device, await fetch_then_close(lab.adapter(device), device))


async def test_a_rejected_setup_command_is_an_error_with_the_devices_words(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    device, _ = lab.take(Platform.IOS)
    profile = profiles.PROFILES[Platform.IOS]
    monkeypatch.setitem(
        profiles.PROFILES,
        Platform.IOS,
        dataclasses.replace(profile, paging_off=("terminal length 0", "terminal width 9999")),
    )
    with pytest.raises(RemoteError) as caught:
        await fetch_then_close(lab.adapter(device), device)
    assert "terminal width 9999" in caught.value.reason
    assert "% Invalid input detected at '^' marker." in caught.value.reason


async def test_a_device_that_drops_typed_ahead_commands_gets_them_again(lab: Lab) -> None:
    device, sim_device = lab.take(Platform.NXOS)
    sim_device.drops_typeahead = True
    assert lab.compliant(device, await fetch_then_close(lab.adapter(device), device))
    assert lab.sim.counters(device.device_id).fetches == 1


@pytest.mark.parametrize("platform", [Platform.IOS, Platform.ASA, Platform.JUNOS], ids=lambda p: p.value)
async def test_a_legacy_only_device_is_reached_only_with_the_setting(lab: Lab, platform: Platform) -> None:
    device, _ = lab.take(platform, legacy=True)
    with pytest.raises(ProtocolError) as caught:
        await fetch_then_close(lab.adapter(device), device)
    assert "SSH negotiation" in caught.value.reason
    assert "No matching" in caught.value.reason  # asyncssh's own reason, quoted
    policy = SSHAlgorithmPolicy(by_device={device.device_id: LEGACY})
    adapter = lab.adapter(device, algorithms=policy, use_exec=True)
    assert lab.compliant(device, await fetch_then_close(adapter, device))


async def test_the_servers_offer_names_the_failed_negotiation(lab: Lab) -> None:
    legacy, _ = lab.take(Platform.NXOS, legacy=True)
    modern, _ = lab.take(Platform.NXOS)
    offer = await server_algorithms(legacy.host, legacy.port, limit_s=5)
    assert offer[1] == ["ssh-rsa"]
    assert "aes128-cbc" in offer[2]
    reason = await negotiation_failure(legacy.host, legacy.port, {}, limit_s=5)
    assert reason is not None
    assert reason.startswith("No matching encryption algorithm found, sent ")
    assert reason.endswith(" and received aes128-cbc,aes256-cbc")
    allowed = {
        "kex_algs": ["diffie-hellman-group14-sha1"],
        "encryption_algs": ["aes128-cbc"],
        "mac_algs": ["hmac-sha1"],
    }
    assert await negotiation_failure(legacy.host, legacy.port, allowed, limit_s=5) is None
    assert await negotiation_failure(modern.host, modern.port, {}, limit_s=5) is None


async def test_legacy_algorithms_come_from_settings_per_platform(lab: Lab) -> None:
    device, _ = lab.take(Platform.EOS, legacy=True)
    settings = Settings.model_validate(
        {
            "ssh_known_hosts": lab.known_hosts,
            "ssh_algorithms_by_platform": {
                "arista_eos": {
                    "kex": ["diffie-hellman-group14-sha1"],
                    "ciphers": "+aes128-cbc",
                    "macs": "+hmac-sha1",
                    "host_key": ["ssh-rsa"],
                }
            },
        }
    )
    adapter = SSHDeviceAdapter.from_settings(settings, lab.credentials(device), timeouts=TIMEOUTS)
    assert lab.compliant(device, await fetch_then_close(adapter, device))


async def test_a_device_over_its_session_limit_refuses_the_next_login(lab: Lab) -> None:
    device, sim_device = lab.take(Platform.EOS)
    sim_device.max_sessions = 1
    sim_device.latency_s = 0.3  # keeps the first session open while the second logs in
    adapter = lab.adapter(device, pool_limits=PoolLimits(per_host=2))
    try:
        results = await asyncio.gather(
            adapter.fetch_config(device), adapter.fetch_config(device), return_exceptions=True
        )
    finally:
        await adapter.aclose()
        sim_device.latency_s = 0.0
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], ConnectError)
    assert lab.compliant(device, next(r for r in results if isinstance(r, str)))


async def test_a_pooled_session_closed_by_the_devices_idle_timeout_is_reopened(lab: Lab) -> None:
    device, sim_device = lab.take(Platform.IOSXR)
    sim_device.idle_timeout_s = 0.3
    adapter = lab.adapter(device)
    try:
        first = await adapter.fetch_config(device)
        await asyncio.sleep(0.8)
        second = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert lab.compliant(device, first)
    assert lab.compliant(device, second)
    assert lab.sim.counters(device.device_id).connections == 2


async def test_latency_is_paid_per_round_trip_handshake_included(lab: Lab) -> None:
    device, sim_device = lab.take(Platform.NXOS)
    sim_device.latency_s = 0.1
    try:
        started = time.perf_counter()
        text = await fetch_then_close(lab.adapter(device, pooled=False), device)
        elapsed = time.perf_counter() - started
    finally:
        sim_device.latency_s = 0.0
    assert lab.compliant(device, text)
    # SSH needs several round trips before the first command (version, key
    # exchange, auth, channel): a per-command delay alone would give ~0.1 s.
    assert elapsed > 0.5


def test_credentials_never_show_the_enable_secret() -> None:
    credential = Credential(username="u", password=SecretStr("p"), enable_secret=SecretStr(ENABLE))
    assert ENABLE not in repr(credential)
    assert ENABLE not in str(credential.model_dump())
    assert ENABLE not in credential.model_dump_json()
