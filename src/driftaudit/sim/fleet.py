"""A simulated fleet generated from real sample configs.

:func:`build_fleet` turns the real-world configs in ``../shared/samples/configs``
(one folder per :class:`~driftaudit.domain.models.Platform` value) into ``n``
devices, each with its own hostname and its own addresses, an intended config,
and a running config that the simulator (:mod:`driftaudit.sim.devices`)
renders anew on every fetch, with the vendor's volatile header lines (the time
of the fetch: a device's clock ticks at least one second between two fetches,
so two fetches always differ), ``ntp clock-period`` on IOS, and the sample's
secrets, which stay the same from fetch to fetch. A few devices get real drift (an added ACL line,
a changed interface description, a removed NTP server, a rotated secret) and a
few are unreachable (the simulator closes their connections at once).

Typical use (the demo, the pre-flight tests)::

    fleet = build_fleet(50, seed=7, drifted=4, unreachable=2,
                        transports=(Transport.SSH, Transport.REST))
    async with fleet.running() as sim:          # or: with fleet.in_thread() as sim:
        files = fleet.write_files(tmp_path)     # inventory.yaml, intended/, credentials.yaml, known_hosts
        devices = fleet.devices                 # list[Device] pointing at the simulator
        ssh = SSHDeviceAdapter(fleet.credential_source(), known_hosts=files.known_hosts)
        rest = RestDeviceAdapter(fleet.credential_source(), **fleet.rest_adapter_options())

Every device has its own credential (``credential_ref`` = device id); over SSH
its username is ``admin@<device_id>``, which is how one simulator port serves
thousands of devices (see :mod:`driftaudit.sim.devices`). The intended config
is the device's config rendered at a fixed moment and normalized, as a backup
tool would keep it: compared with a fetched one it differs only in volatile
lines, so masking must make it compliant, unless the device was drifted.
``fleet.drift`` says what was changed on which device.

The REST devices are plain HTTP on loopback, reached through the path prefix
``/d/<device_id>`` (:meth:`SimFleet.rest_adapter_options`). Generation costs
a few milliseconds per device (about 6 s for 1000 devices on a busy machine).
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from driftaudit.adapters.devices.profiles import profile_for
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.models import Credential, Device, Platform, Transport
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.reversible import encode_cisco7
from driftaudit.sim.devices import DeviceSimulator, Fault, SimDevice, SimulatorThread

__all__ = [
    "DEFAULT_SAMPLES",
    "DriftKind",
    "FleetFiles",
    "SimCredentialSource",
    "SimFleet",
    "build_fleet",
    "render_running_config",
]

#: ``../shared/samples`` beside the repository (``src/driftaudit/sim/fleet.py`` -> repo root).
DEFAULT_SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"

_INTENDED_AT = datetime(2026, 1, 5, 9, 30, 0, tzinfo=UTC)
_INTENDED_CLOCK_PERIOD = 17_179_869
_NORMALIZER = ConfigNormalizer()
_TENANTS = ("acme", "globex")
_SITES = ("fra1", "lhr2", "nyc3", "sin1")
_ROLES = {
    Platform.IOS: "edge",
    Platform.NXOS: "leaf",
    Platform.IOSXR: "core",
    Platform.EOS: "spine",
    Platform.JUNOS: "border",
    Platform.JUNOS_SET: "firewall",
    Platform.ASA: "firewall",
}
_SHORT = {
    Platform.IOS: "ios",
    Platform.NXOS: "nxos",
    Platform.IOSXR: "xr",
    Platform.EOS: "eos",
    Platform.JUNOS: "junos",
    Platform.JUNOS_SET: "srx",
    Platform.ASA: "asa",
}

# Header lines the samples carry from their capture; the simulator renders its own.
_HEADER = re.compile(
    r"^(?:Building configuration\.\.\.|Current configuration : \d+ bytes|"
    r"! ?Last configuration change at .*|! NVRAM config last updated at .*|"
    r"! ?Command: .*|! ?Time: .*|!Running configuration last done at: .*|"
    r"!! IOS XR Configuration.*|!! Last configuration change at .*|## Last commit: .*|"
    r"! Startup-config last modified at .*|! device: .*|ntp clock-period \d+)\s*$"
)
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_HASH = re.compile(r"\$(?:1|5|6|9)\$[./0-9A-Za-z]{2,16}\$[./0-9A-Za-z]{8,}")


class DriftKind:
    """The drift :func:`build_fleet` can inject (plain strings, so they read well in YAML)."""

    ACL_LINE = "acl_line"
    DESCRIPTION = "description"
    NTP_REMOVED = "ntp_removed"
    SECRET = "secret"
    ALL = (ACL_LINE, DESCRIPTION, NTP_REMOVED, SECRET)


@dataclass(frozen=True, slots=True)
class FleetFiles:
    """Paths written by :meth:`SimFleet.write_files`."""

    inventory: Path
    intended_dir: Path
    credentials: Path
    known_hosts: Path | None


class SimCredentialSource:
    """A :class:`~driftaudit.domain.ports.CredentialSource` over the fleet's credentials."""

    def __init__(self, credentials: dict[str, Credential]) -> None:
        self._credentials = credentials

    def get_credential(self, ref: str | None) -> Credential:
        """The credential for ``ref``; raises ``ConfigurationError`` when unknown."""
        if ref is None or ref not in self._credentials:
            raise ConfigurationError(f"no credential named {ref!r}")
        return self._credentials[ref]


