"""Pytest fixtures and port fakes for the stream tests (loaded from tests/conftest.py).

The fakes implement the ports in memory for the unit tests of the agents
(``agent.test_context()`` and the stage handlers); the integration tests use
the real adapters, the device simulator and a real broker instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftaudit.adapters.history.clickhouse import chdb_dsn
from driftaudit.domain.errors import ConnectError, UnknownDeviceError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import (
    AuditRun,
    ConfigResult,
    Device,
    DeviceSelector,
    DriftEvent,
    FleetScore,
    Platform,
    Transport,
)
from driftaudit.settings import Settings

__all__ = [
    "wait_for_group",
    "MemoryHistory",
    "MemoryIntended",
    "MemoryInventory",
    "ScriptedClient",
    "make_devices",
    "stream_settings",
]

INTENDED = "hostname {name}\n!\ninterface Ethernet1\n description uplink\n!\nntp server 10.0.0.1\n"


def make_devices(
    n: int, *, tenants: Sequence[str] = ("acme", "globex"), transport: Transport = Transport.REST
) -> list[Device]:
    """``n`` devices spread round-robin over ``tenants`` and two sites."""
    return [
        Device(
            device_id=f"dev-{i:03d}",
            host="127.0.0.1",
            port=1 + i,
            platform=Platform.EOS,
            transport=transport,
            tenant=tenants[i % len(tenants)],
            site=f"site-{i % 2}",
            role="leaf" if i % 3 else "spine",
        )
        for i in range(n)
    ]


class MemoryInventory:
    """An in-memory ``Inventory`` with the selector rules of the YAML one."""

    def __init__(self, devices: Iterable[Device]) -> None:
        self.devices = {device.device_id: device for device in devices}

    def get(self, device_id: str) -> Device:
        try:
            return self.devices[device_id]
        except KeyError:
            raise UnknownDeviceError(f"unknown device {device_id}") from None

    def select(self, selector: DeviceSelector) -> list[Device]:
        if selector.device_ids:
            return [self.get(device_id) for device_id in selector.device_ids]
        return [
            d
            for d in self.devices.values()
            if (selector.tenant is None or d.tenant == selector.tenant)
            and (selector.site is None or d.site == selector.site)
            and (selector.role is None or d.role == selector.role)
            and (selector.platform is None or d.platform == selector.platform)
            and selector.tags <= d.tags
        ]

    def reload(self) -> None:
        return None


class MemoryIntended:
    """Intended configs from a dict."""

    def __init__(self, configs: dict[str, str]) -> None:
        self.configs = configs

    def get_intended(self, device_id: str) -> str | None:
        return self.configs.get(device_id)

    def reload(self) -> None:
        return None


@dataclass
class ScriptedClient:
    """An ``IConfigClient`` answering from a dict after ``latency_s``; ids in ``unreachable`` refuse."""

    configs: dict[str, str]
    unreachable: set[str] = field(default_factory=set)
    latency_s: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    calls: int = 0

    async def fetch_device_config(self, device: Device) -> ConfigResult:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if device.device_id in self.unreachable:
                raise ConnectError(device.device_id, "connection refused")
            text = self.configs[device.device_id]
            return ConfigResult(
                device_id=device.device_id,
                raw_text=text,
                cleaned_text=text,
                timestamp=datetime.now(UTC),
                fetch_ms=self.latency_s * 1000,
            )
        finally:
            self.in_flight -= 1


class MemoryHistory:
    """A ``HistoryRepository`` in memory, idempotent on its natural keys like the real one."""

    def __init__(self) -> None:
        self.runs: dict[str, AuditRun] = {}
        self.events: dict[tuple[str, str], DriftEvent] = {}
        self.scores: dict[tuple[datetime, str | None], FleetScore] = {}
        self.event_writes = 0

    def record_audit_run(self, run: AuditRun) -> None:
        self.runs[run.audit_id] = run

    def write_events(self, events: Sequence[DriftEvent]) -> None:
        self.event_writes += 1
        for event in events:
            self.events[(event.audit_id, event.device_id)] = event

    def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        for start, score in scores:
            self.scores[(start, score.tenant)] = score

    def device_timeline(self, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = [e.model_dump() for (_, d), e in self.events.items() if d == device_id]
        return rows[:limit]

    def latest_status(self) -> list[dict[str, Any]]:
        return [e.model_dump() for e in self.events.values()]

    def score_over_time(self, tenant: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return [s.model_dump() for (_, t), s in sorted(self.scores.items()) if t == tenant][:limit]

    def close(self) -> None:
        return None


def stream_settings(**overrides: Any) -> Settings:
    """Settings for a stream test: small batches, short timeouts, few partitions."""
    values: dict[str, Any] = {
        "kafka_broker": "127.0.0.1:1",
        "topic_prefix": "test.",
        "topic_partitions": 2,
        "batch_size": 4,
        "total_timeout_s": 5.0,
        "history_batch_size": 50,
        "history_flush_s": 0.2,
        "broker_session_timeout_s": 6.0,
        "masking_key": "unit-test-key",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def masking_registry() -> MaskingRegistry:
    """The built-in masking packs with a test key."""
    return MaskingRegistry.builtin(key=b"unit-test-key")


# -- integration: a simulated fleet, worker processes, topic readers --------------------------


@dataclass
class FleetUnderTest:
    """A running simulated fleet, the files a worker audits it with, and what it should find."""

    devices: list[Device]
    expected: dict[str, str]  # device_id -> expected status value
    env: dict[str, str]  # DRIFTAUDIT_* settings pointing at the fleet's files

    def settings(self, **overrides: Any) -> Settings:
        """Settings for an in-process worker: the fleet's files plus ``overrides``."""
        values: dict[str, Any] = {k.removeprefix("DRIFTAUDIT_").lower(): v for k, v in self.env.items()}
        values.update(overrides)
        return Settings(**values)


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY=value lines of a fleet's env file (comments and other lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key: value for key, value in pairs}


