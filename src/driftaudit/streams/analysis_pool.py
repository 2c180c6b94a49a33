"""The CPU-bound step of the fetch stage in worker processes.

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
the JSON bytes of its ``device-configs`` message and of its drift event come
out (:func:`config_and_event`, one step: the config is redacted, then
analyzed as the ``device-configs`` message carries it). The worker then sends
those bytes as it would have sent its own. A child that dies (a broken pool)
is replaced, and the step runs in a thread of the worker meanwhile, so no
message waits on a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from driftaudit.domain.mask_cache import MaskCache
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import ConfigResult, Device, FetchOutcome
from driftaudit.domain.ports import ComplianceRulesSource, IntendedConfigSource
from driftaudit.settings import Settings

__all__ = ["AnalysisPool", "config_and_event", "intended_cache_for"]

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
    _child["intended_cache"] = intended_cache_for(settings)


def _ready() -> bool:
    # the first message must not pay the imports of the analysis path
    import driftaudit.audit.pipeline
    import driftaudit.streams.codec  # noqa: F401

    return bool(_child) and driftaudit.audit.pipeline.analyze_config is not None


def config_and_event(
    outcome: FetchOutcome,
    *,
    audit_id: str,
    device: Device,
    requested_at: datetime,
    registry: MaskingRegistry,
    intended: IntendedConfigSource,
    rules: ComplianceRulesSource | None,
    max_message_bytes: int,
    intended_cache: MaskCache | None = None,
) -> tuple[bytes, bytes]:
    """The encoded ``device-configs`` message of one fetch outcome and the encoded drift event of it.

    The drift event is analyzed from the redacted config exactly as a
    ``device-configs`` message carries it, so it is the event any consumer of
    that message would compute; a config over ``max_message_bytes`` is an
    ``error`` result on both (the oversize rule of :func:`to_device_config`,
    the one every path applies). The text was redacted right here, so only
    its volatile values are left to mask; ``intended_cache`` keeps the masked
    intended configs between audits.
    """
    from driftaudit.audit.pipeline import analyze_config, device_config_message
    from driftaudit.streams.codec import encode

    config, config_bytes = device_config_message(
        outcome,
        audit_id=audit_id,
        device=device,
        requested_at=requested_at,
        registry=registry,
        max_message_bytes=max_message_bytes,
    )
    if rules is not None and rules.due():
        rules.refresh()  # a stat (and a read when the file changed)
    event = analyze_config(
        config,
        intended=intended,
        registry=registry,
        rules=rules,
        just_redacted=True,
        intended_cache=intended_cache,
    )
    return config_bytes, encode(event)


def _config_and_event(
    outcome: FetchOutcome, audit_id: str, device: Device, requested_at: datetime, max_message_bytes: int
) -> tuple[bytes, bytes]:
    return config_and_event(
        outcome,
        audit_id=audit_id,
        device=device,
        requested_at=requested_at,
        registry=_child["registry"],
        intended=_child["intended"],
        rules=_child["rules"],
        max_message_bytes=max_message_bytes,
        intended_cache=_child["intended_cache"],
    )


def intended_cache_for(settings: Settings) -> MaskCache:
    """The masked-intended cache of one analysis process (or of the worker's threads)."""
    return MaskCache(int(settings.intended_mask_cache_mb * 1024 * 1024))


class AnalysisPool:
    """Child processes that redact and analyze fetched configs.

    Args:
        settings: the worker's settings (each child builds its adapters from them).
        processes: how many children.
    """

    def __init__(self, settings: Settings, processes: int) -> None:
        self._settings = settings
        self._processes = max(1, processes)
        self._executor: ProcessPoolExecutor | None = None
        # one step running and one queued per child: the children never wait, the queue stays ours
        self._gate = asyncio.Semaphore(2 * self._processes)
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

    async def _run(self, fallback: Any, function: Any, *args: Any) -> Any:
        async with self._gate:
            return await self._submit(fallback, function, *args)

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

    async def config_and_event(
        self,
        outcome: FetchOutcome,
        *,
        audit_id: str,
        device: Device,
        requested_at: datetime,
        here: Callable[[], tuple[bytes, bytes]],
    ) -> tuple[bytes, bytes]:
        """:func:`config_and_event` of one fetch outcome in a child (``here`` runs it in a thread instead).

        Only the cleaned text goes to the child: the raw output (the whole
        session, twice the bytes to pickle) never leaves this process.
        """
        limit = self._settings.max_message_bytes
        if isinstance(outcome, ConfigResult):
            outcome = outcome.model_copy(update={"raw_text": ""})
        result: tuple[bytes, bytes] = await self._run(
            here, _config_and_event, outcome, audit_id, device, requested_at, limit
        )
        return result
