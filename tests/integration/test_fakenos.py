"""driftaudit's pre-flight against FakeNOS, a network OS simulator we did not write.

FakeNOS (PyPI ``fakenos``) is a paramiko SSH server with a pre-login banner,
character-by-character echo, an RSA host key, and per-platform command sets
whose logins land at ``host>``. The hosts here: IOS, NX-OS, IOS-XR, EOS and Junos,
logging in privileged (``host#``) and unprivileged (``host>``, ``enable``
needed), one answering ``show running-config`` with a CLI error, and one
offering only legacy SSH algorithms. Each is checked through the public
pre-flight function, with the adapters built by the composition root from
settings, as ``driftaudit preflight`` does.
"""

from __future__ import annotations

import io
import socket
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftaudit.adapters.devices.profiles import profile_for
from driftaudit.audit.preflight import PreflightReport, preflight_check
from driftaudit.bootstrap import build_config_client, build_intended, build_inventory, build_masking
from driftaudit.domain.models import DeviceStatus, DriftEvent, Platform
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.settings import Settings
from tests.samples_path import SAMPLES

fakenos = pytest.importorskip("fakenos")
paramiko = pytest.importorskip("paramiko")

from fakenos.core.nos import Nos  # noqa: E402
from fakenos.plugins.nos import nos_plugins  # noqa: E402
from fakenos.plugins.servers import ssh_server_paramiko  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
]

USER, PASSWORD = "netops", "fakenos-password-4d2"  # noqa: S105 - a lab password
ENABLE = "fakenos-enable-9e1"  # noqa: S105 - a lab secret
NORMALIZER = ConfigNormalizer()
FAKENOS_PLATFORMS = {
    Platform.IOS: "cisco_ios",
    Platform.NXOS: "cisco_nxos",
    Platform.IOSXR: "cisco_xr",  # rejects 'terminal width 0': the profile sends 512
    Platform.EOS: "arista_eos",
    Platform.JUNOS: "juniper_junos",
}
USER_EXEC = (Platform.IOS, Platform.NXOS, Platform.IOSXR, Platform.EOS)
LEGACY_SETTING = {
    "kex": ["diffie-hellman-group14-sha1"],
    "ciphers": ["aes128-cbc"],
    "macs": ["hmac-sha1"],
    "host_key": ["ssh-rsa"],
}


class _LegacyTransport(paramiko.Transport):  # type: ignore[misc]
    """A paramiko transport that offers only what a 2010-era device does."""

    _preferred_kex = ("diffie-hellman-group14-sha1",)
    _preferred_ciphers = ("aes128-cbc",)
    _preferred_macs = ("hmac-sha1",)
    _preferred_keys = ("ssh-rsa",)


def _legacy_server_class() -> type:
    """FakeNOS's own server, unchanged, but building its transports from ``_LegacyTransport``.

    ``connection_function`` is FakeNOS's code object with a ``paramiko`` name
    that resolves ``Transport`` to the legacy class; nothing else differs.
    """
    base = ssh_server_paramiko.ParamikoSshServer
    legacy_paramiko = types.SimpleNamespace(**vars(paramiko))
    legacy_paramiko.Transport = _LegacyTransport
    namespace = dict(vars(ssh_server_paramiko))
    namespace["paramiko"] = legacy_paramiko
    original = base.connection_function
    function = types.FunctionType(original.__code__, namespace, original.__name__, original.__defaults__)
    return type("LegacyParamikoSshServer", (base,), {"connection_function": function})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sample(platform: Platform) -> str:
    folder = SAMPLES / "configs" / platform.value
    return sorted(p for p in folder.iterdir() if p.is_file())[0].read_text(encoding="utf-8")


def _privileged_nos(platform: Platform) -> Nos:
    """FakeNOS's own command set of the platform, with the login landing at ``host#``."""
    nos = Nos(filename=nos_plugins[FAKENOS_PLATFORMS[platform]])
    nos.name = f"{FAKENOS_PLATFORMS[platform]}_privileged"
    nos.initial_prompt = "{base_prompt}#"
    return nos


