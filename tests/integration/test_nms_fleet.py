"""fetch_fleet_configs and RoutingConfigClient against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from driftaudit.adapters.nms.client import RetryPolicy
from driftaudit.adapters.nms.tenants import NMSTimeouts
from driftaudit.audit import fetch_fleet_configs as lazily_exported
from driftaudit.audit.fleet import RoutingConfigClient, fetch_fleet_configs, outcome_from_error
from driftaudit.domain.errors import (
    ConfigurationError,
    ConnectError,
    FetchTimeoutError,
    RemoteError,
    UnknownDeviceError,
)
from driftaudit.domain.models import ConfigResult, Device, DeviceStatus, FetchFailure, Platform, Transport
from driftaudit.domain.ports import BaseDeviceAdapter
from tests.plugins.nms import CANARY_PREFIX, NMSStack, canary, nms_device

pytestmark = pytest.mark.integration

FIXED_NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _acme(device_id: str) -> Device:
    return nms_device(device_id, "acme")


def test_fetch_fleet_configs_is_exported_from_audit() -> None:
    assert lazily_exported is fetch_fleet_configs


async def test_one_outcome_per_device_in_order_and_failures_stay_local(
    nms_stack_factory: Callable[..., NMSStack],
) -> None:
    stack = nms_stack_factory(
        timeouts=NMSTimeouts(connect_s=1, read_s=5, total_s=0.5),
        retry=RetryPolicy(max_retries=1, backoff_s=0.01, max_wait_s=0.1, max_total_wait_s=0.1),
    )
    sim = stack.sim
    sim.set_latency((0.0, 0.01))
    sim.forget_device("d03")
    sim.fail_device("d07", 503)
    sim.slow_device("d11", 3.0)
    sim.fail_device("d15", 500)
    ids = [f"d{i:02d}" for i in range(24)] + ["d01"]  # a duplicate is fetched again, in place

    def resolve(device_id: str) -> Device:
        if device_id == "d19":
            raise UnknownDeviceError(f"unknown device {device_id}")
        return _acme(device_id)

    outcomes = await fetch_fleet_configs(
        ids, stack.client, resolve=resolve, batch_size=5, now=lambda: FIXED_NOW
    )
    assert [o.device_id for o in outcomes] == ids
    failures = {o.device_id: o for o in outcomes if isinstance(o, FetchFailure)}
    assert set(failures) == {"d03", "d07", "d11", "d15", "d19"}
    assert failures["d03"].error_type == "RemoteError"
    assert failures["d03"].status is DeviceStatus.ERROR
    assert failures["d07"].error_type == "RateLimitedError"
    assert failures["d11"].error_type == "FetchTimeoutError"
    assert failures["d11"].status is DeviceStatus.UNREACHABLE
    assert failures["d15"].reason == "NMS answered HTTP 500"
    assert failures["d19"].error_type == "UnknownDeviceError"
    assert all(f.timestamp == FIXED_NOW for f in failures.values())
    good = [o for o in outcomes if isinstance(o, ConfigResult)]
    assert len(good) == 20
    assert all(o.device_id in o.cleaned_text for o in good)


async def test_in_flight_never_exceeds_batch_size(nms_stack: NMSStack) -> None:
    sim = nms_stack.sim
    sim.set_latency(0.01)
    await nms_stack.client.fetch_device_config(_acme("warm"))
    for batch_size in (1, 3, 8):
        sim.reset_counters()
        sim.hold_until_in_flight(batch_size)  # shows the bound is reachable without relying on timing
        ids = [f"d{i}" for i in range(40)]
        outcomes = await fetch_fleet_configs(ids, nms_stack.client, resolve=_acme, batch_size=batch_size)
        assert all(isinstance(o, ConfigResult) for o in outcomes)
        assert sim.max_in_flight == batch_size
        assert sim.in_flight == 0


async def test_empty_fleet_and_bad_batch_size(nms_stack: NMSStack) -> None:
    assert await fetch_fleet_configs([], nms_stack.client, resolve=_acme, batch_size=3) == []
    with pytest.raises(ValueError, match="batch_size"):
        await fetch_fleet_configs(["a"], nms_stack.client, resolve=_acme, batch_size=0)


async def test_cancellation_leaves_no_task_running(nms_stack: NMSStack) -> None:
    sim = nms_stack.sim
    await nms_stack.client.fetch_device_config(_acme("warm"))
    sim.set_latency(2.0)
    before = asyncio.all_tasks()
    fleet = asyncio.create_task(
        fetch_fleet_configs([f"d{i}" for i in range(50)], nms_stack.client, resolve=_acme, batch_size=10)
    )
    for _ in range(200):
        await asyncio.sleep(0.01)
        if sim.in_flight == 10:
            break
    assert sim.in_flight == 10
    fleet.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fleet
    # The simulator shares this loop; its own request handlers are the only tasks allowed to remain.
    leftover = [t for t in asyncio.all_tasks() - before if not t.done() and not _is_server_task(t)]
    assert leftover == []
    for _ in range(100):  # the server sees the connections drop and stops serving them
        if sim.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    assert sim.in_flight == 0
    assert sim.max_in_flight == 10


def _is_server_task(task: asyncio.Task[object]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "/aiohttp/" in code.co_filename


class _BrokenClient:
    """A client whose failure message quotes a secret, as a careless library might."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def fetch_device_config(self, device: Device) -> ConfigResult:
        raise RuntimeError(f"login failed with password {self.secret}")


