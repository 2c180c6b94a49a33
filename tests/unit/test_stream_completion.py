"""Audit completion and commit positions, without a broker (the real-broker proofs are in integration)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from driftaudit.domain.models import AuditStatus, DeviceStatus
from driftaudit.streams.completion import AuditProgress, AuditTracker
from driftaudit.streams.offsets import PartitionProgress

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_the_commit_position_stays_below_the_lowest_message_in_flight():
    progress = PartitionProgress(0)
    for offset in range(4):
        assert progress.accept(offset)
    assert not progress.accept(2)  # a repeat of a stale fetch
    progress.done(1)
    progress.done(3)
    assert progress.to_commit() is None  # offset 0 still in flight: nothing may be committed
    progress.done(0)
    assert progress.to_commit() == 2
    progress.committed(2)
    progress.done(2)
    assert progress.to_commit() == 4


def test_a_partition_assigned_at_committed_zero_starts_at_zero():
    progress = PartitionProgress(0)
    assert progress.accept(0)
    progress.done(0)
    assert progress.to_commit() == 1


def _opened(ids: tuple[str, ...], deadline: datetime = NOW + timedelta(seconds=60)) -> AuditProgress:
    return AuditProgress(kind="opened", audit_id="a1", requested_at=NOW, deadline_at=deadline, device_ids=ids)


def _reported(device: str, status: DeviceStatus) -> AuditProgress:
    return AuditProgress(kind="reported", audit_id="a1", device_id=device, status=status)


async def test_the_status_is_published_when_the_last_device_reports():
    published: list[AuditStatus] = []

    async def publish(status: AuditStatus) -> None:
        published.append(status)

    tracker = AuditTracker(publish=publish, clock=lambda: NOW)
    opened = asyncio.create_task(tracker.handle(_opened(("d1", "d2", "d3"))))
    await asyncio.sleep(0)
    await tracker.handle(_reported("d1", DeviceStatus.COMPLIANT))
    await tracker.handle(_reported("d1", DeviceStatus.COMPLIANT))  # a repeat counts once
    await tracker.handle(_reported("d2", DeviceStatus.DRIFTED))
    assert not opened.done()
    assert not published
    await tracker.handle(_reported("d3", DeviceStatus.UNREACHABLE))
    await asyncio.wait_for(opened, 1)
    (status,) = published
    assert status.complete
    assert (status.expected, status.reported, status.missing) == (3, 3, ())
    assert (status.compliant, status.drifted, status.unreachable, status.error) == (1, 1, 1, 0)
    assert status.score == 50.0


async def test_the_deadline_publishes_an_incomplete_status_naming_the_missing_devices():
    published: list[AuditStatus] = []
    clock = [NOW]

    async def publish(status: AuditStatus) -> None:
        published.append(status)

    tracker = AuditTracker(publish=publish, clock=lambda: clock[0])
    opened = asyncio.create_task(tracker.handle(_opened(("d1", "d2"), deadline=NOW + timedelta(seconds=5))))
    await asyncio.sleep(0)
    await tracker.handle(_reported("d1", DeviceStatus.COMPLIANT))
    assert await tracker.check_deadlines() == 0
    clock[0] = NOW + timedelta(seconds=6)
    assert await tracker.check_deadlines() == 1
    await asyncio.wait_for(opened, 1)
    (status,) = published
    assert not status.complete
    assert status.missing == ("d2",)
    await tracker.handle(_opened(("d1", "d2")))  # a repeated request does not reopen it
    assert len(published) == 1


async def test_a_revoked_audit_is_forgotten_so_the_next_owner_rebuilds_it():
    async def publish(status: AuditStatus) -> None:
        raise AssertionError("nothing to publish")

    tracker = AuditTracker(publish=publish, clock=lambda: NOW)
    opened = asyncio.create_task(tracker.handle(_opened(("d1",))))
    await asyncio.sleep(0)
    assert tracker.open_audits == 1
    opened.cancel()
    await asyncio.gather(opened, return_exceptions=True)
    assert tracker.open_audits == 0


async def test_a_batched_reported_record_counts_each_of_its_devices():
    published: list[AuditStatus] = []

    async def publish(status: AuditStatus) -> None:
        published.append(status)

    tracker = AuditTracker(publish=publish, clock=lambda: NOW)
    opened = asyncio.create_task(tracker.handle(_opened(("d1", "d2", "d3"))))
    await asyncio.sleep(0)
    batch = (("d1", DeviceStatus.COMPLIANT), ("d2", DeviceStatus.DRIFTED), ("x9", DeviceStatus.COMPLIANT))
    await tracker.handle(AuditProgress(kind="reported", audit_id="a1", reports=batch))
    assert not opened.done()  # x9 is not of this audit: d3 is still missing
    wire = AuditProgress(kind="reported", audit_id="a1", reports=(("d3", DeviceStatus.UNREACHABLE),))
    await tracker.handle(AuditProgress.model_validate_json(wire.model_dump_json()))
    await asyncio.wait_for(opened, 1)
    (status,) = published
    assert (status.complete, status.reported, status.compliant, status.drifted, status.unreachable) == (
        True,
        3,
        1,
        1,
        1,
    )


async def test_an_audit_opened_in_chunks_closes_only_once_every_chunk_and_device_is_in():
    published: list[AuditStatus] = []

    async def publish(status: AuditStatus) -> None:
        published.append(status)

    tracker = AuditTracker(publish=publish, clock=lambda: NOW)
    first = AuditProgress(
        kind="opened",
        audit_id="a1",
        requested_at=NOW,
        deadline_at=NOW + timedelta(seconds=60),
        device_ids=("d1", "d2"),
        expected_count=4,
    )
    opened = asyncio.create_task(tracker.handle(first))
    await asyncio.sleep(0)
    await tracker.handle(_reported("d1", DeviceStatus.COMPLIANT))
    await tracker.handle(_reported("d2", DeviceStatus.COMPLIANT))
    assert not opened.done()  # both known devices reported, but two are not known yet
    await tracker.handle(AuditProgress(kind="expected", audit_id="a1", device_ids=("d3", "d4")))
    await tracker.handle(AuditProgress(kind="expected", audit_id="a1", device_ids=("d3",)))  # a resend
    await tracker.handle(_reported("d3", DeviceStatus.DRIFTED))
    assert not opened.done()
    await tracker.handle(_reported("d4", DeviceStatus.COMPLIANT))
    await asyncio.wait_for(opened, 1)
    (status,) = published
    assert (status.complete, status.expected, status.reported, status.missing) == (True, 4, 4, ())


async def test_a_deadline_before_every_chunk_arrived_counts_the_whole_audit():
    published: list[AuditStatus] = []

    async def publish(status: AuditStatus) -> None:
        published.append(status)

    now = [NOW]
    tracker = AuditTracker(publish=publish, clock=lambda: now[0])
    first = AuditProgress(
        kind="opened",
        audit_id="a1",
        requested_at=NOW,
        deadline_at=NOW + timedelta(seconds=1),
        device_ids=("d1",),
        expected_count=3,
    )
    opened = asyncio.create_task(tracker.handle(first))
    await asyncio.sleep(0)
    await tracker.handle(_reported("d1", DeviceStatus.COMPLIANT))
    now[0] = NOW + timedelta(seconds=2)
    assert await tracker.check_deadlines() == 1
    await asyncio.wait_for(opened, 1)
    (status,) = published
    assert (status.complete, status.expected, status.reported) == (False, 3, 1)
