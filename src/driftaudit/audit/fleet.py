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

from driftaudit.domain.errors import ConfigurationError, DriftAuditError, FetchError
from driftaudit.domain.models import (
    ConfigResult,
    Device,
    DeviceStatus,
    FetchFailure,
    FetchOutcome,
    Transport,
)
from driftaudit.domain.ports import BaseDeviceAdapter, IConfigClient

__all__ = ["RoutingConfigClient", "fetch_fleet_configs", "outcome_from_error", "utc_now"]

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


async def fetch_fleet_configs(
    device_ids: Sequence[str],
    client: IConfigClient,
    *,
    resolve: Callable[[str], Device],
    batch_size: int,
    now: Callable[[], datetime] = utc_now,
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

    Returns:
        One outcome per id, in input order.

    Raises:
        ValueError: ``batch_size`` below 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    gate = asyncio.Semaphore(batch_size)

    async def one(device_id: str) -> FetchOutcome:
        async with gate:
            started = time.perf_counter()
            try:
                return await client.fetch_device_config(resolve(device_id))
            except Exception as exc:  # every failure becomes this device's outcome, never the batch's
                fetch_ms = (time.perf_counter() - started) * 1000.0
                failure = outcome_from_error(device_id, exc, now=now, fetch_ms=fetch_ms)
                logger.info("device %s: fetch failed (%s: %s)", device_id, failure.error_type, failure.reason)
                return failure

    return list(await asyncio.gather(*(one(device_id) for device_id in device_ids)))


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
