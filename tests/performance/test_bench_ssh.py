"""SSH fetch throughput against the simulator: fresh against pooled sessions; driftaudit against its peers."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from driftaudit.adapters.devices.channel import looks_like_config
from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.pool import PoolLimits
from driftaudit.adapters.devices.profiles import profile_for
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.audit.fleet import fetch_fleet_configs
from driftaudit.bootstrap import build_config_client
from driftaudit.domain.models import ConfigResult, Credential, Device, Platform
from driftaudit.settings import Settings
from driftaudit.sim.fleet import SimCredentialSource, build_fleet
from tests.performance.sim_process import RemoteFleet, simulated_fleet_process
from tests.plugins.devices import NETMIKO_TYPES, SCRAPLI_DEFINITIONS
from tests.samples_path import SAMPLES

pytestmark = [pytest.mark.bench, pytest.mark.integration]

DEVICES = 40
ROUNDS = 3
CONCURRENCY = 20
TIMEOUTS = FetchTimeouts(connect=20, read=20, total=60)


async def _throughput(adapter: SSHDeviceAdapter, devices: list[Device]) -> float:
    """Devices per second over ROUNDS passes of the fleet at CONCURRENCY fetches in flight."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(device: Device) -> int:
        async with gate:
            return len(await adapter.fetch_config(device))

    started = time.perf_counter()
    for _ in range(ROUNDS):
        sizes = await asyncio.gather(*(one(d) for d in devices))
        assert all(sizes)
    return ROUNDS * len(devices) / (time.perf_counter() - started)


async def test_bench_ssh_fetch_fresh_vs_pooled(tmp_path) -> None:
    fleet = build_fleet(
        DEVICES,
        seed=1,
        platforms=[Platform.IOS, Platform.NXOS, Platform.IOSXR, Platform.JUNOS],
        samples=SAMPLES,
    )
    with fleet.in_thread() as sim:
        files = fleet.write_files(tmp_path)
        devices = fleet.devices
        fresh = SSHDeviceAdapter(
            fleet.credential_source(), timeouts=TIMEOUTS, known_hosts=files.known_hosts, pooled=False
        )
        pooled = SSHDeviceAdapter(
            fleet.credential_source(),
            timeouts=TIMEOUTS,
            known_hosts=files.known_hosts,
            pool_limits=PoolLimits(per_host=1, idle_s=300),
        )
        try:
            fresh_rate = await _throughput(fresh, devices)
            await _throughput(pooled, devices)  # warm-up: one session per device
            pooled_rate = await _throughput(pooled, devices)
        finally:
            await fresh.aclose()
            await pooled.aclose()
        connections = sum(sim.counters(d.device_id).connections for d in devices)
    print(
        f"\nSSH fetch, {DEVICES} devices x {ROUNDS} rounds, concurrency {CONCURRENCY}:"
        f"\n  fresh connections: {fresh_rate:8.1f} devices/s"
        f"\n  pooled sessions:   {pooled_rate:8.1f} devices/s (pool warmed first)"
        f"\n  pooled / fresh:    {pooled_rate / fresh_rate:8.2f}x"
        f"\n  SSH connections opened: {connections} (fresh {DEVICES * ROUNDS} + pooled {DEVICES})"
    )
    assert connections == DEVICES * ROUNDS + DEVICES  # the pooled passes never reconnected


# -- driftaudit against netmiko, nornir with netmiko and scrapli, on real round trips ----------------

PEER_DEVICES = 200
RTT_S = 0.2
NETMIKO_THREADS = 30
NORNIR_WORKERS = 20
SCRAPLI_IN_FLIGHT = 100
#: The fewest round trips an SSH fetch can take: version and KEXINIT, key
#: exchange reply, service accept, authentication, channel open; then the
#: command: an exec request answered with the output.
HANDSHAKE_RTTS = 5
COMMAND_RTTS = 1
#: A platform that serves no exec channel (ASA: ``supports_exec`` is False)
#: is read over a shell: the pty and shell requests (sent together) are
#: answered with the prompt, and only then can the commands go, whose answer
#: is the config. That is one round trip the exec count above does not have,
#: and no client can skip it without typing ahead blind (before it knows
#: whether the login landed privileged). The bound of a wave is its slowest
#: device's: the shell platforms' when the fleet has any.
SHELL_COMMAND_RTTS = 2


def _fewest_round_trips(platform: Platform) -> int:
    """The round trips the SSH protocol needs to fetch a config of ``platform``."""
    command = COMMAND_RTTS if profile_for(platform).supports_exec else SHELL_COMMAND_RTTS
    return HANDSHAKE_RTTS + command


def _show(platform: Platform) -> str:
    return profile_for(platform).show_config.removesuffix(" | no-more")


def _fetched(device: Device, text: object) -> bool:
    """A config of the device's platform, not an error or an empty answer."""
    return isinstance(text, str) and looks_like_config(text, profile_for(device.platform))


