"""The composition root: the one place adapters are built and wired from settings.

Entrypoints (the CLI, the Faust worker, the API) call the ``build_*``
functions they need and hand the results to the use cases; nothing here runs
at import time, and building an adapter connects to nothing except where a
function says so (``build_history`` opens the store unless told not to).
Tests build their own fakes instead and never come here.

Every builder raises ``ConfigurationError`` (or a subclass) for settings or
files it cannot use, naming the file, so a misconfigured process stops at
start-up with a readable message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from driftaudit.adapters.credentials import load_credential_source
from driftaudit.adapters.intended import DirectoryIntendedSource
from driftaudit.adapters.inventory import YamlInventory
from driftaudit.adapters.patterns import load_patterns
from driftaudit.audit.fleet import RoutingConfigClient, utc_now
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import ConfigResult, Credential, Device, NMSTenant, Transport
from driftaudit.settings import DEV_MASKING_KEY, Settings

if TYPE_CHECKING:
    from driftaudit.adapters.history.clickhouse import ClickHouseHistory
    from driftaudit.adapters.nms.auth import AuthManager
    from driftaudit.adapters.nms.client import NMSConfigClient
    from driftaudit.audit.summary import AuditSummary
    from driftaudit.domain.models import AuditRequest
    from driftaudit.domain.ports import BaseDeviceAdapter, CredentialSource
    from driftaudit.streams.deps import StreamDeps

__all__ = [
    "MissingCredentials",
    "audit_in_process",
    "build_config_client",
    "build_credentials",
    "build_history",
    "build_intended",
    "build_inventory",
    "build_masking",
    "build_stream_deps",
    "build_tenants",
]

_log = logging.getLogger(__name__)
_dev_key_warned = False


def build_masking(settings: Settings) -> MaskingRegistry:
    """The built-in packs plus the operator's patterns file, keyed by ``masking_key``.

    The development key is public, so fingerprints made with it can be
    brute-forced from a guess list; using it is allowed (the demo needs no
    setup) but logged once per process.
    """
    global _dev_key_warned
    key = settings.masking_key.get_secret_value()
    if key == DEV_MASKING_KEY and not _dev_key_warned:
        _dev_key_warned = True
        _log.warning(
            "DRIFTAUDIT_MASKING_KEY is not set: using the public development key; "
            "secret fingerprints are guessable, set a private key in production"
        )
    extra = load_patterns(settings.patterns_path) if settings.patterns_path is not None else []
    return MaskingRegistry.builtin(key=key.encode("utf-8"), extra=extra)


def build_inventory(settings: Settings) -> YamlInventory:
    """The inventory file of ``inventory_path``, read and validated now."""
    return YamlInventory(settings.inventory_path)


def build_intended(settings: Settings) -> DirectoryIntendedSource:
    """The intended configs under ``intended_dir`` (read lazily, per device)."""
    return DirectoryIntendedSource(settings.intended_dir)


class MissingCredentials:
    """The credential source when no credentials file is configured.

    Devices then fail one by one with a clear ``error`` reason instead of the
    process refusing to start: an NMS-only fleet needs no device credentials.
    """

    def get_credential(self, ref: str | None) -> Credential:
        """Always refuse, naming the setting to fix."""
        raise ConfigurationError(
            f"no credentials file configured (DRIFTAUDIT_CREDENTIALS_PATH) for credential_ref {ref!r}"
        )


def build_credentials(settings: Settings) -> CredentialSource:
    """Device credentials from ``credentials_path``, or :class:`MissingCredentials`."""
    source = load_credential_source(settings.credentials_path)
    return MissingCredentials() if source is None else source


def build_tenants(settings: Settings) -> list[NMSTenant]:
    """The NMS tenants of ``tenants_path`` (none when unset)."""
    if settings.tenants_path is None:
        return []
    from driftaudit.adapters.nms.tenants import load_tenants

    return load_tenants(settings.tenants_path)


class _NMSFetcher:
    """The NMS client together with its token manager, so closing one closes both."""

    def __init__(self, client: NMSConfigClient, auth: AuthManager) -> None:
        self._client = client
        self._auth = auth

    def __repr__(self) -> str:
        return f"_NMSFetcher({self._client!r})"

    async def fetch_device_config(self, device: Device) -> ConfigResult:
        return await self._client.fetch_device_config(device)

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        finally:
            await self._auth.aclose()


def _nms_fetcher(settings: Settings, tenants: list[NMSTenant]) -> _NMSFetcher | None:
    if not tenants:
        return None
    from driftaudit.adapters.nms.auth import AuthManager
    from driftaudit.adapters.nms.client import NMSConfigClient
    from driftaudit.adapters.nms.tenants import NMSTimeouts

    timeouts = NMSTimeouts(
        connect_s=settings.connect_timeout_s, read_s=settings.read_timeout_s, total_s=settings.total_timeout_s
    )
    auth = AuthManager(tenants, timeouts=timeouts)
    client = NMSConfigClient(tenants, auth, timeouts=timeouts, max_config_bytes=settings.max_config_bytes)
    return _NMSFetcher(client, auth)


def _device_adapters(settings: Settings, credentials: CredentialSource) -> dict[Transport, BaseDeviceAdapter]:
    from driftaudit.adapters.devices.rest import RestDeviceAdapter
    from driftaudit.adapters.devices.ssh import SSHDeviceAdapter

    verify: bool | str = settings.rest_verify_tls
    if settings.rest_verify_tls and settings.rest_ca_bundle is not None:
        verify = str(settings.rest_ca_bundle)
    rest = RestDeviceAdapter.from_settings(
        settings,
        credentials,
        scheme=settings.rest_scheme,
        verify=verify,
        path_prefix=settings.rest_path_prefix,
    )
    return {Transport.SSH: SSHDeviceAdapter.from_settings(settings, credentials), Transport.REST: rest}


def build_config_client(
    settings: Settings,
    *,
    credentials: CredentialSource | None = None,
    tenants: list[NMSTenant] | None = None,
    now: Callable[[], datetime] = utc_now,
) -> RoutingConfigClient:
    """One ``IConfigClient`` that routes each device by its transport.

    SSH devices go to the pooled SSH adapter, ``rest`` devices to the device
    REST adapter, ``nms`` devices to the NMS client of their tenant (absent
    when no tenants file is set: such devices then fail with a clear reason).
    Nothing connects until the first fetch; close it with ``await client.aclose()``.
    """
    credentials = build_credentials(settings) if credentials is None else credentials
    tenants = build_tenants(settings) if tenants is None else tenants
    return RoutingConfigClient(
        nms=_nms_fetcher(settings, tenants),
        adapters=_device_adapters(settings, credentials),
        now=now,
    )


def build_history(settings: Settings, *, connect: bool = True) -> ClickHouseHistory:
    """The history store of ``clickhouse_dsn`` (chDB or a server), opened unless ``connect`` is False.

    Raises:
        ConfigurationError: the DSN is malformed.
        StoreLockedError: another process owns the chDB path.
        StoreUnavailableError: the server cannot be reached.
    """
    from driftaudit.adapters.history.clickhouse import history_from_settings

    return history_from_settings(settings, connect=connect)


def build_stream_deps(settings: Settings, *, with_history: bool = True) -> StreamDeps:
    """Everything the Faust app needs, built from ``settings``."""
    from driftaudit.streams.deps import StreamDeps

    return StreamDeps(
        settings=settings,
        inventory=build_inventory(settings),
        intended=build_intended(settings),
        client=build_config_client(settings),
        registry=build_masking(settings),
        history=_background_history(settings) if with_history else None,
    )


def _background_history(settings: Settings) -> ClickHouseHistory:
    """The worker's store: connected (and migrated) in the background, retried until it is up.

    A worker must start while its store is down; its writes are retried by
    the history sink and land once the store is back.
    """
    history = build_history(settings, connect=False)
    history.connect_in_background()
    return history


async def audit_in_process(
    request: AuditRequest, settings: Settings, *, store: bool = True, now: Callable[[], datetime] = utc_now
) -> AuditSummary:
    """Build every adapter, run one audit in this process, and release everything.

    This is ``driftaudit audit --no-broker``: the same steps as the stream
    topology without Kafka. ``store=False`` keeps no history. A history store
    that cannot be opened (another process owns the chDB path, the server is
    down) does not stop the audit: the summary comes back with
    ``stored=False`` and the reason in ``history_error``.

    Raises:
        ConfigurationError: the inventory, intended configs, credentials,
            tenants or patterns cannot be used.
        UnknownDeviceError: the selector names unknown device ids.
        InputError: the selector matches no device.
    """
    from driftaudit.audit.pipeline import trigger_fleet_audit
    from driftaudit.domain.errors import HistoryError

    inventory = build_inventory(settings)
    intended = build_intended(settings)
    registry = build_masking(settings)
    history: ClickHouseHistory | None = None
    unavailable: str | None = None
    if store:
        try:
            history = build_history(settings)
        except HistoryError as exc:
            _log.warning("history unavailable, auditing without it: %s", exc)
            unavailable = str(exc)
    try:
        client = build_config_client(settings, now=now)
        try:
            summary = await trigger_fleet_audit(
                request,
                inventory=inventory,
                intended=intended,
                client=client,
                registry=registry,
                history=history,
                batch_size=settings.batch_size,
                now=now,
            )
        finally:
            await client.aclose()
        if unavailable is not None:
            summary = summary.model_copy(update={"stored": False, "history_error": unavailable})
        return summary
    finally:
        if history is not None:
            history.close()