@dataclass(frozen=True)
class Host:
    name: str
    platform: Platform
    privileged: bool = True
    show_output: str | None = None  # None: the sample config


HOSTS = [
    *(Host(f"fn-{p.name.lower()}-priv", p) for p in FAKENOS_PLATFORMS),
    *(Host(f"fn-{p.name.lower()}-user", p, privileged=False) for p in USER_EXEC),
    Host("fn-ios-aaa", Platform.IOS, show_output="Command authorization failed."),
]
LEGACY_HOST = Host("fn-ios-legacy", Platform.IOS)


def _host_entry(host: Host, port: int) -> dict[str, Any]:
    profile = profile_for(host.platform)
    output = host.show_output if host.show_output is not None else _sample(host.platform)
    privileged = "{base_prompt}>" if host.platform is Platform.JUNOS else "{base_prompt}#"
    commands = {profile.show_config: {"output": output, "prompt": privileged, "help": "running config"}}
    # Junos logins land at 'host>' (operational mode, no enable on Junos): the stock command set.
    stock = not host.privileged or host.platform is Platform.JUNOS
    plugin = FAKENOS_PLATFORMS[host.platform] + ("" if stock else "_privileged")
    return {"port": port, "nos": {"plugin": plugin, "configuration": {"commands": commands}}}


@dataclass
class FakeNOSLab:
    settings: Settings
    ports: dict[str, int]

    async def check(self, *device_ids: str) -> PreflightReport:
        s = self.settings
        client = build_config_client(s)
        try:
            return await preflight_check(
                list(device_ids),
                inventory=build_inventory(s),
                intended=build_intended(s),
                client=client,
                registry=build_masking(s),
                timeout_s=60,
            )
        finally:
            await client.aclose()

    async def one(self, device_id: str) -> DriftEvent:
        return (await self.check(device_id)).results[0]


@pytest.fixture(scope="module")
def fakenos_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeNOSLab]:
    root = Path(tmp_path_factory.mktemp("fakenos"))
    ports = {host.name: _free_port() for host in [*HOSTS, LEGACY_HOST]}
    defaults = {"username": USER, "password": PASSWORD}
    inventory = {"default": defaults, "hosts": {h.name: _host_entry(h, ports[h.name]) for h in HOSTS}}
    legacy_inventory = {
        "default": defaults,
        "hosts": {LEGACY_HOST.name: _host_entry(LEGACY_HOST, ports[LEGACY_HOST.name])},
    }
    plugins = [_privileged_nos(p) for p in FAKENOS_PLATFORMS if p is not Platform.JUNOS]
    net = fakenos.FakeNOS(inventory=inventory, plugins=plugins)
    legacy_net = fakenos.FakeNOS(inventory=legacy_inventory, plugins=[_privileged_nos(Platform.IOS)])
    legacy_net.servers_plugins["ParamikoSshServer"] = _legacy_server_class()

    # driftaudit's side: inventory, intended configs, credentials, known_hosts.
    devices, credentials = [], {}
    for host in [*HOSTS, LEGACY_HOST]:
        entry = {
            "id": host.name,
            "host": "127.0.0.1",
            "port": ports[host.name],
            "platform": host.platform.value,
        }
        devices.append(entry | {"credential_ref": "with-enable"})
    for host in HOSTS:
        if not host.privileged:
            devices.append(
                {"id": f"{host.name}-nosecret", "host": "127.0.0.1", "port": ports[host.name]}
                | {"platform": host.platform.value, "credential_ref": "no-enable"}
            )
    devices.append(
        {"id": "fn-ios-legacy-nosetting", "host": "127.0.0.1", "port": ports[LEGACY_HOST.name]}
        | {"platform": "cisco_ios", "credential_ref": "with-enable"}
    )
    credentials = {
        "with-enable": {"username": USER, "password": PASSWORD, "enable_secret": ENABLE},
        "no-enable": {"username": USER, "password": PASSWORD},
    }
    intended = root / "intended"
    intended.mkdir()
    for device in devices:
        platform = Platform(device["platform"])
        (intended / f"{device['id']}.cfg").write_text(
            NORMALIZER.clean_cli(_sample(platform)), encoding="utf-8"
        )
    (root / "inventory.yaml").write_text(yaml.safe_dump({"devices": devices}), encoding="utf-8")
    (root / "credentials.yaml").write_text(yaml.safe_dump({"credentials": credentials}), encoding="utf-8")
    (root / "credentials.yaml").chmod(0o600)
    key = paramiko.RSAKey(file_obj=io.StringIO(ssh_server_paramiko.DEFAULT_SSH_KEY))
    known_hosts = root / "known_hosts"
    known_hosts.write_text(
        "".join(f"[127.0.0.1]:{port} ssh-rsa {key.get_base64()}\n" for port in ports.values()),
        encoding="utf-8",
    )
    settings = Settings.model_validate(
        {
            "inventory_path": root / "inventory.yaml",
            "intended_dir": intended,
            "credentials_path": root / "credentials.yaml",
            "ssh_known_hosts": known_hosts,
            "clickhouse_dsn": f"chdb:///{root / 'history'}",
            "connect_timeout_s": 10.0,
            "read_timeout_s": 10.0,
            "total_timeout_s": 50.0,
            "ssh_algorithms_by_device": {LEGACY_HOST.name: LEGACY_SETTING},
        }
    )
    net.start()
    legacy_net.start()
    try:
        yield FakeNOSLab(settings, ports)
    finally:
        legacy_net.stop()
        net.stop()