@dataclass(slots=True)
class _Plan:
    device_id: str
    platform: Platform
    transport: Transport
    tenant: str
    site: str
    role: str


@dataclass
class SimFleet:
    """A generated fleet: what the simulator serves, and what driftaudit is told.

    Attributes:
        sim_devices: The devices the :class:`DeviceSimulator` serves.
        intended: Intended config per device id.
        drift: What was changed on each drifted device (``kind: detail``).
        unreachable: Ids of devices whose connections the simulator refuses.
        credentials: Credential per ``credential_ref`` (the device id).
    """

    sim_devices: list[SimDevice]
    intended: dict[str, str]
    drift: dict[str, str]
    unreachable: set[str]
    credentials: dict[str, Credential]
    _plans: list[_Plan] = field(default_factory=list, repr=False)
    _simulator: DeviceSimulator | None = field(default=None, repr=False)

    def bind(self, simulator: DeviceSimulator) -> None:
        """Point :attr:`devices` at a started simulator (its host and ports)."""
        self._simulator = simulator

    @property
    def simulator(self) -> DeviceSimulator:
        """The bound simulator; raises RuntimeError before :meth:`bind`."""
        if self._simulator is None or self._simulator.ssh_port == 0:
            raise RuntimeError(
                "start a simulator for this fleet first (fleet.running() or fleet.in_thread())"
            )
        return self._simulator

    @property
    def devices(self) -> list[Device]:
        """The inventory view of the fleet, addressed at the bound simulator."""
        sim = self.simulator
        return [
            Device(
                device_id=plan.device_id,
                host=sim.host,
                port=sim.port_of(plan.device_id) if plan.transport is Transport.SSH else sim.http_port,
                platform=plan.platform,
                transport=plan.transport,
                tenant=plan.tenant,
                site=plan.site,
                role=plan.role,
                credential_ref=plan.device_id,
            )
            for plan in self._plans
        ]

    def credential_source(self) -> SimCredentialSource:
        """A credential source for the adapters."""
        return SimCredentialSource(self.credentials)

    def rest_adapter_options(self) -> dict[str, Any]:
        """Keyword arguments a RestDeviceAdapter needs for the simulator (plain HTTP, path prefix)."""
        return {"scheme": "http", "path_prefix": "/d/{device_id}"}

    def simulator_for(
        self, *, host: str = "127.0.0.1", ssh_port: int = 0, http_port: int = 0
    ) -> DeviceSimulator:
        """A new (not started) simulator serving this fleet, bound to it."""
        sim = DeviceSimulator(self.sim_devices, host=host, ssh_port=ssh_port, http_port=http_port)
        self.bind(sim)
        return sim

    @contextlib.asynccontextmanager
    async def running(self, **options: Any) -> AsyncIterator[DeviceSimulator]:
        """Run the simulator in the current event loop for the duration of the block."""
        sim = self.simulator_for(**options)
        async with sim:
            yield sim

    @contextlib.contextmanager
    def in_thread(self, **options: Any) -> Iterator[DeviceSimulator]:
        """Run the simulator in a background thread with its own event loop."""
        sim = self.simulator_for(**options)
        with SimulatorThread(sim):
            yield sim

    def write_files(self, directory: Path) -> FleetFiles:
        """Write inventory.yaml, intended/<id>.cfg, credentials.yaml and known_hosts.

        ``known_hosts`` is written only when the simulator is running (its host
        key exists then). Secrets go to credentials.yaml inline: it is a lab file.
        """
        directory.mkdir(parents=True, exist_ok=True)
        inventory = directory / "inventory.yaml"
        entries = []
        for device in self.devices:
            entry = device.model_dump(mode="json", exclude={"tags"})
            entry["id"] = entry.pop("device_id")
            entries.append(entry)
        inventory.write_text(yaml.safe_dump({"devices": entries}, sort_keys=False), encoding="utf-8")
        intended_dir = directory / "intended"
        intended_dir.mkdir(exist_ok=True)
        for device_id, text in self.intended.items():
            (intended_dir / f"{device_id}.cfg").write_text(text, encoding="utf-8")
        credentials = directory / "credentials.yaml"
        document = {
            "credentials": {
                ref: {"username": cred.username, "password": cred.password.get_secret_value()}
                | ({"enable_secret": cred.enable_secret.get_secret_value()} if cred.enable_secret else {})
                for ref, cred in self.credentials.items()
                if cred.password is not None
            }
        }
        credentials.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        credentials.chmod(0o600)
        known_hosts: Path | None = None
        if self._simulator is not None and self._simulator.ssh_port:
            known_hosts = directory / "known_hosts"
            known_hosts.write_text("\n".join(self._simulator.known_hosts_lines()) + "\n", encoding="utf-8")
        return FleetFiles(inventory, intended_dir, credentials, known_hosts)


