"""SSH fetches against the simulated fleet: every platform profile, shell and exec, host keys."""

from __future__ import annotations

import logging
import re

import asyncssh
import pytest

from driftaudit.adapters.devices.ssh import SSHDeviceAdapter
from driftaudit.domain.diff import calculate_diff
from driftaudit.domain.errors import AuthError, HostKeyError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import Credential, Platform, Transport
from driftaudit.sim.fleet import SimCredentialSource
from tests.plugins.devices import FAST_TIMEOUTS, DeviceLab

pytestmark = pytest.mark.integration

REGISTRY = MaskingRegistry.builtin(key=b"test-masking-key-0123456789abcdef")
PROMPT_OR_PAGER = re.compile(r"(?m)^[\w.-]+[#>]\s*$|--More--|---\(more|\x1b|\r|\x08")


def _adapter(lab: DeviceLab, **options: object) -> SSHDeviceAdapter:
    return SSHDeviceAdapter(
        lab.credentials, timeouts=FAST_TIMEOUTS, known_hosts=lab.files.known_hosts, **options
    )


def _compliant(lab: DeviceLab, device_id: str, platform: Platform, text: str) -> bool:
    report = calculate_diff(
        text, lab.fleet.intended[device_id], REGISTRY.for_platform(platform), platform=platform
    )
    return report.compliant


@pytest.mark.parametrize("use_exec", [False, True], ids=["shell", "exec"])
@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
async def test_every_platform_fetches_a_clean_compliant_config(
    device_lab: DeviceLab, platform: Platform, use_exec: bool
) -> None:
    device = device_lab.spare(platform)
    adapter = _adapter(device_lab, use_exec=use_exec)
    try:
        text = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert device.device_id in text  # the device's own hostname, not the sample's
    assert not PROMPT_OR_PAGER.search(text)
    assert "Building configuration" not in text
    assert _compliant(device_lab, device.device_id, platform, text)
    counters = device_lab.sim.counters(device.device_id)
    assert counters.fetches == 1
    assert counters.logins == 1


async def test_pager_is_answered_when_paging_cannot_be_turned_off(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.NXOS)
    device_lab.sim.device(device.device_id).ignores_paging_off = True
    adapter = _adapter(device_lab, use_exec=False)  # the pager lives in a shell
    try:
        text = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert len(text.splitlines()) > 3 * device_lab.sim.device(device.device_id).page_lines  # many pages
    assert not PROMPT_OR_PAGER.search(text)
    assert _compliant(device_lab, device.device_id, Platform.NXOS, text)


async def test_junos_pager_with_cr_erase_is_stripped(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.JUNOS)
    device_lab.sim.device(device.device_id).ignores_paging_off = True
    adapter = _adapter(device_lab, use_exec=False)
    try:
        text = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert "{master:0}" not in text
    assert not PROMPT_OR_PAGER.search(text)
    assert _compliant(device_lab, device.device_id, Platform.JUNOS, text)


async def test_two_fetches_differ_in_volatile_lines_only(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.IOS)
    adapter = _adapter(device_lab)
    try:
        first = await adapter.fetch_config(device)
        second = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert first != second
    changed = set(first.splitlines()) ^ set(second.splitlines())
    assert changed
    assert all(re.search(r"configuration change|NVRAM config|ntp clock-period", line) for line in changed)
    assert _compliant(device_lab, device.device_id, Platform.IOS, first)
    assert _compliant(device_lab, device.device_id, Platform.IOS, second)


async def test_a_drifted_device_is_found_drifted(device_lab: DeviceLab) -> None:
    device = device_lab.drifted(Transport.SSH)
    adapter = _adapter(device_lab)
    try:
        text = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert not _compliant(device_lab, device.device_id, device.platform, text)


async def test_unknown_host_key_is_refused(device_lab: DeviceLab, tmp_path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{device_lab.sim.host}]:{device_lab.sim.ssh_port} {other}\n")
    device = device_lab.spare(Platform.EOS)
    for path in (known_hosts, tmp_path / "missing_known_hosts"):
        adapter = SSHDeviceAdapter(device_lab.credentials, timeouts=FAST_TIMEOUTS, known_hosts=path)
        try:
            with pytest.raises(HostKeyError, match="not trusted by known_hosts"):
                await adapter.fetch_config(device)
        finally:
            await adapter.aclose()
    assert device_lab.sim.counters(device.device_id).fetches == 0


async def test_verification_off_is_explicit_and_warns(device_lab: DeviceLab, caplog) -> None:
    device = device_lab.spare(Platform.IOSXR)
    with caplog.at_level(logging.WARNING, logger="driftaudit.adapters.devices.ssh"):
        adapter = SSHDeviceAdapter(device_lab.credentials, timeouts=FAST_TIMEOUTS, verify_host_keys=False)
    assert "verification is OFF" in caplog.text
    try:
        assert device.device_id in await adapter.fetch_config(device)
    finally:
        await adapter.aclose()


async def test_key_authentication(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.IOS)
    key = asyncssh.generate_private_key("ssh-ed25519")
    sim_device = device_lab.sim.device(device.device_id)
    sim_device.authorized_keys = (key.export_public_key().decode(),)
    pem = key.export_private_key().decode()
    credentials = SimCredentialSource(
        {device.credential_ref: Credential(username=f"admin@{device.device_id}", private_key=pem)}
    )
    adapter = SSHDeviceAdapter(credentials, timeouts=FAST_TIMEOUTS, known_hosts=device_lab.files.known_hosts)
    try:
        assert device.device_id in await adapter.fetch_config(device)
        other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
        wrong = SimCredentialSource(
            {device.credential_ref: Credential(username=f"admin@{device.device_id}", private_key=other)}
        )
        bad = SSHDeviceAdapter(wrong, timeouts=FAST_TIMEOUTS, known_hosts=device_lab.files.known_hosts)
        with pytest.raises(AuthError):
            await bad.fetch_config(device)
        await bad.aclose()
    finally:
        await adapter.aclose()


async def test_errors_never_carry_the_password(device_lab: DeviceLab) -> None:
    device = device_lab.spare(Platform.ASA)
    secret = "s3cret-password-value"
    credentials = SimCredentialSource(
        {device.credential_ref: Credential(username=f"admin@{device.device_id}", password=secret)}
    )
    adapter = SSHDeviceAdapter(credentials, timeouts=FAST_TIMEOUTS, known_hosts=device_lab.files.known_hosts)
    try:
        with pytest.raises(AuthError) as caught:
            await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
