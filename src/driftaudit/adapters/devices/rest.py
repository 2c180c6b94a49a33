"""Running configs over the devices' own REST APIs (aiohttp).

The platform decides the API style (:class:`~.profiles.RestStyle`):

* Arista eAPI: ``POST /command-api``, JSON-RPC ``runCmds`` with
  ``format: text`` and ``["enable", "show running-config"]``; the config is
  the last result's ``output``.
* Cisco NX-API: ``POST /ins`` with ``type: cli_show_ascii`` and
  ``input: show running-config``; the config is ``outputs.output.body``.
* Junos REST: ``GET /rpc/get-configuration?format=text`` (``format=set`` for
  :attr:`~driftaudit.domain.models.Platform.JUNOS_SET`); the reply is XML
  (``<configuration-text>``, ``<configuration-set>`` or
  ``<configuration-information><configuration-output>``) or plain text.

The URL is ``{scheme}://{device.host}:{device.port}{path_prefix}{api path}``.
``scheme`` (default ``https``) and ``verify`` (default True: the system CA
store; a path names a CA bundle; False turns verification off and logs a
warning) are adapter options, because a fleet's devices share their API setup;
``path_prefix`` is a template (``{device_id}``) for APIs reached through a
reverse proxy, such as the simulator's ``/d/{device_id}``.

Authentication is HTTP basic with the device's credential. Every aiohttp and OS
exception becomes a :class:`~driftaudit.domain.errors.FetchError` subclass.

Why aiohttp and not httpx here: a stream worker fetching thousands of devices
is CPU-bound on the client side, and the HTTP client was its largest share:
httpx + httpcore + anyio (pure-Python HTTP/1.1 over anyio) cost about 1.7 ms
of the interpreter per fetch in the pipeline benchmark, aiohttp (a C HTTP
parser, a plain asyncio connector) a fraction of that. One session per
adapter keeps connections alive and reuses them (per host and port, so the
simulator's one port, or a reverse proxy, serves every device on a few).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import logging
import ssl
from collections.abc import Iterator
from itertools import count
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from driftaudit.adapters.devices.options import (
    DEFAULT_MAX_CONFIG_BYTES,
    FetchTimeouts,
    device_credential,
    normalize_cli,
)
from driftaudit.adapters.devices.profiles import RestStyle, profile_for
from driftaudit.domain.errors import (
    AuthError,
    ConfigTooLargeError,
    ConnectError,
    DisconnectedError,
    FetchError,
    FetchTimeoutError,
    ProtocolError,
    RateLimitedError,
    RemoteError,
)
from driftaudit.domain.models import Device, Platform
from driftaudit.domain.ports import BaseDeviceAdapter, CredentialSource

if TYPE_CHECKING:
    from driftaudit.settings import Settings

__all__ = ["RestDeviceAdapter"]

log = logging.getLogger(__name__)

_SHOW = "show running-config"
#: configs up to this size are normalized on the event loop (a thread hand-off costs more than that)
_INLINE_NORMALIZE_CHARS = 64 * 1024
#: the elements of a Junos reply that hold the config text, in the order they are looked for
_JUNOS_ELEMENTS = ("configuration-text", "configuration-set", "configuration-output")


class RestDeviceAdapter(BaseDeviceAdapter):
    """Fetches running configs from eAPI, NX-API and Junos REST endpoints.

    Args:
        credentials: Resolves ``credential_ref`` to a username and password.
        timeouts: Connect, read (between bytes) and total limits.
        scheme: ``https`` (default) or ``http``.
        verify: TLS verification: True (system CAs), a CA bundle path, or False.
        path_prefix: Inserted before the API path; ``{device_id}`` is replaced.
        max_config_bytes: A response body above this raises ``ConfigTooLargeError``.
        max_connections: Connections the shared HTTP client keeps, all devices together.
    """

    def __init__(
        self,
        credentials: CredentialSource,
        *,
        timeouts: FetchTimeouts | None = None,
        scheme: str = "https",
        verify: bool | str = True,
        path_prefix: str = "",
        max_config_bytes: int = DEFAULT_MAX_CONFIG_BYTES,
        max_connections: int = 100,
    ) -> None:
        if scheme not in ("http", "https"):
            raise ValueError("scheme must be 'http' or 'https'")
        self._credentials = credentials
        self.timeouts = timeouts or FetchTimeouts()
        self._scheme = scheme
        self._verify = verify
        self._prefix = path_prefix
        self._max_bytes = max_config_bytes
        self._max_connections = max_connections
        self._client: aiohttp.ClientSession | None = None
        self._ids = count(1)
        if scheme == "https" and verify is False:
            log.warning("TLS verification of device APIs is OFF: any certificate is accepted")

    @classmethod
    def from_settings(
        cls, settings: Settings, credentials: CredentialSource, **overrides: Any
    ) -> RestDeviceAdapter:
        """An adapter with the ``DRIFTAUDIT_*`` timeouts and size cap; ``overrides`` set scheme, verify..."""
        options: dict[str, Any] = {
            "timeouts": FetchTimeouts.from_settings(settings),
            "max_config_bytes": settings.max_config_bytes,
        }
        options.update(overrides)
        return cls(credentials, **options)

    async def aclose(self) -> None:
        """Close the HTTP client and its kept-alive connections."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def fetch_config(self, device: Device) -> str:
        """The normalized running config of ``device`` from its REST API.

        Raises:
            FetchError: ``ConnectError``, ``AuthError``, ``FetchTimeoutError``
                (with the phase), ``DisconnectedError``, ``ProtocolError``,
                ``ConfigTooLargeError``, ``RateLimitedError`` or ``RemoteError``.
        """
        style = profile_for(device.platform).rest_style
        if style is None:
            raise ProtocolError(device.device_id, f"platform {device.platform.value} has no device REST API")
        total = self.timeouts.total
        try:
            async with asyncio.timeout(total):
                with _http_errors(device, self.timeouts):
                    body = await self._request(device, style)
        except TimeoutError as exc:
            raise FetchTimeoutError(device.device_id, f"total timeout: fetch took over {total:g}s") from exc
        text = _decode(device, body)
        if style is RestStyle.EAPI:
            config = _eapi_config(device, text)
        elif style is RestStyle.NXAPI:
            config = _nxapi_config(device, text)
        else:
            config = _junos_config(text)
        if len(config) > _INLINE_NORMALIZE_CHARS:  # a large config never stalls the other devices' reads
            return await asyncio.to_thread(normalize_cli, config)
        return normalize_cli(config)

    def _client_for_loop(self) -> aiohttp.ClientSession:
        if self._client is None:
            t = self.timeouts
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl_verify())
            self._client = aiohttp.ClientSession(
                connector=connector,
                # sock_read is the gap between two reads (httpx's read timeout); the total is
                # enforced around the whole fetch in fetch_config
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=t.connect, sock_read=t.read),
                trust_env=False,
            )
        return self._client

    def _ssl_verify(self) -> ssl.SSLContext | bool:
        """The ``verify`` option as the connector takes it (a CA bundle path becomes a context).

        True is aiohttp's default context (system CAs, hostname checked); False accepts any certificate.
        """
        if isinstance(self._verify, str):
            return ssl.create_default_context(cafile=self._verify)  # OSError: a ConnectError for the fetch
        return True if self._verify else False

    def _base_url(self, device: Device) -> str:
        host = f"[{device.host}]" if ":" in device.host else device.host
        prefix = self._prefix.format(device_id=device.device_id) if self._prefix else ""
        return f"{self._scheme}://{host}:{device.port}{prefix}"

    async def _request(self, device: Device, style: RestStyle) -> bytes:
        credential = device_credential(self._credentials, device)
        if not credential.username or credential.password is None:
            raise AuthError(device.device_id, "the credential needs a username and a password")
        # the header as httpx built it: aiohttp.BasicAuth refuses a ':' in the user name, which
        # real device accounts (and the simulator's admin@<device_id>) may have
        token = f"{credential.username}:{credential.password.get_secret_value()}".encode()
        auth = {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}
        base = self._base_url(device)
        client = self._client_for_loop()
        request: dict[str, Any]
        if style is RestStyle.EAPI:
            body = _json_body(eapi_body(next(self._ids)))
            request = {"method": "POST", "url": f"{base}/command-api", "data": body}
        elif style is RestStyle.NXAPI:
            request = {"method": "POST", "url": f"{base}/ins", "data": _json_body(_NXAPI_BODY)}
        else:
            fmt = "set" if device.platform is Platform.JUNOS_SET else "text"
            request = {
                "method": "GET",
                "url": f"{base}/rpc/get-configuration",
                "params": {"format": fmt},
                "headers": {"Accept": "application/xml"},
            }
        request["headers"] = {**request.get("headers", {}), **auth}
        async with client.request(allow_redirects=False, **request) as response:
            _check_status(device, response)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_any():
                size += len(chunk)
                if size > self._max_bytes:
                    raise ConfigTooLargeError(
                        device.device_id, f"response exceeds the cap of {self._max_bytes} bytes"
                    )
                chunks.append(chunk)
        return b"".join(chunks)


