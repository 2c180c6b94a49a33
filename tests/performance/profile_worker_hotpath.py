"""Microseconds per device of the worker's Python steps outside Kafka, on the REST simulator's replies.

Not a test (pytest does not collect it): a script that drives, the way a
``driftaudit worker`` does, the per-device steps that the pipeline benchmark's
py-spy profile shows outside the Kafka client:

* ``rest``: the REST adapter's reply parsing (``_decode``, ``_eapi_config`` /
  ``_nxapi_config`` / ``_junos_config``) on the replies the simulator sends
  for EOS, NX-OS and Junos, and the request body aiohttp sends (the former
  ``JsonPayload`` of a dict, the ``BytesPayload`` now);
* ``normalize``: :func:`~driftaudit.adapters.devices.options.normalize_cli` on each config;
* ``codec``: the wire models each device crosses (``DeviceFetchTask`` decoded,
  ``DeviceConfig`` encoded and decoded, ``DriftEvent`` encoded and decoded twice);
* ``score``: the fleet-score agent on batches of 50 observations (Faust's
  ``test_context``: the table, its changelog serialization) and the flush
  every 0.2 s of the bench rate;
* ``history``: :class:`~driftaudit.adapters.history.clickhouse.ClickHouseHistory`
  writing the drift events in batches of 50 on chDB in a temporary directory.

Run: ``.venv/bin/python -m tests.performance.profile_worker_hotpath [--devices N] [--only rest,score]
[--dump FILE]``. ``--dump`` writes every output (normalized configs, encoded
events, scores) to FILE, so two runs (before and after a change) can be
compared byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import hashlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftaudit.domain.models import (
    Device,
    DeviceConfig,
    DeviceFetchTask,
    DeviceStatus,
    DriftEvent,
    DriftLine,
    Platform,
    Transport,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PLATFORMS = (Platform.EOS, Platform.NXOS, Platform.JUNOS)


class _Frozen(datetime):
    """``datetime`` whose ``now`` is fixed, so the simulator renders the same replies run after run."""

    @classmethod
    def now(cls, tz: Any = None) -> _Frozen:  # type: ignore[override]
        return cls(2026, 5, 1, 12, 0, 0, tzinfo=tz or UTC)


def _replies(n: int) -> list[tuple[Device, bytes]]:
    """(device, HTTP body) as the REST simulator answers ``show running-config``, for ``n`` devices."""
    import driftaudit.sim.fleet as sim_fleet
    from driftaudit.sim.devices import DeviceSimulator, _HttpRequest
    from tests.samples_path import SAMPLES

    sim_fleet.datetime = _Frozen  # type: ignore[misc]
    fleet = sim_fleet.build_fleet(
        n, seed=3, drifted=n // 10, transports=(Transport.REST,), platforms=PLATFORMS, samples=SAMPLES
    )
    simulator = DeviceSimulator(fleet.sim_devices)
    plans = fleet._plans
    out: list[tuple[Device, bytes]] = []
    for plan, sim_device in zip(plans, fleet.sim_devices, strict=True):
        device = Device(
            device_id=plan.device_id,
            host="127.0.0.1",
            port=8080,
            platform=plan.platform,
            transport=Transport.REST,
            tenant=plan.tenant,
            site=plan.site,
            role=plan.role,
            credential_ref=plan.device_id,
        )
        body = json.dumps(
            {"method": "runCmds", "params": {"cmds": ["enable", "show running-config"]}}
        ).encode()
        target = "/rpc/get-configuration?format=text"
        request = _HttpRequest(method="POST", target=target, path=target, headers={}, body=body)
        reply, _ = simulator._rest_body(sim_device, request)
        out.append((device, reply))
    return out


def _per_device(label: str, n: int, run: Callable[[], Any], repeat: int = 5) -> float:
    """The best of ``repeat`` runs, in µs per device (printed)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    micro = best / n * 1e6
    print(f"  {label:<46} {micro:8.1f} µs/device")
    return micro


def _configs(replies: list[tuple[Device, bytes]]) -> list[str]:
    from driftaudit.adapters.devices import rest

    out = []
    for device, body in replies:
        text = rest._decode(device, body)
        if device.platform is Platform.EOS:
            out.append(rest._eapi_config(device, text))
        elif device.platform is Platform.NXOS:
            out.append(rest._nxapi_config(device, text))
        else:
            out.append(rest._junos_config(text))
    return out


