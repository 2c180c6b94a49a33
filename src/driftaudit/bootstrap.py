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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from driftaudit.adapters.credentials import load_credential_source
from driftaudit.adapters.intended import DirectoryIntendedSource
from driftaudit.adapters.inventory import YamlInventory
from driftaudit.adapters.patterns import load_patterns
from driftaudit.adapters.rules import FileRulesSource
from driftaudit.audit.fleet import RoutingConfigClient, utc_now
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import ConfigResult, Credential, Device, NMSTenant, Transport
from driftaudit.settings import DEV_MASKING_KEY, Settings

if TYPE_CHECKING:
    from driftaudit.adapters.history.clickhouse import ClickHouseHistory
    from driftaudit.adapters.history.worker_link import WorkerHistory
    from driftaudit.adapters.nms.auth import AuthManager
    from driftaudit.adapters.nms.client import NMSConfigClient
    from driftaudit.api import ApiDeps
    from driftaudit.audit.summary import AuditSummary
    from driftaudit.domain.access import AccessTable
    from driftaudit.domain.models import AuditRequest
    from driftaudit.domain.ports import BaseDeviceAdapter, CredentialSource
    from driftaudit.streams.deps import StreamDeps

__all__ = [
    "Comparison",
    "MissingCredentials",
    "audit_in_process",
    "build_access",
    "build_api_deps",
    "build_comparison",
    "build_config_client",
    "build_credentials",
    "build_history",
    "build_intended",
    "build_inventory",
    "build_masking",
    "build_stream_deps",
    "build_tenants",
    "open_history",
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


def build_rules(settings: Settings) -> FileRulesSource | None:
    """The compliance rules file, or None when ``rules_path`` is unset.

    Raises:
        ConfigurationError: the file is missing or invalid.
    """
    if settings.rules_path is None:
        return None
    return FileRulesSource(settings.rules_path, check_interval_s=settings.rules_check_s)


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

    comparison = build_comparison(settings)
    return StreamDeps(
        settings=settings,
        inventory=comparison.inventory,
        intended=comparison.intended,
        client=build_config_client(settings),
        registry=comparison.registry,
        history=_background_history(settings) if with_history else None,
        access=build_access(settings),
        rules=comparison.rules,
        from_settings=True,
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

    comparison = build_comparison(settings)
    history, unavailable = open_history(settings, purpose="auditing") if store else (None, None)
    try:
        client = build_config_client(settings, now=now)
        try:
            summary = await trigger_fleet_audit(
                request,
                inventory=comparison.inventory,
                intended=comparison.intended,
                client=client,
                registry=comparison.registry,
                history=history,
                batch_size=settings.batch_size,
                now=now,
                rules=comparison.rules,
                timeout_s=settings.total_timeout_s,
                max_message_bytes=settings.max_message_bytes,
            )
        finally:
            await client.aclose()
        if unavailable is not None:
            summary = summary.model_copy(update={"stored": False, "history_error": unavailable})
        return summary
    finally:
        if history is not None:
            history.close()


# -- shared by every command: the comparison's inputs, the store, the API ----------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """What every audit path compares with: the inventory, the intended configs, the masking, the rules."""

    inventory: YamlInventory
    intended: DirectoryIntendedSource
    registry: MaskingRegistry
    rules: FileRulesSource | None = None


def build_comparison(settings: Settings) -> Comparison:
    """The inventory, intended configs, masking registry and rules of ``settings``, read and validated now.

    Raises:
        ConfigurationError: one of their files cannot be used.
    """
    return Comparison(
        inventory=build_inventory(settings),
        intended=build_intended(settings),
        registry=build_masking(settings),
        rules=build_rules(settings),
    )


def open_history(settings: Settings, *, purpose: str) -> tuple[ClickHouseHistory | None, str | None]:
    """The history store, or None and the reason when it cannot be opened now.

    For commands that still work without history (an audit, the API's
    pre-flight): the reason is logged once, with what the command does instead.
    """
    from driftaudit.domain.errors import HistoryError

    try:
        return build_history(settings), None
    except HistoryError as exc:
        _log.warning("history unavailable, %s without it: %s", purpose, exc)
        return None, str(exc)


def build_access(settings: Settings) -> AccessTable | None:
    """The bearer tokens and their tenant scopes (None: no token configured at all).

    Raises:
        ConfigurationError: the token file cannot be used.
    """
    from driftaudit.adapters.access import build_access as load

    return load(settings)


def _history_reader(settings: Settings) -> ClickHouseHistory | WorkerHistory | None:
    """The store, or the running worker that owns it (embedded chDB), or None with the reason logged."""
    from driftaudit.adapters.history.worker_link import open_history_reader
    from driftaudit.domain.errors import HistoryError

    try:
        return open_history_reader(settings)
    except HistoryError as exc:
        _log.warning("history unavailable, serving without it: %s", exc)
        return None


def build_api_deps(settings: Settings) -> tuple[ApiDeps, Callable[[], Awaitable[None]]]:
    """Everything the HTTP API needs, and the coroutine function that releases it.

    The tokens are checked before anything is opened. The caller awaits the
    second value when done (the API's lifespan does): it closes the config
    client's pools and the history store.

    Raises:
        ConfigurationError: no API token, or unusable inventory, intended,
            pattern or token files.
    """
    from driftaudit.api import ApiDeps

    access = build_access(settings)
    if access is None:  # before anything is opened: an open API is never served
        raise ConfigurationError(
            "the API needs a bearer token: set DRIFTAUDIT_API_TOKEN or DRIFTAUDIT_API_TOKENS_PATH"
        )
    comparison = build_comparison(settings)
    client = build_config_client(settings)  # before the store: it may refuse a credentials file
    history = _history_reader(settings)

    async def release() -> None:
        try:
            await client.aclose()
        finally:
            if history is not None:
                history.close()

    deps = ApiDeps(
        inventory=comparison.inventory,
        intended=comparison.intended,
        client=client,
        registry=comparison.registry,
        history=history,
        token="",
        preflight_timeout_s=settings.preflight_timeout_s,
        batch_size=settings.batch_size,
        access=access,
        rules=comparison.rules,
    )
    return deps, release
