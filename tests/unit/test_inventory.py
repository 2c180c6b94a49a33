"""YamlInventory: parsing, validation errors, selection and reload."""

from pathlib import Path

import pytest

from driftaudit.adapters.inventory import YamlInventory
from driftaudit.domain.errors import ConfigurationError, UnknownDeviceError
from driftaudit.domain.models import DeviceSelector, Platform, Transport
from driftaudit.domain.ports import Inventory

INVENTORY = """\
defaults:
  tenant: acme
  credential_ref: lab
devices:
  - id: edge-1
    host: 10.0.0.1
    platform: cisco_ios
    site: fra1
    role: edge
    tags: [core, pci]
  - id: edge-2
    host: 10.0.0.2
    port: 2222
    platform: arista_eos
    transport: rest
    site: fra1
    role: edge
    tags: [core]
  - id: core-1
    host: 10.0.1.1
    platform: juniper_junos
    transport: nms
    tenant: globex
    site: ams1
    role: core
    credential_ref: null
"""


@pytest.fixture
def inventory(tmp_path: Path) -> YamlInventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    return YamlInventory(path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    return path


def test_loads_every_field_with_defaults(inventory: YamlInventory) -> None:
    assert isinstance(inventory, Inventory)
    assert len(inventory) == 3
    edge2 = inventory.get("edge-2")
    assert edge2.host == "10.0.0.2"
    assert edge2.port == 2222
    assert edge2.platform is Platform.EOS
    assert edge2.transport is Transport.REST
    assert edge2.tenant == "acme"
    assert edge2.credential_ref == "lab"
    assert edge2.tags == frozenset({"core"})
    edge1 = inventory.get("edge-1")
    assert edge1.port == 22
    assert edge1.transport is Transport.SSH
    core = inventory.get("core-1")
    assert core.tenant == "globex"
    assert core.credential_ref is None
    assert [d.device_id for d in inventory.devices()] == ["edge-1", "edge-2", "core-1"]


def test_bare_list_and_empty_file(tmp_path: Path) -> None:
    listed = YamlInventory(write(tmp_path, "- {id: r1, host: h, platform: cisco_nxos}\n"))
    assert listed.get("r1").platform is Platform.NXOS
    assert len(YamlInventory(write(tmp_path, ""))) == 0


def test_get_unknown_raises(inventory: YamlInventory) -> None:
    with pytest.raises(UnknownDeviceError, match="nope"):
        inventory.get("nope")


def test_select_explicit_ids_in_order_once(inventory: YamlInventory) -> None:
    selector = DeviceSelector(device_ids=("core-1", "edge-1", "core-1"), tenant="nobody")
    assert [d.device_id for d in inventory.select(selector)] == ["core-1", "edge-1"]


def test_select_unknown_ids_names_them_all(inventory: YamlInventory) -> None:
    with pytest.raises(UnknownDeviceError) as info:
        inventory.select(DeviceSelector(device_ids=("edge-1", "ghost-1", "ghost-2")))
    assert "ghost-1" in str(info.value)
    assert "ghost-2" in str(info.value)
    assert "edge-1" not in str(info.value)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (DeviceSelector(), ["edge-1", "edge-2", "core-1"]),
        (DeviceSelector(tenant="acme"), ["edge-1", "edge-2"]),
        (DeviceSelector(tenant="acme", platform=Platform.IOS), ["edge-1"]),
        (DeviceSelector(site="ams1"), ["core-1"]),
        (DeviceSelector(role="edge", tags=frozenset({"core"})), ["edge-1", "edge-2"]),
        (DeviceSelector(tags=frozenset({"core", "pci"})), ["edge-1"]),
        (DeviceSelector(tenant="globex", role="edge"), []),
        (DeviceSelector(tags=frozenset({"absent"})), []),
    ],
)
def test_select_filters_all_must_match(
    inventory: YamlInventory, selector: DeviceSelector, expected: list[str]
) -> None:
    assert [d.device_id for d in inventory.select(selector)] == expected


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "devices:\n  - {id: r1, host: a, platform: cisco_ios}\n  - {id: r1, host: b, platform: cisco_ios}\n",
    )
    with pytest.raises(ConfigurationError, match=r"entry #1 \(r1\).*duplicate"):
        YamlInventory(path)


def test_invalid_entry_names_file_entry_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "devices:\n  - {id: r1, host: a, platform: cisco_ios}\n"
        "  - {id: r2, host: b, platform: vax_vms, port: 99999}\n",
    )
    with pytest.raises(ConfigurationError) as info:
        YamlInventory(path)
    message = str(info.value)
    assert str(path) in message
    assert "entry #1 (r2)" in message
    assert "platform" in message
    assert "port" in message
    assert "vax_vms" not in message  # values are never echoed


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("devices: [\n", "invalid YAML at line"),
        ("42\n", "expected a mapping"),
        ("devices: {a: 1}\n", "'devices' must be a list"),
        ("defaults: [1]\ndevices: []\n", "'defaults' must be a mapping"),
        ("devices: []\nhosts: []\n", "unknown top-level keys"),
        ("devices:\n  - just-a-string\n", "entry #0 is not a mapping"),
        ("devices:\n  - {id: r1, host: a, platform: cisco_ios, colour: red}\n", "colour"),
        ("devices:\n  - {id: ../etc, host: a, platform: cisco_ios}\n", "id: String should match pattern"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        YamlInventory(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        YamlInventory(tmp_path / "absent.yaml")


def test_reload_swaps_snapshot_only_when_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "devices:\n  - {id: r1, host: a, platform: cisco_ios}\n")
    inventory = YamlInventory(path)
    path.write_text("devices:\n  - {id: r2, host: b, platform: cisco_ios}\n")
    inventory.reload()
    assert [d.device_id for d in inventory.devices()] == ["r2"]
    path.write_text("devices:\n  - {id: r3}\n")
    with pytest.raises(ConfigurationError):
        inventory.reload()
    assert inventory.get("r2").host == "b"
