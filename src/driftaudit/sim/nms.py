"""A simulated multi-tenant NMS REST API, served over real HTTP on loopback.

One aiohttp server serves every tenant under a path prefix
(``http://127.0.0.1:PORT/t/<tenant>``), each with its own credentials, auth
scheme and envelope style, so one process can stand in for several NMSs:

* envelope styles, each named after the built-in spec that reads it
  (``driftaudit.domain.envelopes``): ``cisco_nms`` and ``juniper_nms`` (JSON
  with ``json_metadata``, ``envelope_id`` and ``api_version`` at several
  depths), ``catalyst_center`` (``{"response": ..., "version": "1.0"}``),
  ``cloudvision``, ``cloudvision_cv_facts`` (the ansible-cvp sample's shape),
  ``netbox_render_config``, ``apstra``, the XML shapes of the shared samples
  (``iosxr_xml_agent``, ``junos_rpc_xml``, ``netconf_iosxr_cli``) and ``text``;
* tokens: OAuth2 client credentials, Catalyst-Center-style token exchange, or a
  static token; issued tokens expire after the tenant's TTL; an expired,
  unknown or another tenant's token gets 401, and a token presented to the
  wrong tenant is recorded in :attr:`NMSSimulator.cross_tenant_attempts`;
* faults on demand: an HTTP status (with ``Retry-After``) for the next N
  requests or for one device, an unparsable body, a slow device; latency per
  request, fixed or drawn from a range;
* counters tests assert on: token requests per tenant, config requests per
  tenant, config requests in flight now and at most, and an ordered log.

Config texts come from templates (the real configs of ``shared/samples``, see
:func:`load_config_templates`) with each device's own hostname. The server
runs in the caller's event loop (:meth:`NMSSimulator.start`) or in a thread of
its own (:meth:`NMSSimulator.start_in_thread`), for sync callers such as
Hypothesis tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import re
import secrets
import ssl
import threading
import time
import uuid
import zlib
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web

from driftaudit.domain.envelopes import BUILTIN_ENVELOPES
from driftaudit.domain.models import AuthScheme, NMSTenant

__all__ = [
    "ENVELOPE_STYLES",
    "NMSSimulator",
    "SimTenant",
    "load_config_templates",
    "personalize",
]

#: Envelope styles served; each is the name of the built-in spec that reads it.
ENVELOPE_STYLES: tuple[str, ...] = (
    "cisco_nms",
    "juniper_nms",
    "catalyst_center",
    "cloudvision",
    "cloudvision_cv_facts",
    "netbox_render_config",
    "apstra",
    "iosxr_xml_agent",
    "junos_rpc_xml",
    "netconf_iosxr_cli",
    "text",
)

#: Which sample platforms fit which style (templates of other platforms are used when none fits).
_STYLE_PLATFORMS: dict[str, tuple[str, ...]] = {
    "cisco_nms": ("cisco_ios", "cisco_nxos", "cisco_asa"),
    "juniper_nms": ("juniper_junos", "juniper_junos_set"),
    "catalyst_center": ("cisco_ios",),
    "cloudvision": ("arista_eos",),
    "cloudvision_cv_facts": ("arista_eos",),
    "netbox_render_config": ("cisco_ios", "arista_eos", "cisco_nxos"),
    "apstra": ("juniper_junos", "arista_eos", "cisco_nxos"),
    "iosxr_xml_agent": ("cisco_iosxr",),
    "junos_rpc_xml": ("juniper_junos",),
    "netconf_iosxr_cli": ("cisco_iosxr",),
    "text": ("cisco_ios",),
}

_DEFAULT_TEMPLATE = """\
!
version 17.3
service timestamps log datetime msec
hostname router
!
interface Loopback0
 ip address 10.0.0.1 255.255.255.255
!
line vty 0 4
 transport input ssh