def bench_rest(replies: list[tuple[Device, bytes]], dump: list[bytes]) -> None:
    """The reply parsing and the request payload, per device."""
    import aiohttp.payload

    from driftaudit.adapters.devices import rest

    n = len(replies)
    _per_device("REST reply parsing (decode + JSON/XML)", n, lambda: _configs(replies))
    payload = {
        "jsonrpc": "2.0",
        "method": "runCmds",
        "params": {"version": 1, "cmds": ["enable", "show running-config"], "format": "text"},
        "id": "driftaudit-1",
    }
    _per_device(
        "request body: JsonPayload of the dict (json=)",
        n,
        lambda: [aiohttp.payload.JsonPayload(payload) for _ in range(n)],
    )
    if hasattr(rest, "eapi_body"):  # absent before the body was built once (run on an older tree)
        _per_device(
            "request body: BytesPayload of eapi_body",
            n,
            lambda: [rest._json_body(rest.eapi_body(i)) for i in range(n)],
        )
    dump.extend(config.encode() for config in _configs(replies))


def bench_normalize(replies: list[tuple[Device, bytes]], dump: list[bytes]) -> None:
    """``normalize_cli`` on each REST config, as ``RestDeviceAdapter.fetch_config`` calls it."""
    from driftaudit.adapters.devices.options import normalize_cli

    configs = _configs(replies)
    _per_device("normalize_cli", len(configs), lambda: [normalize_cli(c) for c in configs])
    dump.extend(normalize_cli(config).encode() for config in configs)


def _events(replies: list[tuple[Device, bytes]]) -> list[tuple[DeviceFetchTask, DeviceConfig, DriftEvent]]:
    from driftaudit.adapters.devices.options import normalize_cli

    out = []
    for index, ((device, _), config) in enumerate(zip(replies, _configs(replies), strict=True)):
        text = normalize_cli(config)
        task = DeviceFetchTask(audit_id="audit-1", device=device, requested_at=NOW)
        fetched = DeviceConfig(
            audit_id="audit-1",
            device=device,
            requested_at=NOW,
            fetched_at=NOW + timedelta(milliseconds=25),
            fetch_ms=21.5,
            redacted_text=text,
        )
        drifted = index % 10 == 0
        event = DriftEvent(
            audit_id="audit-1",
            device_id=device.device_id,
            tenant=device.tenant,
            site=device.site,
            role=device.role,
            platform=device.platform,
            status=DeviceStatus.DRIFTED if drifted else DeviceStatus.COMPLIANT,
            added=(DriftLine(change="added", path=("interface Ethernet1",), line=" description x"),)
            if drifted
            else (),
            unified_diff="--- intended\n+++ actual\n@@ -1 +1 @@\n- a\n+ b\n" if drifted else "",
            actual_hash=hashlib.sha256(text.encode()).hexdigest(),
            intended_hash=hashlib.sha256(text.encode()).hexdigest(),
            requested_at=NOW,
            observed_at=NOW + timedelta(milliseconds=40),
            fetch_ms=21.5,
            analyze_ms=3.25,
            intended_version="sha256:" + "0" * 64,
        )
        out.append((task, fetched, event))
    return out


def bench_codec(replies: list[tuple[Device, bytes]], dump: list[bytes]) -> None:
    """The wire models one device crosses in the worker (decode and encode, through streams.codec)."""
    from driftaudit.streams.codec import decode, encode

    triples = _events(replies)
    n = len(triples)
    limit = 1_000_000
    tasks = [encode(t) for t, _, _ in triples]
    configs = [encode(c) for _, c, _ in triples]
    events = [encode(e) for _, _, e in triples]
    _per_device(
        "decode DeviceFetchTask", n, lambda: [decode(DeviceFetchTask, b, max_bytes=limit) for b in tasks]
    )
    _per_device("encode DeviceConfig", n, lambda: [encode(c) for _, c, _ in triples])
    _per_device("decode DeviceConfig", n, lambda: [decode(DeviceConfig, b, max_bytes=limit) for b in configs])
    _per_device("encode DriftEvent", n, lambda: [encode(e) for _, _, e in triples])
    _per_device("decode DriftEvent", n, lambda: [decode(DriftEvent, b, max_bytes=limit) for b in events])
    for raw in (*tasks, *configs, *events):
        dump.append(raw)
    dump.extend(encode(decode(DriftEvent, b, max_bytes=limit)) for b in events)
    dump.extend(encode(decode(DeviceConfig, b, max_bytes=limit)) for b in configs)


