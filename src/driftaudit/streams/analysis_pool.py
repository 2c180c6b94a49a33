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
those bytes as it would have sent its own.

The worker speaks to each child over a socket pair that its own event loop
reads: a request and its reply are each one frame (payload length, request
id, then the pickled arguments or outcome), and the reply names its request,
so each call's future gets its own answer. ``ProcessPoolExecutor``, used
before, cost the worker about 250 µs of CPU per call (its queue feeder and
manager threads pass the GIL back and forth with the event loop); this costs
a fraction of it (``tests/performance/test_bench_analysis_pool.py`` measures
both). A child that dies fails nothing silently: its socket ends (end of
file or a reset), every call in flight on it runs in a thread of the worker
instead (counted in :attr:`AnalysisPool.fallbacks`, logged as an error), and
a new child takes its place. A child exits on end of file from the worker's
side, so the children of a worker that was SIGKILLed do not live on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import pickle
import signal
import socket
import struct
import time
import traceback
import zlib
from collections.abc import Callable
from datetime import datetime
from multiprocessing.context import SpawnProcess
from typing import Any, cast

from driftaudit.domain.mask_cache import MaskCache
from driftaudit.domain.masking import GrammarMemo, MaskingRegistry
from driftaudit.domain.models import ConfigResult, Device, FetchOutcome
from driftaudit.domain.ports import ComplianceRulesSource, IntendedConfigSource
from driftaudit.settings import Settings

__all__ = ["AnalysisPool", "config_and_event", "intended_cache_for"]

logger = logging.getLogger(__name__)

#: one frame on a child's socket: payload length, request id, then the pickled payload
_FRAME = struct.Struct("!QQ")
#: the request id of a child's first frame: its adapters are built (or why they could not be)
_READY = 0
_PICKLE = pickle.HIGHEST_PROTOCOL
#: how long :meth:`AnalysisPool.stop` lets children end on their own before terminating them
_STOP_GRACE_S = 2.0
#: how many more calls in flight than the least-loaded child a device's own child may have and still take it
_AFFINITY_SLACK = 2
#: a child that died before it was ready is replaced after this long, not at once (no spawn loop)
_RESPAWN_DELAY_S = 1.0

#: what a child builds once from the worker's settings (masking registry, intended source, rules)
_child: dict[str, Any] = {}


