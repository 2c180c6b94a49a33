"""An httpx transport whose connection pool stays linear in its size.

httpcore 1.0.x rebuilds a list of every pooled connection once per idle
connection on every request start and end (``len([c.is_idle() for c in
self._connections])`` in ``_assign_requests_to_connections``, encode/httpcore
PR #1035, unmerged), so with 50-100 connections to one NMS most of the
client's CPU went to pool bookkeeping and fleet fetches ran 10-40x slower than
the latency bound. That expression is only ``len(self._connections)``; the
subclass below computes exactly that, so behaviour is unchanged and each pass
is O(connections + queued requests).

The rest of the method is httpcore's own (BSD-3-Clause, Copyright © 2020,
Encode OSS Ltd.). If httpcore changes shape, :func:`pooled_transport` falls
back to the stock pool instead of failing.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpcore
import httpx

__all__ = ["pooled_transport"]


class _LinearConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's pool, linear per pass, with each idle connection handed to one request."""

    _SWEEP_EVERY = 32
    _passes = 0

    def _assign_requests_to_connections(self) -> list[Any]:
        closing_connections: list[Any] = []
        self._passes += 1
        sweep = self._passes % self._SWEEP_EVERY == 0
        # Connections already promised to a request (started or not): never evicted, never re-promised.
        reserved = {id(r.connection) for r in self._requests if r.connection is not None}
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif id(connection) in reserved:
                continue
            elif sweep and connection.has_expired():
                self._connections.remove(connection)
                closing_connections.append(connection)
            elif connection.is_idle() and len(self._connections) > self._max_keepalive_connections:
                self._connections.remove(connection)
                closing_connections.append(connection)

        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            connection = self._reusable(origin, reserved, closing_connections)
            if connection is None and len(self._connections) < self._max_connections:
                connection = self.create_connection(origin)
                self._connections.append(connection)
            elif connection is None:
                idle = next((c for c in self._connections if c.is_idle() and id(c) not in reserved), None)
                if idle is None:
                    break  # nothing can be assigned until a connection is released
                self._connections.remove(idle)
                closing_connections.append(idle)
                connection = self.create_connection(origin)
                self._connections.append(connection)
            reserved.add(id(connection))
            pool_request.assign_to_connection(connection)
        return closing_connections

    def _reusable(self, origin: Any, reserved: set[int], closing_connections: list[Any]) -> Any:
        """The first free connection for ``origin``, probed for liveness only when picked.

        The stock pool probes every idle socket (a ``poll`` through several
        layers) on every pass; probing just the one about to be reused keeps
        the guarantee (never send on a connection the server closed) at O(1).
        """
        for connection in list(self._connections):
            if id(connection) in reserved or not (
                connection.can_handle_request(origin) and connection.is_available()
            ):
                continue
            if connection.is_idle() and connection.has_expired():
                self._connections.remove(connection)
                closing_connections.append(connection)
                continue
            return connection
        return None


def pooled_transport(*, verify: ssl.SSLContext | bool, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An HTTP/1.1 transport with the linear pool when httpcore is the expected shape."""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool and hasattr(pool, "_assign_requests_to_connections"):
        pool.__class__ = _LinearConnectionPool
    return transport
