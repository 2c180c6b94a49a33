"""The device inventory, read from one YAML file.

The file is a mapping with a ``devices`` list (a bare top-level list is
accepted too) and optional ``defaults`` merged under every entry, so a
fleet that shares a tenant, port or credential says it once::

    defaults:
      tenant: acme
      credential_ref: lab
    devices:
      - id: edge-1
        host: 10.0.0.1
        platform: cisco_ios
        transport: ssh
        site: fra1
        role: edge
        tags: [core, pci]

The file is read once, when the inventory is built, so a broken inventory
stops a worker at start-up instead of dead-lettering every request later.
``reload()`` swaps in a new snapshot only when the whole file is valid: a
bad edit raises ``ConfigurationError`` and the previous snapshot stays.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from driftaudit.domain.errors import ConfigurationError, UnknownDeviceError
from driftaudit.domain.models import Device, DeviceSelector

__all__ = ["YamlInventory", "load_devices"]


def _describe_validation(exc: ValidationError) -> str:
    """Field locations and messages, without echoing the offending values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "entry"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigurationError(f"inventory {path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"inventory {path}: cannot read ({type(exc).__name__})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigurationError(f"inventory {path}: invalid YAML{where}") from exc


def _entries(path: Path, document: Any) -> tuple[Mapping[str, Any], list[Any]]:
    """The ``defaults`` mapping and the raw device entries of a parsed document."""
    if document is None:
        return {}, []
    if isinstance(document, list):
        return {}, document
    if not isinstance(document, dict):
        raise ConfigurationError(f"inventory {path}: expected a mapping with 'devices' or a list")
    unknown = sorted(str(key) for key in document if key not in {"devices", "defaults"})
    if unknown:
        raise ConfigurationError(f"inventory {path}: unknown top-level keys {unknown}")
    defaults = document.get("defaults") or {}
    devices = document.get("devices") or []
    if not isinstance(defaults, dict):
        raise ConfigurationError(f"inventory {path}: 'defaults' must be a mapping")
    if not isinstance(devices, list):
        raise ConfigurationError(f"inventory {path}: 'devices' must be a list")
    return defaults, devices


def load_devices(path: Path) -> dict[str, Device]:
    """Parse and validate an inventory file into devices keyed by id, in file order.

    Raises:
        ConfigurationError: the file is missing, not YAML, or an entry is
            invalid or repeats an id; the message names the file and the entry.
    """
    defaults, entries = _entries(path, _read_document(path))
    devices: dict[str, Device] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigurationError(f"inventory {path}: entry #{index} is not a mapping")
        label = entry.get("id", entry.get("device_id"))
        name = f"entry #{index}" + (f" ({label})" if isinstance(label, str) else "")
        try:
            device = Device.model_validate({**defaults, **entry})
        except ValidationError as exc:
            raise ConfigurationError(f"inventory {path}: {name}: {_describe_validation(exc)}") from exc
        if device.device_id in devices:
            raise ConfigurationError(f"inventory {path}: {name}: duplicate device id {device.device_id!r}")
        devices[device.device_id] = device
    return devices


def _matches(device: Device, selector: DeviceSelector) -> bool:
    return (
        (selector.tenant is None or device.tenant == selector.tenant)
        and (selector.site is None or device.site == selector.site)
        and (selector.role is None or device.role == selector.role)
        and (selector.platform is None or device.platform == selector.platform)
        and selector.tags <= device.tags
    )


class YamlInventory:
    """The :class:`~driftaudit.domain.ports.Inventory` port over one YAML file.

    Lookups read an immutable snapshot, so a concurrent ``reload()`` never
    shows a half-read inventory.
    """

    def __init__(self, path: Path | str) -> None:
        """Read and validate ``path`` now; raises ``ConfigurationError`` if unusable."""
        self._path = Path(path)
        self._lock = threading.Lock()
        self._devices: Mapping[str, Device] = load_devices(self._path)

    @property
    def path(self) -> Path:
        """The file this inventory reads."""
        return self._path

    def __len__(self) -> int:
        return len(self._devices)

    def __repr__(self) -> str:
        return f"YamlInventory({str(self._path)!r}, devices={len(self._devices)})"

    def devices(self) -> list[Device]:
        """Every device, in file order."""
        return list(self._devices.values())

    def get(self, device_id: str) -> Device:
        """One device; raises ``UnknownDeviceError`` for an id the file does not list."""
        try:
            return self._devices[device_id]
        except KeyError:
            raise UnknownDeviceError(f"unknown device id {device_id[:128]!r}") from None

    def select(self, selector: DeviceSelector) -> list[Device]:
        """The devices an audit covers.

        Explicit ids win over filters: they return exactly those devices, in
        the order given (a repeated id once), and any unknown id fails the
        whole selection, naming every unknown id, so an audit never silently
        covers less than asked. Without ids, every filter set must match;
        ``tags`` match when the device carries all of them.
        """
        snapshot = self._devices
        if selector.device_ids:
            ordered = list(dict.fromkeys(selector.device_ids))
            unknown = [device_id for device_id in ordered if device_id not in snapshot]
            if unknown:
                shown = ", ".join(repr(device_id[:128]) for device_id in unknown[:20])
                more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
                raise UnknownDeviceError(f"unknown device ids: {shown}{more}")
            return [snapshot[device_id] for device_id in ordered]
        return [device for device in snapshot.values() if _matches(device, selector)]

    def reload(self) -> None:
        """Read the file again; on error the previous snapshot stays and the error is raised."""
        with self._lock:
            self._devices = load_devices(self._path)