def _build_child(settings: Settings) -> None:
    """Build the child's adapters from the worker's settings and import the analysis path.

    The imports are here so the first message does not pay them.
    """
    import driftaudit.audit.pipeline
    import driftaudit.streams.codec  # noqa: F401
    from driftaudit.bootstrap import build_intended, build_masking, build_rules

    _child["settings"] = settings
    _child["registry"] = build_masking(settings)
    _child["intended"] = build_intended(settings)
    _child["rules"] = build_rules(settings)
    _child["intended_cache"] = intended_cache_for(settings)


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

    memo: GrammarMemo = {}  # the config's lines the grammar read, for its intended config's
    config, config_bytes = device_config_message(
        outcome,
        audit_id=audit_id,
        device=device,
        requested_at=requested_at,
        registry=registry,
        max_message_bytes=max_message_bytes,
        grammar_memo=memo,
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
        grammar_memo=memo,
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


def _recv_exactly(sock: socket.socket, size: int) -> bytearray | None:
    """``size`` bytes from ``sock``, or None at end of file."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return buffer


def _send(sock: socket.socket, request_id: int, outcome: tuple[bool, Any, str | None]) -> None:
    payload = pickle.dumps(outcome, _PICKLE)
    sock.sendall(_FRAME.pack(len(payload), request_id) + payload)


def _failure(exc: Exception) -> tuple[bool, Any, str | None]:
    """A failed step as it crosses to the worker: the exception itself and where it was raised.

    The frames go without the exception's message (the exception carries it).
    An exception that would not survive the crossing becomes a
    ``RuntimeError`` naming its type.
    """
    trace = "".join(traceback.format_tb(exc.__traceback__))
    crossing: Exception = exc
    try:
        pickle.loads(pickle.dumps(exc, _PICKLE))  # noqa: S301 - our own bytes
    except Exception:
        crossing = RuntimeError(f"the analysis step raised {type(exc).__qualname__}, which cannot be pickled")
    return False, crossing, trace


def _serve(sock: socket.socket, settings: Settings) -> None:
    """A child's life: build its adapters, say so, then answer requests until the worker's end closes.

    End of file (or a reset) on the socket means the worker closed it or is
    gone, however it ended: the child returns, and exits.
    """
    # the worker stops its children itself; a Ctrl-C reaches the whole process group
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock.setblocking(True)
    with sock, contextlib.suppress(OSError):
        try:
            _build_child(settings)
        except Exception as exc:
            _send(sock, _READY, _failure(exc))
            return
        _send(sock, _READY, (True, None, None))
        while True:
            header = _recv_exactly(sock, _FRAME.size)
            if header is None:
                return
            size, request_id = _FRAME.unpack(header)
            payload = _recv_exactly(sock, size)
            if payload is None:
                return
            try:
                outcome: tuple[bool, Any, str | None] = (
                    True,
                    _config_and_event(*pickle.loads(payload)),  # noqa: S301 - from our worker
                    None,
                )
            except Exception as exc:
                outcome = _failure(exc)
            _send(sock, request_id, outcome)


class _RemoteTraceback(Exception):
    """Where in the child the step raised: the cause of the exception raised in the worker."""

    def __init__(self, trace: str) -> None:
        super().__init__(trace)
        self.trace = trace

    def __str__(self) -> str:
        return f'\n"""\n{self.trace}"""'


class _ChildLostError(Exception):
    """The child a call went to ended before it answered."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    # a readiness nobody waits for any more must not be reported as never retrieved
    if not future.cancelled():
        future.exception()


class _Child(asyncio.Protocol):
    """One analysis process and the worker's end of its socket, read by the event loop."""

    def __init__(self, pool: AnalysisPool, process: SpawnProcess) -> None:
        self.pool = pool
        self.process = process
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready.add_done_callback(_retrieve)
        self.live = False  # ready, and its socket open
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def send(self, request_id: int, payload: bytes, future: asyncio.Future[Any]) -> None:
        """Write one request; ``future`` gets its reply (or :class:`_ChildLostError`)."""
        transport = self.transport
        if not self.live or transport is None or transport.is_closing():
            raise _ChildLostError
        self.pending[request_id] = future
        transport.write(_FRAME.pack(len(payload), request_id) + payload)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # noqa: D102
        # a stream transport, though not always an asyncio.Transport subclass (uvloop's are not)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:  # noqa: D102
        buffer = self._buffer
        chunk: bytes | bytearray = data
        if buffer:
            buffer += data
            chunk = buffer
        offset, header = 0, _FRAME.size
        while len(chunk) - offset >= header:
            size, request_id = _FRAME.unpack_from(chunk, offset)
            end = offset + header + size
            if end > len(chunk):
                break
            self._reply(request_id, chunk[offset + header : end])
            offset = end
        if chunk is buffer:
            del buffer[:offset]
        elif offset < len(data):
            buffer += data[offset:]

    def _reply(self, request_id: int, payload: bytes | bytearray) -> None:
        try:
            ok, value, trace = pickle.loads(payload)  # noqa: S301 - from our own child
        except Exception as exc:  # that call's failure, not the reader's
            ok, value, trace = False, RuntimeError(f"unreadable reply ({type(exc).__name__})"), None
        if not ok and trace:
            value.__cause__ = _RemoteTraceback(trace)
        if request_id == _READY:
            if not self.ready.done():
                if ok:
                    self.live = True
                    self.ready.set_result(None)
                else:
                    value.add_note("raised while an analysis process built its adapters from the settings")
                    self.ready.set_exception(value)
            return
        future = self.pending.pop(request_id, None)
        if future is None or future.done():  # its caller was cancelled meanwhile
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        self.live = False
        self.pool._lost(self)  # noqa: SLF001 - the pool owns its children


class AnalysisPool:
    """Child processes that redact and analyze fetched configs.

    Args:
        settings: the worker's settings (each child builds its adapters from them).
        processes: how many children.
    """

    def __init__(self, settings: Settings, processes: int) -> None:
        self._settings = settings
        self._processes = max(1, processes)
        self._children: list[_Child] = []
        self._started = False
        self._closing = False
        self._ids = itertools.count(_READY + 1)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        # one step running and one queued per child: the children never wait, the queue stays ours
        self._gate = asyncio.Semaphore(2 * self._processes)
        #: calls that ran in a thread of the worker because their child died
        self.fallbacks = 0

    def child_pids(self) -> list[int]:
        """The process ids of the current children (one still starting included)."""
        return [pid for child in self._children if (pid := child.process.pid) is not None]

    async def start(self) -> None:
        """Start the children and wait until each has built its adapters.

        Raises:
            Exception: what a child raised building its adapters from the
                settings (a bad setting fails here, with a note saying so),
                or ``RuntimeError`` when a child exited before it was ready.
        """
        if self._children:
            raise RuntimeError("AnalysisPool is already started")
        self._closing = False
        self._children = [self._spawn() for _ in range(self._processes)]
        try:
            await asyncio.gather(*(child.ready for child in self._children))
        except BaseException:
            await self.stop()
            raise
        self._started = True
        logger.info("analysis runs in %d child process(es)", self._processes)

    async def stop(self) -> None:
        """Stop the children: calls in flight are cancelled (their messages stay unacknowledged)."""
        self._closing = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._tasks:  # children being started or reaped: let them finish
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        children, self._children = self._children, []
        for child in children:
            child.live = False
            for future in child.pending.values():
                future.cancel()
            child.pending.clear()
            child.ready.cancel()
            if child.transport is not None:
                # closed now, unsent requests dropped: end of file, and a busy child's reply fails
                child.transport.abort()
        await asyncio.to_thread(_end, [child.process for child in children])
        self._started = self._closing = False  # a call made from now on is refused: not started

    def _spawn(self) -> _Child:
        ours, theirs = socket.socketpair()
        process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(theirs, self._settings), name="driftaudit-analysis", daemon=True
        )
        child = _Child(self, process)
        self._track(self._launch(child, ours, theirs))
        return child

    def _track(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _launch(self, child: _Child, ours: socket.socket, theirs: socket.socket) -> None:
        try:
            try:
                await asyncio.to_thread(child.process.start)  # spawning blocks: not on the event loop
            finally:
                theirs.close()  # the child has its own copy: its end of file is now ours to see
            await asyncio.get_running_loop().connect_accepted_socket(lambda: child, ours)
        except Exception as exc:
            ours.close()
            if not child.ready.done():
                child.ready.set_exception(exc)
            logger.error("an analysis process could not be started: %s", exc)
            if self._started and not self._closing and child in self._children:
                self._replace_later(child)

    def _lost(self, child: _Child) -> None:
        """``child``'s socket ended: its calls run here, and a new child takes its place."""
        in_flight = list(child.pending.values())
        child.pending.clear()
        for future in in_flight:
            if not future.done():
                future.set_exception(_ChildLostError())
        was_ready = child.ready.done()
        if not was_ready:
            child.ready.set_exception(
                RuntimeError(
                    f"analysis process {child.process.pid} exited before it was ready (see its output)"
                )
            )
        if self._closing or not self._started or child not in self._children:
            return  # stop() (or a failed start) ends it
        logger.error(
            "analysis process %s died: %d message(s) in flight on it run in threads of the worker; "
            "a new process replaces it",
            child.process.pid,
            len(in_flight),
        )
        self._track(asyncio.to_thread(_reap, child.process))
        if was_ready:
            self._children[self._children.index(child)] = self._spawn()
        else:
            self._replace_later(child)

    def _replace_later(self, child: _Child) -> None:
        def replace() -> None:
            self._timers.discard(timer)
            if not self._closing and child in self._children:
                self._children[self._children.index(child)] = self._spawn()

        timer = asyncio.get_running_loop().call_later(_RESPAWN_DELAY_S, replace)
        self._timers.add(timer)

    async def _pick(self, key: str | None = None) -> _Child | None:
        """The child for ``key``; waits for one starting; None when none is running or starting.

        A device goes to its own child (by a stable hash of ``key``) unless that
        child has more than ``_AFFINITY_SLACK`` calls in flight beyond the
        least-loaded one, which then takes it: each child keeps the masked
        intended configs of the devices it analyzed (:class:`MaskCache`), so a
        device sent to the same child audit after audit finds its own there.
        """
        while True:
            if self._closing:
                raise asyncio.CancelledError  # stopped while this call waited for a child
            if not self._children:
                raise RuntimeError("AnalysisPool is not started")
            live = [child for child in self._children if child.live]
            if live:
                least = min(live, key=lambda child: len(child.pending))
                if key is None:
                    return least
                home = self._children[zlib.crc32(key.encode()) % len(self._children)]
                if home.live and len(home.pending) <= len(least.pending) + _AFFINITY_SLACK:
                    return home
                return least
            starting = [child.ready for child in self._children if not child.ready.done()]
            if not starting:
                return None
            await asyncio.wait(starting, return_when=asyncio.FIRST_COMPLETED)

    async def _call(self, here: Callable[[], Any], args: tuple[Any, ...], key: str | None = None) -> Any:
        async with self._gate:
            child = await self._pick(key)
            if child is not None:
                request_id = next(self._ids)
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                try:
                    child.send(request_id, pickle.dumps(args, _PICKLE), future)
                    return await future
                except _ChildLostError:
                    pass
                finally:
                    child.pending.pop(request_id, None)  # a cancelled call leaves nothing behind
            else:
                logger.error("no analysis process is running: this message runs in a thread of the worker")
            self.fallbacks += 1
            return await asyncio.to_thread(here)

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
        session, twice the bytes to pickle) never leaves this process. An
        exception the step raises in the child is raised here, its type and
        arguments kept (its cause shows where in the child it was raised).
        """
        limit = self._settings.max_message_bytes
        if isinstance(outcome, ConfigResult):
            outcome = outcome.model_copy(update={"raw_text": ""})
        result: tuple[bytes, bytes] = await self._call(
            here, (outcome, audit_id, device, requested_at, limit), key=device.device_id
        )
        return result


def _reap(process: SpawnProcess) -> None:
    """Wait for a child that died (killing it if its socket ended but it did not) and log how it ended."""
    process.join(5)
    if process.is_alive():
        process.kill()
        process.join()
    logger.warning("analysis process %s ended with exit code %s", process.pid, process.exitcode)


def _end(processes: list[SpawnProcess]) -> None:
    """Join ``processes`` (their sockets are closed), terminating those still running after a grace."""
    started = [process for process in processes if process.pid is not None]
    deadline = time.monotonic() + _STOP_GRACE_S
    for process in started:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in started:
        if process.is_alive():
            process.terminate()
    for process in started:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
        process.close()
