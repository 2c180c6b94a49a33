"""How many round trips an SSH fetch costs, counted by the simulator's link (no clock involved).

Each device here has a port of its own and a round-trip time, so the link
counts every flight of answers a client waited for (``round_trips``). The
fewest an exec fetch can take is six: version and KEXINIT, key-exchange
reply, service accept, authentication, channel open, then the command; a
shell-only platform needs one more (the shell request, answered with the
prompt). asyncssh on its own takes one more for a ``none`` authentication
probe, and one more for a shell, whose pty request it waits for.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from pydantic import SecretStr

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.domain.errors import FetchError, HostKeyError
from driftaudit.domain.models import Credential, Device, Platform
from driftaudit.sim.devices import DeviceSimulator, SimDevice
from driftaudit.sim.fleet import SimCredentialSource, SimFleet, build_fleet
from tests.plugins.devices import fetch_then_close
from tests.samples_path import SAMPLES

pytestmark = pytest.mark.integration

RTT_S = 0.25  # round trips are told apart by half of it: far above any scheduling jitter
TIMEOUTS = FetchTimeouts(connect=10.0, read=10.0, total=30.0, prompt=2.0)


@dataclasses.dataclass
class Lab:
    fleet: SimFleet
    sim: DeviceSimulator
    known_hosts: Path
    _taken: set[str] = dataclasses.field(default_factory=set)

    def take(self, platform: Platform) -> tuple[Device, SimDevice]:
        for device in self.fleet.devices:
            if device.platform is platform and device.device_id not in self._taken:
                self._taken.add(device.device_id)
                return device, self.sim.device(device.device_id)
        raise LookupError(platform)

    def adapter(
        self, device: Device, credential: Credential | None = None, **options: object
    ) -> SSHDeviceAdapter:
        credentials = SimCredentialSource(
            {device.device_id: credential or self.fleet.credentials[device.device_id]}
        )
        options.setdefault("known_hosts", self.known_hosts)
        return SSHDeviceAdapter(credentials, timeouts=TIMEOUTS, **options)  # type: ignore[arg-type]

    def round_trips(self, device: Device) -> int:
        return self.sim.counters(device.device_id).round_trips


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    fleet = build_fleet(
        12,
        seed=11,
        samples=SAMPLES,
        own_ports=True,
        latency_s=RTT_S,
        platforms=[Platform.IOS, Platform.ASA, Platform.JUNOS],
    )
    with fleet.in_thread() as sim:
        files = fleet.write_files(Path(tmp_path_factory.mktemp("round-trips")))
        assert files.known_hosts is not None
        yield Lab(fleet, sim, files.known_hosts)


@pytest.mark.parametrize("platform", [Platform.IOS, Platform.JUNOS], ids=lambda p: p.value)
async def test_an_exec_fetch_takes_the_six_round_trips_ssh_needs(lab: Lab, platform: Platform) -> None:
    device, _ = lab.take(platform)
    text = await fetch_then_close(lab.adapter(device), device)
    assert text
    # The password goes out at once, without asyncssh's "none" probe first.
    assert lab.round_trips(device) == 6


async def test_a_shell_fetch_takes_one_more_with_pty_and_shell_requested_together(lab: Lab) -> None:
    device, _ = lab.take(Platform.ASA)  # no exec channel on ASA: a shell
    text = await fetch_then_close(lab.adapter(device), device)
    assert "hostname" in text
    # channel open, pty + shell (answered with the prompt), the commands in one write
    assert lab.round_trips(device) == 7


async def test_a_refused_key_falls_back_to_the_password_the_server_still_offers(lab: Lab) -> None:
    device, _ = lab.take(Platform.IOS)
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    credential = lab.fleet.credentials[device.device_id].model_copy(
        update={"private_key": SecretStr(stranger)}
    )
    text = await fetch_then_close(lab.adapter(device, credential), device)
    assert text
    assert lab.sim.counters(device.device_id).logins == 1
    assert lab.round_trips(device) == 7  # the refused key costs its own round trip, nothing more


async def test_a_wrong_password_is_still_refused_without_the_probe(lab: Lab) -> None:
    device, _ = lab.take(Platform.IOS)
    credential = lab.fleet.credentials[device.device_id].model_copy(
        update={"password": SecretStr("not-the-password")}
    )
    with pytest.raises(FetchError, match="authentication refused"):
        await fetch_then_close(lab.adapter(device, credential), device)
    assert lab.sim.counters(device.device_id).logins == 0


async def test_a_known_hosts_edit_takes_effect_within_a_second(lab: Lab, tmp_path: Path) -> None:
    device, _ = lab.take(Platform.JUNOS)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(lab.known_hosts.read_text())
    adapter = lab.adapter(device, known_hosts=known_hosts, pooled=False)
    try:
        assert await adapter.fetch_config(device)
        other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
        known_hosts.write_text(f"[{device.host}]:{device.port} {other}\n")
        await asyncio.sleep(1.1)
        with pytest.raises(HostKeyError):
            await adapter.fetch_config(device)
    finally:
        await adapter.aclose()


class _NoPtyServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == "pw"  # noqa: S105 - a lab secret


async def test_a_refused_pty_fails_the_shell_instead_of_hanging(tmp_path: Path) -> None:
    """pty and shell go out together: a server that refuses the pty still ends the session with an error."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")

    async def serve(process: asyncssh.SSHServerProcess[str]) -> None:
        process.stdout.write("ciscoasa# ")
        await process.stdin.read()

    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        server_factory=_NoPtyServer,
        process_factory=serve,
        allow_pty=False,
    )
    try:
        port = server.sockets[0].getsockname()[1]
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
        device = Device(
            device_id="asa-1", host="127.0.0.1", port=port, platform=Platform.ASA, credential_ref="c"
        )
        credentials = SimCredentialSource({"c": Credential(username="admin", password=SecretStr("pw"))})
        adapter = SSHDeviceAdapter(credentials, timeouts=TIMEOUTS, known_hosts=known_hosts)
        with pytest.raises(FetchError, match="(?i)session|pty|channel"):
            await asyncio.wait_for(fetch_then_close(adapter, device), 15)
    finally:
        server.close()
        await server.wait_closed()