async def _driftaudit_run(
    fleet: RemoteFleet, known_hosts: Path, *, batch_size: int | None = None, cpu: list[float] | None = None
) -> tuple[float, int]:
    """Seconds for one fleet fetch and configs fetched; ``cpu`` gets the client's and simulator's CPU s."""
    settings = Settings(ssh_known_hosts=known_hosts)
    credentials = SimCredentialSource(
        {
            d.device_id: Credential(username="admin", password=SecretStr(fleet.passwords[d.device_id]))
            for d in fleet.devices
        }
    )
    client = build_config_client(settings, credentials=credentials)
    by_id = {d.device_id: d for d in fleet.devices}
    try:
        started, client_cpu, sim_cpu = time.perf_counter(), time.process_time(), fleet.cpu_seconds()
        outcomes = await fetch_fleet_configs(
            list(by_id), client, resolve=by_id.__getitem__, batch_size=batch_size or settings.batch_size
        )
        elapsed = time.perf_counter() - started
        if cpu is not None:
            cpu[:] = [time.process_time() - client_cpu, fleet.cpu_seconds() - sim_cpu]
    finally:
        await client.aclose()
    ok = sum(
        1 for o in outcomes if isinstance(o, ConfigResult) and _fetched(by_id[o.device_id], o.cleaned_text)
    )
    return elapsed, ok


def _netmiko_one(device: Device, password: str) -> str:
    import netmiko

    with netmiko.ConnectHandler(
        device_type=NETMIKO_TYPES[device.platform],
        host=device.host,
        port=device.port,
        username="admin",
        password=password,
    ) as conn:
        return str(conn.send_command(_show(device.platform)))


def _netmiko_run(fleet: RemoteFleet) -> tuple[float, int]:
    started = time.perf_counter()
    with ThreadPoolExecutor(NETMIKO_THREADS) as pool:
        texts = list(pool.map(lambda d: _netmiko_one(d, fleet.passwords[d.device_id]), fleet.devices))
    elapsed = time.perf_counter() - started
    return elapsed, sum(_fetched(d, t) for d, t in zip(fleet.devices, texts, strict=True))


def _nornir_run(fleet: RemoteFleet, directory: Path) -> tuple[float, int]:
    from nornir import InitNornir
    from nornir.core.task import Result, Task
    from nornir_netmiko.tasks import netmiko_send_command

    hosts = {
        d.device_id: {
            "hostname": d.host,
            "port": d.port,
            "username": "admin",
            "password": fleet.passwords[d.device_id],
            "platform": NETMIKO_TYPES[d.platform],
            "data": {"show": _show(d.platform)},
        }
        for d in fleet.devices
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yaml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (directory / "groups.yaml").write_text("{}\n", encoding="utf-8")
    (directory / "defaults.yaml").write_text("{}\n", encoding="utf-8")

    def fetch(task: Task) -> Result:
        output = task.run(task=netmiko_send_command, command_string=task.host.data["show"])
        return Result(host=task.host, result=output.result)

    nr = InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": NORNIR_WORKERS}},
        inventory={
            "plugin": "SimpleInventory",
            "options": {
                "host_file": str(directory / "hosts.yaml"),
                "group_file": str(directory / "groups.yaml"),
                "defaults_file": str(directory / "defaults.yaml"),
            },
        },
        logging={"enabled": False},
    )
    started = time.perf_counter()
    try:
        results = nr.run(task=fetch)
        elapsed = time.perf_counter() - started
    finally:
        nr.close_connections()
    by_id = {d.device_id: d for d in fleet.devices}
    ok = sum(
        1 for name, multi in results.items() if not multi.failed and _fetched(by_id[name], multi[0].result)
    )
    return elapsed, ok


async def _scrapli_run(fleet: RemoteFleet) -> tuple[float, int]:
    from scrapli import AuthOptions, Cli
    from scrapli.transport import BinOptions

    gate = asyncio.Semaphore(SCRAPLI_IN_FLIGHT)

    async def one(device: Device) -> str:
        async with gate:
            cli = Cli(
                device.host,
                port=device.port,
                definition_file_or_name=SCRAPLI_DEFINITIONS[device.platform],
                auth_options=AuthOptions(username="admin", password=fleet.passwords[device.device_id]),
                transport_options=BinOptions(enable_strict_key=False),
            )
            async with cli as conn:
                return (await conn.send_input_async(input_=_show(device.platform))).result

    started = time.perf_counter()
    texts = await asyncio.gather(*(one(d) for d in fleet.devices), return_exceptions=True)
    elapsed = time.perf_counter() - started
    return elapsed, sum(_fetched(d, t) for d, t in zip(fleet.devices, texts, strict=True))


