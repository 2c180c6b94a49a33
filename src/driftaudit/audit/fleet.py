"""Bounded fleet fetch: many devices, never more than ``batch_size`` in flight.

``fetch_fleet_configs`` is the one place the bound lives: a semaphore created
per call wraps every fetch, and the whole fleet is gathered at once, so a slow
device holds one slot and never a whole batch. Every device gets exactly one
outcome, in input order: a :class:`ConfigResult`, or a :class:`FetchFailure`
that says why. One device's failure never aborts the others; cancelling the
call cancels every fetch and returns only once they have all stopped.

``RoutingConfigClient`` is the composition of the fetchers: NMS devices go to
an ``IConfigClient``, SSH and device-REST devices to a ``BaseDeviceAdapter``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from driftaudit.domain.errors import ConfigurationError, DriftAuditError, FetchError, FetchTimeoutError
from driftaudit.domain.models import (
    ConfigResult,
    Device,
    DeviceStatus,
    FetchFailure,
    FetchOutcome,
    Transport,
)
from driftaudit.domain.ports import BaseDeviceAdapter, IConfigClient

__all__ = ["RoutingConfigClient", "fetch_fleet_configs", "fetch_within", "outcome_from_error", "utc_now"]

#: how long a fetch cancelled at its deadline may take to unwind before its result goes out anyway
CANCEL_GRACE_S = 1.0

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def outcome_from_error(
    device_id: str, exc: BaseException, *, now: Callable[[], datetime], fetch_ms: float
) -> FetchFailure:
    """The failure record of a device whose fetch raised ``exc``.

    A ``FetchError`` keeps its status (``unreachable`` or ``error``) and its
    reason. Other driftaudit errors promise secret-free messages, so theirs is
    kept, with status ``error``. Any foreign exception is reported by its type
    name only: its message could quote a URL, a header or a config line.
    """
    error_type = type(exc).__name__
    status: Literal[DeviceStatus.UNREACHABLE, DeviceStatus.ERROR] = DeviceStatus.ERROR
    if isinstance(exc, FetchError):
        if DeviceStatus(exc.status) is DeviceStatus.UNREACHABLE:
            status = DeviceStatus.UNREACHABLE
        reason = exc.reason
    elif isinstance(exc, DriftAuditError):
        reason = str(exc)
    else:
        reason = f"unexpected {error_type}"
    return FetchFailure(
        device_id=device_id,
        status=status,
        reason=reason,
        error_type=error_type,
        timestamp=now(),
        fetch_ms=fetch_ms,
    )


def _consume_outcome(task: asyncio.Future[ConfigResult]) -> None:
    """Retrieve an abandoned fetch's outcome so asyncio never reports it as unhandled."""
    if not task.cancelled():
        task.exception()


async def fetch_within(
    device: Device,
    client: IConfigClient,
    *,
    timeout_s: float | None,
    now: Callable[[], datetime] = utc_now,
) -> FetchOutcome:
    """Fetch one device, its outcome due within ``timeout_s``; every failure is a result, never raised.

    The deadline is enforced from outside the fetch (``asyncio.wait`` on a
    task, then a cancel): a fetcher that mishandles cancellation can delay its
    own clean-up (``CANCEL_GRACE_S`` at most is waited for it), never this
    device's result. The stream, the in-process audit and pre-flight all fetch
    through here.
    """
    started = time.perf_counter()
    fetch = asyncio.ensure_future(client.fetch_device_config(device))
    try:
        done, _ = await asyncio.wait({fetch}, timeout=None if timeout_s is None else max(0.0, timeout_s))
    except asyncio.CancelledError:
        # the caller is cancelled: the fetch stops with it, and is waited for (bounded)
        fetch.cancel()
        await asyncio.wait({fetch}, timeout=CANCEL_GRACE_S)
        fetch.add_done_callback(_consume_outcome)
        raise
    exc: BaseException | None
    if done:
        exc = fetch.exception()
        if exc is None:
            return fetch.result()
    else:
        fetch.cancel()
        await asyncio.wait({fetch}, timeout=CANCEL_GRACE_S)
        if not fetch.done():
            logger.warning("fetch of %s ignored its cancellation after the deadline", device.device_id)
        fetch.add_done_callback(_consume_outcome)
        exc = FetchTimeoutError(device.device_id, "timeout")
    fetch_ms = (time.perf_counter() - started) * 1000.0
    failure = outcome_from_error(device.device_id, exc, now=now, fetch_ms=fetch_ms)
    logger.info("device %s: fetch failed (%s: %s)", device.device_id, failure.error_type, failure.reason)
    return failure