async def test_foreign_exception_messages_are_not_kept() -> None:
    secret = canary("foreign")
    outcomes = await fetch_fleet_configs(["a", "b"], _BrokenClient(secret), resolve=_acme, batch_size=1)
    for outcome in outcomes:
        assert isinstance(outcome, FetchFailure)
        assert outcome.status is DeviceStatus.ERROR
        assert outcome.error_type == "RuntimeError"
        assert outcome.reason == "unexpected RuntimeError"
        assert CANARY_PREFIX not in outcome.model_dump_json()


def test_outcome_from_error_keeps_fetch_status_and_reason() -> None:
    failure = outcome_from_error(
        "r1", ConnectError("r1", "connection refused", tenant="acme"), now=lambda: FIXED_NOW, fetch_ms=12.5
    )
    assert failure.status is DeviceStatus.UNREACHABLE
    assert failure.reason == "connection refused"
    assert failure.error_type == "ConnectError"
    assert failure.fetch_ms == 12.5
    timeout = outcome_from_error(
        "r1", FetchTimeoutError("r1", "read timeout"), now=lambda: FIXED_NOW, fetch_ms=0
    )
    assert timeout.status is DeviceStatus.UNREACHABLE
    remote = outcome_from_error("r1", RemoteError("r1", "HTTP 500"), now=lambda: FIXED_NOW, fetch_ms=0)
    assert remote.status is DeviceStatus.ERROR
    config = outcome_from_error("r1", ConfigurationError("no adapter"), now=lambda: FIXED_NOW, fetch_ms=0)
    assert (config.status, config.reason) == (DeviceStatus.ERROR, "no adapter")


class _MemoryAdapter(BaseDeviceAdapter):
    """A device adapter that answers from a dict (the routing, not the transport, is under test)."""

    def __init__(self, configs: dict[str, str]) -> None:
        self.configs = configs
        self.closed = False

    async def fetch_config(self, device: Device) -> str:
        return self.configs[device.device_id]

    async def aclose(self) -> None:
        self.closed = True


async def test_routing_client_sends_each_transport_to_its_fetcher(nms_stack: NMSStack) -> None:
    ssh = _MemoryAdapter({"ssh-1": "hostname ssh-1\n"})
    rest = _MemoryAdapter({"rest-1": "hostname rest-1\n"})
    router = RoutingConfigClient(
        nms=nms_stack.client, adapters={Transport.SSH: ssh, Transport.REST: rest}, now=lambda: FIXED_NOW
    )
    devices = {
        "ssh-1": Device(device_id="ssh-1", host="127.0.0.1", platform=Platform.IOS, transport=Transport.SSH),
        "rest-1": Device(
            device_id="rest-1", host="127.0.0.1", platform=Platform.EOS, transport=Transport.REST
        ),
        "nms-1": _acme("nms-1"),
    }
    outcomes = await fetch_fleet_configs(list(devices), router, resolve=devices.__getitem__, batch_size=2)
    assert [type(o) for o in outcomes] == [ConfigResult, ConfigResult, ConfigResult]
    by_id = {o.device_id: o for o in outcomes if isinstance(o, ConfigResult)}
    assert by_id["ssh-1"].cleaned_text == "hostname ssh-1\n"
    assert by_id["ssh-1"].timestamp == FIXED_NOW
    assert by_id["rest-1"].cleaned_text == "hostname rest-1\n"
    assert "nms-1" in by_id["nms-1"].cleaned_text
    await router.aclose()
    assert ssh.closed
    assert rest.closed


async def test_routing_client_without_a_route_is_a_configuration_error() -> None:
    router = RoutingConfigClient()
    with pytest.raises(ConfigurationError, match="no NMS client"):
        await router.fetch_device_config(_acme("x"))
    ssh_device = Device(device_id="s", host="127.0.0.1", platform=Platform.IOS)
    with pytest.raises(ConfigurationError, match="transport ssh"):
        await router.fetch_device_config(ssh_device)
