"""Tokens for many NMS tenants: stored credentials, caching, single-flight refresh.

Where credentials come from, per tenant (``<T>`` is the tenant id upper-cased,
every character outside ``A-Z0-9`` turned into ``_``):

* ``NMSTenant.credentials_file`` set: that file, a YAML (or JSON) mapping with
  the keys ``client_id``, ``client_secret``, ``username``, ``password``,
  ``token``. Mounted as a container secret, it can be rotated in place.
* otherwise the environment: ``DRIFTAUDIT_NMS_<T>_CLIENT_ID``, ``_CLIENT_SECRET``,
  ``_USERNAME``, ``_PASSWORD``, ``_TOKEN``; each may instead be given as
  ``..._FILE`` naming a file that holds the value (container-secret style).

Stored credentials are read again whenever a token is obtained, so a rotated
secret is used by the next refresh without a restart.

Auth schemes (``NMSTenant.auth_scheme``):

* ``oauth2_client_credentials``: form POST ``grant_type=client_credentials`` to
  ``token_path`` with the client authenticated by HTTP Basic (RFC 6749 2.3.1);
  the token lives ``expires_in`` seconds; sent as ``Authorization: Bearer``.
* ``token_exchange`` (Cisco Catalyst Center style): POST to ``token_path``
  (``/dna/system/api/v1/auth/token``) with Basic username/password, answer
  ``{"Token": ...}``; it states no lifetime, so ``assumed_token_ttl_s`` is used
  (Catalyst Center tokens last 60 minutes); sent as ``X-Auth-Token``.
* ``static_token``: the stored ``token`` itself; it never expires on our side,
  and a refresh re-reads it (rotation).

A cached token is replaced ``refresh_skew_s`` before it expires (never more
than half its lifetime early). Concurrent callers share one token request per
tenant: the first starts it, the others await the same future.

No credential or token reaches a log line, a repr, or an exception message;
HTTP client exceptions are chained only after checking they carry none.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from driftaudit.adapters.nms.tenants import NMSTimeouts, tls_verify
from driftaudit.adapters.secrets import read_secret, read_secret_yaml
from driftaudit.domain.errors import (
    AuthError,
    ConfigurationError,
    ConnectError,
    DriftAuditError,
    FetchError,
    FetchTimeoutError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
    UnknownTenantError,
)
from driftaudit.domain.models import AuthScheme, Credential, NMSTenant

__all__ = [
    "ENV_PREFIX",
    "AuthManager",
    "TokenUnavailableError",
    "auth_header",
    "tenant_env_prefix",
]

logger = logging.getLogger(__name__)

#: Prefix of the environment variables that hold a tenant's NMS credentials.
ENV_PREFIX = "DRIFTAUDIT_NMS_"

_FILE_KEYS = {
    "client_id": "client_id",
    "client_secret": "client_secret",
    "username": "username",
    "password": "password",
    "token": "api_token",
}
_SECRET_KEYS = frozenset({"client_secret", "password", "api_token"})


class TokenUnavailableError(DriftAuditError):
    """A tenant's token could not be obtained.

    The manager knows no device, so it cannot raise a
    :class:`~driftaudit.domain.errors.FetchError` itself; ``error_type`` is the
    one a fetch should raise for it (``AuthError`` for refused or missing
    credentials, ``ConnectError``/``FetchTimeoutError`` when the token endpoint
    is unreachable, ...). Use :meth:`for_device`.
    """

    def __init__(self, tenant_id: str, reason: str, *, error_type: type[FetchError]) -> None:
        self.tenant_id = tenant_id
        self.reason = reason
        self.error_type = error_type
        super().__init__(f"tenant {tenant_id}: {reason}")

    def for_device(self, device_id: str) -> FetchError:
        """The fetch error this failure means for one device."""
        return self.error_type(device_id, self.reason, tenant=self.tenant_id)


def tenant_env_prefix(tenant_id: str) -> str:
    """``DRIFTAUDIT_NMS_<T>_`` for a tenant id."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", tenant_id.upper()) + "_"


