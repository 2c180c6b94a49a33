"""What each stage does with one message: decode, validate, call the use case, emit, confirmed.

:class:`StageHandlers` holds the logic of the stages, free of Kafka, so it can
be tested with a :class:`~driftaudit.streams.outbox.RecordingOutbox` and fakes
of the ports; :mod:`driftaudit.streams.pipeline` runs each on its topic.

Every handler returns only once everything it emitted is confirmed by the
broker (:meth:`Outbox.send` waits for the acknowledgement) and everything it
wrote is stored: the runner acknowledges the input then, never before. An
output the broker refuses as too large is cut to fit (a drift event loses
its diff lines, with a note) or replaced (a config becomes an ``error``
result); bad input, and any other failure, becomes a bounded
:class:`DeadLetter` (stage, reason, a prefix of the original bytes with their
size and sha256). Only a dead letter that cannot be sent at all lets an
exception out, and then the runner keeps the input unacknowledged and retries.
CPU-bound steps (redaction, normalize/mask/diff) run in the worker's
analysis processes (:class:`~driftaudit.streams.analysis_pool.AnalysisPool`,
one per core) or, without them, in worker threads, so one large config never
stalls the other devices' reads. The fetch stage analyzes what it fetched:
there is no separate analyze stage reading ``device-configs`` back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel

from driftaudit.audit.fleet import fetch_within
from driftaudit.audit.pipeline import resolve_audit, too_large
from driftaudit.domain.errors import DriftAuditError, InputError, InventoryError
from driftaudit.domain.models import (
    AuditRequest,
    AuditStatus,
    Device,
    DeviceConfig,
    DeviceFetchTask,
    DeviceStatus,
    DriftEvent,
    FetchOutcome,
)
from driftaudit.streams.analysis_pool import AnalysisPool, config_and_event, intended_cache_for
from driftaudit.streams.batching import KeyedBatcher
from driftaudit.streams.codec import decode, encode
from driftaudit.streams.completion import AuditProgress, AuditTracker
from driftaudit.streams.delivery import MessageTooLargeError, PermanentSendError
from driftaudit.streams.deps import StreamDeps
from driftaudit.streams.fitting import bounded_dead_letter, fit_drift_event, fit_status, halve
from driftaudit.streams.outbox import Outbox
from driftaudit.streams.recorder import HistoryRecorder
from driftaudit.streams.score import ScoreBatch, ScoreObservation
from driftaudit.streams.topics import TopicNames

__all__ = ["RawMessage", "StageHandlers"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: (key, value) of one consumed message, as raw bytes.
RawMessage = tuple[bytes | None, bytes | None]

#: the report stage's outputs of one key (tenant, audit) gathered into one message: at most this
#: many, waiting at most this long for more (each drift event is acked once its batch is confirmed)
REPORT_BATCH_ITEMS = 500
REPORT_LINGER_S = 0.01
#: the score table logs a tenant's whole window value per update: its batches wait longer
SCORE_BATCH_ITEMS = 2000
SCORE_LINGER_S = 0.5


def id_chunks(ids: list[str], budget: int) -> list[tuple[str, ...]]:
    """``ids`` in consecutive chunks of about ``budget`` bytes of JSON each (at least one chunk)."""
    chunks: list[tuple[str, ...]] = []
    current: list[str] = []
    size = 0
    for device_id in ids:
        cost = len(device_id.encode()) + 3  # quotes and a comma
        if current and size + cost > budget:
            chunks.append(tuple(current))
            current, size = [], 0
        current.append(device_id)
        size += cost
    chunks.append(tuple(current))
    return chunks


def _reason(exc: BaseException) -> str:
    """A dead-letter reason: our own errors say what went wrong, foreign ones only their type.

    Foreign exception messages may quote payloads or configs, so they stay out.
    """
    if isinstance(exc, DriftAuditError):
        return f"{type(exc).__name__}: {exc}"
    return f"internal error: {type(exc).__name__}"


class StageHandlers:
    """The stage logic of one worker.

    Args:
        deps: the injected adapters and settings.
        outbox: where emitted messages go (``send`` returns once confirmed).
        recorder: the buffered history writer.
        fetch_slots: the worker-wide bound on fetches in flight.
    """

    def __init__(
        self,
        deps: StreamDeps,
        outbox: Outbox,
        recorder: HistoryRecorder,
        fetch_slots: asyncio.Semaphore,
    ) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.names = TopicNames(deps.settings.topic_prefix)
        self.outbox = outbox
        self.recorder = recorder
        self.fetch_slots = fetch_slots
        self.tracker = AuditTracker(publish=self.publish_status, clock=deps.clock)
        #: child processes for the CPU-bound steps (None: threads of this process)
        self.pool: AnalysisPool | None = None
        self.intended_cache = intended_cache_for(deps.settings)  # the threads' own (the children keep theirs)
        self.scores: KeyedBatcher[ScoreObservation] = KeyedBatcher(
            self._send_scores, max_items=SCORE_BATCH_ITEMS, linger_s=SCORE_LINGER_S
        )
        self.reports: KeyedBatcher[tuple[str, DeviceStatus]] = KeyedBatcher(
            self._send_reports, max_items=REPORT_BATCH_ITEMS, linger_s=REPORT_LINGER_S
        )
        self.in_flight = 0
        self.max_in_flight = 0
        self.dead_letters = 0
        self.cut_events = 0

    # -- plumbing -------------------------------------------------------

    async def dead(
        self, stage: str, reason: str, topic: str, key: bytes | None, payload: bytes | None
    ) -> None:
        """Send a bounded copy of the original message to ``dead-letter`` with its stage and reason.

        Raises:
            PermanentSendError: not even a dead letter without payload fits the topic.
        """
        budget: int | None = self.settings.dead_letter_payload_bytes
        received_at = self.deps.clock()
        while True:
            letter = bounded_dead_letter(
                stage=stage,
                reason=reason,
                topic=topic,
                key=key,
                payload=payload,
                received_at=received_at,
                max_payload_bytes=budget or 0,
            )
            try:
                await self.outbox.send(self.names.dead_letter, key, encode(letter))
            except MessageTooLargeError:
                if not budget:
                    raise
                budget = halve(budget) or 0
                continue
            break
        self.dead_letters += 1
        logger.warning("dead letter from %s (%s): %s", stage, topic, reason[:500])

    async def guard(
        self,
        stage: str,
        topic: str,
        key: bytes | None,
        payload: bytes | None,
        handler: Callable[[bytes | None, bytes | None], Awaitable[None]],
    ) -> None:
        """Run ``handler`` on one message; any failure becomes a dead letter."""
        try:
            await handler(key, payload)
        except asyncio.CancelledError:
            raise
        except InputError as exc:
            await self.dead(stage, str(exc), topic, key, payload)
        except PermanentSendError as exc:
            logger.error("stage %s: an output was refused for good: %s", stage, exc)
            await self.dead(stage, f"output refused: {exc}", topic, key, payload)
        except Exception as exc:
            logger.exception("stage %s failed on a message of %s", stage, topic)
            await self.dead(stage, _reason(exc), topic, key, payload)

    def _decode(self, model: type[M], payload: bytes | None) -> M:
        return decode(model, payload, max_bytes=self.settings.max_message_bytes)

    # -- split ------------------------------------------------------------

    async def split(self, key: bytes | None, payload: bytes | None) -> None:
        """Audit request -> progress record, one fetch task per device, the audit run in history.

        The fetch tasks go out before the run is stored, so a history outage
        never holds an audit; the request is acknowledged only once both are done.
        """
        request = self._decode(AuditRequest, payload)
        try:
            run, devices = resolve_audit(request, self.deps.inventory)  # InputError: matches nothing
        except InventoryError as exc:
            raise InputError(f"selector cannot be resolved: {exc}") from exc
        logger.info("audit %s: %d devices to fetch", request.audit_id, len(devices))  # one line per audit
        stored = asyncio.ensure_future(self.recorder.record_audit_run(run))
        try:
            # confirmed before any fetch task exists, so every report follows it in its partition
            await self.open_audit(request, [d.device_id for d in devices])
            tasks = [
                self.outbox.send(
                    self.names.device_fetch,
                    device.device_id.encode(),
                    encode(
                        DeviceFetchTask(
                            audit_id=request.audit_id, device=device, requested_at=request.requested_at
                        )
                    ),
                )
                for device in devices
            ]
            await asyncio.gather(*tasks)
            await stored
        finally:
            if not stored.done():
                stored.cancel()

    async def open_audit(self, request: AuditRequest, device_ids: list[str]) -> None:
        """Send the audit's ``opened`` record, its device ids split over ``expected`` records when large.

        The ids go in chunks of a byte budget (a quarter of ``max_message_bytes``);
        a chunk the topic refuses halves the budget and every chunk is sent
        again (the tracker adds ids to a set: repeats change nothing).

        Raises:
            MessageTooLargeError: not even an ``opened`` record with a few ids fits the topic.
        """
        budget = max(256, self.settings.max_message_bytes // 4)
        key = request.audit_id.encode()
        deadline_at = self.deps.clock() + timedelta(seconds=self.settings.audit_deadline_s)
        while True:
            chunks = id_chunks(device_ids, budget)
            opened = AuditProgress(
                kind="opened",
                audit_id=request.audit_id,
                requested_at=request.requested_at,
                deadline_at=deadline_at,
                device_ids=chunks[0],
                expected_count=len(device_ids),
            )
            try:
                await self.outbox.send(self.names.audit_progress, key, encode(opened))
                for chunk in chunks[1:]:  # one after the other: their order in the partition is kept
                    more = AuditProgress(kind="expected", audit_id=request.audit_id, device_ids=chunk)
                    await self.outbox.send(self.names.audit_progress, key, encode(more))
            except MessageTooLargeError:
                if budget <= 64:
                    raise
                budget //= 2
                continue
            if len(chunks) > 1:
                logger.info("audit %s: expected devices sent in %d records", request.audit_id, len(chunks))
            return

    # -- fetch --------------------------------------------------------------

    async def fetch_outcome(self, device: Device) -> FetchOutcome:
        """Fetch one device within the total timeout (the one fetch path of ``audit.fleet``)."""
        return await fetch_within(
            device, self.deps.client, timeout_s=self.settings.total_timeout_s, now=self.deps.clock
        )

    async def fetch(self, key: bytes | None, payload: bytes | None) -> None:
        """Fetch task -> device config (secrets redacted) or failure, and its drift event.

        The config is analyzed where it was fetched (normalize, mask, diff in
        the analysis processes), and both messages go out together: a
        separate analyze stage reading ``device-configs`` back cost every
        device one more consume of its whole config, one more trip to a child
        process and one more in-flight task, for the same event. The task is
        acknowledged once both are confirmed.
        """
        task = self._decode(DeviceFetchTask, payload)
        async with self.fetch_slots:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                outcome = await self.fetch_outcome(task.device)
            finally:
                self.in_flight -= 1
        key = task.device.device_id.encode()

        def here() -> tuple[bytes, bytes]:
            return config_and_event(
                outcome,
                audit_id=task.audit_id,
                device=task.device,
                requested_at=task.requested_at,
                registry=self.deps.registry,
                intended=self.deps.intended,
                rules=self.deps.rules,
                max_message_bytes=self.settings.max_message_bytes,
                intended_cache=self.intended_cache,
            )

        if self.pool is not None:
            config, event = await self.pool.config_and_event(
                outcome, audit_id=task.audit_id, device=task.device, requested_at=task.requested_at, here=here
            )
        else:
            config, event = await asyncio.to_thread(here)
        sent = await asyncio.gather(
            self._send_config(key, config), self._send_event_bytes(key, event), return_exceptions=True
        )
        for result in sent:  # both waited for: nothing is acknowledged while a send is in doubt
            if isinstance(result, BaseException):
                raise result

    async def _send_config(self, key: bytes, value: bytes) -> None:
        try:
            await self.outbox.send(self.names.device_configs, key, value)
        except MessageTooLargeError:  # the topic's own limit is below max_message_bytes
            limit = self.settings.max_message_bytes
            config = DeviceConfig.model_validate_json(value)
            await self.outbox.send(
                self.names.device_configs, key, encode(too_large(config, len(value), limit))
            )

    async def _send_event_bytes(self, key: bytes, value: bytes) -> None:
        try:
            await self.outbox.send(self.names.drift_events, key, value)
        except MessageTooLargeError:
            await self.send_event(DriftEvent.model_validate_json(value))

    async def send_event(self, event: DriftEvent) -> None:
        """Send a drift event, cut to fit (never dropped) when it is too large for the topic."""
        budget: int | None = self.settings.max_message_bytes
        key = event.device_id.encode()
        while True:
            assert budget is not None
            fitted = fit_drift_event(event, budget)
            try:
                await self.outbox.send(self.names.drift_events, key, encode(fitted))
            except MessageTooLargeError:
                budget = halve(budget)
                if budget is None:
                    raise
                continue
            if fitted is not event:
                self.cut_events += 1
                logger.warning(
                    "drift event of %s in %s %s", event.device_id, event.audit_id, fitted.truncated
                )
            return

    # -- history sink, score routing, audit completion ------------------------------

    async def record(self, key: bytes | None, payload: bytes | None) -> None:
        """Store one drift event (returns once stored); an invalid one goes to dead-letter."""
        try:
            event = self._decode(DriftEvent, payload)
        except InputError as exc:
            await self.dead("record", str(exc), self.names.drift_events, key, payload)
            return
        await self.recorder.write_events([event])

    async def report(self, key: bytes | None, payload: bytes | None) -> None:
        """Drift event -> score observation keyed by tenant, and a progress record keyed by audit.

        Both go out batched with the other drift events of the same tenant
        (audit) handled within a few milliseconds (:class:`KeyedBatcher`);
        this returns once both messages carrying this event are confirmed.
        An invalid drift event is dead-lettered by the history sink, which
        reads the same topic; here it is only skipped.
        """
        try:
            event = self._decode(DriftEvent, payload)
        except InputError:
            return
        observation = ScoreObservation.of(event)
        scored = self.scores.put(observation.routing_key(), observation)
        reported = self.reports.put(event.audit_id.encode(), (event.device_id, event.status))
        try:
            await reported  # both are on their way: awaiting one after the other costs no task
            await scored
        finally:
            scored.cancel()  # a no-op once done; a failed or cancelled wait leaves no send in doubt
            reported.cancel()

    async def _send_scores(self, key: bytes, observations: list[ScoreObservation]) -> None:
        batch = ScoreBatch(tenant=observations[0].tenant, observations=tuple(observations))
        await self.outbox.send(self.names.score_input, key, encode(batch))

    async def _send_reports(self, key: bytes, reports: list[tuple[str, DeviceStatus]]) -> None:
        progress = AuditProgress(kind="reported", audit_id=key.decode(), reports=tuple(reports))
        await self.outbox.send(self.names.audit_progress, key, encode(progress))

    async def track(self, key: bytes | None, payload: bytes | None) -> None:
        """Progress record -> the audit tracker (an ``opened`` one returns when its audit closed)."""
        try:
            progress = self._decode(AuditProgress, payload)
        except InputError as exc:
            await self.dead("track", str(exc), self.names.audit_progress, key, payload)
            return
        await self.tracker.handle(progress)

    async def publish_status(self, status: AuditStatus) -> None:
        """Send an audit's status record, its missing list cut to fit when needed."""
        budget: int | None = self.settings.max_message_bytes
        while True:
            assert budget is not None
            fitted = fit_status(status, budget)
            try:
                await self.outbox.send(self.names.audit_status, status.audit_id.encode(), encode(fitted))
            except MessageTooLargeError:
                budget = halve(budget)
                if budget is None:
                    raise
                continue
            return