@contextlib.contextmanager
def simulated_fleet(
    directory: Path,
    *,
    n: int,
    drifted: int,
    unreachable: int,
    latency_s: float = 0.0,
    seed: int = 3,
    transports_rest_only: bool = False,
    platforms: Sequence[Platform] | None = None,
) -> Iterator[FleetUnderTest]:
    """Serve ``n`` simulated SSH and REST devices (or REST only) in a background thread."""
    from driftaudit.cli.sim import SimOptions, write_fleet_files
    from driftaudit.sim.fleet import build_fleet

    fleet = build_fleet(
        n,
        seed=seed,
        drifted=drifted,
        unreachable=unreachable,
        transports=(Transport.REST,) if transports_rest_only else (Transport.SSH, Transport.REST),
        platforms=platforms,
        latency_s=latency_s,
    )
    with fleet.in_thread() as sim:
        options = SimOptions(devices=n, out=directory, drifted=drifted, unreachable=unreachable)
        files = write_fleet_files(fleet, sim, options)
        expected = {d.device_id: "compliant" for d in fleet.devices}
        expected.update(dict.fromkeys(fleet.drift, "drifted"))
        expected.update(dict.fromkeys(fleet.unreachable, "unreachable"))
        yield FleetUnderTest(devices=fleet.devices, expected=expected, env=read_env_file(files.env))


@pytest.fixture
def small_fleet(tmp_path: Path) -> Iterator[FleetUnderTest]:
    """12 devices over SSH and REST: 3 drifted, 2 unreachable."""
    with simulated_fleet(tmp_path / "fleet", n=12, drifted=3, unreachable=2) as fleet:
        yield fleet


_CLI = "from driftaudit.cli import main; main()"


