"""The pre-flight check: "is this device compliant right now?", within a hard bound.

It runs the very comparison of the audit pipeline (``analyze_outcomes``:
``to_device_config`` then ``analyze_config``, which call ``steps.redact_outcome`` and
``steps.analyze_outcome``) on only the targeted devices, so a pre-flight
answer and an audit answer cannot disagree.

The bound is a deadline, not a per-step timeout: every fetch is awaited until
the deadline at most, and a device that has not answered by then is reported
``unreachable`` with reason ``timeout``; it never holds the call past the
bound, even when a fetcher is slow to honour its cancellation. A small share
of the budget is kept back for the analysis.

Connection reuse is the caller's: the serving process (``driftaudit api``)
keeps one long-lived config client whose SSH pool and keep-alive HTTP clients
stay warm between checks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from driftaudit.audit.fleet import utc_now
from driftaudit.audit.pipeline import fetch_and_analyze
from driftaudit.domain.models import DeviceStatus, DriftEvent

if TYPE_CHECKING:
    from driftaudit.domain.masking import MaskingRegistry
    from driftaudit.domain.ports import ComplianceRulesSource, IConfigClient, IntendedConfigSource, Inventory

__all__ = ["PreflightReport", "preflight_check"]

#: Share of the bound kept for redaction and diff after the last fetch.
_ANALYSIS_RESERVE = 0.05
_ANALYSIS_RESERVE_MAX_S = 1.0


class PreflightReport(BaseModel):
    """Per-device results of one pre-flight check and how long it took."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_id: str
    timeout_s: float
    elapsed_ms: float
    results: tuple[DriftEvent, ...]

    @property
    def compliant(self) -> bool:
        """Every device fetched and compliant."""
        return all(event.status is DeviceStatus.COMPLIANT for event in self.results)

    @property
    def exit_code(self) -> int:
        """0 all compliant, 1 any drifted, 2 any unreachable or errored (the worst wins)."""
        statuses = {event.status for event in self.results}
        if statuses & {DeviceStatus.UNREACHABLE, DeviceStatus.ERROR}:
            return 2
        return 1 if DeviceStatus.DRIFTED in statuses else 0


async def preflight_check(
    device_ids: Sequence[str],
    *,
    inventory: Inventory,
    intended: IntendedConfigSource,
    client: IConfigClient,
    registry: MaskingRegistry,
    timeout_s: float = 30.0,
    batch_size: int = 50,
    now: Callable[[], datetime] = utc_now,
    rules: ComplianceRulesSource | None = None,
) -> PreflightReport:
    """Fetch and compare the given devices, answering within ``timeout_s``.

    Args:
        device_ids: the devices to check (known to the inventory).
        inventory: resolves ids to devices.
        intended: the intended configs.
        client: a long-lived config client (its pools make repeated checks cheap).
        registry: the masking registry of the audit pipeline.
        timeout_s: the bound for the whole check.
        batch_size: the most fetches in flight.
        now: the wall clock.
        rules: the compliance features (per-feature results and remediation in each event).

    Returns:
        One ``DriftEvent`` per device, in the order asked.

    Raises:
        UnknownDeviceError: an id the inventory does not know (nothing is fetched).
        ValueError: no device ids, or a non-positive timeout.
    """
    if not device_ids:
        raise ValueError("a pre-flight check needs at least one device id")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    devices = {device_id: inventory.get(device_id) for device_id in device_ids}
    reserve = min(timeout_s * _ANALYSIS_RESERVE, _ANALYSIS_RESERVE_MAX_S)
    deadline = loop.time() + timeout_s - reserve
    check_id = f"preflight-{uuid.uuid4().hex[:16]}"
    requested_at = now()
    # the analysis runs off the event loop, so a serving API keeps answering meanwhile
    results = await fetch_and_analyze(
        device_ids,
        devices,
        client,
        audit_id=check_id,
        requested_at=requested_at,
        intended=intended,
        registry=registry,
        rules=rules,
        batch_size=batch_size,
        now=now,
        deadline=deadline,
    )
    return PreflightReport(
        check_id=check_id,
        timeout_s=timeout_s,
        elapsed_ms=(time.perf_counter() - started) * 1000.0,
        results=tuple(results),
    )
