"""End-to-end throughput of one stream worker: audit request -> one drift event per device.

What is measured, and why this way:

* **The worker alone.** A real fleet's devices do not run inside the worker,
  nor does the engineer's ``driftaudit audit`` that follows the results. So
  the three run in three processes: the REST simulator in a child process of
  its own (:func:`tests.performance.sim_process.simulated_fleet_files_process`,
  every device answering after ``LATENCY_S``), one ``driftaudit worker``
  subprocess (the real CLI, real adapters, Apache Kafka, chDB history), and
  the following :class:`~driftaudit.streams.client.AuditClient` in the test
  process. The CPU of each process is printed separately, the worker's per
  device being the figure to cut.
* **A throughput, not a latency.** The fleet is large (``DEVICES``, thousands
  per audit being the promise), so the fixed cost of the first event (group
  reads, the first fetch round trip) is a small part of the total. Both
  figures are printed: ``N / last-event latency`` (what a user waits for) and
  the steady-state rate between the 10th and the 90th percentile of the
  events (what the worker sustains). The first-event latency is printed too.
* **A warm broker.** The test broker is started for the test run, and a
  JVM that has just started runs interpreted: on this machine its CPU per
  record fell threefold over its first 40,000 records
  (produce and consume, small batches). A production broker has run for
  months, so ``BROKER_WARMUP`` records go through it (untimed, on scratch
  topics of the run's own prefix, three consumer groups) before the worker
  starts; the worker itself starts cold. The warm-up must take the paths
  the worker's requests take: with one single-partition topic of 1 KB
  records, the first audit still cost the broker 1.4-1.9 ms of CPU per
  device against 0.6-0.8 in the second (120,000 records did not change
  that); with three topics of four partitions, every group reading all of
  them, and a device's record sizes, 0.8-0.9 ms against 0.4-0.75.
* **The workload stays real.** 20 ms answer latency, one worker, the REST
  adapters, drifted (10 %) and unreachable (2 %) devices, every result checked
  against the status the fleet should produce, then the audit-status record
  (complete, nothing missing). Two audits in a row: the first right after the
  worker joined (it also pays the history store's first writes), the second
  on the running worker.

Run with ``make bench``. ``DRIFTAUDIT_BENCH_DEVICES`` changes the fleet size;
``DRIFTAUDIT_BENCH_PYSPY=<dir>`` samples the worker with py-spy (when
installed) during the second audit and prints its CPU by component
(:mod:`tests.performance.profile_split`). The messages per device on each
topic are printed too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftaudit.cli.audit_cmd import request_for
from driftaudit.domain.models import AuditStatus, Platform
from driftaudit.streams.client import AuditClient
from driftaudit.streams.embedded_broker import free_port
from tests.performance.profile_split import components
from tests.performance.sim_process import RemoteFleet, simulated_fleet_files_process
from tests.plugins.streams import FleetUnderTest, WorkerProcess, wait_for_group, worker_env

pytestmark = [
    pytest.mark.usefixtures("faust_garbage"),
    pytest.mark.bench,
    pytest.mark.kafka,
    pytest.mark.integration,
]

DEVICES = int(os.environ.get("DRIFTAUDIT_BENCH_DEVICES", "2000"))
LATENCY_S = 0.02
BATCH_SIZE = 50
STAGES = ("split", "fetch", "record", "report", "track")
PYSPY_DIR = os.environ.get("DRIFTAUDIT_BENCH_PYSPY")
PYSPY_RATE = 200
BROKER_WARMUP = int(os.environ.get("DRIFTAUDIT_BENCH_BROKER_WARMUP", "40000"))
#: the warm-up's record sizes, in turn: a device's own three records (its fetch request, its config at
#: the fleet's median size, its drift event), so the broker has run the paths the audits take
WARMUP_SIZES = (300, 5500, 1000)
WARMUP_TOPICS = 3
WARMUP_PARTITIONS = 4


def _cpu_s(pid: int) -> float:
    return RemoteFleet([], {}, [], {}, pid=pid).cpu_seconds()


def _children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [d for c in found for d in _children(c)]


def _children_cpu_s(pid: int) -> float:
    return sum(_cpu_s(child) for child in _children(pid))


def _listener_pid(port: int) -> int:
    """The process listening on ``port`` (the broker), 0 when unknown."""
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except OSError:
        return 0
    marker = out.find("pid=")
    return int(out[marker + 4 :].split(",", 1)[0]) if marker >= 0 else 0


@dataclass(frozen=True, slots=True)
class _Pids:
    worker: int
    sim: int
    broker: int


@dataclass(frozen=True, slots=True)
class _Run:
    """One audit's figures."""

    arrivals: list[float]  # seconds from the request to each device's first event
    status_s: float
    worker_cpu_s: float
    children_cpu_s: float
    sim_cpu_s: float
    client_cpu_s: float
    broker_cpu_s: float

    def steady_rate(self) -> float:
        low, high = self.arrivals[len(self.arrivals) // 10], self.arrivals[len(self.arrivals) * 9 // 10]
        return (len(self.arrivals) * 8 // 10) / (high - low)

    def lines(self, label: str) -> str:
        n = len(self.arrivals)
        last = self.arrivals[-1]
        return (
            f"\n  {label}:"
            f"\n    request -> first drift event: {self.arrivals[0]:.2f} s"
            f"\n    request -> last drift event:  {last:.2f} s "
            f"(audit-status record and every event read {self.status_s:.2f} s)"
            f"\n    throughput: {n / last:.0f} devices/s per worker (N / last event), "
            f"steady state {self.steady_rate():.0f} devices/s (10th to 90th percentile)"
            f"\n    CPU per device: worker {self.worker_cpu_s / n * 1000:.2f} ms "
            f"+ its analysis processes {self.children_cpu_s / n * 1000:.2f} ms, "
            f"simulator {self.sim_cpu_s / n * 1000:.2f} ms, "
            f"following client {self.client_cpu_s / n * 1000:.2f} ms, "
            f"broker {self.broker_cpu_s / n * 1000:.2f} ms"
            f"\n    every process together: {self.total_cpu_s / n * 1000:.2f} ms per device, "
            f"{self.total_cpu_s / last:.2f} of {os.cpu_count()} cores busy"
        )

    @property
    def total_cpu_s(self) -> float:
        return (
            self.worker_cpu_s + self.children_cpu_s + self.sim_cpu_s + self.client_cpu_s + self.broker_cpu_s
        )


async def _audit(client: AuditClient, fleet: FleetUnderTest, pids: _Pids) -> _Run:
    request = request_for(requested_by="bench")
    ids = [d.device_id for d in fleet.devices]
    arrivals: list[float] = []
    statuses: dict[str, str] = {}
    cpu = (_cpu_s(pids.worker), _children_cpu_s(pids.worker), _cpu_s(pids.sim), time.process_time())
    broker = _cpu_s(pids.broker) if pids.broker else 0.0
    start = time.perf_counter()

    def on_event(event: object) -> None:
        arrivals.append(time.perf_counter() - start)
        statuses[event.device_id] = event.status.value  # type: ignore[attr-defined]

    await client.publish(request)
    status: AuditStatus
    status, events = await client.follow_status(request.audit_id, timeout_s=300, on_event=on_event)
    status_s = time.perf_counter() - start
    run = _Run(
        arrivals,
        status_s,
        _cpu_s(pids.worker) - cpu[0],
        _children_cpu_s(pids.worker) - cpu[1],
        _cpu_s(pids.sim) - cpu[2],
        time.process_time() - cpu[3],
        (_cpu_s(pids.broker) - broker) if pids.broker else 0.0,
    )
    assert len(events) == len(ids)
    assert statuses == fleet.expected
    assert status.complete
    assert not status.missing
    return run


async def _warm_broker(bootstrap: str, topic: str, records: int, groups: int = 3) -> float:
    """``records`` records in small batches, read in ``groups`` groups; returns the seconds taken.

    They go to ``WARMUP_TOPICS`` topics of ``WARMUP_PARTITIONS`` partitions
    each, and each group reads them all, so the broker's requests span topics
    and partitions as the worker's do (a one-partition topic left the paths
    of multi-partition fetches, produces and commits cold).
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    started = time.perf_counter()
    topics = [f"{topic}-{n}" for n in range(WARMUP_TOPICS)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, WARMUP_PARTITIONS, 1) for name in topics])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    consumers = [
        AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=f"{topic}.{n}", auto_offset_reset="earliest"
        )
        for n in range(groups)
    ]
    try:
        for consumer in consumers:
            await consumer.start()

        async def drain(consumer: AIOKafkaConsumer) -> None:
            seen = 0
            while seen < records:
                batch = await consumer.getmany(timeout_ms=500)
                seen += sum(len(part) for part in batch.values())

        readers = [asyncio.create_task(drain(c)) for c in consumers]
        sends = []
        for n in range(records):
            size = WARMUP_SIZES[n % len(WARMUP_SIZES)]
            target = topics[n % len(topics)]
            sends.append(await producer.send(target, b"w" * size, key=str(n % 64).encode()))
            if n % 20 == 19:
                await asyncio.sleep(0.002)
        await asyncio.gather(*sends)
        await asyncio.wait_for(asyncio.gather(*readers), 120)
    finally:
        for consumer in consumers:
            await consumer.stop()
        await producer.stop()
    return time.perf_counter() - started


async def test_bench_pipeline_throughput(kafka_broker, kafka_namespace, tmp_path: Path):
    warmup_s = (
        await _warm_broker(kafka_broker.bootstrap, kafka_namespace.topic("broker-warmup"), BROKER_WARMUP)
        if BROKER_WARMUP
        else 0.0
    )
    with simulated_fleet_files_process(
        tmp_path / "fleet",
        n=DEVICES,
        drifted=DEVICES // 10,
        unreachable=DEVICES // 50,
        latency_s=LATENCY_S,
        rest_only=True,
        platforms=[Platform.EOS, Platform.NXOS, Platform.JUNOS],
    ) as remote:
        fleet = FleetUnderTest(devices=remote.devices, expected=remote.expected, env=remote.env)
        env = worker_env(
            fleet,
            kafka_broker.bootstrap,
            kafka_namespace,
            tmp_path / "history",
            DRIFTAUDIT_BATCH_SIZE=str(BATCH_SIZE),
            DRIFTAUDIT_MASKING_KEY="bench-key",
            **_worker_overrides(),
        )
        worker = WorkerProcess(env, tmp_path / "worker.log", web_port=free_port()).start()
        try:
            for stage in STAGES:
                await wait_for_group(kafka_broker.bootstrap, f"{kafka_namespace.app_id}.{stage}", 1, [worker])
            settings = fleet.settings(
                kafka_broker=kafka_broker.bootstrap,
                topic_prefix=kafka_namespace.prefix,
                app_id=kafka_namespace.app_id,
                topic_partitions=4,
            )
            assert worker.process is not None
            pids = _Pids(
                worker.process.pid, remote.pid, _listener_pid(int(kafka_broker.bootstrap.rsplit(":")[1]))
            )
            async with AuditClient(settings) as client:
                cold = await _audit(client, fleet, pids)
                sampler = _sample(worker.process.pid)
                try:
                    warm = await _audit(client, fleet, pids)
                finally:
                    profile = await _stop_sampling(sampler)
                per_topic = await _messages_per_topic(settings, kafka_namespace)
        finally:
            code = worker.stop()
        assert code == 0, worker.log()
    print(
        f"\npipeline: {DEVICES} REST devices ({LATENCY_S * 1000:.0f} ms answer latency, "
        f"{DEVICES // 10} drifted, {DEVICES // 50} unreachable), 1 worker process, batch_size {BATCH_SIZE}, "
        f"{settings.topic_partitions} partitions, broker {kafka_broker.kind}; "
        "simulator, worker and client in separate processes; "
        f"broker warmed with {BROKER_WARMUP} records in {warmup_s:.1f} s"
        f"{cold.lines('first audit after the worker joined')}"
        f"{warm.lines('second audit')}"
        f"\n  messages per device and audit: "
        + ", ".join(f"{t} {n / (2 * DEVICES):.2f}" for t, n in per_topic.items())
        + _profile_lines(profile)
    )


def _worker_overrides() -> dict[str, str]:
    """``DRIFTAUDIT_BENCH_WORKER_<NAME>=value`` sets ``DRIFTAUDIT_<NAME>`` of the worker (experiments)."""
    marker = "DRIFTAUDIT_BENCH_WORKER_"
    return {f"DRIFTAUDIT_{k.removeprefix(marker)}": v for k, v in os.environ.items() if k.startswith(marker)}


def _sample(pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy recording ``pid`` (every thread, active samples only), when asked for and installed."""
    if not PYSPY_DIR:
        return None
    binary = shutil.which("py-spy") or str(Path(os.sys.executable).parent / "py-spy")  # type: ignore[attr-defined]
    out = Path(PYSPY_DIR) / "worker.raw"
    out.parent.mkdir(parents=True, exist_ok=True)
    # --gil: only the thread holding the GIL, i.e. the Python CPU the worker's one interpreter spends
    # --nonblocking: sampling without pausing the worker, which otherwise slows it down several-fold
    command = [binary, "record", "--pid", str(pid), "--rate", str(PYSPY_RATE), "--gil", "--nonblocking"]
    command += ["--format", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _stop_sampling(sampler: subprocess.Popen[bytes] | None) -> Path | None:
    if sampler is None:
        return None
    sampler.send_signal(signal.SIGINT)
    await asyncio.to_thread(sampler.wait, 30)
    return Path(str(PYSPY_DIR)) / "worker.raw"


def _profile_lines(raw: Path | None) -> str:
    if raw is None or not raw.exists():
        return ""
    counts, total = components(raw)
    ms = 1000 / PYSPY_RATE / DEVICES
    rows = "".join(f"\n    {name:<36} {n * ms:6.2f} ms" for name, n in counts.most_common())
    return f"\n  worker CPU per device by component (py-spy --gil, second audit): {total * ms:.2f} ms{rows}"


async def _messages_per_topic(settings: object, namespace: object) -> dict[str, int]:
    """End offsets summed over partitions, for every topic of this run (ours and Faust's)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    bootstrap = settings.kafka_broker  # type: ignore[attr-defined]
    prefix, app_id = namespace.prefix, namespace.app_id  # type: ignore[attr-defined]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if t.startswith((prefix, app_id)))
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    tps = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    totals: dict[str, int] = {}
    for tp, end in ends.items():
        name = tp.topic.removeprefix(prefix)
        totals[name] = totals.get(name, 0) + end
    return totals
