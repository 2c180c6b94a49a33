"""The stall guard re-reads only idle, lagging, unchanged agent partitions.

A hand-written fake stands in for Faust's consumer: the state it models
(assignment, end offsets, committed and read offsets, events in flight) is
what the guard reads, and the rebalance gap it guards against cannot be
produced on demand with a real broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from driftaudit.streams.stall_guard import StallGuard


class TP(NamedTuple):
    topic: str
    partition: int


@dataclass
class FakeConsumer:
    ends: dict[TP, int]
    committed: dict[TP, int]
    read: dict[TP, int]
    unacked: set[Any] = field(default_factory=set)
    paused: set[TP] = field(default_factory=set)
    seeks: list[tuple[TP, int]] = field(default_factory=list)

    @property
    def _unacked_messages(self) -> set[Any]:
        return self.unacked

    @property
    def _paused_partitions(self) -> set[TP]:
        return self.paused

    @property
    def _committed_offset(self) -> dict[TP, int]:
        return self.committed

    @property
    def _read_offset(self) -> dict[TP, int]:
        return self.read

    def assignment(self) -> set[TP]:
        return set(self.ends)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.read[tp] = offset


class FlowControl:
    active = True

    def is_active(self) -> bool:
        return self.active


@dataclass
class FakeApp:
    consumer: FakeConsumer
    rebalancing: bool = False
    flow_control: FlowControl = field(default_factory=FlowControl)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


FETCH = TP("p.device-fetch", 0)
OTHER = TP("p.device-fetch", 1)
CHANGELOG = TP("p.app-score-changelog", 0)


def _guard(consumer: FakeConsumer, clock: Clock) -> tuple[StallGuard, FakeApp]:
    app = FakeApp(consumer)
    guard = StallGuard(app, ["p.device-fetch"], stall_s=6.0, clock=clock)  # type: ignore[arg-type]
    return guard, app


async def test_an_idle_lagging_partition_is_reread_after_stall_s() -> None:
    consumer = FakeConsumer(
        ends={FETCH: 10, OTHER: 5, CHANGELOG: 9},
        committed={FETCH: 7, OTHER: 5, CHANGELOG: 0},
        read={FETCH: 9, OTHER: 4, CHANGELOG: 0},
    )
    clock = Clock()
    guard, _ = _guard(consumer, clock)
    assert await guard.check() == 0  # first sight starts the clock
    clock.now = 5.9
    assert await guard.check() == 0
    clock.now = 6.1
    assert await guard.check() == 1
    assert consumer.seeks == [(FETCH, 7)]  # not OTHER (no lag), not the changelog (not a source)
    assert guard.reseeks == 1


async def test_progress_or_work_in_flight_resets_the_clock() -> None:
    consumer = FakeConsumer(ends={FETCH: 10}, committed={FETCH: 7}, read={FETCH: 8})
    clock = Clock()
    guard, app = _guard(consumer, clock)
    await guard.check()
    clock.now = 4.0
    consumer.read[FETCH] = 9  # the stream is still reading
    await guard.check()
    clock.now = 8.0
    assert await guard.check() == 0  # only 4 s unchanged
    consumer.unacked.add("an event in flight")
    clock.now = 20.0
    assert await guard.check() == 0
    consumer.unacked.clear()
    app.rebalancing = True
    clock.now = 40.0
    assert await guard.check() == 0
    app.rebalancing = False
    await guard.check()
    clock.now = 47.0
    assert await guard.check() == 1
    assert consumer.seeks == [(FETCH, 7)]


async def test_paused_or_caught_up_partitions_are_left_alone() -> None:
    consumer = FakeConsumer(
        ends={FETCH: 10, OTHER: 3}, committed={FETCH: 7, OTHER: 3}, read={FETCH: 9, OTHER: 2}
    )
    consumer.paused.add(FETCH)
    clock = Clock()
    guard, _ = _guard(consumer, clock)
    for clock.now in (0.0, 10.0, 20.0):
        assert await guard.check() == 0
    assert consumer.seeks == []
