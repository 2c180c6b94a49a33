"""A network link with a round-trip time, between an SSH client and the simulator's SSH server.

Latency on a real network is paid on every exchange: the SSH version
banner, each key-exchange step, authentication, opening a channel, every
command. Sleeping before each command answer misses most of them, so a
device served on its own port gets a link instead: everything the server
sends reaches the client one round-trip time later (what the client sends
passes at once), chunk by chunk in order, so pipelined writes are not
serialised; the server's close or abort arrives after the data sent before
it, as on a real network.

The link sits in the server's own transport, not in a relay in front of it:
:class:`LinkTunnel` is handed to ``asyncssh.listen(tunnel=...)``, binds one
port per device and gives each accepted connection's asyncssh protocol a
delayed transport. A relay cost a second loopback hop (a receive, a
send and two task switches for every packet, each way), about a third of
the simulator's CPU, which on a small machine is CPU taken from the client
being measured. The round trip is read on every write, so a test can change
it while connections are open.

The link also counts the round trips a client waited for: every *flight*
(what the server sent in answer to one message of the client, delivered
together) is reported to ``flight()``. Writes due within half a round trip of
the previous delivery belong to the same flight; a flight still in the link
when the client hangs up was never waited for and is not counted.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from typing import Any, cast

__all__ = ["LinkTunnel"]

#: What a delayed close does once the data before it is out.
_CLOSE, _ABORT = b"close", b"abort"


class _DelayedTransport(asyncio.Transport):
    """A transport whose writes (and close) reach the peer ``rtt()`` seconds later, in order."""

    def __init__(
        self, transport: asyncio.Transport, rtt: Callable[[], float], flight: Callable[[], None]
    ) -> None:
        super().__init__()
        self._transport = transport
        self._rtt = rtt
        self._flight = flight
        self._delivered_at: float | None = None
        self._loop = asyncio.get_running_loop()
        self._queue: collections.deque[tuple[float, bytes | None, bytes]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        self._push(bytes(data), b"")

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def close(self) -> None:
        self._end(_CLOSE)

    def abort(self) -> None:
        # The bytes already "on the wire" still arrive; nothing written after.
        self._end(_ABORT)

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d or b"") for _, d, _ in self._queue)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def lost(self) -> None:
        """The peer went away: nothing queued can be delivered any more."""
        self._closing = True
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _end(self, how: bytes) -> None:
        if self._closing:
            return
        self._closing = True
        self._push(None, how)

    def _push(self, data: bytes | None, end: bytes) -> None:
        due = self._loop.time() + self._rtt()
        if self._queue and due < self._queue[-1][0]:
            due = self._queue[-1][0]  # a shorter round trip set meanwhile never reorders
        self._queue.append((due, data, end))
        if self._timer is None:
            self._timer = self._loop.call_at(due, self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        now = self._loop.time()
        queue = self._queue
        due: list[bytes] = []  # what arrives now goes out in one write, as one TCP segment would
        while queue and queue[0][0] <= now:
            _, data, end = queue.popleft()
            if data is not None:
                due.append(data)
                continue
            self._send(due, now)
            due = []
            if end == _CLOSE:
                self._transport.close()
            else:
                self._transport.abort()
        self._send(due, now)
        if queue:
            self._timer = self._loop.call_at(queue[0][0], self._deliver)

    def _send(self, due: list[bytes], now: float) -> None:
        if not due:
            return
        # Counted before the bytes go out: the client may read the counter
        # (from another thread) as soon as it has them.
        rtt = self._rtt()
        if rtt > 0 and (self._delivered_at is None or now - self._delivered_at >= rtt / 2):
            self._flight()
        self._delivered_at = now
        self._transport.write(b"".join(due))


class _LinkedProtocol(asyncio.Protocol):
    """The accepted socket's protocol: hands the server's protocol a delayed transport."""

    def __init__(
        self,
        inner: asyncio.Protocol,
        rtt: Callable[[], float],
        flight: Callable[[], None],
        closed: Callable[[], None],
    ) -> None:
        self._inner = inner
        self._rtt = rtt
        self._flight = flight
        self._closed = closed
        self._link: _DelayedTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server's transport (not always an asyncio.Transport subclass: uvloop's).
        self._link = _DelayedTransport(cast(asyncio.Transport, transport), self._rtt, self._flight)
        self._inner.connection_made(self._link)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._link is not None:
            self._link.lost()
        try:
            self._inner.connection_lost(exc)
        finally:
            self._closed()


class _LinkServers:
    """The listening sockets of a :class:`LinkTunnel`, closed together (what asyncssh's acceptor wraps)."""

    def __init__(self, servers: Sequence[asyncio.Server]) -> None:
        self._servers = list(servers)

    def get_port(self) -> int:
        return 0

    def get_addresses(self) -> list[tuple[Any, ...]]:
        return [sock.getsockname() for server in self._servers for sock in server.sockets]

    def close(self) -> None:
        for server in self._servers:
            server.close()

    async def wait_closed(self) -> None:
        for server in self._servers:
            await server.wait_closed()


class LinkTunnel:
    """Serves each of ``keys`` on a port of its own, every connection over a delayed link.

    Pass it as ``asyncssh.listen(tunnel=LinkTunnel(...))``: asyncssh calls
    :meth:`create_server` with the factory of its server connections, and
    the tunnel binds one port per key on ``host``.

    Args:
        keys: One port per key (device ids); :attr:`ports` maps them after start.
        rtt: The round-trip time of a key, read on every write.
        opened: Called with the key and the server's protocol of each new
            connection, before any byte is exchanged.
        closed: Called with the same protocol when the connection is gone.
        flight: Called with the key for every round trip a client waited for
            (a flight of the server's answers delivered; only while ``rtt`` > 0).
    """

    def __init__(
        self,
        keys: Sequence[str],
        *,
        rtt: Callable[[str], float],
        opened: Callable[[str, asyncio.Protocol], None],
        closed: Callable[[asyncio.Protocol], None],
        flight: Callable[[str], None] = lambda key: None,
    ) -> None:
        self._keys = list(keys)
        self._rtt = rtt
        self._opened = opened
        self._closed = closed
        self._flight = flight
        self.ports: dict[str, int] = {}

    async def create_server(
        self, session_factory: Callable[[str, int], Any], listen_host: str, listen_port: int
    ) -> _LinkServers:
        """Bind a port per key (``listen_port`` is ignored: the OS chooses each)."""
        loop = asyncio.get_running_loop()
        servers = []
        for key in self._keys:
            server = await loop.create_server(self._factory(key, session_factory), listen_host, 0)
            servers.append(server)
            self.ports[key] = server.sockets[0].getsockname()[1]
        return _LinkServers(servers)

    def _factory(
        self, key: str, session_factory: Callable[[str, int], Any]
    ) -> Callable[[], asyncio.Protocol]:
        def rtt() -> float:
            return self._rtt(key)

        def flight() -> None:
            self._flight(key)

        def protocol() -> asyncio.Protocol:
            inner: asyncio.Protocol = session_factory("", 0)
            self._opened(key, inner)
            return _LinkedProtocol(inner, rtt, flight, lambda: self._closed(inner))

        return protocol
