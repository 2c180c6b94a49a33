"""``driftaudit sim``: run a simulated fleet in the foreground and write the files to audit it.

The demo and docker-compose's ``sim`` profile use it: one process serves N
simulated devices (SSH and device REST, generated from the real sample
configs) and a simulated multi-tenant NMS with more devices behind it, and
writes, into ``--out``, everything a driftaudit worker needs to audit them:
``inventory.yaml``, ``intended/``, ``credentials.yaml``, ``tenants.yaml`` (with
each tenant's secrets in ``nms/<tenant>.yaml``), ``known_hosts``,
``expected.yaml`` (which devices were drifted or made unreachable, and how)
and ``driftaudit.env`` (the ``DRIFTAUDIT_*`` settings pointing at those
files). ``driftaudit.env`` is written last, so its presence means the fleet is
up. The NMS devices are compliant: their intended config is what the NMS serves.

In a container, bind with ``--host 0.0.0.0`` and give the name other
containers reach it by with ``--advertise-host sim``: the inventory, tenants
and known_hosts entries then use that name. Every option that a container
needs can also come from the environment (``DRIFTAUDIT_SIM_OUT``,
``DRIFTAUDIT_SIM_HOST``, ``DRIFTAUDIT_SIM_ADVERTISE_HOST``, ports, ``..._SAMPLES``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.models import AuthScheme, Device, Platform, Transport

if TYPE_CHECKING:
    from driftaudit.sim.devices import DeviceSimulator
    from driftaudit.sim.fleet import SimFleet
    from driftaudit.sim.nms import NMSSimulator

__all__ = ["SimOptions", "SimulatedFleetFiles", "register", "serve_fleet", "write_fleet_files"]

ENV_FILE = "driftaudit.env"

#: The env file names the fleet's files only; what it cannot know is said in it, where a user looks.
_NOT_SET_HERE = """\
# Not set here, add them for your setup:
# DRIFTAUDIT_KAFKA_BROKER=127.0.0.1:9092   (your broker, e.g. `make kafka`; unset, EACH worker starts its
#                                           own private in-memory broker that no other process sees)
# DRIFTAUDIT_CLICKHOUSE_DSN=chdb:///{out}/history   (an absolute chDB path, or http://host:8123/driftaudit)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    """What ``driftaudit sim`` serves, and where."""

    devices: int
    out: Path
    seed: int = 0
    drifted: int | None = None
    unreachable: int | None = None
    transports: tuple[Transport, ...] = (Transport.SSH, Transport.REST)
    host: str = "127.0.0.1"
    advertise_host: str | None = None
    ssh_port: int = 0
    http_port: int = 0
    latency_s: float = 0.0
    samples: Path | None = None
    drift_kinds: tuple[str, ...] | None = None
    nms_devices: int | None = None
    nms_port: int = 0

    @property
    def drifted_count(self) -> int:
        """Drifted devices: as given, else one in ten (at least one in a fleet of two or more)."""
        if self.drifted is not None:
            return self.drifted
        return max(1, self.devices // 10) if self.devices > 1 else 0

    @property
    def unreachable_count(self) -> int:
        """Unreachable devices: as given, else one in twenty."""
        return self.devices // 20 if self.unreachable is None else self.unreachable

    @property
    def nms_count(self) -> int:
        """Devices behind the simulated NMS: as given, else one per five direct devices."""
        return self.devices // 5 if self.nms_devices is None else self.nms_devices

    @property
    def samples_dir(self) -> Path:
        """The samples folder (``configs/<platform>/...`` under it)."""
        from driftaudit.sim.fleet import DEFAULT_SAMPLES

        return self.samples or DEFAULT_SAMPLES


@dataclass(frozen=True, slots=True)
class SimulatedFleetFiles:
    """The files ``driftaudit sim`` wrote."""

    inventory: Path
    intended_dir: Path
    credentials: Path
    known_hosts: Path
    expected: Path
    tenants: Path
    env: Path


def _advertised(options: SimOptions, sim: DeviceSimulator) -> str:
    if options.advertise_host:
        return options.advertise_host
    return "127.0.0.1" if sim.host in ("0.0.0.0", "::", "") else sim.host


#: The simulated NMS tenants: id, envelope style, auth scheme, and the platform its style serves.
NMS_TENANTS: tuple[tuple[str, str, AuthScheme, Platform], ...] = (
    ("acme", "catalyst_center", AuthScheme.TOKEN_EXCHANGE, Platform.IOS),
    ("globex", "cloudvision", AuthScheme.OAUTH2_CLIENT_CREDENTIALS, Platform.EOS),
)
_NMS_SITES = ("ams1", "par2", "sfo3")


def build_nms(options: SimOptions) -> tuple[NMSSimulator, list[Device]]:
    """A simulated NMS serving ``options.nms_count`` devices, and those devices (host and port unset).

    Each tenant gets fresh random credentials, so a leaked demo directory
    opens nothing else.
    """
    from driftaudit.sim.nms import NMSSimulator, SimTenant, load_config_templates

    tenants = []
    for tenant_id, style, scheme, _platform in NMS_TENANTS:
        login, secret = f"driftaudit-{tenant_id}", secrets.token_urlsafe(18)
        tenant = SimTenant(tenant_id=tenant_id, style=style, auth_scheme=scheme)
        if scheme is AuthScheme.TOKEN_EXCHANGE:
            tenant.username, tenant.password = login, secret
        else:
            tenant.client_id, tenant.client_secret = login, secret
        tenants.append(tenant)
    templates = load_config_templates(options.samples_dir / "configs") if options.nms_count else None
    nms = NMSSimulator(
        tenants, templates=templates, host=options.host, port=options.nms_port, seed=options.seed
    )
    devices = []
    for index in range(options.nms_count):
        tenant_id, _style, _scheme, platform = NMS_TENANTS[index % len(NMS_TENANTS)]
        devices.append(
            Device(
                device_id=f"nms-{tenant_id}-{index + 1:04d}",
                host="nms",
                port=443,
                platform=platform,
                transport=Transport.NMS,
                tenant=tenant_id,
                site=_NMS_SITES[index % len(_NMS_SITES)],
                role="managed",
            )
        )
    return nms, devices


def _write_nms_files(
    nms: NMSSimulator | None, devices: list[Device], out: Path, host: str, inventory: Path, intended_dir: Path
) -> Path:
    """Write tenants.yaml (always: ``DRIFTAUDIT_TENANTS_PATH`` must name a file) and the NMS devices.

    The NMS devices join the inventory and the intended configs; each
    tenant's secrets go to ``nms/<tenant>.yaml`` (mode 600), which
    tenants.yaml names as its ``credentials_file``.
    """
    tenants_file = out / "tenants.yaml"
    entries: list[dict[str, Any]] = []
    if nms is not None and devices:
        secrets_dir = out / "nms"
        secrets_dir.mkdir(exist_ok=True)
        for tenant in nms.tenants.values():
            keys = ("client_id", "client_secret", "username", "password")
            credentials = {key: getattr(tenant, key) for key in keys if getattr(tenant, key)}
            secret_file = secrets_dir / f"{tenant.tenant_id}.yaml"
            secret_file.write_text(yaml.safe_dump(credentials), encoding="utf-8")
            secret_file.chmod(0o600)
            base_url = f"http://{host}:{nms.port}/t/{tenant.tenant_id}"
            spec = nms.nms_tenant(tenant.tenant_id, base_url=base_url, credentials_file=str(secret_file))
            entries.append(spec.model_dump(mode="json"))
        document = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        for device in devices:
            entry = device.model_copy(update={"host": host, "port": nms.port}).model_dump(
                mode="json", exclude={"tags", "credential_ref"}
            )
            entry["id"] = entry.pop("device_id")
            document["devices"].append(entry)
            text = nms.config_text(device.tenant, device.device_id)
            (intended_dir / f"{device.device_id}.cfg").write_text(text, encoding="utf-8")
        inventory.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    tenants_file.write_text(yaml.safe_dump({"tenants": entries}, sort_keys=False), encoding="utf-8")
    return tenants_file


def write_fleet_files(
    fleet: SimFleet,
    sim: DeviceSimulator,
    options: SimOptions,
    *,
    nms: NMSSimulator | None = None,
    nms_devices: list[Device] | None = None,
) -> SimulatedFleetFiles:
    """Write the audit files of a running simulated fleet (and NMS) into ``options.out``."""
    out = options.out.resolve()
    files = fleet.write_files(out)
    host = _advertised(options, sim)
    if host != sim.host:
        document = yaml.safe_load(files.inventory.read_text(encoding="utf-8"))
        for entry in document["devices"]:
            entry["host"] = host
        files.inventory.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    tenants = _write_nms_files(nms, nms_devices or [], out, host, files.inventory, files.intended_dir)
    known_hosts = out / "known_hosts"
    known_hosts.write_text(sim.known_hosts_line(host) + "\n", encoding="utf-8")
    expected = out / "expected.yaml"
    expected.write_text(
        yaml.safe_dump(
            {"drifted": dict(sorted(fleet.drift.items())), "unreachable": sorted(fleet.unreachable)},
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    settings: dict[str, Any] = {
        "INVENTORY_PATH": files.inventory,
        "INTENDED_DIR": files.intended_dir,
        "CREDENTIALS_PATH": files.credentials,
        "TENANTS_PATH": tenants,
        "SSH_KNOWN_HOSTS": known_hosts,
    }
    settings.update({f"REST_{key.upper()}": value for key, value in fleet.rest_adapter_options().items()})
    env = out / ENV_FILE
    lines = [f"DRIFTAUDIT_{key}={value}\n" for key, value in settings.items()]
    env.write_text("".join(lines) + _NOT_SET_HERE.format(out=out), encoding="utf-8")
    return SimulatedFleetFiles(
        files.inventory, files.intended_dir, files.credentials, known_hosts, expected, tenants, env
    )


async def serve_fleet(
    options: SimOptions,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[SimFleet, DeviceSimulator, SimulatedFleetFiles], None] | None = None,
) -> SimulatedFleetFiles:
    """Build and serve the fleet until ``stop`` is set; ``on_ready(fleet, sim, files)`` once it is up.

    Raises:
        ConfigurationError: the samples are missing or the counts do not fit.
    """
    from driftaudit.sim.fleet import build_fleet

    kinds: dict[str, Any] = {} if options.drift_kinds is None else {"drift_kinds": options.drift_kinds}
    fleet = build_fleet(
        options.devices,
        seed=options.seed,
        drifted=options.drifted_count,
        unreachable=options.unreachable_count,
        transports=options.transports,
        samples=options.samples,
        latency_s=options.latency_s,
        **kinds,
    )
    nms, nms_devices = build_nms(options)
    (options.out / ENV_FILE).unlink(missing_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        ports = {"ssh_port": options.ssh_port, "http_port": options.http_port}
        sim = await stack.enter_async_context(fleet.running(host=options.host, **ports))
        if nms_devices:
            await stack.enter_async_context(nms)
        files = write_fleet_files(fleet, sim, options, nms=nms, nms_devices=nms_devices)
        if on_ready is not None:
            on_ready(fleet, sim, files)
        await stop.wait()
    return files


def _parse_transports(value: str) -> tuple[Transport, ...]:
    try:
        chosen = tuple(Transport(part.strip()) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise typer.BadParameter("use ssh, rest or ssh,rest") from exc
    if not chosen or Transport.NMS in chosen:
        raise typer.BadParameter("the device simulator serves ssh and rest")
    return chosen


def _parse_drift_kinds(value: str | None) -> tuple[str, ...] | None:
    from driftaudit.sim.fleet import DriftKind

    if value is None:
        return None
    kinds = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(set(kinds) - set(DriftKind.ALL))
    if not kinds or unknown:
        raise typer.BadParameter(f"choose from {', '.join(DriftKind.ALL)}")
    return kinds


def _announce(fleet: SimFleet, sim: DeviceSimulator, files: SimulatedFleetFiles) -> None:
    typer.echo(
        f"serving {len(fleet.sim_devices)} simulated devices on {sim.host}: "
        f"ssh port {sim.ssh_port}, http port {sim.http_port}"
    )
    tenants = yaml.safe_load(files.tenants.read_text(encoding="utf-8"))["tenants"]
    if tenants:
        typer.echo(f"and a simulated NMS for tenants {', '.join(t['tenant_id'] for t in tenants)}")
    typer.echo(f"drifted: {len(fleet.drift)}, unreachable: {len(fleet.unreachable)} (see {files.expected})")
    typer.echo(
        f"settings for a worker: {files.env} (add DRIFTAUDIT_KAFKA_BROKER and DRIFTAUDIT_CLICKHOUSE_DSN)"
    )


async def _run(options: SimOptions, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    if duration is not None:
        loop.call_later(duration, stop.set)
    try:
        await serve_fleet(options, stop=stop, on_ready=_announce)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def _env(name: str) -> str:
    return f"DRIFTAUDIT_SIM_{name}"


def sim(
    devices: Annotated[
        int,
        typer.Option("--devices", "-n", min=1, envvar=_env("DEVICES"), help="Direct devices (SSH, REST)."),
    ] = 20,
    out: Annotated[
        Path, typer.Option("--out", envvar=_env("OUT"), help="Where to write the fleet's files.")
    ] = Path("sim"),
    seed: Annotated[int, typer.Option(envvar=_env("SEED"), help="Same seed, same fleet.")] = 0,
    drifted: Annotated[
        int | None, typer.Option(min=0, help="Drifted devices (default: n/10, at least 1).")
    ] = None,
    unreachable: Annotated[
        int | None, typer.Option(min=0, help="Unreachable devices (default: n/20).")
    ] = None,
    nms_devices: Annotated[
        int | None,
        typer.Option(
            min=0, envvar=_env("NMS_DEVICES"), help="Devices behind the simulated NMS (default: n/5)."
        ),
    ] = None,
    transports: Annotated[str, typer.Option(help="Transports handed out in turn.")] = "ssh,rest",
    host: Annotated[str, typer.Option(envvar=_env("HOST"), help="Address to bind.")] = "127.0.0.1",
    advertise_host: Annotated[
        str | None,
        typer.Option(envvar=_env("ADVERTISE_HOST"), help="Host name written to the files (default: --host)."),
    ] = None,
    ssh_port: Annotated[
        int, typer.Option(min=0, max=65535, envvar=_env("SSH_PORT"), help="0: any free port.")
    ] = 0,
    http_port: Annotated[
        int, typer.Option(min=0, max=65535, envvar=_env("HTTP_PORT"), help="0: any free port.")
    ] = 0,
    nms_port: Annotated[
        int, typer.Option(min=0, max=65535, envvar=_env("NMS_PORT"), help="0: any free port.")
    ] = 0,
    latency: Annotated[float, typer.Option(min=0.0, help="Seconds added to every answer.")] = 0.0,
    samples: Annotated[
        Path | None,
        typer.Option(envvar=_env("SAMPLES"), help="Sample configs (default: ../shared/samples)."),
    ] = None,
    drift_kinds: Annotated[
        str | None,
        typer.Option(help="Drift to inject, in turn: acl_line,description,ntp_removed,secret."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Serve a simulated fleet in the foreground and write the files to audit it."""
    options = SimOptions(
        devices=devices,
        out=out,
        seed=seed,
        drifted=drifted,
        unreachable=unreachable,
        transports=_parse_transports(transports),
        host=host,
        advertise_host=advertise_host,
        ssh_port=ssh_port,
        http_port=http_port,
        latency_s=latency,
        samples=samples,
        drift_kinds=_parse_drift_kinds(drift_kinds),
        nms_devices=nms_devices,
        nms_port=nms_port,
    )
    try:
        asyncio.run(_run(options, duration))
    except ConfigurationError as exc:
        typer.echo(f"sim: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    except OSError as exc:
        typer.echo(f"sim: cannot serve on {host}: {exc.strerror or type(exc).__name__}", err=True)
        raise typer.Exit(code=1) from exc


def register(app: typer.Typer) -> None:
    """Add the ``sim`` command to the ``driftaudit`` app."""
    app.command("sim")(sim)