@pytest.mark.parametrize("platform", list(FAKENOS_PLATFORMS), ids=lambda p: p.value)
async def test_privileged_login_is_compliant(fakenos_lab: FakeNOSLab, platform: Platform) -> None:
    event = await fakenos_lab.one(f"fn-{platform.name.lower()}-priv")
    assert event.status is DeviceStatus.COMPLIANT, event.reason


@pytest.mark.parametrize("platform", USER_EXEC, ids=lambda p: p.value)
async def test_unprivileged_login_with_an_enable_secret_is_compliant(
    fakenos_lab: FakeNOSLab, platform: Platform
) -> None:
    event = await fakenos_lab.one(f"fn-{platform.name.lower()}-user")
    assert event.status is DeviceStatus.COMPLIANT, event.reason


async def test_unprivileged_login_without_an_enable_secret_is_an_error_naming_privilege(
    fakenos_lab: FakeNOSLab,
) -> None:
    event = await fakenos_lab.one("fn-ios-user-nosecret")
    assert event.status is DeviceStatus.ERROR
    assert event.reason is not None
    assert "privilege" in event.reason
    assert "fn-ios-user>" in event.reason


async def test_a_cli_error_is_an_error_with_the_devices_text(fakenos_lab: FakeNOSLab) -> None:
    report = await fakenos_lab.check("fn-ios-aaa")
    event = report.results[0]
    assert event.status is DeviceStatus.ERROR
    assert event.reason is not None
    assert "Command authorization failed." in event.reason
    assert report.exit_code == 2


async def test_a_legacy_only_host_is_reached_with_the_setting_and_clearly_refused_without(
    fakenos_lab: FakeNOSLab,
) -> None:
    report = await fakenos_lab.check("fn-ios-legacy", "fn-ios-legacy-nosetting")
    with_setting, without = report.results
    assert with_setting.status is DeviceStatus.COMPLIANT, with_setting.reason
    assert without.status is DeviceStatus.ERROR
    assert without.reason is not None
    assert "SSH negotiation" in without.reason
    assert "No matching" in without.reason
