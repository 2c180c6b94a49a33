"""A network link with a round-trip time, between an SSH client and the simulator's SSH server.

Latency on a real network is paid on every exchange: the SSH version
banner, each key-exchange step, authentication, opening a channel, every
command. Sleeping before each command answer misses most of them, so a
device served on its own port gets a link instead: a loopback TCP relay that
delays everything the server sends by the device's round-trip time (what the
client sends passes at once), chunk by chunk in order, so pipelined writes
are not serialised. The round trip is read on every chunk, so a test can
change it while connections are open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["relay"]

_CHUNK = 65536


async def relay(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    *,
    host: str,
    port: int,
    rtt: Callable[[], float],
    opened: Callable[[int], None],
    closed: Callable[[int], None],
) -> None:
    """Relay one client connection to ``host:port`` until either side closes.

    ``opened`` gets the relay's local port as the server sees it (its peer
    port), before any byte is relayed, so the server can tell which device
    the connection is for; ``closed`` gets it at the end.
    """
    try:
        server_reader, server_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    local_port = server_writer.get_extra_info("sockname")[1]
    opened(local_port)
    try:
        upstream = asyncio.ensure_future(_copy(client_reader, server_writer))
        downstream = asyncio.ensure_future(_delayed_copy(server_reader, client_writer, rtt))
        try:
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)
    finally:
        # Forget the port while this socket still holds it: once it is
        # closed, the next relayed connection may get the same port number.
        closed(local_port)
        for writer in (server_writer, client_writer):
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()


async def _delayed_copy(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rtt: Callable[[], float]
) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                return
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    delivery = asyncio.ensure_future(deliver())
    try:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(_CHUNK):
                queue.put_nowait((loop.time() + rtt(), data))
        queue.put_nowait((loop.time() + rtt(), b""))
        with contextlib.suppress(ConnectionError, OSError):
            await delivery
    finally:
        delivery.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await delivery