#: Secret values of every form the vendor grammar knows, planted in every simulated device's
#: config and intended config: none of them may ever leave the process (the canary test
#: looks for each in every topic, history table, API and CLI output and the worker's log).
CANARY_PLAINTEXT = "CanaryType7Plain"
CANARY_SECRETS: dict[Platform, tuple[str, ...]] = {
    Platform.IOS: (encode_cisco7(CANARY_PLAINTEXT, 5), "CanaryAuthIos1", "CanaryPrivIos1", "CanaryCommIos"),
    Platform.NXOS: ("CanaryTacNx", "CanaryAuthNx", "CanaryPrivNx"),
    Platform.IOSXR: (encode_cisco7(CANARY_PLAINTEXT, 6), encode_cisco7(CANARY_PLAINTEXT, 7), "CanaryPwXr"),
    Platform.EOS: (encode_cisco7(CANARY_PLAINTEXT, 8), "CanaryCommEos"),
    Platform.JUNOS: ("CanaryPlainJunos", "CanaryCommJunos"),
    Platform.JUNOS_SET: ("CanaryPlainSet", "CanaryCommSet"),
    Platform.ASA: ("CanaryEnableAsa", "CanaryCommAsa"),
}


def _canary_lines(platform: Platform) -> str:
    """The lines that carry ``platform``'s canary secrets, in the platform's own grammar."""
    s = CANARY_SECRETS[platform]
    if platform is Platform.IOS:
        return (
            f"ip ftp password 7 {s[0]}\n"
            f"snmp-server user canary CANARY v3 auth sha {s[1]} priv aes 128 {s[2]}\n"
            f"snmp-server community {s[3]} RO\n"
        )
    if platform is Platform.NXOS:
        return (
            f'tacacs-server host 192.0.2.9 key 7 "{s[0]}"\n'
            f"snmp-server user canary network-admin auth md5 {s[1]} priv {s[2]} localizedkey\n"
        )
    if platform is Platform.IOSXR:
        return (
            f"snmp-server host 192.0.2.8 traps version 2c encrypted {s[0]}\n"
            f"router ospf 77\n area 0\n  message-digest-key 20 md5 encrypted {s[1]}\n!\n"
            f"username canary\n password 0 {s[2]}\n!\n"
        )
    if platform is Platform.EOS:
        return (
            f"ip security\n   profile CANARY\n      shared-key 7 {s[0]}\n!\nsnmp-server community {s[1]} ro\n"
        )
    if platform is Platform.JUNOS:
        return (
            "system {\n    login {\n        user canary {\n            authentication {\n"
            f'                plain-text-password-value "{s[0]}";\n            }}\n        }}\n    }}\n}}\n'
            f"snmp {{\n    community {s[1]} {{\n        authorization read-only;\n    }}\n}}\n"
        )
    if platform is Platform.JUNOS_SET:
        return (
            f"set system login user canary authentication plain-text-password-value {s[0]}\n"
            f"set snmp community {s[1]} authorization read-only\n"
        )
    return (
        f"enable password {s[0]} encrypted\nsnmp-server host inside 192.0.2.3 community {s[1]} version 2c\n"
    )


