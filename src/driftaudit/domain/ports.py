"""Ports: the interfaces the use cases need from the outside world.

Adapters implement them; the use cases in ``driftaudit.audit`` depend only on
these. They are ``Protocol`` classes (structural typing), so a test fake needs
no inheritance, except ``BaseDeviceAdapter``, an ABC whose subclasses share
the per-phase timeout contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from driftaudit.domain.features import CompiledRules
from driftaudit.domain.models import (
    AuditRun,
    ConfigResult,
    Credential,
    Device,
    DeviceSelector,
    DriftEvent,
    FleetScore,
    IntendedConfig,
)

__all__ = [
    "BaseDeviceAdapter",
    "CredentialSource",
    "HistoryReader",
    "HistoryRepository",
    "HistoryWriter",
    "IAuthManager",
    "IConfigClient",
    "IntendedConfigSource",
    "Inventory",
    "VersionedIntendedSource",
    "ComplianceRulesSource",
    "FeatureHistoryReader",
]


@runtime_checkable
class IAuthManager(Protocol):
    """Tokens for many NMS tenants, cached and refreshed."""

    async def get_token(self, tenant_id: str) -> str:
        """A valid token for the tenant, from cache or freshly obtained."""
        ...

    async def refresh_credentials(self, tenant_id: str, *, stale_token: str | None = None) -> str:
        """Re-read the stored credentials (rotation) and obtain a new token.

        ``stale_token`` is the token the caller saw refused: when the cache
        already holds a newer one (another caller refreshed), that one is
        returned, so a burst of 401s costs one token request.
        """
        ...


@runtime_checkable
class IConfigClient(Protocol):
    """Pulls one device's running config from an NMS."""

    async def fetch_device_config(self, device: Device) -> ConfigResult:
        """The normalized running config; raises ``FetchError`` on failure."""
        ...


class BaseDeviceAdapter(ABC):
    """Pulls running configs from the devices themselves (SSH or device REST).

    Implementations enforce connect, read and total timeouts and raise only
    ``FetchError`` subclasses.
    """

    @abstractmethod
    async def fetch_config(self, device: Device) -> str:
        """The normalized running-config text of ``device``."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release pooled connections; the default has nothing to release."""


@runtime_checkable
class CredentialSource(Protocol):
    """Resolves a credential reference (from the inventory) to secrets."""

    def get_credential(self, ref: str | None) -> Credential:
        """The credential for ``ref``; raises ``ConfigurationError`` when unknown."""
        ...


@runtime_checkable
class Inventory(Protocol):
    """The devices driftaudit knows."""

    def get(self, device_id: str) -> Device:
        """One device; raises ``UnknownDeviceError``."""
        ...

    def select(self, selector: DeviceSelector) -> list[Device]:
        """Every device the selector matches; unknown explicit ids raise ``UnknownDeviceError``."""
        ...

    def reload(self) -> None:
        """Read the source again."""
        ...


@runtime_checkable
class IntendedConfigSource(Protocol):
    """The intended (golden) config of each device."""

    def get_intended(self, device_id: str) -> str | None:
        """The intended config text, or None when the device has none."""
        ...

    def reload(self) -> None:
        """Read the source again."""
        ...


@runtime_checkable
class HistoryWriter(Protocol):
    """Writes audit history; every write is idempotent on its natural key."""

    def record_audit_run(self, run: AuditRun) -> None:
        """Store an audit run (key: audit_id)."""
        ...

    def write_events(self, events: Sequence[DriftEvent]) -> None:
        """Store device results and drift lines (key: audit_id, device_id) in one batch."""
        ...

    def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        """Store fleet scores, each with the start of its window."""
        ...


@runtime_checkable
class HistoryReader(Protocol):
    """The queries the CLI, the API and Grafana ask of the history."""

    def device_timeline(self, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """One device's results, newest first."""
        ...

    def latest_status(self) -> list[dict[str, Any]]:
        """The latest result of every device."""
        ...

    def score_over_time(self, tenant: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Fleet scores, oldest first."""
        ...


@runtime_checkable
class HistoryRepository(HistoryWriter, HistoryReader, Protocol):
    """Both halves, as one store implements them."""

    def close(self) -> None:
        """Flush and release the store."""
        ...


@runtime_checkable
class VersionedIntendedSource(Protocol):
    """An intended-config source that also says which version of each config it returns.

    Optional beside :class:`IntendedConfigSource`: the pipeline records the
    version in each drift event when the source offers it.
    """

    def get_intended_config(self, device_id: str) -> IntendedConfig | None:
        """The intended config with its version, or None when the device has none."""
        ...


@runtime_checkable
class ComplianceRulesSource(Protocol):
    """The compliance features and policies in force (see ``driftaudit.adapters.rules``).

    ``current`` never does I/O, so it may be called anywhere; ``refresh`` may
    (it checks whether the rules file changed), so async callers run it in a
    worker thread, and ``due`` says whether it would look at all.
    """

    def current(self) -> CompiledRules:
        """The rules in force."""
        ...

    def due(self) -> bool:
        """Whether a refresh would look at the source now."""
        ...

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the rules if the source changed; True when new rules are in force."""
        ...


@runtime_checkable
class FeatureHistoryReader(Protocol):
    """Reads per-feature compliance from the history; ``tenants`` empty means every tenant."""

    def feature_matrix(
        self, dimension: str | None = None, tenants: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Per feature (and dimension value): status counts and score of the newest results."""
        ...

    def feature_trend(
        self, feature: str | None = None, *, days: int = 30, tenants: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Per feature and day: status counts and score."""
        ...