@pytest.mark.timeout(1500)
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
async def test_bench_ssh_driftaudit_against_netmiko_nornir_and_scrapli(tmp_path: Path) -> None:
    """200 devices at 200 ms per round trip, one simulator process, every client in the same run.

    The physical bound is the fewest round trips the protocol allows per
    platform, times the round trip, per wave of ``batch_size`` devices: six
    over an exec channel, seven over a shell on a platform that serves no
    exec (ASA), whose shell request is answered with the prompt before the
    commands can go (the exec-only figure is printed too). The simulator's
    link counts what a fetch costs (``tests/integration/test_ssh_round_trips.py``):
    driftaudit takes exactly those. What is left between the bound and the
    fleet is CPU: every step of 200 handshakes arrives at once, on the
    client and on the simulator, on a shared 2-core machine.
    """
    pytest.importorskip("netmiko")
    pytest.importorskip("nornir_netmiko")
    pytest.importorskip("scrapli")
    with simulated_fleet_process(PEER_DEVICES, seed=3, latency_s=RTT_S) as fleet:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text("\n".join(fleet.known_hosts) + "\n", encoding="utf-8")
        one = fleet.devices[:1]
        single, _ = await _driftaudit_run(RemoteFleet(one, fleet.passwords, [], {}, fleet.pid), known_hosts)
        # Untimed: every simulated device's first session (and the client's
        # first fleet), so driftaudit meets a warm simulator, as the peers,
        # which run after it, do.
        await _driftaudit_run(fleet, known_hosts)
        cpu: list[float] = []
        ours, ours_ok = await _driftaudit_run(fleet, known_hosts, cpu=cpu)
        sweep = {c: await _driftaudit_run(fleet, known_hosts, batch_size=c) for c in (50, 100, 400)}
        scrapli_s, scrapli_ok = await _scrapli_run(fleet)
        netmiko_s, netmiko_ok = await asyncio.to_thread(_netmiko_run, fleet)
        nornir_s, nornir_ok = await asyncio.to_thread(_nornir_run, fleet, tmp_path / "nornir")
    n = PEER_DEVICES
    concurrency = Settings().batch_size
    waves = [fleet.devices[i : i + concurrency] for i in range(0, n, concurrency)]
    wave_rtts = [max(_fewest_round_trips(d.platform) for d in wave) for wave in waves]
    bound = sum(wave_rtts) * RTT_S
    exec_only_bound = len(waves) * (HANDSHAKE_RTTS + COMMAND_RTTS) * RTT_S
    runs = {
        f"driftaudit, defaults ({concurrency} in flight)": (ours, ours_ok),
        **{f"driftaudit, {c} in flight": result for c, result in sweep.items()},
        f"scrapli async ({SCRAPLI_IN_FLIGHT} in flight)": (scrapli_s, scrapli_ok),
        f"netmiko ({NETMIKO_THREADS} threads)": (netmiko_s, netmiko_ok),
        f"nornir + netmiko ({NORNIR_WORKERS} workers)": (nornir_s, nornir_ok),
    }
    peers = {"scrapli": scrapli_s, "netmiko": netmiko_s, "nornir": nornir_s}
    best_peer = min(peers, key=peers.__getitem__)
    lines = [
        f"\nSSH fetch of {n} devices (7 platforms), {RTT_S * 1000:.0f} ms per round trip, one simulator:"
    ]
    lines += [f"  {name:40s} {s:6.2f} s {n / s:6.1f} dev/s  ok {k}/{n}" for name, (s, k) in runs.items()]
    lines.append(
        "  driftaudit (defaults) is "
        + ", ".join(f"{seconds / ours:.2f}x {name}" for name, seconds in peers.items())
        + f" (best peer {best_peer}; target >= 1.5x)"
    )
    lines.append(
        f"  one device alone ({one[0].platform.value}): {single:.2f} s = {single / RTT_S:.1f} round trips"
        f" (fewest possible {_fewest_round_trips(one[0].platform)})"
    )
    lines.append(
        f"  CPU per connection at the defaults: driftaudit {cpu[0] / n * 1000:.2f} ms,"
        f" simulator {cpu[1] / n * 1000:.2f} ms"
    )
    lines.append(
        f"  physical bound: {len(waves)} wave(s) of {concurrency} x ({HANDSHAKE_RTTS} handshake"
        f" + {COMMAND_RTTS} exec command, or {SHELL_COMMAND_RTTS} on a shell-only platform, round trips;"
        f" the wave's slowest: {'+'.join(map(str, wave_rtts))}) x {RTT_S:g} s = {bound:.2f} s;"
        f" driftaudit / bound = {ours / bound:.2f}x (target <= 1.3x)"
    )
    lines.append(
        f"  (against an exec-only bound of {exec_only_bound:.2f} s, which no shell-only device can meet:"
        f" {ours / exec_only_bound:.2f}x)"
    )
    print("\n".join(lines))
    assert ours_ok == n
