"""The CPU-bound steps of the fetch and analyze stages in worker processes.

A stream worker is one interpreter: its event loop, its Kafka clients, its
HTTP reads and the analysis threads all take turns on one GIL, so running
normalize/redact/mask/diff in threads keeps the loop responsive but leaves
the worker bound to one core. Measured in the pipeline benchmark, that
analysis was the largest share of the worker's CPU per device (about 2 ms of
about 5). :class:`AnalysisPool` runs it in ``analysis_processes`` child
processes (spawned, each building its own masking registry, intended source
and rules from the worker's settings, as the worker did), so it runs on the
other cores.

What crosses the process boundary is the wire form: a fetch outcome goes in,
the JSON bytes of its ``device-configs`` message come out; a
``device-configs`` payload goes in, the JSON bytes of its drift event come
out. The worker then sends those bytes as it would have sent its own. A bad
payload comes back as the :class:`InputError` text (the stage dead-letters
it); a child that dies (a broken pool) is replaced, and the step runs in a
thread of the worker meanwhile, so no message waits on a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from driftaudit.domain.errors import InputError
from driftaudit.domain.models import Device, DeviceConfig, FetchOutcome
from driftaudit.settings import Settings

__all__ = ["AnalysisPool", "PriorityGate"]

logger = logging.getLogger(__name__)

#: what a child builds once from the worker's settings (masking registry, intended source, rules)
_child: dict[str, Any] = {}


def _exit_with_parent(parent: int, interval_s: float = 0.5) -> None:
    """End this child once its worker is gone (SIGKILLed workers leave no one to stop the pool).

    A killed worker cannot shut its pool down, and the children do not see
    end-of-file on their task queue (each holds a writer of it), so each one
    watches its parent and exits when it changes.
    """
    while True:
        time.sleep(interval_s)
        if os.getppid() != parent:
            os._exit(0)


def _init_child(settings: Settings, parent: int) -> None:
    from driftaudit.bootstrap import build_intended, build_masking, build_rules

    # the worker's pid comes from the worker: a child orphaned before it got here still exits
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()

    _child["settings"] = settings
    _child["registry"] = build_masking(settings)
    _child["intended"] = build_intended(settings)
    _child["rules"] = build_rules(settings)


def _ready() -> bool:
    # the first message must not pay the imports of the analysis path
    import driftaudit.audit.pipeline
    import driftaudit.streams.codec  # noqa: F401

    return bool(_child) and driftaudit.audit.pipeline.analyze_config is not None


def _device_config(
    outcome: FetchOutcome, audit_id: str, device: Device, requested_at: datetime, max_message_bytes: int
) -> bytes:
    from driftaudit.audit.pipeline import to_device_config
    from driftaudit.streams.codec import encode

    config = to_device_config(
        outcome,
        audit_id=audit_id,
        device=device,
        requested_at=requested_at,
        registry=_child["registry"],
        max_message_bytes=max_message_bytes,
    )
    return encode(config)


def _drift_event(payload: bytes, max_bytes: int) -> tuple[str | None, str, bytes]:
    """(None, device_id, event bytes), or (the InputError text, "", b"") for a bad payload."""
    from driftaudit.audit.pipeline import analyze_config
    from driftaudit.streams.codec import decode, encode

    try:
        config = decode(DeviceConfig, payload, max_bytes=max_bytes)
    except InputError as exc:
        return str(exc), "", b""
    rules = _child["rules"]
    if rules is not None and rules.due():
        rules.refresh()
    event = analyze_config(config, intended=_child["intended"], registry=_child["registry"], rules=rules)
    return None, event.device_id, encode(event)


#: the analyze step goes before the redaction of newly fetched configs: it is the one a drift event waits for
ANALYZE_FIRST = 0
REDACT_NEXT = 1


class PriorityGate:
    """At most ``slots`` holders at once; a freed slot goes to the waiter with the lowest priority number.

    The children's queue is FIFO: without a gate, the first config to analyze
    waited behind every redaction submitted before it (a batch of fetches
    finishing together), which delayed the first drift event of an audit.
    """

    def __init__(self, slots: int) -> None:
        self._free = max(1, slots)
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int) -> None:
        """Wait for a slot (a cancelled waiter gives back a slot it was just handed)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Hand the slot to the most urgent waiter, or free it."""
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1


class AnalysisPool:
    """Child processes that redact fetched configs and analyze device configs.

    Args:
        settings: the worker's settings (each child builds its adapters from them).
        processes: how many children.
    """

    def __init__(self, settings: Settings, processes: int) -> None:
        self._settings = settings
        self._processes = max(1, processes)
        self._executor: ProcessPoolExecutor | None = None
        # one step running and one queued per child: the children never wait, the queue stays ours
        self._gate = PriorityGate(2 * self._processes)
        self.fallbacks = 0

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_child,
            initargs=(self._settings, os.getpid()),
        )

    async def start(self) -> None:
        """Start the children and wait until each has built its adapters (a bad setting fails here)."""
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready) for _ in range(self._processes)))
        logger.info("analysis runs in %d child process(es)", self._processes)

    async def stop(self) -> None:
        """Stop the children (work in flight is cancelled; its messages stay unacknowledged)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def _run(self, priority: int, fallback: Any, function: Any, *args: Any) -> Any:
        await self._gate.acquire(priority)
        try:
            return await self._submit(fallback, function, *args)
        finally:
            self._gate.release()

    async def _submit(self, fallback: Any, function: Any, *args: Any) -> Any:
        executor = self._executor
        if executor is None:
            raise RuntimeError("AnalysisPool is not started")
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
        except BrokenProcessPool:
            self.fallbacks += 1
            logger.error("an analysis process died: starting a new pool, this message runs in a thread")
            if self._executor is executor:
                self._executor = self._new_executor()
                with contextlib.suppress(Exception):
                    executor.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(fallback)

    async def device_config(
        self, outcome: FetchOutcome, *, audit_id: str, device: Device, requested_at: datetime, registry: Any
    ) -> bytes:
        """The encoded ``device-configs`` message of one fetch outcome, secrets redacted."""
        from driftaudit.audit.pipeline import to_device_config
        from driftaudit.streams.codec import encode

        limit = self._settings.max_message_bytes

        def here() -> bytes:
            config = to_device_config(
                outcome,
                audit_id=audit_id,
                device=device,
                requested_at=requested_at,
                registry=registry,
                max_message_bytes=limit,
            )
            return encode(config)

        result: bytes = await self._run(
            REDACT_NEXT, here, _device_config, outcome, audit_id, device, requested_at, limit
        )
        return result

    async def drift_event(self, payload: bytes, here: Any) -> tuple[str, bytes]:
        """(device_id, the encoded drift event) of one ``device-configs`` payload.

        Raises:
            InputError: the payload is not a valid device config.
        """
        error, device_id, value = await self._run(
            ANALYZE_FIRST, here, _drift_event, payload, self._settings.max_message_bytes
        )
        if error is not None:
            raise InputError(error)
        return str(device_id), bytes(value)