def bench_score(replies: list[tuple[Device, bytes]], dump: list[bytes]) -> None:
    """The fleet-score agent on batches of 50 observations per tenant, a flush every 100 devices."""
    from driftaudit.streams.app import create_app
    from driftaudit.streams.codec import encode
    from driftaudit.streams.deps import StreamDeps
    from driftaudit.streams.outbox import RecordingOutbox
    from driftaudit.streams.score import ScoreBatch, ScoreObservation
    from tests.plugins.streams import MemoryHistory, MemoryIntended, MemoryInventory, stream_settings

    devices = [device for device, _ in replies]
    history = MemoryHistory()
    settings = stream_settings(score_window_s=3600.0)
    deps = StreamDeps(
        settings=settings,
        inventory=MemoryInventory(devices),
        intended=MemoryIntended({}),
        client=None,  # type: ignore[arg-type]
        registry=None,  # type: ignore[arg-type]
        history=history,
        clock=lambda: NOW,
    )
    start = datetime.now(UTC).replace(microsecond=0)

    def batches(audit: int) -> list[tuple[bytes, bytes]]:
        by_tenant: dict[str, list[ScoreObservation]] = {}
        for index, device in enumerate(devices):
            status = DeviceStatus.DRIFTED if (index + audit) % 10 == 0 else DeviceStatus.COMPLIANT
            observed = start + timedelta(milliseconds=audit * 5000 + index)
            by_tenant.setdefault(device.tenant, []).append(
                ScoreObservation(
                    tenant=device.tenant, device_id=device.device_id, status=status, observed_at=observed
                )
            )
        out = []
        for tenant, observations in by_tenant.items():
            for at in range(0, len(observations), 50):
                batch = ScoreBatch(tenant=tenant, observations=tuple(observations[at : at + 50]))
                out.append((observations[0].routing_key(), encode(batch)))
        out.sort(key=lambda kv: kv[1][-60:])  # interleave the tenants
        return out

    async def run() -> None:
        stream_app = create_app(deps, outbox=RecordingOutbox(), web_enabled=False)
        stream_app.app.finalize()
        scoreboard = stream_app.scoreboard
        recorder = stream_app.recorder
        await recorder.start()
        timings = []
        async with stream_app.agents.score.test_context() as agent:
            for audit in range(4):
                messages = batches(audit)
                gc.collect()
                begin = time.process_time()
                for index, (key, value) in enumerate(messages):
                    await agent.put(value, key=key)
                    if index % 2 == 1:  # a flush per 100 devices: 0.2 s at 500 devices/s
                        await scoreboard.flush()
                await scoreboard.flush()
                timings.append(time.process_time() - begin)
            final = {tenant: scoreboard.score(tenant) for tenant in sorted({d.tenant for d in devices})}
        await asyncio.sleep(0.5)
        await recorder.stop()
        # the first audit fills the windows, the next ones update every device in them
        micro = min(timings[1:]) / len(devices) * 1e6
        print(f"  {'score agent + flush (per observation)':<46} {micro:8.1f} µs/device")
        print(f"  {'  (first audit, windows filling)':<46} {timings[0] / len(devices) * 1e6:8.1f} µs/device")
        for tenant, score in final.items():
            dump.append(f"{tenant} {score.model_dump_json()}".encode())
        dump.extend(
            f"{start_at.isoformat()} {tenant} {score.model_dump_json()}".encode()
            for (start_at, tenant), score in sorted(
                history.scores.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))
            )
        )

    asyncio.run(run())


def bench_history(replies: list[tuple[Device, bytes]], dump: list[bytes]) -> None:
    """``ClickHouseHistory.write_events`` in batches of 50 on chDB (a temporary directory)."""
    from driftaudit.adapters.history.clickhouse import ClickHouseHistory, parse_dsn

    events = [event for _, _, event in _events(replies)]
    with tempfile.TemporaryDirectory() as tmp:
        history = ClickHouseHistory(parse_dsn(f"chdb://{Path(tmp) / 'h'}"))
        history.connect()
        history.write_events(events[:50])  # the first writes create parts; not measured

        def run() -> None:
            for at in range(0, len(events), 50):
                history.write_events(events[at : at + 50])

        _per_device("history write_events (batches of 50)", len(events), run, repeat=3)
        dump.extend(repr(row).encode() for row in history.latest_status()[:5])
        history.close()


