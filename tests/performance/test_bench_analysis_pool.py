"""The analysis pool's hand-off: the worker's CPU per call, ProcessPoolExecutor against socket pairs.

Both run the same step (:func:`~driftaudit.streams.analysis_pool.config_and_event`
in two spawned children that built their adapters from the same settings) on
the same real config (NX-OS, 14.5 KB, drifted from its intended by one line),
with four calls in flight (the pool's gate: two per child). The figure that
matters is the parent's CPU per call (``time.process_time``: every thread of
the worker, the executor's feeder and manager threads included): it is CPU
the worker's event loop, Kafka clients and HTTP reads do not get. The wall
per call and the children's CPU per call (from ``/proc``) are printed too.
``ProcessPoolExecutor`` is the hand-off the pool used before; it lives only
here, for the comparison.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftaudit.domain.models import ConfigResult, Device, DriftEvent, Platform
from driftaudit.settings import Settings
from driftaudit.streams.analysis_pool import AnalysisPool, _build_child, _config_and_event
from tests.samples_path import CONFIGS

pytestmark = pytest.mark.bench

CALLS = int(os.environ.get("DRIFTAUDIT_BENCH_POOL_CALLS", "2000"))
WARMUP = 200
IN_FLIGHT = 4
CHILDREN = 2
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SAMPLE = CONFIGS / "cisco_nxos" / "napalm_nxos_ssh_show_running_config.txt"
TICK = os.sysconf("SC_CLK_TCK")

Call = Callable[[ConfigResult, Device], Awaitable[tuple[bytes, bytes]]]


def _children_cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


async def _measure(call: Call, pids: list[int], config: str) -> tuple[float, float, float]:
    """Parent CPU, wall and children's CPU per call, in µs, over CALLS calls after a warm-up."""
    devices = [
        Device(device_id=f"nx-{i}", host="127.0.0.1", platform=Platform.NXOS) for i in range(IN_FLIGHT)
    ]

    async def lane(device: Device, n: int) -> None:
        outcome = ConfigResult(
            device_id=device.device_id, raw_text=config, cleaned_text=config, timestamp=NOW
        )
        for _ in range(n):
            _, event = await call(outcome, device)
            assert DriftEvent.model_validate_json(event).device_id == device.device_id

    await asyncio.gather(*(lane(d, WARMUP // IN_FLIGHT) for d in devices))
    cpu, wall, children = time.process_time(), time.perf_counter(), _children_cpu(pids)
    await asyncio.gather(*(lane(d, CALLS // IN_FLIGHT) for d in devices))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    children = _children_cpu(pids) - children
    n = IN_FLIGHT * (CALLS // IN_FLIGHT)
    return cpu / n * 1e6, wall / n * 1e6, children / n * 1e6


async def _executor(settings: Settings, config: str) -> tuple[float, float, float]:
    executor = ProcessPoolExecutor(
        CHILDREN,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_build_child,
        initargs=(settings,),
    )
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(2 * CHILDREN)
    try:
        await asyncio.gather(*(loop.run_in_executor(executor, time.sleep, 0.5) for _ in range(CHILDREN)))
        pids = list(executor._processes)  # noqa: SLF001 - the stdlib's children, only for their CPU

        async def call(outcome: ConfigResult, device: Device) -> tuple[bytes, bytes]:
            outcome = outcome.model_copy(update={"raw_text": ""})  # as the pool sends it
            async with gate:
                limit = settings.max_message_bytes
                return await loop.run_in_executor(
                    executor, _config_and_event, outcome, "a1", device, NOW, limit
                )

        return await _measure(call, pids, config)
    finally:
        executor.shutdown(wait=True)


async def _sockets(settings: Settings, config: str) -> tuple[float, float, float]:
    pool = AnalysisPool(settings, CHILDREN)
    await pool.start()
    try:

        async def call(outcome: ConfigResult, device: Device) -> tuple[bytes, bytes]:
            def here() -> tuple[bytes, bytes]:
                raise AssertionError("no fallback expected")

            return await pool.config_and_event(
                outcome, audit_id="a1", device=device, requested_at=NOW, here=here
            )

        figures = await _measure(call, pool.child_pids(), config)
        assert pool.fallbacks == 0
        return figures
    finally:
        await pool.stop()


async def test_bench_analysis_pool_hand_off(tmp_path: Path) -> None:
    config = SAMPLE.read_text(encoding="utf-8")
    intended = tmp_path / "intended"
    intended.mkdir()
    lines = config.splitlines()
    changed = next(i for i, line in enumerate(lines) if line.startswith("hostname"))
    lines[changed] += "-intended"
    for i in range(IN_FLIGHT):
        (intended / f"nx-{i}.cfg").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(intended_dir=intended, masking_key="bench-key")
    print(
        f"\nanalysis hand-off: {CALLS} calls of a {len(config.encode()) / 1000:.1f} KB NX-OS config, "
        f"{IN_FLIGHT} in flight, {CHILDREN} children (µs per call)"
    )
    for name, run in (("ProcessPoolExecutor", _executor), ("socket pairs (AnalysisPool)", _sockets)):
        cpu, wall, children = await run(settings, config)
        print(f"  {name:28} worker CPU {cpu:6.0f}  wall {wall:6.0f}  children's CPU {children:6.0f}")