#: the JSON-RPC request of eAPI up to its id (the one part that changes), as ``json.dumps`` writes it
_EAPI_HEAD = json.dumps(
    {
        "jsonrpc": "2.0",
        "method": "runCmds",
        "params": {"version": 1, "cmds": ["enable", _SHOW], "format": "text"},
        "id": None,
    }
).removesuffix("null}")
#: the NX-API request, the same for every device
_NXAPI_BODY = json.dumps(
    {
        "ins_api": {
            "version": "1.0",
            "type": "cli_show_ascii",
            "chunk": "0",
            "sid": "1",
            "input": _SHOW,
            "output_format": "json",
        }
    }
).encode()


def eapi_body(number: int) -> bytes:
    """The eAPI request body with the id ``driftaudit-<number>``: ``json.dumps`` of it, built once.

    aiohttp's ``json=`` serializes the same dict on every request and wraps it
    in a ``JsonPayload``; the body bytes here are the same, sent as a
    ``BytesPayload`` of the same content type.
    """
    return f'{_EAPI_HEAD}"driftaudit-{number}"}}'.encode()


def _json_body(body: bytes) -> aiohttp.BytesPayload:
    return aiohttp.BytesPayload(body, content_type="application/json")


def _check_status(device: Device, response: aiohttp.ClientResponse) -> None:
    status = response.status
    if status < 400:
        return
    if status in (401, 403):
        raise AuthError(device.device_id, f"credentials refused (HTTP {status})")
    if status in (429, 503):
        raise RateLimitedError(device.device_id, f"device API is busy (HTTP {status})")
    raise RemoteError(device.device_id, f"device API answered HTTP {status}")


