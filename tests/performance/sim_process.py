"""The simulated fleet in a process of its own, so a benchmark's clients never share its CPU or GIL.

:func:`simulated_fleet_process` starts a child (spawned, not forked) that
builds the fleet from the same seed, serves it with every device on its own
port at the given round-trip time, and sends back what a client needs: the
inventory view, the passwords and the known_hosts lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import resource
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from driftaudit.domain.models import Device, Platform


@dataclass(frozen=True)
class RemoteFleet:
    """What the child serves: devices addressed at it, their passwords, their host keys."""

    devices: list[Device]
    passwords: dict[str, str]
    known_hosts: list[str]
    intended: dict[str, str]
    pid: int = 0

    def cpu_seconds(self) -> float:
        """CPU time the simulator process has used so far (Linux /proc), 0 when unknown."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(conn: Connection, n: int, seed: int, latency_s: float, platforms: list[str] | None) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    from driftaudit.sim.fleet import build_fleet
    from tests.samples_path import SAMPLES

    chosen = [Platform(p) for p in platforms] if platforms else None
    fleet = build_fleet(n, seed=seed, samples=SAMPLES, own_ports=True, latency_s=latency_s, platforms=chosen)
    # The fleet (sample texts, renderers) lives as long as the process: out of
    # the collector's sight, a full collection in the middle of a fetch does
    # not stall every device's answers at once.
    gc.collect()
    gc.freeze()

    async def main() -> None:
        async with fleet.running() as sim:
            passwords = {
                ref: cred.password.get_secret_value()
                for ref, cred in fleet.credentials.items()
                if cred.password is not None
            }
            conn.send(
                {
                    "devices": [d.model_dump(mode="json") for d in fleet.devices],
                    "passwords": passwords,
                    "known_hosts": sim.known_hosts_lines(),
                    "intended": fleet.intended,
                }
            )
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


@contextlib.contextmanager
def simulated_fleet_process(
    n: int, *, seed: int = 1, latency_s: float = 0.0, platforms: list[Platform] | None = None
) -> Iterator[RemoteFleet]:
    """Run the fleet in a child process for the duration of the block."""
    names = [p.value for p in platforms] if platforms else None
    with _child_process(_serve, (n, seed, latency_s, names), start_timeout_s=120) as (info, pid):
        yield RemoteFleet(
            devices=[Device.model_validate(d) for d in info["devices"]],
            passwords=info["passwords"],
            known_hosts=info["known_hosts"],
            intended=info["intended"],
            pid=pid,
        )


@contextlib.contextmanager
def _child_process(
    target: Callable[..., None], args: tuple[Any, ...], *, start_timeout_s: float
) -> Iterator[tuple[dict[str, Any], int]]:
    """Start ``target(conn, *args)`` in a spawned child; yield what it sends first and its pid.

    On exit the child is told to stop, then terminated if it has not within 15 s.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, *args), daemon=True)
    process.start()
    try:
        if not parent.poll(start_timeout_s):
            raise RuntimeError("the simulator process did not start")
        info: dict[str, Any] = parent.recv()
        yield info, process.pid or 0
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        process.join(15)
        if process.is_alive():
            process.terminate()
            process.join(5)


@dataclass(frozen=True)
class RemoteFleetFiles:
    """A fleet served by a child process, with the audit files a worker reads it through.

    Attributes:
        devices: the inventory.
        expected: device_id -> the status an audit should report.
        env: ``DRIFTAUDIT_*`` settings pointing at the fleet's files (inventory, credentials, REST options).
        pid: the simulator process, for its CPU time.
    """

    devices: list[Device]
    expected: dict[str, str]
    env: dict[str, str]
    pid: int = 0

    def cpu_seconds(self) -> float:
        """CPU time the simulator process has used so far (Linux /proc), 0 when unknown."""
        return RemoteFleet([], {}, [], {}, pid=self.pid).cpu_seconds()


def _serve_files(conn: Connection, directory: str, options: dict[str, Any]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    from driftaudit.cli.sim import SimOptions, write_fleet_files
    from driftaudit.domain.models import Transport
    from driftaudit.sim.fleet import build_fleet

    n = options["n"]
    fleet = build_fleet(
        n,
        seed=options["seed"],
        drifted=options["drifted"],
        unreachable=options["unreachable"],
        transports=(Transport.REST,) if options["rest_only"] else (Transport.SSH, Transport.REST),
        platforms=[Platform(p) for p in options["platforms"]] if options["platforms"] else None,
        latency_s=options["latency_s"],
    )

    async def main() -> None:
        async with fleet.running() as sim:
            sim_options = SimOptions(
                devices=n, out=Path(directory), drifted=options["drifted"], unreachable=options["unreachable"]
            )
            files = write_fleet_files(fleet, sim, sim_options)
            expected = {d.device_id: "compliant" for d in fleet.devices}
            expected.update(dict.fromkeys(fleet.drift, "drifted"))
            expected.update(dict.fromkeys(fleet.unreachable, "unreachable"))
            conn.send(
                {
                    "devices": [d.model_dump(mode="json") for d in fleet.devices],
                    "expected": expected,
                    "env": str(files.env),
                }
            )
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


@contextlib.contextmanager
def simulated_fleet_files_process(
    directory: Path,
    *,
    n: int,
    drifted: int,
    unreachable: int,
    latency_s: float = 0.0,
    seed: int = 3,
    rest_only: bool = False,
    platforms: list[Platform] | None = None,
) -> Iterator[RemoteFleetFiles]:
    """Like ``tests.plugins.streams.simulated_fleet`` (same fleet, same files), served by a child process.

    A benchmark of a worker then measures the worker: the devices' servers run
    on their own CPU and event loop, as a real fleet's do.
    """
    options = {
        "n": n,
        "seed": seed,
        "drifted": drifted,
        "unreachable": unreachable,
        "latency_s": latency_s,
        "rest_only": rest_only,
        "platforms": [p.value for p in platforms] if platforms else None,
    }
    from tests.plugins.streams import read_env_file  # here, not at import: the child imports this module

    with _child_process(_serve_files, (str(directory), options), start_timeout_s=180) as (info, pid):
        yield RemoteFleetFiles(
            devices=[Device.model_validate(d) for d in info["devices"]],
            expected=info["expected"],
            env=read_env_file(Path(info["env"])),
            pid=pid,
        )
