"""One pipeline stage on its own consumer group: read, handle concurrently, commit what is done.

Why not Faust agents: under rebalances Faust 0.15 lost or stalled records on
fresh partitions (a committed offset of 0 read as "none", a gap check that
skips offsets, aiokafka's ``seek_to_committed`` ignoring 0: aio-libs/aiokafka#1003,
faust-streaming#606 and #312), and it acknowledged an event on faith, not
after its outputs were confirmed. Here every rule is explicit, on aiokafka's
public API:

* **Assignment**: :meth:`StageRunner._assign` (a ``ConsumerRebalanceListener``)
  seeks every assigned partition to its committed offset, 0 included, or to
  the log start when the group has none yet. Nothing depends on where the
  fetcher happened to be.
* **Acknowledgement**: a message is done when its handler returned, i.e.
  after every message it sent was confirmed by the broker and every write it
  caused was stored. :class:`~driftaudit.streams.offsets.PartitionProgress`
  commits only below the lowest offset still in flight, so nothing is ever
  committed past a message whose outputs did not go out.
* **Failure**: a handler that raises (it turns bad input into dead letters
  itself, so this means even its dead letter could not be sent) is retried
  with backoff; its offset stays uncommitted meanwhile.
* **Revoke**: in-flight messages of a revoked partition get ``revoke_grace_s``
  (below the rebalance timeout) to finish, then are cancelled uncommitted; the
  new owner reads them again (at-least-once; the sinks are idempotent).
* **Bound**: never more than ``max_in_flight`` messages in flight per stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from driftaudit.streams.offsets import PartitionProgress

__all__ = ["Handler", "StageRunner", "StageSpec"]

logger = logging.getLogger(__name__)

#: handles one message (key, value); returns once its outputs are confirmed
Handler = Callable[[bytes | None, bytes | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StageSpec:
    """What one stage reads and how it runs.

    Attributes:
        name: the stage name (logs, the consumer group suffix).
        topic: the source topic.
        handler: the message handler.
        max_in_flight: the most messages handled at once.
        revoke_grace_s: how long a revoked partition's messages may take to finish.
    """

    name: str
    topic: str
    handler: Handler
    max_in_flight: int
    revoke_grace_s: float = 5.0


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: StageRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runner._revoke(revoked)  # noqa: SLF001 - our own runner

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._runner._assign(assigned)  # noqa: SLF001


class StageRunner:
    """Runs one :class:`StageSpec` in a consumer group.

    Args:
        spec: the stage.
        bootstrap: ``host:port`` of the broker.
        group_id: the stage's consumer group.
        session_timeout_s: the group session timeout.
        rebalance_timeout_s: how long the group waits for members to rejoin.
        max_fetch_bytes: the most bytes one fetch returns (at least one message's worth).
        fetch_min_bytes: a fetch returns once this many bytes are there...
        fetch_max_wait_ms: ...or after this long.
        commit_interval_s: how often done offsets are committed.
    """

    def __init__(
        self,
        spec: StageSpec,
        *,
        bootstrap: str,
        group_id: str,
        session_timeout_s: float,
        rebalance_timeout_s: float,
        max_fetch_bytes: int,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 100,
        commit_interval_s: float = 1.0,
    ) -> None:
        self.spec = spec
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._session_ms = int(session_timeout_s * 1000)
        self._rebalance_ms = int(rebalance_timeout_s * 1000)
        self._grace_s = min(spec.revoke_grace_s, rebalance_timeout_s / 2)
        self._max_fetch_bytes = max_fetch_bytes
        self._fetch_min_bytes = fetch_min_bytes
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._commit_interval_s = commit_interval_s
        self._consumer: AIOKafkaConsumer | None = None
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._room = asyncio.Event()
        self._assigned = asyncio.Event()
        self.in_flight = 0
        self.handled = 0
        self.failures = 0
        self.assignments = 0

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Join the group (retrying while the broker is unreachable) and start reading."""
        delay = 0.2
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self._session_ms,
                heartbeat_interval_ms=max(500, min(3000, self._session_ms // 4)),
                rebalance_timeout_ms=self._rebalance_ms,
                max_poll_interval_ms=max(self._rebalance_ms, 60000),
                fetch_max_bytes=self._max_fetch_bytes,
                max_partition_fetch_bytes=self._max_fetch_bytes,
                fetch_min_bytes=self._fetch_min_bytes,
                fetch_max_wait_ms=self._fetch_max_wait_ms,
            )
            try:
                await consumer.start()
            except KafkaError as exc:
                await consumer.stop()
                logger.warning("stage %s cannot reach the broker (%s), retrying", self.spec.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            break
        consumer.subscribe(topics=[self.spec.topic], listener=_Listener(self))
        self._consumer = consumer
        self._room.set()
        self._loops = [
            asyncio.create_task(self._read(), name=f"driftaudit.{self.spec.name}.read"),
            asyncio.create_task(self._commit_every(), name=f"driftaudit.{self.spec.name}.commit"),
        ]

    async def wait_assigned(self, timeout_s: float) -> bool:
        """Wait for the first assignment (possibly empty); False when it did not come in time."""
        try:
            await asyncio.wait_for(self._assigned.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop reading, let in-flight messages finish (within the grace), commit, leave the group."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops = []
        if self._consumer is None:
            return
        await self._finish(set(self._progress))
        with contextlib.suppress(KafkaError):
            await self._commit()
        consumer, self._consumer = self._consumer, None
        self._progress.clear()
        await consumer.stop()

    # -- rebalance ----------------------------------------------------------------

    async def _assign(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        self.assignments += 1
        self._assigned.set()
        for tp in sorted(assigned):
            committed = await consumer.committed(tp)
            if committed is None:
                start = (await consumer.beginning_offsets([tp]))[tp]
            else:
                start = committed
            consumer.seek(tp, start)
            self._progress[tp] = PartitionProgress(start)
            self._tasks.setdefault(tp, set())
            logger.info(
                "stage %s: assigned %s:%d at %s offset %d",
                self.spec.name,
                tp.topic,
                tp.partition,
                "log start" if committed is None else "committed",
                start,
            )

    async def _revoke(self, revoked: set[TopicPartition]) -> None:
        await self._finish(revoked)
        try:
            await self._commit(revoked)
        except KafkaError as exc:
            logger.info("stage %s: commit on revoke failed (%s)", self.spec.name, type(exc).__name__)
        for tp in revoked:
            self._progress.pop(tp, None)

    async def _finish(self, partitions: set[TopicPartition]) -> None:
        """Give in-flight messages of ``partitions`` the grace, then cancel what is left (uncommitted)."""
        tasks = {task for tp in partitions for task in self._tasks.get(tp, ())}
        if tasks and self._grace_s > 0:
            await asyncio.wait(tasks, timeout=self._grace_s)
        left = [task for task in tasks if not task.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=5.0)
            logger.info("stage %s: %d message(s) left uncommitted on revoke", self.spec.name, len(left))
        for tp in partitions:
            self._tasks.pop(tp, None)

    # -- reading and handling -----------------------------------------------------

    async def _read(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while True:
            await self._room.wait()
            free = self.spec.max_in_flight - self.in_flight
            try:
                batch = await consumer.getmany(timeout_ms=200, max_records=max(1, free))
            except KafkaError as exc:
                logger.warning("stage %s: fetch failed (%s)", self.spec.name, type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for tp, records in batch.items():
                progress = self._progress.get(tp)
                if progress is None:  # revoked after the fetch
                    continue
                for record in records:
                    if not progress.accept(record.offset):
                        continue
                    self.in_flight += 1
                    if self.in_flight >= self.spec.max_in_flight:
                        self._room.clear()
                    task = asyncio.create_task(
                        self._handle(progress, record.offset, record.key, record.value)
                    )
                    tasks = self._tasks.setdefault(tp, set())
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

    async def _handle(
        self, progress: PartitionProgress, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        delay = 0.2
        try:
            while True:
                try:
                    await self.spec.handler(key, value)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.failures += 1
                    logger.exception(
                        "stage %s: a message could not be handled, retrying in %.1fs (offset %d)",
                        self.spec.name,
                        delay,
                        offset,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
            progress.done(offset)
            self.handled += 1
        finally:
            self.in_flight -= 1
            if self.in_flight < self.spec.max_in_flight:
                self._room.set()

    # -- commits ------------------------------------------------------------------

    async def _commit(self, partitions: set[TopicPartition] | None = None) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        moved: list[tuple[TopicPartition, PartitionProgress, int]] = []
        for tp, progress in self._progress.items():
            if partitions is not None and tp not in partitions:
                continue
            position = progress.to_commit()
            if position is not None:
                moved.append((tp, progress, position))
        if not moved:
            return
        await consumer.commit({tp: position for tp, _, position in moved})
        for _, progress, position in moved:
            progress.committed(position)

    async def _commit_every(self) -> None:
        while True:
            await asyncio.sleep(self._commit_interval_s)
            try:
                await self._commit()
            except KafkaError as exc:  # rebalancing or broker away: the next tick tries again
                logger.info("stage %s: commit deferred (%s)", self.spec.name, type(exc).__name__)
