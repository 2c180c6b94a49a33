"""A pool of open device sessions, so repeated fetches skip the SSH handshake.

Connections are kept per device (key: device id, host and port) and bounded per
device: never more than ``per_host`` open at once, each leased to one fetch at
a time; a fetch that finds them all busy waits. Returned connections stay open
for ``idle_s`` seconds and are closed by a background sweep after that.

The pool does not retry by itself: a lease says whether its connection was
reused, and the adapter, which knows what "dead" looks like for its protocol,
discards a dead reused connection and asks for a ``fresh`` one once. Any
exception inside a lease closes that connection: a session in an unknown state
is never handed to the next fetch.

The pool is generic over the connection type; the SSH adapter gives it
asyncssh connections, a test can give it anything with a close function.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from driftaudit.domain.models import Device

__all__ = ["ConnectionPool", "Lease", "PoolLimits", "PoolStats"]

log = logging.getLogger(__name__)

C = TypeVar("C")


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolLimits:
    """How many sessions a pool keeps per device, and for how long when idle."""

    per_host: int = 2
    idle_s: float = 300.0

    def __post_init__(self) -> None:
        if self.per_host < 1:
            raise ValueError("PoolLimits.per_host must be >= 1")
        if not self.idle_s > 0:
            raise ValueError("PoolLimits.idle_s must be > 0")


@dataclass(frozen=True, slots=True)
class PoolStats:
    """Counters of a pool: connections ``opened``, leases that ``reused`` one, connections ``closed``."""

    opened: int
    reused: int
    closed: int
    idle: int
    leased: int


@dataclass(slots=True)
class Lease(Generic[C]):
    """One connection lent to one fetch."""

    conn: C
    reused: bool
    discarded: bool = False

    def discard(self) -> None:
        """Close the connection when the lease ends instead of returning it."""
        self.discarded = True


@dataclass(slots=True)
class _Slot(Generic[C]):
    semaphore: asyncio.Semaphore
    idle: list[tuple[C, float]] = field(default_factory=list)
    leased: int = 0


class ConnectionPool(Generic[C]):
    """Open connections per device, bounded, reused, and closed when idle.

    Args:
        opener: Opens a new connection to a device; raises the adapter's
            typed errors.
        closer: Closes a connection without waiting (it is also called while a
            fetch is being cancelled).
        alive: Whether a connection still looks usable (not closed by the peer).
        limits: Per-device bound and idle time.
        clock: Monotonic seconds, replaceable in tests.
    """

    def __init__(
        self,
        opener: Callable[[Device], Awaitable[C]],
        *,
        closer: Callable[[C], None],
        alive: Callable[[C], bool],
        limits: PoolLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._opener = opener
        self._closer = closer
        self._alive = alive
        self.limits = limits or PoolLimits()
        self._clock = clock
        self._slots: dict[tuple[str, str, int], _Slot[C]] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        self._opened = 0
        self._reused = 0
        self._closed_count = 0

    def stats(self) -> PoolStats:
        """Current counters."""
        return PoolStats(
            opened=self._opened,
            reused=self._reused,
            closed=self._closed_count,
            idle=sum(len(slot.idle) for slot in self._slots.values()),
            leased=sum(slot.leased for slot in self._slots.values()),
        )

    @contextlib.asynccontextmanager
    async def lease(self, device: Device, *, fresh: bool = False) -> AsyncIterator[Lease[C]]:
        """Lend a connection to ``device``: an idle one, or a new one.

        Args:
            device: The device to talk to.
            fresh: Skip idle connections (after a reused one turned out dead).

        Raises:
            RuntimeError: The pool was closed.
        """
        if self._closed:
            raise RuntimeError("connection pool is closed")
        self._start_reaper()
        slot = self._slot(device)
        async with slot.semaphore:
            conn, reused = self._take_idle(slot) if not fresh else (None, False)
            if conn is None:
                conn = await self._opener(device)
                self._opened += 1
            else:
                self._reused += 1
            lease = Lease(conn, reused)
            slot.leased += 1
            try:
                yield lease
            except BaseException:
                self._close(conn)
                raise
            finally:
                slot.leased -= 1
            if lease.discarded or self._closed or not self._alive(conn):
                self._close(conn)
            else:
                slot.idle.append((conn, self._clock()))

    async def aclose(self) -> None:
        """Close every idle connection and stop the sweep; leased ones close when returned."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for slot in self._slots.values():
            while slot.idle:
                self._close(slot.idle.pop()[0])

    def sweep(self) -> int:
        """Close connections idle for longer than ``idle_s``, or dead; returns how many."""
        now, closed = self._clock(), 0
        for slot in self._slots.values():
            keep: list[tuple[C, float]] = []
            for conn, since in slot.idle:
                if now - since >= self.limits.idle_s or not self._alive(conn):
                    self._close(conn)
                    closed += 1
                else:
                    keep.append((conn, since))
            slot.idle = keep
        return closed

    def _slot(self, device: Device) -> _Slot[C]:
        key = (device.device_id, device.host, device.port)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(asyncio.Semaphore(self.limits.per_host))
        return slot

    def _take_idle(self, slot: _Slot[C]) -> tuple[C | None, bool]:
        now = self._clock()
        while slot.idle:
            conn, since = slot.idle.pop()
            if self._alive(conn) and now - since < self.limits.idle_s:
                return conn, True
            self._close(conn)
        return None, False

    def _close(self, conn: C) -> None:
        self._closed_count += 1
        try:
            self._closer(conn)
        except Exception:  # closing is best effort; a broken socket must not fail a fetch
            log.debug("closing a pooled connection failed", exc_info=True)

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap(), name="device-pool-sweep")

    async def _reap(self) -> None:
        interval = min(max(self.limits.idle_s / 2, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            self.sweep()