class WorkerProcess:
    """``driftaudit worker`` in a subprocess with its own environment and log file."""

    def __init__(
        self, env: dict[str, str], log: Path, *, web_port: int | None, loglevel: str | None = None
    ) -> None:
        """``web_port`` None leaves the port to the worker (its default, or a free one)."""
        self.loglevel = loglevel or os.environ.get("STREAMS_TEST_WORKER_LOGLEVEL", "warning")
        self.env = env
        self.log_path = log
        self.web_port = web_port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTAUDIT_")}
        full_env.update(self.env)
        if self.web_port is not None:
            full_env["DRIFTAUDIT_WORKER_WEB_PORT"] = str(self.web_port)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from driftaudit.cli import main; main()",
                    "worker",
                    "--loglevel",
                    self.loglevel,
                ],
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


@pytest.fixture
def worker_processes() -> Iterator[list[WorkerProcess]]:
    """Collects the worker processes a test starts and stops every one at the end."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop(timeout=15)


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    partitions: int,
    until: Callable[[list[tuple[bytes | None, bytes]]], bool],
    timeout_s: float,
) -> list[tuple[bytes | None, bytes]]:
    """Read ``topic`` from the beginning until ``until(messages)`` holds or the timeout expires."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        messages: list[tuple[bytes | None, bytes]] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not until(messages) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                messages.extend((r.key, r.value) for r in records)
        return messages
    finally:
        await consumer.stop()


def drift_events(messages: Iterable[tuple[bytes | None, bytes]], audit_id: str) -> list[DriftEvent]:
    """The drift events of ``audit_id`` among raw messages, repeats included."""
    events = []
    for _, value in messages:
        event = DriftEvent.model_validate_json(value)
        if event.audit_id == audit_id:
            events.append(event)
    return events


async def group_members(bootstrap: str, group_id: str) -> tuple[str, int]:
    """(state, member count) of a consumer group, as the broker describes it."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group_id])
        group = response.groups[0]
        return str(group[2]), len(group[5])
    finally:
        await admin.close()


def worker_env(
    fleet: FleetUnderTest, bootstrap: str, namespace: Any, history: Path, **extra: str
) -> dict[str, str]:
    """The environment of a ``driftaudit worker`` subprocess auditing ``fleet``."""
    env = dict(fleet.env)
    env.update(
        {
            "DRIFTAUDIT_KAFKA_BROKER": bootstrap,
            "DRIFTAUDIT_TOPIC_PREFIX": namespace.prefix,
            "DRIFTAUDIT_APP_ID": namespace.app_id,
            "DRIFTAUDIT_TOPIC_PARTITIONS": "4",
            "DRIFTAUDIT_BROKER_SESSION_TIMEOUT_S": "6",
            "DRIFTAUDIT_CLICKHOUSE_DSN": chdb_dsn(history),
            "DRIFTAUDIT_HISTORY_FLUSH_S": "0.2",
            "DRIFTAUDIT_MASKING_KEY": "integration-test-key",
            "DRIFTAUDIT_CONNECT_TIMEOUT_S": "2",
            "DRIFTAUDIT_TOTAL_TIMEOUT_S": "20",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def faust_garbage() -> Iterator[None]:
    """Collect, with ResourceWarnings silenced, what an in-process Faust app leaves for the GC.

    Faust runs its Kafka consumer in a thread with its own event loop and does
    not close that loop (nor its self-pipe sockets) when the app stops; the
    ResourceWarnings would otherwise fire in whichever later test happens to
    trigger the garbage collector.
    """
    yield
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


async def wait_for_group(bootstrap: str, group: str, members: int, workers: Sequence[WorkerProcess]) -> None:
    """Wait (90 s at most) until ``group`` is Stable with ``members`` members; fail if a worker dies."""
    deadline = time.monotonic() + 90
    state = ("", 0)
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.alive, f"worker died:\n{worker.log()}"
        try:
            state = await group_members(bootstrap, group)
        except Exception:  # noqa: BLE001 - the group does not exist before the first join
            state = ("", 0)
        if state == ("Stable", members):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"group {group} never became stable with {members} members: {state}")