!
end
"""


def load_config_templates(root: str | Path) -> dict[str, list[str]]:
    """Config templates by platform from ``<root>/<platform>/*`` (the samples' ``configs`` layout)."""
    templates: dict[str, list[str]] = {}
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        texts = [
            f.read_text(encoding="utf-8", errors="replace") for f in sorted(folder.iterdir()) if f.is_file()
        ]
        if texts:
            templates[folder.name] = texts
    return templates


_HOSTNAME_RULES = (
    (re.compile(r"^(hostname|switchname)[ \t]+\S+", re.MULTILINE), r"\1 {name}"),
    (re.compile(r"^([ \t]*)host-name[ \t]+[^;\n]+;", re.MULTILINE), r"\1host-name {name};"),
    (re.compile(r"^set system host-name[ \t]+\S+", re.MULTILINE), "set system host-name {name}"),
)


def personalize(template: str, hostname: str) -> str:
    """The template with ``hostname`` as the device's name, in the template's own syntax."""
    for pattern, replacement in _HOSTNAME_RULES:
        if pattern.search(template):
            return pattern.sub(replacement.format(name=hostname.replace("\\", r"\\")), template, count=1)
    if re.search(r"^set ", template, re.MULTILINE):
        return f"set system host-name {hostname}\n{template}"
    if "{" in template:
        return f"system {{\n    host-name {hostname};\n}}\n{template}"
    return f"hostname {hostname}\n{template}"


@dataclass
class SimTenant:
    """One simulated tenant: its credentials, scheme, envelope and token lifetime."""

    tenant_id: str
    style: str = "cisco_nms"
    auth_scheme: AuthScheme = AuthScheme.OAUTH2_CLIENT_CREDENTIALS
    client_id: str = ""
    client_secret: str = ""
    username: str = ""
    password: str = ""
    static_token: str = ""
    token_ttl_s: float = 300.0
    #: ``expires_in`` the token endpoint announces; None: the real TTL (OAuth2 only).
    announced_ttl_s: float | None = None

    @property
    def token_path(self) -> str:
        """Where tokens are asked for."""
        if self.auth_scheme is AuthScheme.TOKEN_EXCHANGE:
            return "/dna/system/api/v1/auth/token"
        return "/oauth/token"

    @property
    def config_path(self) -> str:
        """Where a device's config lives (``{device_id}`` is replaced)."""
        if self.style == "catalyst_center":
            return "/dna/intent/api/v1/network-device/{device_id}/config"
        return "/api/v1/devices/{device_id}/config"


@dataclass
class _Issued:
    tenant_id: str
    expires_at: float


@dataclass
class _Fault:
    status: int
    retry_after: str | None
    remaining: int | None  # None: forever
    tenant_id: str | None = None
    device_id: str | None = None

    def matches(self, tenant_id: str, device_id: str) -> bool:
        return (self.tenant_id in (None, tenant_id)) and (self.device_id in (None, device_id))


@dataclass
class _Barrier:
    count: int
    timeout_s: float
    event: asyncio.Event | None = None  # made in the server's loop, on first use


@dataclass
class _Counters:
    token_requests: Counter[str] = field(default_factory=Counter)
    config_requests: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    cross_tenant_attempts: list[tuple[str, str]] = field(default_factory=list)
    log: deque[tuple[str, str, str, int]] = field(default_factory=lambda: deque(maxlen=100_000))


class NMSSimulator:
    """The simulated NMS server; see the module docstring."""

    def __init__(
        self,
        tenants: Sequence[SimTenant],
        *,
        templates: Mapping[str, Sequence[str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Describe the server; nothing listens until :meth:`start`.

        Args:
            tenants: the tenants served.
            templates: config templates by platform (see
                :func:`load_config_templates`); a small IOS config when None.
            host: the address to bind (loopback by default).
            port: the port; 0 picks a free one.
            seed: seeds the latency draws, so runs can be repeated.
            ssl_context: serve HTTPS with this server context (plain HTTP when None).
        """
        self.tenants: dict[str, SimTenant] = {t.tenant_id: t for t in tenants}
        self._templates = {k: list(v) for k, v in (templates or {"cisco_ios": [_DEFAULT_TEMPLATE]}).items()}
        self._host = host
        self._port = port
        self._random = random.Random(seed)
        self._ssl_context = ssl_context
        self._tokens: dict[str, _Issued] = {}
        self._rejecting: set[str] = set()
        self._faults: list[_Fault] = []
        self._barrier: _Barrier | None = None
        self._latency: float | tuple[float, float] = 0.0
        self._token_latency = 0.0
        self._device_latency: dict[str, float] = {}
        self._bodies: dict[str, bytes] = {}
        self._missing: set[str] = set()
        self._configs: dict[tuple[str, str], str] = {}
        self._counters = _Counters()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        for tenant in tenants:
            if tenant.static_token:
                self._tokens[tenant.static_token] = _Issued(tenant.tenant_id, float("inf"))

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on the configured address, in the running event loop."""
        app = web.Application()
        app.router.add_route("*", "/t/{tenant}/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, reuse_address=True, ssl_context=self._ssl_context)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> NMSSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def start_in_thread(self) -> None:
        """Serve from a daemon thread with its own event loop (for sync callers)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.close()

        self._thread = threading.Thread(target=serve, name="nms-sim", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    def stop_thread(self) -> None:
        """Stop a server started with :meth:`start_in_thread`."""
        if self._thread is not None and self._thread_loop is not None:
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            self._thread.join(10)
            self._thread = None
            self._thread_loop = None

    @property
    def port(self) -> int:
        """The port served (known once started)."""
        return self._port

    def base_url(self, tenant_id: str) -> str:
        """The tenant's API root."""
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self._host}:{self._port}/t/{tenant_id}"

    def nms_tenant(self, tenant_id: str, **overrides: object) -> NMSTenant:
        """The ``NMSTenant`` a client needs for this simulated tenant (fields may be overridden)."""
        tenant = self.tenants[tenant_id]
        fields: dict[str, object] = {
            "tenant_id": tenant_id,
            "base_url": self.base_url(tenant_id),
            "auth_scheme": tenant.auth_scheme,
            "envelope": BUILTIN_ENVELOPES[tenant.style],
            "token_path": tenant.token_path,
            "config_path": tenant.config_path,
        }
        fields.update(overrides)
        return NMSTenant.model_validate(fields)

    # --- what tests look at -------------------------------------------------------------------

    @property
    def token_requests(self) -> Counter[str]:
        """Requests to the token endpoint, per tenant (granted or not)."""
        return self._counters.token_requests

    @property
    def config_requests(self) -> Counter[str]:
        """Requests for a config, per tenant (whatever the answer)."""
        return self._counters.config_requests

    @property
    def in_flight(self) -> int:
        """Config requests being served right now."""
        return self._counters.in_flight

    @property
    def max_in_flight(self) -> int:
        """The most config requests served at once since the last reset."""
        return self._counters.max_in_flight

    @property
    def cross_tenant_attempts(self) -> list[tuple[str, str]]:
        """``(issued_to, presented_to)`` for every token shown to the wrong tenant."""
        return self._counters.cross_tenant_attempts

    @property
    def issued_tokens(self) -> list[str]:
        """Every token handed out or configured (so tests can look for leaks)."""
        return list(self._tokens)

    @property
    def log(self) -> list[tuple[str, str, str, int]]:
        """``(kind, tenant, device, status)`` of every request, in order; kind is token or config."""
        return list(self._counters.log)

    def config_text(self, tenant_id: str, device_id: str) -> str:
        """The config text this tenant serves for the device (what normalization must yield)."""
        key = (tenant_id, device_id)
        text = self._configs.get(key)
        if text is None:
            style = self.tenants[tenant_id].style
            candidates = [t for p in _STYLE_PLATFORMS[style] for t in self._templates.get(p, [])]
            if not candidates:
                candidates = [t for texts in self._templates.values() for t in texts]
            template = candidates[zlib.crc32(device_id.encode()) % len(candidates)]
            text = personalize(template, device_id)
            self._configs[key] = text
        return text

    # --- knobs ----------------------------------------------------------------------------------

    def reset_counters(self) -> None:
        """Zero every counter and the log."""
        self._counters = _Counters()

    def reset(self) -> None:
        """Counters, faults, latency and overrides back to a quiet server (tenants and tokens stay)."""
        self.reset_counters()
        self._faults.clear()
        self._barrier = None
        self._rejecting.clear()
        self._latency = 0.0
        self._token_latency = 0.0
        self._device_latency.clear()
        self._bodies.clear()
        self._missing.clear()

    def set_latency(self, latency: float | tuple[float, float]) -> None:
        """Seconds each config request takes: fixed, or uniform in ``(low, high)``."""
        self._latency = latency

    def hold_until_in_flight(self, count: int, *, timeout_s: float = 5.0) -> None:
        """Hold config requests until ``count`` are in flight at once, then release them all (once).

        A concurrency bound is only shown to be *reachable* if that many
        requests can be in flight together; timing alone cannot show it on a
        busy machine, where the client's CPU rather than its bound may limit
        concurrency. If ``count`` never arrive, the held requests are released
        after ``timeout_s`` and the maximum in flight stays below ``count``.
        """
        self._barrier = _Barrier(count, timeout_s)

    def set_token_latency(self, seconds: float) -> None:
        """Seconds each token request takes."""
        self._token_latency = seconds

    def slow_device(self, device_id: str, seconds: float) -> None:
        """This device's config takes ``seconds`` (instead of the general latency)."""
        self._device_latency[device_id] = seconds

    def fail_next(
        self, count: int, status: int, *, retry_after: str | float | None = None, tenant_id: str | None = None
    ) -> None:
        """Answer the next ``count`` config requests (of a tenant, or any) with ``status``."""
        self._faults.append(_Fault(status, _header(retry_after), count, tenant_id=tenant_id))

    def fail_device(
        self, device_id: str, status: int, *, times: int | None = None, retry_after: str | float | None = None
    ) -> None:
        """Answer this device's config requests with ``status`` (``times`` times, or always)."""
        self._faults.append(_Fault(status, _header(retry_after), times, device_id=device_id))

    def serve_body(self, device_id: str, body: bytes) -> None:
        """Answer 200 with this raw body for the device (garbage, a wrong envelope...)."""
        self._bodies[device_id] = body

    def forget_device(self, device_id: str) -> None:
        """Answer 404 for this device."""
        self._missing.add(device_id)

    def expire_tokens(self, tenant_id: str | None = None) -> None:
        """Every issued token of the tenant (or all tenants) expires now; static tokens never do."""
        now = time.monotonic()
        for issued in self._tokens.values():
            if tenant_id in (None, issued.tenant_id) and issued.expires_at != float("inf"):
                issued.expires_at = min(issued.expires_at, now)

    def reject_tokens(self, tenant_id: str, rejecting: bool = True) -> None:
        """Refuse every token of the tenant on the config endpoint, fresh ones included."""
        if rejecting:
            self._rejecting.add(tenant_id)
        else:
            self._rejecting.discard(tenant_id)

    def set_credentials(self, tenant_id: str, **values: str) -> None:
        """Rotate a tenant's secrets (``client_secret``, ``password``, ``static_token``...)."""
        tenant = self.tenants[tenant_id]
        if "static_token" in values:
            self._tokens.pop(tenant.static_token, None)
        for key, value in values.items():
            if not hasattr(tenant, key):
                raise AttributeError(key)
            setattr(tenant, key, value)
        if tenant.static_token:
            self._tokens[tenant.static_token] = _Issued(tenant_id, float("inf"))

    # --- HTTP ----------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        tenant = self.tenants.get(request.match_info["tenant"])
        if tenant is None:
            return web.json_response({"error": "unknown tenant"}, status=404)
        # The raw (still percent-encoded) path: a device id may hold an encoded "/".
        path = request.rel_url.raw_path.removeprefix(f"/t/{tenant.tenant_id}")
        if request.method == "POST" and path == tenant.token_path:
            return await self._token(tenant, request)
        if request.method == "GET":
            pattern = "^" + re.escape(tenant.config_path).replace(r"\{device_id\}", "(?P<d>[^/]+)") + "$"
            match = re.match(pattern, path)
            if match:
                return await self._config(tenant, request, _unquote(match.group("d")))
        return web.json_response({"error": "not found"}, status=404)

    async def _token(self, tenant: SimTenant, request: web.Request) -> web.Response:
        counters = self._counters
        counters.token_requests[tenant.tenant_id] += 1
        if self._token_latency > 0:
            await asyncio.sleep(self._token_latency)
        user, password = _basic(request.headers.get("Authorization", ""))
        if tenant.auth_scheme is AuthScheme.OAUTH2_CLIENT_CREDENTIALS:
            form = await request.post()
            if user is None:
                user, password = str(form.get("client_id", "")), str(form.get("client_secret", ""))
            ok = form.get("grant_type") == "client_credentials" and (user, password) == (
                tenant.client_id,
                tenant.client_secret,
            )
        elif tenant.auth_scheme is AuthScheme.TOKEN_EXCHANGE:
            ok = (user, password) == (tenant.username, tenant.password)
        else:
            ok = False
        counters.log.append(("token", tenant.tenant_id, "", 200 if ok else 401))
        if not ok:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Issued(tenant.tenant_id, time.monotonic() + tenant.token_ttl_s)
        if tenant.auth_scheme is AuthScheme.TOKEN_EXCHANGE:
            return web.json_response({"Token": token})
        announced = tenant.token_ttl_s if tenant.announced_ttl_s is None else tenant.announced_ttl_s
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": announced})

    def _authorized(self, tenant: SimTenant, request: web.Request) -> bool:
        presented = []
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            presented.append(bearer.removeprefix("Bearer ").strip())
        if "X-Auth-Token" in request.headers:
            presented.append(request.headers["X-Auth-Token"].strip())
        ok = False
        for token in presented:
            issued = self._tokens.get(token)
            if issued is None:
                continue
            if issued.tenant_id != tenant.tenant_id:
                self._counters.cross_tenant_attempts.append((issued.tenant_id, tenant.tenant_id))
                return False
            ok = ok or (time.monotonic() < issued.expires_at and tenant.tenant_id not in self._rejecting)
        return ok

    async def _config(self, tenant: SimTenant, request: web.Request, device_id: str) -> web.Response:
        counters = self._counters
        counters.config_requests[tenant.tenant_id] += 1
        counters.in_flight += 1
        counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)
        try:
            await self._pass_barrier()
            delay = self._delay(device_id)
            if delay > 0:
                await asyncio.sleep(delay)
            response = self._answer(tenant, request, device_id)
            counters.log.append(("config", tenant.tenant_id, device_id, response.status))
            return response
        finally:
            counters.in_flight -= 1

    async def _pass_barrier(self) -> None:
        barrier = self._barrier
        if barrier is None:
            return
        if barrier.event is None:
            barrier.event = asyncio.Event()
        if self._counters.in_flight >= barrier.count:
            barrier.event.set()
        else:
            try:
                await asyncio.wait_for(barrier.event.wait(), barrier.timeout_s)
            except TimeoutError:
                barrier.event.set()
        if self._barrier is barrier:
            self._barrier = None

    def _delay(self, device_id: str) -> float:
        if device_id in self._device_latency:
            return self._device_latency[device_id]
        if isinstance(self._latency, tuple):
            return self._random.uniform(*self._latency)
        return self._latency

    def _answer(self, tenant: SimTenant, request: web.Request, device_id: str) -> web.Response:
        if not self._authorized(tenant, request):
            return web.json_response({"error": "unauthorized"}, status=401)
        for fault in self._faults:
            if fault.matches(tenant.tenant_id, device_id) and fault.remaining != 0:
                if fault.remaining is not None:
                    fault.remaining -= 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
                return web.json_response({"error": "fault injected"}, status=fault.status, headers=headers)
        if device_id in self._missing:
            return web.json_response({"error": "no such device"}, status=404)
        if device_id in self._bodies:
            return web.Response(body=self._bodies[device_id], content_type="application/octet-stream")
        body, content_type = _render(tenant.style, device_id, self.config_text(tenant.tenant_id, device_id))
        return web.Response(text=body, content_type=content_type)


def _render(style: str, device_id: str, text: str) -> tuple[str, str]:
    """The envelope of ``style`` around ``text``, with fresh metadata each time."""
    now = datetime.now(UTC)
    meta = {"generated_at": now.isoformat(), "request_id": str(uuid.uuid4())}
    envelope = {"api_version": "2.3", "envelope_id": str(uuid.uuid4()), "json_metadata": meta}
    document: object
    if style == "cisco_nms":
        document = {
            **envelope,
            "response": {
                "device_id": device_id,
                "json_metadata": {"collected_at": now.isoformat()},
                "config": text,
            },
        }
    elif style == "juniper_nms":
        document = {
            **envelope,
            "configuration-information": [
                {
                    "@": {"junos:changed-seconds": str(int(now.timestamp()))},
                    "configuration-output": [{"json_metadata": {"chunk": 1}, "data": text}],
                }
            ],
        }
    elif style == "catalyst_center":
        document = {"response": text, "version": "1.0"}
    elif style == "cloudvision":
        document = {"output": text, "warnings": []}
    elif style == "cloudvision_cv_facts":
        configlet = {"key": f"configlet_{device_id}", "name": device_id, "config": text, "type": "Static"}
        other = {"key": "configlet_base", "name": "BASE", "config": "! base\n", "type": "Static"}
        document = {
            "changed": False,
            "ansible_facts": {
                "cvp_info": {"version": "2020.2.1"},
                "configlets": [
                    {**other, "dateTimeInLongFormat": int(now.timestamp() * 1000)},
                    {**configlet, "dateTimeInLongFormat": int(now.timestamp() * 1000)},
                ],
            },
            "failed": False,
        }
    elif style == "netbox_render_config":
        document = {"configtemplate": {"id": 1, "name": "base"}, "content": text}
    elif style == "apstra":
        document = {"config": text}
    elif style == "junos_rpc_xml":
        xml = f"<configuration-information>\n<configuration-output>\n{escape(text)}</configuration-output>\n"
        return xml + "</configuration-information>\n", "application/xml"
    elif style == "iosxr_xml_agent":
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response MajorVersion="1" MinorVersion="0">'
            f"<CLI><Configuration>{escape(text)}</Configuration></CLI>"
            '<ResultSummary ErrorCount="0"/></Response>\n'
        )
        return xml, "application/xml"
    elif style == "netconf_iosxr_cli":
        xml = (
            f'<?xml version="1.0"?>\n<rpc-reply message-id="urn:uuid:{uuid.uuid4()}" '
            'xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">\n <data>\n'
            f'  <cli xmlns="http://cisco.com/ns/yang/Cisco-IOS-XR-cli-cfg">{escape(text)}</cli>\n'
            " </data>\n</rpc-reply>\n"
        )
        return xml, "application/xml"
    elif style == "text":
        return text, "text/plain"
    else:
        raise ValueError(f"unknown envelope style {style!r}")
    return json.dumps(document), "application/json"


def _basic(header: str) -> tuple[str | None, str | None]:
    if not header.startswith("Basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, _, password = decoded.partition(":")
    return user, password


def _header(value: str | float | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return f"{value:g}"


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)