def build_fleet(
    n: int,
    *,
    seed: int = 0,
    drifted: int = 0,
    unreachable: int = 0,
    transports: Sequence[Transport] = (Transport.SSH,),
    platforms: Sequence[Platform] | None = None,
    drift_kinds: Sequence[str] = (DriftKind.ACL_LINE, DriftKind.DESCRIPTION, DriftKind.NTP_REMOVED),
    samples: Path | None = None,
    latency_s: float = 0.0,
    own_ports: bool = False,
) -> SimFleet:
    """Generate ``n`` simulated devices from the sample configs.

    Args:
        n: Number of devices.
        seed: Everything (platforms, samples, addresses, passwords, who drifts) follows from it.
        drifted: How many reachable devices get one drift each (kinds in turn).
        unreachable: How many devices refuse connections (``Fault.REFUSE``).
        transports: Transports handed out in turn; REST only goes to platforms
            with a device API (EOS, NX-OS, Junos), the others fall back to SSH.
        platforms: Platforms handed out in turn (default: every platform).
        drift_kinds: Kinds of drift to inject, in turn (see :class:`DriftKind`).
        samples: The samples folder (default :data:`DEFAULT_SAMPLES`).
        latency_s: The round-trip time of each device (see ``SimDevice.latency_s``).
        own_ports: Serve every SSH device on a port of its own, where
            ``latency_s`` applies to every exchange, the SSH handshake included.

    Raises:
        ConfigurationError: The samples folder is missing or has no config for
            a requested platform; or the counts do not fit in ``n``.
    """
    if n < 1 or drifted < 0 or unreachable < 0 or drifted + unreachable > n:
        raise ConfigurationError("build_fleet needs n >= 1 and drifted + unreachable <= n")
    rng = random.Random(seed)
    chosen = list(platforms) if platforms else list(Platform)
    sample_texts = _load_samples(samples or DEFAULT_SAMPLES, chosen)
    plans: list[_Plan] = []
    for index in range(n):
        platform = chosen[index % len(chosen)]
        transport = transports[(index // len(chosen)) % len(transports)] if transports else Transport.SSH
        if transport is Transport.REST and profile_for(platform).rest_style is None:
            transport = Transport.SSH
        if transport not in (Transport.SSH, Transport.REST):
            raise ConfigurationError(f"the simulator serves SSH and REST devices, not {transport.value}")
        site = _SITES[index % len(_SITES)]
        plans.append(
            _Plan(
                device_id=f"{_SHORT[platform]}-{site}-{index + 1:04d}",
                platform=platform,
                transport=transport,
                tenant=_TENANTS[index % len(_TENANTS)],
                site=site,
                role=_ROLES[platform],
            )
        )
    order = list(range(n))
    rng.shuffle(order)
    down = {plans[i].device_id for i in order[:unreachable]}
    drift_ids = [plans[i].device_id for i in order[unreachable : unreachable + drifted]]

    fleet = SimFleet(sim_devices=[], intended={}, drift={}, unreachable=down, credentials={}, _plans=plans)
    for index, plan in enumerate(plans):
        platform = plan.platform
        base = rng.choice(sample_texts[platform])
        body = _personalize(base, platform, plan.device_id, octet_shift=1 + index % 250)
        body = _before_end(body.rstrip("\n") + "\n", _canary_lines(platform))
        fleet.intended[plan.device_id] = _NORMALIZER.clean_cli(
            render_running_config(platform, plan.device_id, body, _INTENDED_AT, _INTENDED_CLOCK_PERIOD)
        )
        actual_body = body
        if plan.device_id in drift_ids:
            kind = drift_kinds[drift_ids.index(plan.device_id) % len(drift_kinds)]
            actual_body, detail = _inject_drift(actual_body, platform, kind, index)
            fleet.drift[plan.device_id] = detail
        password = f"sim-{rng.getrandbits(48):012x}"
        username = f"admin@{plan.device_id}"
        fleet.credentials[plan.device_id] = Credential.model_validate(
            {"username": username, "password": password}
        )
        fleet.sim_devices.append(
            SimDevice(
                device_id=plan.device_id,
                platform=platform,
                hostname=plan.device_id,
                password=password,
                render=_renderer(platform, plan.device_id, actual_body, seed * 7919 + index),
                fault=Fault.REFUSE if plan.device_id in down else Fault.NONE,
                latency_s=latency_s,
                own_port=own_ports and plan.transport is Transport.SSH,
            )
        )
    return fleet


def render_running_config(
    platform: Platform, hostname: str, body: str, when: datetime, clock_period: int
) -> str:
    """The show-running-config output of a device: the vendor header at ``when``, then the body.

    ``clock_period`` is the value of IOS's ``ntp clock-period`` line (a value
    the device rewrites on its own; 0 leaves the line out).
    """
    body = body.strip("\n") + "\n"
    if platform is Platform.IOS:
        stamp = when.strftime("%H:%M:%S UTC %a %b %d %Y")
        if clock_period:
            body = _before_end(body, f"ntp clock-period {clock_period}\n")
        rest = (
            f"!\n! Last configuration change at {stamp} by admin\n"
            f"! NVRAM config last updated at {stamp} by admin\n!\n{body}"
        )
        return f"Building configuration...\n\nCurrent configuration : {len(rest.encode())} bytes\n{rest}"
    if platform is Platform.NXOS:
        stamp = when.strftime("%a %b %d %H:%M:%S %Y")
        return (
            f"!Command: show running-config\n!Running configuration last done at: {stamp}\n"
            f"!Time: {stamp}\n\n{body}"
        )
    if platform is Platform.IOSXR:
        stamp = when.strftime("%a %b %d %H:%M:%S %Y")
        return (
            f"Building configuration...\n!! IOS XR Configuration version = 7.3.2\n"
            f"!! Last configuration change at {stamp} by admin\n!\n{body}"
        )
    if platform is Platform.EOS:
        stamp = when.strftime("%a %b %d %H:%M:%S %Y")
        return (
            f"! Command: show running-config\n! device: {hostname} (vEOS, EOS-4.15.2.1F)\n"
            f"! Time: {stamp}\n!\n{body}"
        )
    if platform in (Platform.JUNOS, Platform.JUNOS_SET):
        return f"## Last commit: {when.strftime('%Y-%m-%d %H:%M:%S')} UTC by admin\n{body}"
    stamp = when.strftime("%H:%M:%S.%f")[:-3] + when.strftime(" UTC %a %b %d %Y")
    return f": Saved\n\n: Written by admin at {stamp}\n:\n{body}"


def _renderer(platform: Platform, hostname: str, body: str, seed: int) -> Callable[[int], str]:
    """The device's output per fetch: its clock ticks at least a second between two fetches."""
    rng = random.Random(seed)
    last = [datetime(1970, 1, 1, tzinfo=UTC)]

    def render(fetch_no: int) -> str:
        now = max(datetime.now(UTC), last[0] + timedelta(seconds=1))
        last[0] = now
        return render_running_config(platform, hostname, body, now, rng.randint(16_000_000, 17_999_999))

    return render


def _load_samples(root: Path, platforms: Sequence[Platform]) -> dict[Platform, list[str]]:
    configs = root / "configs"
    if not configs.is_dir():
        raise ConfigurationError(
            f"sample configs not found at {configs}: the simulated fleet is generated from "
            "../shared/samples beside the repository; pass samples=<path> to build_fleet"
        )
    texts: dict[Platform, list[str]] = {}
    for platform in platforms:
        folder = configs / platform.value
        files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
        if not files:
            raise ConfigurationError(f"no sample config for platform {platform.value} under {configs}")
        texts[platform] = [_strip_capture_headers(p.read_text(encoding="utf-8")) for p in files]
    return texts


def _strip_capture_headers(text: str) -> str:
    """The sample without the header lines of its capture (the simulator renders its own)."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return "\n".join(line for line in lines if not _HEADER.match(line)).strip("\n") + "\n"


def _personalize(text: str, platform: Platform, hostname: str, *, octet_shift: int) -> str:
    """The (header-stripped) sample with the device's hostname and shifted addresses."""
    body = text
    old = _old_hostname(body, platform)
    if old:
        body = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w-])", hostname, body)
    elif platform is Platform.JUNOS and re.search(r"^system \{$", body, re.M):
        body = re.sub(r"^system \{$", f"system {{\n    host-name {hostname};", body, count=1, flags=re.M)

    def shift(match: re.Match[str]) -> str:
        octets = [int(g) for g in match.groups()]
        if any(o > 255 for o in octets) or not 1 <= octets[0] <= 223 or octets[0] == 127:
            return match.group(0)
        octets[1] = (octets[1] + octet_shift) % 256
        return ".".join(str(o) for o in octets)

    return _IPV4.sub(shift, body)


