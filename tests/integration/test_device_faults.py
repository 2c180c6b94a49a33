"""Every injected fault becomes a typed error, in bounded time, over SSH and REST."""

from __future__ import annotations

import time

import pytest

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.rest import RestDeviceAdapter
from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.domain.errors import (
    AuthError,
    ConfigTooLargeError,
    ConnectError,
    DisconnectedError,
    FetchError,
    FetchTimeoutError,
    ProtocolError,
    UnreachableError,
)
from driftaudit.domain.models import Device, Platform, Transport
from driftaudit.domain.ports import BaseDeviceAdapter
from driftaudit.sim.devices import Fault
from tests.plugins.devices import FAULT_TIMEOUTS, DeviceLab

pytestmark = pytest.mark.integration

CAP = 256 * 1024
MARGIN = 1.5


def _ssh(
    lab: DeviceLab, *, use_exec: bool = False, timeouts: FetchTimeouts = FAULT_TIMEOUTS
) -> SSHDeviceAdapter:
    return SSHDeviceAdapter(
        lab.credentials,
        timeouts=timeouts,
        known_hosts=lab.files.known_hosts,
        use_exec=use_exec,
        max_config_bytes=CAP,
    )


def _rest(lab: DeviceLab, *, timeouts: FetchTimeouts = FAULT_TIMEOUTS) -> RestDeviceAdapter:
    return RestDeviceAdapter(
        lab.credentials, timeouts=timeouts, max_config_bytes=CAP, **lab.fleet.rest_adapter_options()
    )


async def _fails(adapter: BaseDeviceAdapter, device: Device) -> tuple[FetchError, float]:
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as caught:
            await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    return caught.value, time.monotonic() - started


def _faulty(lab: DeviceLab, platform: Platform, transport: Transport, fault: Fault) -> Device:
    device = lab.spare(platform, transport)
    lab.sim.set_fault(device.device_id, fault)
    return device


EXPECTED = {
    Fault.REFUSE: ConnectError,
    Fault.DROP: DisconnectedError,
    Fault.AUTH_REJECT: AuthError,
    Fault.GARBAGE: ProtocolError,
    Fault.HUGE: ConfigTooLargeError,
}


@pytest.mark.parametrize("use_exec", [False, True], ids=["shell", "exec"])
@pytest.mark.parametrize("fault", list(EXPECTED), ids=lambda f: f.value)
async def test_ssh_faults_become_typed_errors(device_lab: DeviceLab, fault: Fault, use_exec: bool) -> None:
    device = _faulty(device_lab, Platform.IOS, Transport.SSH, fault)
    error, elapsed = await _fails(_ssh(device_lab, use_exec=use_exec), device)
    assert type(error) is EXPECTED[fault], error
    assert error.device_id == device.device_id
    assert elapsed < FAULT_TIMEOUTS.read + MARGIN
    password = device_lab.fleet.credentials[device.device_id].password
    assert password is not None
    assert password.get_secret_value() not in str(error)


async def test_ssh_connection_refused(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.EOS).model_copy(update={"port": device_lab.sim.refused_port})
    error, _ = await _fails(_ssh(device_lab), device)
    assert isinstance(error, ConnectError)
    assert error.status == "unreachable"


async def test_ssh_login_that_never_completes_times_out_at_connect(device_lab: DeviceLab) -> None:
    device = _faulty(device_lab, Platform.JUNOS, Transport.SSH, Fault.HANG)
    error, elapsed = await _fails(_ssh(device_lab), device)
    assert isinstance(error, FetchTimeoutError)
    assert "connect timeout" in error.reason
    assert elapsed < FAULT_TIMEOUTS.connect + MARGIN


@pytest.mark.parametrize("use_exec", [False, True], ids=["shell", "exec"])
async def test_ssh_output_that_stalls_times_out_mid_output(device_lab: DeviceLab, use_exec: bool) -> None:
    device = _faulty(device_lab, Platform.NXOS, Transport.SSH, Fault.STALL)
    error, elapsed = await _fails(_ssh(device_lab, use_exec=use_exec), device)
    assert isinstance(error, FetchTimeoutError)
    assert "read timeout" in error.reason
    assert elapsed < FAULT_TIMEOUTS.read + MARGIN


async def test_ssh_slow_device_hits_the_total_timeout(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.IOSXR)
    device_lab.sim.device(device.device_id).latency_s = 0.5  # per command: 3 commands > 1 s
    timeouts = FetchTimeouts(connect=2.0, read=2.0, total=1.0)
    error, elapsed = await _fails(_ssh(device_lab, timeouts=timeouts), device)
    assert isinstance(error, FetchTimeoutError)
    assert "total timeout" in error.reason
    assert elapsed < timeouts.total + MARGIN


REST_EXPECTED = {
    Fault.REFUSE: DisconnectedError,
    Fault.DROP: DisconnectedError,
    Fault.AUTH_REJECT: AuthError,
    Fault.GARBAGE: ProtocolError,
    Fault.HUGE: ConfigTooLargeError,
}


@pytest.mark.parametrize("fault", list(REST_EXPECTED), ids=lambda f: f.value)
async def test_rest_faults_become_typed_errors(device_lab: DeviceLab, fault: Fault) -> None:
    platform = {Fault.REFUSE: Platform.EOS, Fault.DROP: Platform.NXOS, Fault.AUTH_REJECT: Platform.JUNOS}.get(
        fault, Platform.JUNOS_SET
    )
    device = _faulty(device_lab, platform, Transport.REST, fault)
    error, elapsed = await _fails(_rest(device_lab), device)
    assert type(error) is REST_EXPECTED[fault], error
    assert elapsed < FAULT_TIMEOUTS.read + MARGIN


@pytest.mark.parametrize("fault", [Fault.HANG, Fault.STALL], ids=lambda f: f.value)
async def test_rest_silence_times_out_reading(device_lab: DeviceLab, fault: Fault) -> None:
    platform = Platform.EOS if fault is Fault.HANG else Platform.NXOS
    device = _faulty(device_lab, platform, Transport.REST, fault)
    error, elapsed = await _fails(_rest(device_lab), device)
    assert isinstance(error, FetchTimeoutError)
    assert "read timeout" in error.reason
    assert isinstance(error, UnreachableError)
    assert elapsed < FAULT_TIMEOUTS.read + MARGIN


async def test_rest_connection_refused(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.JUNOS, Transport.REST).model_copy(
        update={"port": device_lab.sim.refused_port}
    )
    error, _ = await _fails(_rest(device_lab), device)
    assert isinstance(error, ConnectError)
