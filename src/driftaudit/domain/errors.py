"""The one exception tree of driftaudit.

Every adapter translates the exceptions of the library it wraps (asyncssh,
httpx, clickhouse-connect, aiokafka) into one of these with ``raise ... from
exc``, so callers never need to know which library sat underneath. No message
ever carries a secret: adapters build messages from device ids, tenant ids,
hosts and reasons, never from credentials or config text.

::

    DriftAuditError
     ├── ConfigurationError            bad settings, inventory or pattern files
     │    └── MaskingPatternError      a user pattern that is invalid or unsafe
     ├── InputError                    a wire message that cannot be accepted
     ├── NormalizationError            an envelope with no config text
     ├── InventoryError
     │    ├── UnknownDeviceError
     │    └── UnknownTenantError
     ├── FetchError                    one device could not be fetched
     │    ├── UnreachableError         status "unreachable"
     │    │    ├── ConnectError        refused, no route, DNS
     │    │    ├── FetchTimeoutError   connect, read or total timeout
     │    │    └── DisconnectedError   the peer went away mid-output
     │    ├── AuthError                credentials refused (after one refresh)
     │    ├── HostKeyError             unknown or changed SSH host key
     │    ├── ProtocolError            garbage, binary or unparsable output
     │    ├── ConfigTooLargeError      output above the configured cap
     │    ├── RateLimitedError         429/503 beyond the retry budget
     │    └── RemoteError              any other refusal from the far end
     ├── HistoryError
     │    ├── StoreUnavailableError    the store cannot be reached right now
     │    └── StoreLockedError         another process owns the embedded store
     └── ScoringError
          └── MissingDeviceError       a device of the audit has no result
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthError",
    "ConfigTooLargeError",
    "ConfigurationError",
    "ConnectError",
    "DisconnectedError",
    "DriftAuditError",
    "FetchError",
    "FetchTimeoutError",
    "HistoryError",
    "HostKeyError",
    "InputError",
    "InventoryError",
    "MaskingPatternError",
    "MissingDeviceError",
    "NormalizationError",
    "ProtocolError",
    "RateLimitedError",
    "RemoteError",
    "ScoringError",
    "StoreLockedError",
    "StoreUnavailableError",
    "UnknownDeviceError",
    "UnknownTenantError",
    "UnreachableError",
]


class DriftAuditError(Exception):
    """Root of every error driftaudit raises on purpose."""


class ConfigurationError(DriftAuditError):
    """Settings, inventory, credentials or pattern files are unusable."""


class MaskingPatternError(ConfigurationError):
    """A masking pattern is invalid, or could make masking super-linear."""


class InputError(DriftAuditError):
    """A message from outside (a wire contract) is malformed or invalid."""


class NormalizationError(DriftAuditError):
    """Source output could not be turned into running-config text."""

    def __init__(self, device_id: str, reason: str) -> None:
        self.device_id = device_id
        self.reason = reason
        super().__init__(f"device {device_id}: {reason}")


class InventoryError(DriftAuditError):
    """The inventory cannot answer for a device or tenant."""


class UnknownDeviceError(InventoryError):
    """A device id that the inventory does not know."""


class UnknownTenantError(InventoryError):
    """A tenant id that no configured NMS tenant matches."""


class FetchError(DriftAuditError):
    """One device's config could not be fetched.

    ``status`` is the :class:`~driftaudit.domain.models.DeviceStatus` value a
    result for this failure carries: ``unreachable`` when the device could not
    be reached or answered too late, ``error`` when it answered but wrongly.
    """

    status: ClassVar[str] = "error"

    def __init__(self, device_id: str, reason: str, *, tenant: str | None = None) -> None:
        self.device_id = device_id
        self.reason = reason
        self.tenant = tenant
        where = f"tenant {tenant}, device {device_id}" if tenant else f"device {device_id}"
        super().__init__(f"{where}: {reason}")


class UnreachableError(FetchError):
    """The device could not be reached, or did not answer in time."""

    status: ClassVar[str] = "unreachable"


class ConnectError(UnreachableError):
    """The connection was refused or could not be opened."""


class FetchTimeoutError(UnreachableError):
    """A connect, read or total timeout expired; ``reason`` names the phase."""


class DisconnectedError(UnreachableError):
    """The peer closed the session before the output was complete."""


class AuthError(FetchError):
    """Credentials were refused, also after one refresh."""


class HostKeyError(FetchError):
    """The SSH host key is unknown or does not match known_hosts."""


class ProtocolError(FetchError):
    """The output is garbage, binary, or not in the expected shape."""


class ConfigTooLargeError(FetchError):
    """The output exceeded the configured size cap."""


class RateLimitedError(FetchError):
    """The server kept answering 429/503 beyond the retry budget."""


class RemoteError(FetchError):
    """Any other refusal from the far end (an HTTP status, a CLI error)."""


class HistoryError(DriftAuditError):
    """The history store failed."""


class StoreUnavailableError(HistoryError):
    """The store cannot be reached now; the caller may retry later."""


class StoreLockedError(HistoryError):
    """Another process owns the embedded chDB store at this path."""


class ScoringError(DriftAuditError):
    """A fleet score cannot be computed honestly."""


class MissingDeviceError(ScoringError):
    """A device of the audit has no result, so the score would lie."""