def _old_hostname(body: str, platform: Platform) -> str | None:
    patterns = {
        Platform.JUNOS: r"^\s*host-name (\S+);",
        Platform.JUNOS_SET: r"^set system host-name (\S+)",
    }
    match = re.search(patterns.get(platform, r"^hostname (\S+)"), body, re.M)
    return match.group(1).strip('"') if match else None


def _before_end(body: str, addition: str) -> str:
    match = re.search(r"^end\s*$", body, re.M)
    if match is None:
        return body + addition
    return body[: match.start()] + addition + body[match.start() :]


def _inject_drift(body: str, platform: Platform, kind: str, index: int) -> tuple[str, str]:
    """Change ``body`` the way a hand edit on the device would; falls back to an added line."""
    junos = platform in (Platform.JUNOS, Platform.JUNOS_SET)
    if kind == DriftKind.DESCRIPTION:
        match = re.search(r"^(\s*(?:set .* )?description) (.+?)(;?)$", body, re.M)
        if match:
            new = f'{match.group(1)} "changed by hand {index}"{match.group(3)}'
            return body[: match.start()] + new + body[match.end() :], f"description: {new.strip()}"
    elif kind == DriftKind.NTP_REMOVED:
        pattern = r"^(?:set system ntp server .*|\s+server \S+;|\s*ntp server .*)\n"
        match = re.search(pattern, body, re.M)
        if match:
            return body[: match.start()] + body[match.end() :], f"ntp_removed: {match.group(0).strip()}"
    elif kind == DriftKind.SECRET:
        match = _HASH.search(body)
        if match:
            rotated = match.group(0)[:-6] + f"{index:06d}"[-6:].replace("0", "Q")
            return body[: match.start()] + rotated + body[
                match.end() :
            ], "secret: a password hash was changed"
    host = f"198.51.100.{index % 250 + 1}"
    if platform is Platform.JUNOS_SET:
        line = f"set firewall filter DRIFT term t1 from source-address {host}/32"
        return body.rstrip("\n") + f"\n{line}\n", f"acl_line: {line}"
    if junos:
        line = f"    domain-search drift-{index}.example.net;"
        match = re.search(r"^system \{$", body, re.M)
        if match:
            return body[: match.end()] + "\n" + line + body[match.end() :], f"acl_line: {line.strip()}"
        return body.rstrip("\n") + f"\n{line.strip()}\n", f"acl_line: {line.strip()}"
    acl = {
        Platform.ASA: f"access-list DRIFT extended permit ip host {host} any",
        Platform.NXOS: f"ip access-list DRIFT\n  10 permit ip {host}/32 any",
        Platform.EOS: f"ip access-list DRIFT\n   10 permit ip host {host} any",
        Platform.IOSXR: f"ipv4 access-list DRIFT\n 10 permit ipv4 host {host} any",
    }.get(platform, f"access-list 199 permit ip host {host} any")
    return _before_end(body, acl + "\n"), f"acl_line: {acl.splitlines()[-1].strip()}"
