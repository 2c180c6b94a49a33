"""Device REST APIs against the simulator: eAPI, NX-API, Junos REST (text and set)."""

from __future__ import annotations

import pytest

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.rest import RestDeviceAdapter
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.errors import AuthError, ConnectError, FetchTimeoutError, ProtocolError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Credential, Platform, Transport
from driftaudit.sim.fleet import SimCredentialSource
from tests.plugins.devices import FAST_TIMEOUTS, DeviceLab

pytestmark = pytest.mark.integration

REGISTRY = MaskingRegistry.builtin(key=b"test-masking-key-0123456789abcdef")
REST_PLATFORMS = [Platform.EOS, Platform.NXOS, Platform.JUNOS, Platform.JUNOS_SET]


def _adapter(
    lab: DeviceLab, credentials: SimCredentialSource | None = None, **options: object
) -> RestDeviceAdapter:
    merged = {**lab.fleet.rest_adapter_options(), **options}
    return RestDeviceAdapter(credentials or lab.credentials, timeouts=FAST_TIMEOUTS, **merged)


@pytest.mark.parametrize("platform", REST_PLATFORMS, ids=lambda p: p.value)
async def test_each_rest_style_returns_the_running_config(device_lab: DeviceLab, platform: Platform) -> None:
    device = device_lab.spare(platform, Transport.REST)
    adapter = _adapter(device_lab)
    try:
        first = await adapter.fetch_config(device)
        second = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert device.device_id in first
    assert first != second  # volatile header lines moved on
    assert "<configuration" not in first
    assert '"jsonrpc"' not in first
    assert "&lt;" not in first
    if platform is Platform.JUNOS_SET:
        assert all(
            line.startswith(("set ", "deactivate ", "#")) for line in first.splitlines() if line.strip()
        )
    patterns = REGISTRY.for_platform(platform)
    for text in (first, second):
        assert calculate_diff(
            text, device_lab.fleet.intended[device.device_id], patterns, platform=platform
        ).compliant
    counters = device_lab.sim.counters(device.device_id)
    assert counters.http_requests == 2
    assert counters.fetches == 2


async def test_a_drifted_rest_device_is_found_drifted(device_lab: DeviceLab) -> None:
    device = device_lab.drifted(Transport.REST)
    adapter = _adapter(device_lab)
    try:
        text = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    intended = device_lab.fleet.intended[device.device_id]
    report = calculate_diff(text, intended, REGISTRY.for_platform(device.platform), platform=device.platform)
    assert not report.compliant


async def test_wrong_password_is_an_auth_error_without_the_password(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.EOS, Transport.REST)
    wrong = "not-the-password-123"
    credentials = SimCredentialSource({device.credential_ref: Credential(username="admin", password=wrong)})
    adapter = _adapter(device_lab, credentials)
    try:
        with pytest.raises(AuthError, match="HTTP 401") as caught:
            await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert wrong not in str(caught.value)


async def test_platform_without_a_device_api_is_refused(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.IOS).model_copy(
        update={"transport": Transport.REST, "port": device_lab.sim.http_port}
    )
    adapter = _adapter(device_lab)
    with pytest.raises(ProtocolError, match="no device REST API"):
        await adapter.fetch_config(device)
    await adapter.aclose()


async def test_https_by_default_does_not_fall_back_to_plain_http(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.NXOS, Transport.REST)
    timeouts = FetchTimeouts(connect=1.0, read=1.0, total=5.0)
    adapter = RestDeviceAdapter(device_lab.credentials, timeouts=timeouts, path_prefix="/d/{device_id}")
    try:
        with pytest.raises((ConnectError, FetchTimeoutError)):
            await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert device_lab.sim.counters(device.device_id).http_requests == 0