async def fetch_fleet_configs(
    device_ids: Sequence[str],
    client: IConfigClient,
    *,
    resolve: Callable[[str], Device],
    batch_size: int,
    now: Callable[[], datetime] = utc_now,
    timeout_s: float | None = None,
    deadline: float | None = None,
) -> list[FetchOutcome]:
    """Fetch every device's config with at most ``batch_size`` fetches in flight.

    Args:
        device_ids: the fleet, in the order results are wanted (duplicates are
            fetched once each time they appear).
        client: the fetcher.
        resolve: device id to ``Device`` (an inventory lookup); an error here
            is that device's failure, like a fetch error.
        batch_size: the most fetches running at once (>= 1).
        now: the wall clock for failure timestamps.
        timeout_s: each device's own bound, from the start of its fetch (None: unbounded).
        deadline: a bound for every device (event-loop time), e.g. a pre-flight's answer time.

    Returns:
        One outcome per id, in input order.

    Raises:
        ValueError: ``batch_size`` below 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    gate = asyncio.Semaphore(batch_size)

    loop = asyncio.get_running_loop()

    async def one(device_id: str) -> FetchOutcome:
        async with gate:
            bound = timeout_s
            if deadline is not None:
                left = deadline - loop.time()
                bound = left if bound is None else min(bound, left)
            try:
                device = resolve(device_id)
            except Exception as exc:  # an unknown device is its own failure, never the batch's
                return outcome_from_error(device_id, exc, now=now, fetch_ms=0.0)
            return await fetch_within(device, client, timeout_s=bound, now=now)

    tasks = [asyncio.ensure_future(one(device_id)) for device_id in device_ids]
    try:
        return list(await asyncio.gather(*tasks))
    except asyncio.CancelledError:
        # gather completes at the first cancelled child: wait for every fetch to have stopped
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        raise


class RoutingConfigClient:
    """An ``IConfigClient`` that sends each device to the fetcher of its transport."""

    def __init__(
        self,
        *,
        nms: IConfigClient | None = None,
        adapters: Mapping[Transport, BaseDeviceAdapter] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        """Wire the fetchers.

        Args:
            nms: the client for ``Transport.NMS`` devices.
            adapters: the device adapters, by transport (``SSH``, ``REST``).
            now: the wall clock for result timestamps of adapter fetches.
        """
        self._nms = nms
        self._adapters = dict(adapters or {})
        self._now = now

    def __repr__(self) -> str:
        routes = sorted(t.value for t in self._adapters) + (["nms"] if self._nms else [])
        return f"RoutingConfigClient(routes={routes!r})"

    async def fetch_device_config(self, device: Device) -> ConfigResult:
        """The device's config from the fetcher of its transport.

        Raises:
            ConfigurationError: no fetcher is configured for the transport.
            FetchError: whatever the fetcher raised.
        """
        if device.transport is Transport.NMS:
            if self._nms is None:
                raise ConfigurationError(f"device {device.device_id}: no NMS client is configured")
            return await self._nms.fetch_device_config(device)
        adapter = self._adapters.get(device.transport)
        if adapter is None:
            raise ConfigurationError(
                f"device {device.device_id}: no adapter for transport {device.transport.value}"
            )
        started = time.perf_counter()
        text = await adapter.fetch_config(device)
        fetch_ms = (time.perf_counter() - started) * 1000.0
        return ConfigResult(
            device_id=device.device_id,
            raw_text=text,
            cleaned_text=text,
            timestamp=self._now(),
            fetch_ms=fetch_ms,
        )

    async def aclose(self) -> None:
        """Close every fetcher that has something to close."""
        closers = [adapter.aclose() for adapter in set(self._adapters.values())]
        nms_close = getattr(self._nms, "aclose", None)
        if nms_close is not None:
            closers.append(nms_close())
        await asyncio.gather(*closers, return_exceptions=True)
