"""Audit completion: one ``audit-status`` record per audit, once every device reported or its deadline passed.

Split sends an ``opened`` :class:`AuditProgress` (the expected devices and the
deadline) to the internal ``audit-progress`` topic before any fetch task; the
device ids of a large audit (100k ids are megabytes, over a topic's 1 MiB)
are split over the ``opened`` record (with the total count) and ``expected``
records that follow it in the same partition, so the tracker knows every
expected device before the first report and never closes an audit early; the
report stage sends a ``reported`` one per drift event. Both are keyed by
audit_id, so one partition, and one worker, sees everything of an audit in
order. :class:`AuditTracker` folds them into the open audits and publishes an
:class:`~driftaudit.domain.models.AuditStatus` when the last expected device
reports, or at the deadline with every missing device named.

The tracker keeps no changelog: the handler of an ``opened`` record returns
only once its audit's status is confirmed on the broker, so the partition's
commit stays below the record of every open audit. A worker that takes the
partition over (rebalance, crash) re-reads from there and rebuilds the same
state from the same records. A status may therefore be published twice
(at-least-once), never not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from driftaudit.domain.models import SCHEMA_VERSION, AuditStatus, DeviceStatus
from driftaudit.domain.scoring import FleetHealthScorer

__all__ = ["AuditProgress", "AuditTracker"]

logger = logging.getLogger(__name__)

#: how many closed audit ids are remembered, so a repeated ``opened`` does not reopen one
_CLOSED_MEMORY = 10_000


class AuditProgress(BaseModel):
    """Internal wire model on ``audit-progress`` (key: audit_id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["opened", "reported", "expected"]
    audit_id: str
    requested_at: datetime | None = None
    deadline_at: datetime | None = None
    device_ids: tuple[str, ...] = ()
    device_id: str | None = None
    status: DeviceStatus | None = None
    #: a ``reported`` record of several devices at once: (device_id, status) pairs
    reports: tuple[tuple[str, DeviceStatus], ...] = ()
    #: on ``opened``: how many devices the audit expects in all, when ``device_ids`` holds only the
    #: first of them and ``expected`` records carry the rest (0: ``device_ids`` is the whole list)
    expected_count: int = 0

    def reported(self) -> list[tuple[str, DeviceStatus]]:
        """Every (device_id, status) a ``reported`` record carries."""
        pairs = list(self.reports)
        if self.device_id is not None and self.status is not None:
            pairs.append((self.device_id, self.status))
        return pairs


@dataclass(slots=True)
class _OpenAudit:
    audit_id: str
    requested_at: datetime
    deadline_at: datetime
    expected: set[str]
    expected_count: int
    closed: asyncio.Future[None]
    statuses: dict[str, DeviceStatus] = field(default_factory=dict)
    closing: bool = False


class AuditTracker:
    """Folds progress records into open audits and publishes their status.

    Args:
        publish: sends one status and returns once the broker confirmed it.
        clock: the wall clock (deadlines are wall-clock times set by split).
    """

    def __init__(
        self, *, publish: Callable[[AuditStatus], Awaitable[None]], clock: Callable[[], datetime]
    ) -> None:
        self._publish = publish
        self._clock = clock
        self._open: dict[str, _OpenAudit] = {}
        self._closed: deque[str] = deque(maxlen=_CLOSED_MEMORY)
        self._closed_set: set[str] = set()
        self.published = 0

    @property
    def open_audits(self) -> int:
        """Audits waiting for devices."""
        return len(self._open)

    async def handle(self, progress: AuditProgress) -> None:
        """Apply one record; an ``opened`` one returns when its audit's status is published."""
        if progress.kind == "opened":
            await self._opened(progress)
            return
        audit = self._open.get(progress.audit_id)
        if audit is None:
            return  # a repeat after the close, or an audit another worker tracks
        if progress.kind == "expected":
            audit.expected.update(progress.device_ids)  # a repeat (a resend in smaller chunks) adds nothing
            if self._complete(audit):
                await self._close(audit, complete=True)
            return
        reported = progress.reported()
        if not reported:
            return
        for device_id, status in reported:
            if device_id in audit.expected:
                audit.statuses[device_id] = status
        if self._complete(audit):
            await self._close(audit, complete=True)

    async def _opened(self, progress: AuditProgress) -> None:
        if progress.audit_id in self._closed_set or progress.audit_id in self._open:
            return  # a repeated request: the first record holds the audit
        if progress.requested_at is None or progress.deadline_at is None:
            return
        audit = _OpenAudit(
            audit_id=progress.audit_id,
            requested_at=progress.requested_at,
            deadline_at=progress.deadline_at,
            expected=set(progress.device_ids),
            expected_count=progress.expected_count or len(progress.device_ids),
            closed=asyncio.get_running_loop().create_future(),
        )
        self._open[audit.audit_id] = audit
        if self._complete(audit):
            await self._close(audit, complete=True)
        try:
            await asyncio.shield(audit.closed)
        except asyncio.CancelledError:
            # revoked (or stopping): the next owner rebuilds this audit from the same records
            self._open.pop(audit.audit_id, None)
            raise

    @staticmethod
    def _complete(audit: _OpenAudit) -> bool:
        """Every expected device is known (all chunks of a large audit are in) and has reported."""
        return len(audit.expected) >= audit.expected_count and len(audit.statuses) >= len(audit.expected)

    async def check_deadlines(self) -> int:
        """Close every audit whose deadline passed; returns how many."""
        now = self._clock()
        due = [a for a in self._open.values() if not a.closing and a.deadline_at <= now]
        for audit in due:
            await self._close(audit, complete=False)
        return len(due)

    async def run_deadlines(self, interval_s: float = 0.5) -> None:
        """Check deadlines forever (a background task of the worker)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check_deadlines()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("audit deadline check failed")

    def status_of(self, audit: _OpenAudit, *, complete: bool) -> AuditStatus:
        """The status record of ``audit`` as it stands."""
        counts = {status: 0 for status in DeviceStatus}
        for status in audit.statuses.values():
            counts[status] += 1
        score = FleetHealthScorer().score(audit.statuses).score if audit.statuses else None
        return AuditStatus(
            audit_id=audit.audit_id,
            requested_at=audit.requested_at,
            complete=complete,
            expected=max(len(audit.expected), audit.expected_count),
            reported=len(audit.statuses),
            missing=tuple(sorted(audit.expected - audit.statuses.keys())),
            compliant=counts[DeviceStatus.COMPLIANT],
            drifted=counts[DeviceStatus.DRIFTED],
            unreachable=counts[DeviceStatus.UNREACHABLE],
            error=counts[DeviceStatus.ERROR],
            score=score,
            deadline_at=audit.deadline_at,
            closed_at=self._clock(),
        )

    async def _close(self, audit: _OpenAudit, *, complete: bool) -> None:
        if audit.closing:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(audit.closed)
            return
        audit.closing = True
        status = self.status_of(audit, complete=complete)
        try:
            await self._publish(status)
        except BaseException:
            audit.closing = False
            raise
        self.published += 1
        if status.missing:
            logger.warning(
                "audit %s closed at its deadline: %d of %d devices missing",
                audit.audit_id,
                len(status.missing),
                status.expected,
            )
        self._open.pop(audit.audit_id, None)
        self._closed.append(audit.audit_id)
        self._closed_set = set(self._closed)
        if not audit.closed.done():
            audit.closed.set_result(None)