class _KeyedOutbox:
    """An outbox that keeps every message and the last one per (topic, key), found without a scan."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.last: dict[tuple[str, bytes | None], bytes] = {}

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.sent.append((topic, key, value))
        self.last[(topic, key)] = value


def bench_stages(replies: list[tuple[Device, bytes]], dump: list[bytes]) -> None:
    """The worker's stages without a broker: the real REST simulator (a child process), the real adapters.

    ``fetch`` (which analyzes what it fetched in an analysis pool of two
    children, as the worker runs it), ``record`` (chDB in a temporary directory) and ``report`` of
    :class:`~driftaudit.streams.stages.StageHandlers`, their sends recorded
    in memory: the worker process's CPU per device for everything but the
    Kafka client. Set ``DRIFTAUDIT_PROFILE_OUT`` to a path to write a cProfile
    of the second round there.
    """
    import os

    from driftaudit.bootstrap import build_stream_deps
    from driftaudit.settings import Settings
    from driftaudit.streams.analysis_pool import AnalysisPool
    from driftaudit.streams.app import create_app
    from driftaudit.streams.codec import encode
    from driftaudit.streams.topics import TopicNames
    from tests.performance.sim_process import simulated_fleet_files_process

    n = len(replies)
    names = TopicNames("bench.")
    with tempfile.TemporaryDirectory() as tmp:
        with simulated_fleet_files_process(
            Path(tmp) / "fleet",
            n=n,
            drifted=n // 10,
            unreachable=n // 50,
            latency_s=0.02,
            rest_only=True,
            platforms=list(PLATFORMS),
        ) as remote:
            env = dict(remote.env)
            env.update(
                {
                    "DRIFTAUDIT_KAFKA_BROKER": "127.0.0.1:1",
                    "DRIFTAUDIT_TOPIC_PREFIX": "bench.",
                    "DRIFTAUDIT_CLICKHOUSE_DSN": f"chdb://{Path(tmp) / 'history'}",
                    "DRIFTAUDIT_MASKING_KEY": "bench-key",
                    "DRIFTAUDIT_BATCH_SIZE": "50",
                    "DRIFTAUDIT_HISTORY_FLUSH_S": "0.2",
                }
            )
            os.environ.update(env)
            settings = Settings()
            deps = build_stream_deps(settings)
            deps = dataclasses.replace(deps, clock=lambda: NOW)

            async def run() -> None:
                outbox = _KeyedOutbox()
                stream_app = create_app(deps, outbox=outbox, web_enabled=False)
                handlers = stream_app.handlers
                pool = handlers.pool = AnalysisPool(settings, 2)
                await pool.start()
                await stream_app.recorder.start()
                rounds = 4
                tasks = [
                    encode(DeviceFetchTask(audit_id=f"audit-{round_}", device=device, requested_at=NOW))
                    for round_ in range(rounds)
                    for device in remote.devices
                ]
                timings: list[float] = []

                events_topic = names.drift_events

                async def one(device: Device, task: bytes) -> None:
                    key = device.device_id.encode()
                    await handlers.fetch(None, task)
                    event = outbox.last[(events_topic, key)]
                    await asyncio.gather(handlers.record(key, event), handlers.report(key, event))

                for round_ in range(rounds):
                    batch = tasks[round_ * n : (round_ + 1) * n]
                    gc.collect()
                    profiler = None
                    if round_ == 1 and os.environ.get("DRIFTAUDIT_PROFILE_OUT"):
                        import cProfile

                        profiler = cProfile.Profile()
                        profiler.enable()
                    cpu, wall = time.process_time(), time.perf_counter()
                    await asyncio.gather(*(one(d, t) for d, t in zip(remote.devices, batch, strict=True)))
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(os.environ["DRIFTAUDIT_PROFILE_OUT"])
                    timings.append(cpu / n * 1e6)
                    print(f"    round {round_ + 1}: {timings[-1]:.1f} µs/device, {n / wall:.0f} devices/s")
                label = "stages, worker process CPU (best round)"
                print(f"  {label:<46} {min(timings):8.1f} µs/device")
                await pool.stop()
                await stream_app.recorder.stop()
                await deps.aclose()
                # what must not change: every event but its measured durations and the children's clock
                events = sorted(
                    (DriftEvent.model_validate_json(v) for t, _, v in outbox.sent if t == names.drift_events),
                    key=lambda e: (e.audit_id, e.device_id),
                )
                dump.extend(
                    re.sub(
                        rb"127\.0\.0\.1:\d+",
                        b"<simulator>",
                        encode(e.model_copy(update={"fetch_ms": 0.0, "analyze_ms": 0.0, "observed_at": NOW})),
                    )
                    for e in events
                )

            asyncio.run(run())


SECTIONS = {
    "rest": bench_rest,
    "normalize": bench_normalize,
    "codec": bench_codec,
    "score": bench_score,
    "history": bench_history,
    "stages": bench_stages,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=600)
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--dump", type=Path)
    args = parser.parse_args(argv)
    replies = _replies(args.devices)
    print(f"{len(replies)} REST devices ({', '.join(p.value for p in PLATFORMS)}):")
    dump: list[bytes] = []
    for name in args.only.split(","):
        SECTIONS[name](replies, dump)
    if args.dump:
        args.dump.write_bytes(b"\n\x00\n".join(dump))
        print(f"outputs: {len(dump)} records, sha256 {hashlib.sha256(b''.join(dump)).hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
