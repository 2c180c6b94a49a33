"""Running configs from NMS REST APIs, one connection pool per tenant.

The fetch of one device, as a state machine with bounded exits::

    GET config ──200──► normalize (tenant's envelope) ──► ConfigResult
       │ 401 ──► refresh token once ──► GET again ──401──► AuthError
       │ 429/503 ──► wait Retry-After (capped) ──► GET again … budget spent ──► RateLimitedError
       │ 403 ──► AuthError        other 4xx/5xx ──► RemoteError
       └ transport: refused ──► ConnectError; connect/read/total timeout ──► FetchTimeoutError;
                    peer closed mid-answer ──► DisconnectedError

Every failure is a :class:`~driftaudit.domain.errors.FetchError` that names the
tenant and the device; reasons are written here, never copied from the HTTP
library or the answer, so no token or config text reaches a message.

The total timeout covers everything one fetch does (token refresh, retries,
Retry-After waits, reading the body), enforced with ``asyncio.timeout``.
TLS verification is on unless a tenant opts out; a tenant may name its own
CA bundle.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx

from driftaudit.adapters.nms.auth import TokenUnavailableError, auth_header
from driftaudit.adapters.nms.pool import pooled_transport
from driftaudit.adapters.nms.tenants import NMSTimeouts, tls_verify
from driftaudit.domain.errors import (
    AuthError,
    ConfigTooLargeError,
    ConfigurationError,
    ConnectError,
    DisconnectedError,
    FetchError,
    FetchTimeoutError,
    NormalizationError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
    UnknownTenantError,
)
from driftaudit.domain.models import ConfigResult, Device, NMSTenant
from driftaudit.domain.normalize import ConfigNormalizer
from driftaudit.domain.ports import IAuthManager

__all__ = ["NMSConfigClient", "RetryPolicy"]

logger = logging.getLogger(__name__)

_ERROR_BODY_CAP = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How long a fetch keeps asking a server that answers 429 or 503.

    A ``Retry-After`` is honoured as given when it fits the budget; one longer
    than ``max_wait_s`` (or than what is left of ``max_total_wait_s`` or the
    fetch's total timeout) ends the fetch at once with ``RateLimitedError``
    rather than retrying earlier than the server asked. Without a
    ``Retry-After`` the wait doubles from ``backoff_s``.
    """

    max_retries: int = 3
    backoff_s: float = 0.5
    max_wait_s: float = 10.0
    max_total_wait_s: float = 30.0