def _decode(device: Device, body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(device.device_id, "response is not UTF-8 text (binary or garbage)") from exc
    if "\x00" in text:
        raise ProtocolError(device.device_id, "response holds binary data")
    return text


def _json(device: Device, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ProtocolError(device.device_id, "response is not valid JSON") from exc


def _fast_json(text: str) -> Any:
    """The reply read by orjson (a third of the stdlib's time on a config-sized string), None if refused.

    For the happy path only: a config found in it is the one the stdlib's
    reading holds (the same strings, lists and objects, the last of duplicate
    keys). Numbers can differ (orjson reads an integer beyond 64 bits as a
    float, refuses ``NaN`` and ``1e400``), so every other outcome (an error
    reply and its code, a malformed one) is decided on the stdlib's reading.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _eapi_output(document: Any) -> str | None:
    """The config of a successful eAPI reply, None for anything else."""
    if not isinstance(document, dict) or isinstance(document.get("error"), dict):
        return None
    try:
        output = document["result"][-1]["output"]
    except (KeyError, IndexError, TypeError):
        return None
    return output if isinstance(output, str) else None


def _nxapi_output(document: Any) -> str | None:
    """The config of a successful NX-API reply (code 200, a text body), None for anything else."""
    try:
        output = document["ins_api"]["outputs"]["output"]
    except (KeyError, TypeError):
        return None
    if isinstance(output, list):
        output = output[-1] if output else {}
    if not isinstance(output, dict) or str(output.get("code", "")) != "200":
        return None
    body = output.get("body")
    return body if isinstance(body, str) else None


def _eapi_config(device: Device, text: str) -> str:
    fast = _eapi_output(_fast_json(text))
    if fast is not None:
        return fast
    document = _json(device, text)
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        code = document["error"].get("code")
        raise RemoteError(device.device_id, f"eAPI error code {code}")
    try:
        output = document["result"][-1]["output"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ProtocolError(device.device_id, "eAPI reply has no result output") from exc
    if not isinstance(output, str):
        raise ProtocolError(device.device_id, "eAPI output is not text")
    return output


def _nxapi_config(device: Device, text: str) -> str:
    fast = _nxapi_output(_fast_json(text))
    if fast is not None:
        return fast
    document = _json(device, text)
    try:
        output = document["ins_api"]["outputs"]["output"]
    except (KeyError, TypeError) as exc:
        raise ProtocolError(device.device_id, "NX-API reply has no output") from exc
    if isinstance(output, list):
        output = output[-1] if output else {}
    if not isinstance(output, dict):
        raise ProtocolError(device.device_id, "NX-API output is not an object")
    code = str(output.get("code", ""))
    if code != "200":
        raise RemoteError(device.device_id, f"NX-API error code {code or 'missing'}")
    body = output.get("body")
    if not isinstance(body, str):
        raise ProtocolError(device.device_id, "NX-API body is not text")
    return body


def _junos_config(text: str) -> str:
    r"""The config text of a Junos reply: the first ``<configuration-text|set|output>`` element's text.

    What the search of ``<(name)(?:\s[^>]*)?>(.*?)</\1>`` (DOTALL) finds, by
    ``str.find``: that regex's lazy ``(.*?)`` up to the back-referenced
    closing tag stepped through the whole config (70 µs for a 7 KB reply).
    Candidates are tried left to right as the search does: an opening tag is
    the name then ``>``, or then a whitespace character and everything up to
    the next ``>``; its element ends at the first closing tag of that name.
    """
    position = 0
    while (start := text.find("<configuration-", position)) >= 0:
        position = start + 1
        name = next((n for n in _JUNOS_ELEMENTS if text.startswith(n, position)), None)
        if name is None:
            continue
        after = position + len(name)
        if text.startswith(">", after):
            body = after + 1
        elif after < len(text) and text[after].isspace() and (close := text.find(">", after + 1)) >= 0:
            body = close + 1
        else:
            continue
        end = text.find(f"</{name}>", body)
        if end >= 0:
            return html.unescape(text[body:end]).lstrip("\n")
    return text


@contextlib.contextmanager
def _http_errors(device: Device, timeouts: FetchTimeouts) -> Iterator[None]:
    """Translate aiohttp and OS exceptions into driftaudit's fetch errors."""
    device_id, where = device.device_id, f"{device.host}:{device.port}"
    try:
        yield
    except FetchError:
        raise
    # aiohttp's timeouts are TimeoutErrors too: they are told apart before a bare one passes through
    except aiohttp.ConnectionTimeoutError as exc:
        raise FetchTimeoutError(
            device_id, f"connect timeout: no connection to {where} within {timeouts.connect:g}s"
        ) from exc
    except aiohttp.SocketTimeoutError as exc:
        raise FetchTimeoutError(
            device_id, f"read timeout: device silent for {timeouts.read:g}s mid-response"
        ) from exc
    except aiohttp.ServerTimeoutError as exc:
        raise FetchTimeoutError(device_id, f"timeout talking to {where}: {type(exc).__name__}") from exc
    except TimeoutError:
        raise
    except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
        verify = isinstance(exc, aiohttp.ClientConnectorCertificateError) or "CERTIFICATE_VERIFY" in str(exc)
        reason = "TLS verification failed" if verify else "TLS handshake failed"
        raise ConnectError(device_id, f"cannot connect to {where}: {reason}") from exc
    except aiohttp.ClientConnectorError as exc:
        raise ConnectError(device_id, f"cannot connect to {where}: connection failed") from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        raise DisconnectedError(device_id, f"{where} closed the connection mid-response") from exc
    except aiohttp.InvalidURL as exc:
        raise ConnectError(device_id, f"cannot build a URL for {where}") from exc
    except aiohttp.ClientError as exc:
        raise ProtocolError(device_id, f"HTTP failure with {where}: {type(exc).__name__}") from exc
    except OSError as exc:
        raise ConnectError(
            device_id, f"cannot connect to {where}: {exc.strerror or type(exc).__name__}"
        ) from exc