def auth_header(tenant: NMSTenant, token: str) -> tuple[str, str]:
    """The header that carries ``token`` to this tenant's NMS."""
    if tenant.auth_scheme is AuthScheme.TOKEN_EXCHANGE:
        return "X-Auth-Token", token
    return "Authorization", f"Bearer {token}"


@dataclass(frozen=True)
class _Token:
    value: SecretStr
    expires_at: float  # on the manager's monotonic clock; inf for static tokens
    refresh_at: float


@dataclass
class _Flight:
    """One token request in progress and the callers waiting for it."""

    task: asyncio.Task[_Token]
    waiters: int = field(default=0)


class AuthManager:
    """An :class:`~driftaudit.domain.ports.IAuthManager` for many tenants."""

    def __init__(
        self,
        tenants: Iterable[NMSTenant],
        *,
        environ: Mapping[str, str] | None = None,
        refresh_skew_s: float = 30.0,
        assumed_token_ttl_s: float = 3600.0,
        timeouts: NMSTimeouts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the manager; nothing connects until a token is needed.

        Args:
            tenants: every tenant this manager serves.
            environ: the environment credentials are read from (``os.environ``
                at read time when None).
            refresh_skew_s: how long before expiry a token is replaced.
            assumed_token_ttl_s: lifetime of a token whose answer states none.
            timeouts: connect/read/total limits of a token request.
            clock: a monotonic clock in seconds (tests pass their own).
        """
        self._tenants = {t.tenant_id: t for t in tenants}
        self._environ = environ
        self._skew = refresh_skew_s
        self._assumed_ttl = assumed_token_ttl_s
        self._timeouts = timeouts or NMSTimeouts(total_s=30.0)
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self._flights: dict[str, _Flight] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}

    def __repr__(self) -> str:
        return f"AuthManager(tenants={sorted(self._tenants)!r})"

    def tenant(self, tenant_id: str) -> NMSTenant:
        """The tenant's configuration; raises ``UnknownTenantError``."""
        try:
            return self._tenants[tenant_id]
        except KeyError:
            raise UnknownTenantError(f"unknown NMS tenant {tenant_id!r}") from None

    async def get_token(self, tenant_id: str) -> str:
        """A valid token: the cached one until its refresh time, else a new one.

        Raises:
            UnknownTenantError: no such tenant.
            TokenUnavailableError: the token could not be obtained.
        """
        tenant = self.tenant(tenant_id)
        cached = self._tokens.get(tenant_id)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value.get_secret_value()
        return (await self._join_flight(tenant)).value.get_secret_value()

    async def refresh_credentials(self, tenant_id: str, *, stale_token: str | None = None) -> str:
        """Re-read the stored credentials and obtain a new token.

        Args:
            tenant_id: the tenant.
            stale_token: the token the caller saw refused. When the cache
                already holds a different, valid token, another caller has
                refreshed in the meantime and that token is returned, so a
                burst of 401s on one expired token costs one token request.

        Raises:
            UnknownTenantError: no such tenant.
            TokenUnavailableError: the token could not be obtained.
        """
        tenant = self.tenant(tenant_id)
        cached = self._tokens.get(tenant_id)
        if (
            stale_token is not None
            and cached is not None
            and cached.value.get_secret_value() != stale_token
            and self._clock() < cached.refresh_at
        ):
            return cached.value.get_secret_value()
        if cached is not None and tenant_id not in self._flights:
            del self._tokens[tenant_id]
        return (await self._join_flight(tenant)).value.get_secret_value()

    async def aclose(self) -> None:
        """Cancel token requests in progress and close the HTTP pools."""
        flights = list(self._flights.values())
        for flight in flights:
            flight.task.cancel()
        await asyncio.gather(*(f.task for f in flights), return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)

    async def __aenter__(self) -> AuthManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- stored credentials ---------------------------------------------------------------

    def _get_stored_credentials(self, tenant: NMSTenant) -> Credential:
        """The tenant's credentials as stored now (file or environment), read afresh.

        Raises:
            ConfigurationError: the file is unreadable or malformed, or the
                credentials the scheme needs are missing. Messages name the
                file, the variables and the keys, never a value.
        """
        if tenant.credentials_file is not None:
            credential = _read_credentials_file(Path(tenant.credentials_file), tenant.tenant_id)
            where = f"credentials file {tenant.credentials_file}"
        else:
            prefix = tenant_env_prefix(tenant.tenant_id)
            values: dict[str, Any] = {}
            for key, model_field in _FILE_KEYS.items():
                secret = read_secret(prefix + key.upper(), self._environ)
                if secret is not None:
                    values[model_field] = secret if model_field in _SECRET_KEYS else secret.get_secret_value()
            credential = Credential(**values)
            where = f"environment variables {prefix}*"
        missing = _missing_for_scheme(tenant.auth_scheme, credential)
        if missing:
            raise ConfigurationError(
                f"tenant {tenant.tenant_id}: {tenant.auth_scheme.value} needs {', '.join(missing)} in {where}"
            )
        return credential

    # --- single flight ----------------------------------------------------------------------

    async def _join_flight(self, tenant: NMSTenant) -> _Token:
        tenant_id = tenant.tenant_id
        flight = self._flights.get(tenant_id)
        if flight is None or flight.task.done() or flight.task.cancelling():
            # (a flight its last waiter just cancelled is not joined: it would cancel the newcomer)
            flight = _Flight(asyncio.ensure_future(self._obtain(tenant)))
            self._flights[tenant_id] = flight
            flight.task.add_done_callback(functools.partial(self._land, tenant_id, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            # The last waiter to leave takes the request down with it: nothing outlives its callers.
            if flight.waiters == 1 and not flight.task.done():
                flight.task.cancel()
            raise
        finally:
            flight.waiters -= 1

    def _land(self, tenant_id: str, flight: _Flight, _task: object) -> None:
        if self._flights.get(tenant_id) is flight:
            del self._flights[tenant_id]
        if not flight.task.cancelled() and flight.task.exception() is None:
            self._tokens[tenant_id] = flight.task.result()

    # --- token requests ---------------------------------------------------------------------

    async def _obtain(self, tenant: NMSTenant) -> _Token:
        tenant_id = tenant.tenant_id
        try:
            credential = self._get_stored_credentials(tenant)
        except ConfigurationError as exc:
            raise TokenUnavailableError(tenant_id, str(exc), error_type=AuthError) from None
        if tenant.auth_scheme is AuthScheme.STATIC_TOKEN:
            if credential.api_token is None:  # already checked; kept for the type checker
                raise TokenUnavailableError(tenant_id, "no static token stored", error_type=AuthError)
            logger.debug("tenant %s: static token loaded", tenant_id)
            return _Token(credential.api_token, math.inf, math.inf)
        logger.debug("tenant %s: requesting a token (%s)", tenant_id, tenant.auth_scheme.value)
        started = self._clock()
        try:
            async with asyncio.timeout(self._timeouts.total_s):
                value, ttl = await self._request_token(tenant, credential)
        except TimeoutError:
            raise TokenUnavailableError(
                tenant_id,
                f"token request: total timeout after {self._timeouts.total_s:g}s",
                error_type=FetchTimeoutError,
            ) from None
        effective_skew = min(self._skew, ttl / 2)
        logger.info("tenant %s: token obtained, valid for %.0fs", tenant_id, ttl)
        return _Token(SecretStr(value), started + ttl, started + ttl - effective_skew)

    async def _request_token(self, tenant: NMSTenant, credential: Credential) -> tuple[str, float]:
        client = self._client(tenant)
        if tenant.auth_scheme is AuthScheme.OAUTH2_CLIENT_CREDENTIALS:
            basic = _basic_auth(tenant, credential.client_id, credential.client_secret)
            request = client.build_request(
                "POST",
                tenant.token_path,
                data={"grant_type": "client_credentials"},
                headers={"Accept": "application/json"},
            )
        else:
            basic = _basic_auth(tenant, credential.username, credential.password)
            request = client.build_request(
                "POST",
                tenant.token_path,
                headers={"Accept": "application/json", "Content-Type": "application/json"},
            )
        response = await _send(client, request, basic, tenant.tenant_id)
        if response.status_code in (401, 403):
            raise TokenUnavailableError(
                tenant.tenant_id,
                f"token request refused (HTTP {response.status_code})",
                error_type=AuthError,
            )
        if response.status_code in (429, 503):
            raise TokenUnavailableError(
                tenant.tenant_id,
                f"token endpoint busy (HTTP {response.status_code})",
                error_type=RateLimitedError,
            )
        if response.status_code >= 300:
            raise TokenUnavailableError(
                tenant.tenant_id,
                f"token request failed (HTTP {response.status_code})",
                error_type=RemoteError,
            )
        return self._parse_token(tenant, response)

    def _parse_token(self, tenant: NMSTenant, response: httpx.Response) -> tuple[str, float]:
        try:
            document = response.json()
        except ValueError:
            document = None
        key = "access_token" if tenant.auth_scheme is AuthScheme.OAUTH2_CLIENT_CREDENTIALS else "Token"
        value = document.get(key) if isinstance(document, dict) else None
        if not isinstance(value, str) or not value:
            raise TokenUnavailableError(
                tenant.tenant_id, f"token response has no {key!r}", error_type=ProtocolError
            )
        ttl = self._assumed_ttl
        expires_in = document.get("expires_in") if isinstance(document, dict) else None
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            ttl = float(expires_in)
        elif isinstance(expires_in, str) and expires_in.isdigit() and int(expires_in) > 0:
            ttl = float(expires_in)
        return value, ttl

    def _client(self, tenant: NMSTenant) -> httpx.AsyncClient:
        client = self._clients.get(tenant.tenant_id)
        if client is None:
            client = httpx.AsyncClient(
                base_url=tenant.base_url,
                verify=tls_verify(tenant),
                timeout=self._timeouts.httpx(),
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
                follow_redirects=False,
                trust_env=False,
            )
            self._clients[tenant.tenant_id] = client
        return client


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, auth: httpx.Auth, tenant_id: str
) -> httpx.Response:
    """Send a token request, mapping transport failures to ``TokenUnavailableError``.

    Reasons are written here, never copied from the httpx exception; the
    chained httpx exception renders without the request headers.
    """
    try:
        return await client.send(request, auth=auth)
    except httpx.ConnectTimeout as exc:
        raise TokenUnavailableError(
            tenant_id, "token request: connect timeout", error_type=FetchTimeoutError
        ) from exc
    except httpx.TimeoutException as exc:
        raise TokenUnavailableError(
            tenant_id, "token request: read timeout", error_type=FetchTimeoutError
        ) from exc
    except httpx.ConnectError as exc:
        raise TokenUnavailableError(
            tenant_id, "token endpoint unreachable (connection failed)", error_type=ConnectError
        ) from exc
    except httpx.HTTPError as exc:
        raise TokenUnavailableError(
            tenant_id, f"token request failed ({type(exc).__name__})", error_type=ConnectError
        ) from exc


def _basic_auth(tenant: NMSTenant, user: str | None, secret: SecretStr | None) -> httpx.BasicAuth:
    if user is None or secret is None:  # already checked by _missing_for_scheme
        raise TokenUnavailableError(tenant.tenant_id, "credentials are incomplete", error_type=AuthError)
    return httpx.BasicAuth(user, secret.get_secret_value())


def _missing_for_scheme(scheme: AuthScheme, credential: Credential) -> list[str]:
    needed = {
        AuthScheme.OAUTH2_CLIENT_CREDENTIALS: ("client_id", "client_secret"),
        AuthScheme.TOKEN_EXCHANGE: ("username", "password"),
        AuthScheme.STATIC_TOKEN: ("api_token",),
    }[scheme]
    names = {"api_token": "token"}
    return [names.get(key, key) for key in needed if getattr(credential, key) is None]


def _read_credentials_file(path: Path, tenant_id: str) -> Credential:
    """Parse a tenant credentials file; errors never quote its content."""
    where = f"tenant {tenant_id}: credentials file {path}"
    raw = read_secret_yaml(path, where, syntax="YAML or JSON")
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: expected a mapping of {', '.join(_FILE_KEYS)}")
    unknown = set(raw) - set(_FILE_KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(map(str, unknown))}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ConfigurationError(f"{where}: {key} must be a string")
        text = str(value).strip()
        model_field = _FILE_KEYS[key]
        values[model_field] = SecretStr(text) if model_field in _SECRET_KEYS else text
    return Credential(**values)
