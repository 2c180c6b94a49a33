"""The simulator's network link on real loopback sockets: delay, order, close after the data, flights."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from driftaudit.sim.link import LinkTunnel

pytestmark = pytest.mark.integration

RTT = 0.2


class _Server(asyncio.Protocol):
    """Greets, echoes each line in two writes, and ends on "close"/"abort" right after a goodbye."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"hello\n")

    def data_received(self, data: bytes) -> None:
        for line in data.decode().splitlines():
            if line in ("close", "abort"):
                self.transport.write(b"bye\n")
                getattr(self.transport, line)()
                return
            self.transport.write(line.encode())
            self.transport.write(b"\n")


async def _link(rtt: list[float]) -> tuple[LinkTunnel, Any, list[str], list[Any]]:
    flights: list[str] = []
    opened: list[Any] = []
    tunnel = LinkTunnel(
        ["dev"],
        rtt=lambda key: rtt[0],
        opened=lambda key, protocol: opened.append(protocol),
        closed=lambda protocol: None,
        flight=flights.append,
    )
    servers = await tunnel.create_server(lambda host, port: _Server(), "127.0.0.1", 0)
    return tunnel, servers, flights, opened


async def _read_line(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    loop = asyncio.get_running_loop()
    line = await asyncio.wait_for(reader.readline(), 5)
    return line, loop.time()


async def test_what_the_server_sends_arrives_one_round_trip_later_in_order_then_the_close() -> None:
    rtt = [RTT]
    tunnel, servers, flights, _ = await _link(rtt)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.ports["dev"])
        line, at = await _read_line(reader)
        assert line == b"hello\n"
        assert at - started >= RTT * 0.95  # never early: the link delays, it cannot be faster
        rtt[0] = RTT / 4  # a shorter round trip never overtakes what is in the link
        writer.write(b"one\ntwo\nclose\n")
        assert [(await _read_line(reader))[0] for _ in range(3)] == [b"one\n", b"two\n", b"bye\n"]
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the close, after the data
        assert flights == ["dev", "dev"]
        writer.close()
    finally:
        servers.close()
        await servers.wait_closed()


async def test_an_abort_still_delivers_what_was_sent_before_it() -> None:
    tunnel, servers, flights, _ = await _link([RTT])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.ports["dev"])
        assert (await _read_line(reader))[0] == b"hello\n"
        writer.write(b"abort\n")
        assert (await _read_line(reader))[0] == b"bye\n"
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
    finally:
        servers.close()
        await servers.wait_closed()


async def test_a_client_that_hangs_up_is_not_sent_what_was_still_in_the_link() -> None:
    tunnel, servers, flights, opened = await _link([RTT])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.ports["dev"])
        writer.close()  # before the greeting arrived
        await writer.wait_closed()
        await asyncio.sleep(RTT * 2)
        assert opened
        assert flights == []  # the greeting was never delivered, never waited for
    finally:
        servers.close()
        await servers.wait_closed()
