"""What each agent does with one message: decode, validate, call the use case, emit.

:class:`StageHandlers` holds the logic of the five stages, free of Faust, so it
can be tested with a :class:`~driftaudit.streams.outbox.RecordingOutbox` and
fakes of the ports. :mod:`driftaudit.streams.agents` wires it to topics.

Every handler either emits its output or a :class:`DeadLetter` (stage, reason,
original bytes). :meth:`StageHandlers.guard` is the last line: any exception a
handler lets out becomes a dead letter too, because an exception escaping a
Faust agent kills its actor and quietly stalls the partition's commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from driftaudit.audit.fleet import outcome_from_error
from driftaudit.audit.pipeline import analyze_config, resolve_audit, to_device_config
from driftaudit.domain.errors import DriftAuditError, FetchTimeoutError, InputError, InventoryError
from driftaudit.domain.models import (
    AuditRequest,
    DeadLetter,
    Device,
    DeviceConfig,
    DeviceFetchTask,
    DeviceStatus,
    DriftEvent,
    FetchFailure,
    FetchOutcome,
)
from driftaudit.streams.codec import dead_letter, decode, encode
from driftaudit.streams.deps import StreamDeps
from driftaudit.streams.outbox import Outbox
from driftaudit.streams.recorder import HistoryRecorder
from driftaudit.streams.score import ScoreObservation
from driftaudit.streams.topics import TopicNames

__all__ = ["RawMessage", "StageHandlers"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: how long a fetch cancelled at its deadline may take to unwind before the result goes out anyway
_CANCEL_GRACE_S = 1.0

#: (key, value) of one consumed message, as raw bytes.
RawMessage = tuple[bytes | None, bytes | None]


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
        outbox: where emitted messages go.
        recorder: the history writer, behind one thread.
        fetch_slots: the worker-wide bound on fetches in flight (shared by every
            actor of the fetch agent, whatever its concurrency).
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
        self.in_flight = 0
        self.max_in_flight = 0
        self.dead_letters = 0

    # -- plumbing -------------------------------------------------------

    async def dead(
        self, stage: str, reason: str, topic: str, key: bytes | None, payload: bytes | None
    ) -> None:
        """Send the original message to ``dead-letter`` with its stage and reason."""
        self.dead_letters += 1
        letter: DeadLetter = dead_letter(
            stage=stage,
            reason=reason,
            topic=topic,
            key=key,
            payload=payload,
            received_at=self.deps.clock(),
        )
        logger.warning("dead letter from %s (%s): %s", stage, topic, reason)
        await self.outbox.send(self.names.dead_letter, key, encode(letter))

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
        except Exception as exc:
            logger.exception("stage %s failed on a message of %s", stage, topic)
            await self.dead(stage, _reason(exc), topic, key, payload)

    def _decode(self, model: type[M], payload: bytes | None) -> M:
        return decode(model, payload, max_bytes=self.settings.max_message_bytes)

    # -- split ------------------------------------------------------------

    async def split(self, key: bytes | None, payload: bytes | None) -> None:
        """Audit request -> audit run (history) + one fetch task per device."""
        request = self._decode(AuditRequest, payload)
        try:
            run, devices = resolve_audit(request, self.deps.inventory)  # InputError: matches nothing
        except InventoryError as exc:
            raise InputError(f"selector cannot be resolved: {exc}") from exc
        logger.info("audit %s: %d devices to fetch", request.audit_id, len(devices))  # one line per audit
        await self.recorder.record_audit_run(run)
        for device in devices:
            task = DeviceFetchTask(
                audit_id=request.audit_id, device=device, requested_at=request.requested_at
            )
            await self.outbox.send(self.names.device_fetch, device.device_id.encode(), encode(task))

    # -- fetch --------------------------------------------------------------

    async def fetch_outcome(self, device: Device) -> FetchOutcome:
        """Fetch one device within the total timeout; every failure is a result, never an exception.

        The deadline is enforced from outside the fetch (``asyncio.wait`` on a
        task, then a cancel): a fetcher that mishandles cancellation can delay
        its own clean-up, but never this device's result, and so never the audit.
        """
        started = time.perf_counter()
        total = self.settings.total_timeout_s
        fetch = asyncio.ensure_future(self.deps.client.fetch_device_config(device))
        try:
            done, _ = await asyncio.wait({fetch}, timeout=total)
        except asyncio.CancelledError:
            fetch.cancel()
            raise
        exc: BaseException | None
        if done:
            exc = fetch.exception()
            if exc is None:
                return fetch.result()
        else:
            fetch.cancel()
            await asyncio.wait({fetch}, timeout=_CANCEL_GRACE_S)
            if not fetch.done():
                logger.warning(
                    "fetch of %s ignored its cancellation after the total timeout", device.device_id
                )
            exc = FetchTimeoutError(device.device_id, f"total timeout of {total:g}s expired")
        fetch_ms = (time.perf_counter() - started) * 1000.0
        # one line per problem; FetchError reasons are our own, secret-free text
        logger.info(
            "device %s: fetch failed (%s: %s)",
            device.device_id,
            type(exc).__name__,
            getattr(exc, "reason", ""),
        )
        return outcome_from_error(device.device_id, exc, now=self.deps.clock, fetch_ms=fetch_ms)

    async def fetch(self, key: bytes | None, payload: bytes | None) -> None:
        """Fetch task -> device config (secrets redacted) or failure."""
        task = self._decode(DeviceFetchTask, payload)
        async with self.fetch_slots:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                outcome = await self.fetch_outcome(task.device)
            finally:
                self.in_flight -= 1
        config = to_device_config(
            outcome,
            audit_id=task.audit_id,
            device=task.device,
            requested_at=task.requested_at,
            registry=self.deps.registry,
        )
        payload = encode(config)
        if len(payload) > self.settings.max_message_bytes:
            payload = encode(self._too_large(config, len(payload)))
        await self.outbox.send(self.names.device_configs, task.device.device_id.encode(), payload)

    def _too_large(self, config: DeviceConfig, size: int) -> DeviceConfig:
        """The config as an ``error`` result: its message would be refused downstream."""
        limit = self.settings.max_message_bytes
        failure = FetchFailure(
            device_id=config.device.device_id,
            status=DeviceStatus.ERROR,
            reason=f"config message of {size} bytes exceeds max_message_bytes={limit}",
            error_type="ConfigTooLargeError",
            timestamp=config.fetched_at,
            fetch_ms=config.fetch_ms,
        )
        return config.model_copy(update={"redacted_text": None, "failure": failure})

    # -- analyze --------------------------------------------------------------

    async def analyze(self, key: bytes | None, payload: bytes | None) -> None:
        """Device config -> drift event (normalize, mask, diff: the shared use case)."""
        config = self._decode(DeviceConfig, payload)
        event = analyze_config(config, intended=self.deps.intended, registry=self.deps.registry)
        await self.outbox.send(self.names.drift_events, config.device.device_id.encode(), encode(event))

    # -- history sink and score routing ------------------------------------------

    async def record(self, batch: Sequence[RawMessage]) -> int:
        """Store a batch of drift events; invalid ones go to dead-letter. Returns rows written."""
        events: list[DriftEvent] = []
        for key, payload in batch:
            try:
                events.append(self._decode(DriftEvent, payload))
            except InputError as exc:
                await self.dead("record", str(exc), self.names.drift_events, key, payload)
        await self.recorder.write_events(events)
        return len(events)

    async def route_score(self, key: bytes | None, payload: bytes | None) -> None:
        """Drift event -> score observation keyed by tenant.

        An invalid drift event is dead-lettered by the history sink, which
        reads the same topic; here it is only skipped.
        """
        try:
            event = self._decode(DriftEvent, payload)
        except InputError:
            return
        observation = ScoreObservation.of(event)
        await self.outbox.send(self.names.score_input, observation.routing_key(), encode(observation))
