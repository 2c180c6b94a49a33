"""Device REST over HTTPS on loopback: the CA bundle option, verification on by default, the pool.

A real TLS server (asyncio, the self-signed certificate of ``nms_tls``)
answers eAPI requests; the adapter verifies it through the CA bundle path
(``verify="<path>"``), refuses it against the system CAs, and its transport is
the linear connection pool of :mod:`driftaudit.adapters.nms.pool`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from driftaudit.adapters.devices.options import FetchTimeouts
from driftaudit.adapters.devices.rest import RestDeviceAdapter
from driftaudit.domain.errors import ConnectError
from driftaudit.domain.models import Credential, Device, Platform, Transport
from driftaudit.sim.fleet import SimCredentialSource
from tests.plugins.nms import TLSFiles

pytestmark = pytest.mark.integration

CONFIG = "hostname tls-leaf\ninterface Ethernet1\n   description uplink\n"
TIMEOUTS = FetchTimeouts(connect=2.0, read=2.0, total=5.0)
CREDENTIALS = SimCredentialSource({"tls-leaf": Credential(username="admin", password="pw")})


async def _read_request(reader: asyncio.StreamReader) -> None:
    """Read one HTTP/1.1 request, head and body (``Content-Length``, none if absent)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await _read_request(reader)
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": [{}, {"output": CONFIG}]}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def eapi_tls(nms_tls: TLSFiles) -> AsyncIterator[Device]:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=nms_tls.server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Device(
            device_id="tls-leaf",
            host="127.0.0.1",
            port=port,
            platform=Platform.EOS,
            transport=Transport.REST,
            credential_ref="tls-leaf",
        )
    finally:
        server.close()
        await server.wait_closed()


async def test_a_ca_bundle_path_verifies_the_device(eapi_tls: Device, nms_tls: TLSFiles) -> None:
    adapter = RestDeviceAdapter(CREDENTIALS, timeouts=TIMEOUTS, verify=str(nms_tls.ca_bundle))
    try:
        first = await adapter.fetch_config(eapi_tls)
        second = await adapter.fetch_config(eapi_tls)
    finally:
        await adapter.aclose()
    assert first == second == CONFIG


async def test_verification_is_on_by_default(eapi_tls: Device) -> None:
    adapter = RestDeviceAdapter(CREDENTIALS, timeouts=TIMEOUTS)
    try:
        with pytest.raises(ConnectError, match="TLS verification failed"):
            await adapter.fetch_config(eapi_tls)
    finally:
        await adapter.aclose()


async def test_a_missing_ca_bundle_is_a_connect_error(eapi_tls: Device, tmp_path) -> None:
    adapter = RestDeviceAdapter(CREDENTIALS, timeouts=TIMEOUTS, verify=str(tmp_path / "absent.pem"))
    try:
        with pytest.raises(ConnectError):
            await adapter.fetch_config(eapi_tls)
    finally:
        await adapter.aclose()


async def test_the_adapter_reuses_its_connections(nms_tls: TLSFiles) -> None:
    """Sequential fetches of one device ride one kept-alive TLS connection; concurrent ones stay bounded."""
    accepted: list[int] = []

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await _answer(reader, writer)

    server = await asyncio.start_server(counting, "127.0.0.1", 0, ssl=nms_tls.server_context)
    port = server.sockets[0].getsockname()[1]
    device = Device(
        device_id="tls-leaf",
        host="127.0.0.1",
        port=port,
        platform=Platform.EOS,
        transport=Transport.REST,
        credential_ref="tls-leaf",
    )
    adapter = RestDeviceAdapter(
        CREDENTIALS, timeouts=TIMEOUTS, verify=str(nms_tls.ca_bundle), max_connections=3
    )
    try:
        for _ in range(5):
            assert await adapter.fetch_config(device) == CONFIG
        assert len(accepted) == 1
        await asyncio.gather(*(adapter.fetch_config(device) for _ in range(12)))
        assert len(accepted) <= 3
    finally:
        await adapter.aclose()
        server.close()
        await server.wait_closed()


async def test_a_large_config_is_normalized_off_the_loop_the_same_way(nms_tls: TLSFiles) -> None:
    from driftaudit.adapters.devices.options import normalize_cli

    big = "".join(f"interface Ethernet{i}\r\n   description port {i}\r\n" for i in range(4000))
    assert len(big) > 64 * 1024

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": [{}, {"output": big}]}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=nms_tls.server_context)
    device = Device(
        device_id="tls-leaf",
        host="127.0.0.1",
        port=server.sockets[0].getsockname()[1],
        platform=Platform.EOS,
        transport=Transport.REST,
        credential_ref="tls-leaf",
    )
    adapter = RestDeviceAdapter(CREDENTIALS, timeouts=TIMEOUTS, verify=str(nms_tls.ca_bundle))
    try:
        text = await adapter.fetch_config(device)
    finally:
        await adapter.aclose()
        server.close()
        await server.wait_closed()
    assert text == normalize_cli(big)
    assert "\r" not in text