@dataclass
class _Reply:
    status: int
    body: bytes
    retry_after: str | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class NMSConfigClient:
    """An :class:`~driftaudit.domain.ports.IConfigClient` over many NMS tenants."""

    def __init__(
        self,
        tenants: Iterable[NMSTenant],
        auth: IAuthManager,
        *,
        normalizer: ConfigNormalizer | None = None,
        timeouts: NMSTimeouts | None = None,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
        max_config_bytes: int = 16 * 1024 * 1024,
        trust_env: bool = False,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Prepare the client; pools open on a tenant's first fetch.

        Args:
            tenants: every tenant; a device's ``tenant`` must name one.
            auth: where tokens come from; it gets the refused token on
                refresh, so a burst of 401s costs one token request.
            normalizer: turns an NMS answer into config text.
            timeouts: connect, read and total limits of one fetch.
            retry: the 429/503 budget.
            max_connections: connection pool size per tenant.
            max_config_bytes: answers above this fail with ``ConfigTooLargeError``.
            trust_env: honour proxy environment variables (off: NMSs are
                usually reached directly, and loopback must never be proxied).
            now: the wall clock for result timestamps.
        """
        self._tenants = {t.tenant_id: t for t in tenants}
        self._auth = auth
        self._normalizer = normalizer or ConfigNormalizer()
        self._timeouts = timeouts or NMSTimeouts()
        self._retry = retry or RetryPolicy()
        self._max_connections = max_connections
        self._max_bytes = max_config_bytes
        self._trust_env = trust_env
        self._now = now
        self._clients: dict[str, httpx.AsyncClient] = {}

    def __repr__(self) -> str:
        return f"NMSConfigClient(tenants={sorted(self._tenants)!r})"

    async def fetch_device_config(self, device: Device) -> ConfigResult:
        """The device's running config, normalized, from its tenant's NMS.

        Raises:
            UnknownTenantError: the device's tenant is not configured.
            FetchError: any failure, as the most specific subclass.
        """
        tenant = self._tenant(device)
        started = time.perf_counter()
        total = self._timeouts.total_s
        try:
            async with asyncio.timeout(total):
                body = await self._fetch_body(tenant, device, deadline=started + total)
        except TimeoutError:
            raise FetchTimeoutError(
                device.device_id, f"total timeout after {total:g}s", tenant=tenant.tenant_id
            ) from None
        try:
            raw_text: str | None = body.decode("utf-8")
        except UnicodeDecodeError:
            raw_text = None  # raised below: the decode error holds the body's bytes
        if raw_text is None:
            raise ProtocolError(device.device_id, "answer is not UTF-8 text", tenant=tenant.tenant_id)
        try:
            cleaned = self._normalizer.from_envelope(device.device_id, raw_text, tenant.envelope)
        except NormalizationError as exc:
            raise ProtocolError(device.device_id, exc.reason, tenant=tenant.tenant_id) from exc
        fetch_ms = (time.perf_counter() - started) * 1000.0
        logger.debug(
            "tenant %s, device %s: config fetched in %.1f ms", tenant.tenant_id, device.device_id, fetch_ms
        )
        return ConfigResult(
            device_id=device.device_id,
            raw_text=raw_text,
            cleaned_text=cleaned,
            timestamp=self._now(),
            fetch_ms=fetch_ms,
        )

    async def aclose(self) -> None:
        """Close every tenant's pool."""
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)

    async def __aenter__(self) -> NMSConfigClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- one fetch --------------------------------------------------------------------------

    def _tenant(self, device: Device) -> NMSTenant:
        try:
            return self._tenants[device.tenant]
        except KeyError:
            raise UnknownTenantError(
                f"device {device.device_id}: unknown NMS tenant {device.tenant!r}"
            ) from None

    async def _fetch_body(self, tenant: NMSTenant, device: Device, *, deadline: float) -> bytes:
        token = await self._token(tenant, device, stale=None)
        refreshed = False
        retries = 0
        waited = 0.0
        url = tenant.config_path.format(device_id=quote(device.device_id, safe=""))
        while True:
            reply = await self._get(tenant, device, url, token)
            status = reply.status
            if 200 <= status < 300:
                return reply.body
            if status == 401:
                if refreshed:
                    raise AuthError(
                        device.device_id,
                        "token refused again after a refresh (HTTP 401)",
                        tenant=tenant.tenant_id,
                    )
                refreshed = True
                logger.info(
                    "tenant %s, device %s: token refused (HTTP 401), refreshing once",
                    tenant.tenant_id,
                    device.device_id,
                )
                token = await self._token(tenant, device, stale=token)
                continue
            if status in (429, 503):
                wait = self._retry_wait(tenant, device, reply, retries, waited, deadline)
                retries += 1
                waited += wait
                logger.info(
                    "tenant %s, device %s: HTTP %d, retry %d in %.2fs",
                    tenant.tenant_id,
                    device.device_id,
                    status,
                    retries,
                    wait,
                )
                await asyncio.sleep(wait)
                continue
            if status == 403:
                raise AuthError(device.device_id, "access forbidden (HTTP 403)", tenant=tenant.tenant_id)
            if status == 404:
                raise RemoteError(
                    device.device_id, "the NMS does not know this device (HTTP 404)", tenant=tenant.tenant_id
                )
            raise RemoteError(device.device_id, f"NMS answered HTTP {status}", tenant=tenant.tenant_id)

    async def _token(self, tenant: NMSTenant, device: Device, *, stale: str | None) -> str:
        try:
            if stale is None:
                return await self._auth.get_token(tenant.tenant_id)
            return await self._auth.refresh_credentials(tenant.tenant_id, stale_token=stale)
        except TokenUnavailableError as exc:
            raise exc.for_device(device.device_id) from exc
        except FetchError:
            raise
        except (ConfigurationError, UnknownTenantError) as exc:
            raise AuthError(device.device_id, str(exc), tenant=tenant.tenant_id) from exc

    def _retry_wait(
        self, tenant: NMSTenant, device: Device, reply: _Reply, retries: int, waited: float, deadline: float
    ) -> float:
        policy = self._retry
        where = f"HTTP {reply.status}"
        if retries >= policy.max_retries:
            raise RateLimitedError(
                device.device_id,
                f"{where} after {retries} retries (retry budget spent)",
                tenant=tenant.tenant_id,
            )
        asked = _parse_retry_after(reply.retry_after, self._now())
        wait = asked if asked is not None else policy.backoff_s * (2**retries)
        if asked is not None and asked > policy.max_wait_s:
            raise RateLimitedError(
                device.device_id,
                f"{where} with Retry-After {asked:.1f}s, above the {policy.max_wait_s:g}s cap",
                tenant=tenant.tenant_id,
            )
        wait = min(wait, policy.max_wait_s)
        if waited + wait > policy.max_total_wait_s or time.perf_counter() + wait >= deadline:
            raise RateLimitedError(
                device.device_id,
                f"{where}: waiting {wait:.1f}s more would exceed the wait budget",
                tenant=tenant.tenant_id,
            )
        return wait

    async def _get(self, tenant: NMSTenant, device: Device, url: str, token: str) -> _Reply:
        client = self._client(tenant)
        name, value = auth_header(tenant, token)
        headers = {name: value, "Accept": "application/json, application/xml, text/plain"}
        where = {"tenant": tenant.tenant_id}
        device_id = device.device_id
        try:
            async with client.stream("GET", url, headers=headers) as response:
                if not 200 <= response.status_code < 300:
                    if _small(response):
                        await response.aread()  # keeps the connection reusable
                    return _Reply(response.status_code, b"", response.headers.get("Retry-After"))
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
                    raise ConfigTooLargeError(
                        device_id, f"answer of {declared} bytes exceeds {self._max_bytes}", **where
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise ConfigTooLargeError(
                            device_id, f"answer exceeds {self._max_bytes} bytes", **where
                        )
                    chunks.append(chunk)
                return _Reply(response.status_code, b"".join(chunks), None)
        except httpx.ConnectTimeout as exc:
            raise FetchTimeoutError(
                device_id, f"connect timeout after {self._timeouts.connect_s:g}s", **where
            ) from exc
        except httpx.ReadTimeout as exc:
            raise FetchTimeoutError(
                device_id, f"read timeout after {self._timeouts.read_s:g}s", **where
            ) from exc
        except httpx.TimeoutException as exc:
            raise FetchTimeoutError(device_id, f"{type(exc).__name__} (pool or write)", **where) from exc
        except httpx.ConnectError as exc:
            raise ConnectError(device_id, "connection to the NMS failed", **where) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise DisconnectedError(device_id, "the NMS closed the connection mid-answer", **where) from exc
        except httpx.DecodingError as exc:
            raise ProtocolError(device_id, "answer could not be decoded", **where) from exc
        except httpx.HTTPError as exc:
            raise ConnectError(device_id, f"HTTP transport failed ({type(exc).__name__})", **where) from exc

    def _client(self, tenant: NMSTenant) -> httpx.AsyncClient:
        client = self._clients.get(tenant.tenant_id)
        if client is None:
            limits = httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            )
            client = httpx.AsyncClient(
                base_url=tenant.base_url,
                transport=pooled_transport(verify=tls_verify(tenant), limits=limits),
                timeout=self._timeouts.httpx(),
                follow_redirects=False,
                trust_env=self._trust_env,
            )
            self._clients[tenant.tenant_id] = client
        return client


def _small(response: httpx.Response) -> bool:
    declared = response.headers.get("Content-Length")
    return declared is not None and declared.isdigit() and int(declared) <= _ERROR_BODY_CAP


def _parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` (delta-seconds or an HTTP date); None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return seconds
