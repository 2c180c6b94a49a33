"""End-to-end throughput of the stream topology: audit request -> one drift event per device.

One in-process worker on the session broker, a large simulated fleet of
device-REST devices with a small answer latency, the real adapters. Prints
devices per second per worker, the latency from the request to the first and
the last drift event, the process CPU per device and the bound on fetches in
flight, for two audits in a row: the first right after the worker started
(it also pays the history store's connect and first-use imports) and a second
one on the running worker. Run with ``make bench``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from driftaudit.adapters.history.clickhouse import chdb_dsn
from driftaudit.cli.audit_cmd import local_pipeline, request_for
from driftaudit.domain.models import Platform
from driftaudit.streams.client import AuditClient
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.streams import simulated_fleet

pytestmark = [
    pytest.mark.usefixtures("faust_garbage"),
    pytest.mark.bench,
    pytest.mark.kafka,
    pytest.mark.integration,
]

DEVICES = 400
LATENCY_S = 0.02
BATCH_SIZE = 50


@dataclass(frozen=True, slots=True)
class _Run:
    """One audit's figures."""

    first_s: float
    last_s: float
    cpu_s: float
    events: int

    def lines(self, label: str) -> str:
        return (
            f"\n  {label}:"
            f"\n    request -> first drift event: {self.first_s:.2f} s"
            f"\n    request -> last drift event:  {self.last_s:.2f} s"
            f"\n    throughput: {DEVICES / self.last_s:.0f} devices/s per worker"
            f"\n    CPU of the process (worker, simulator, client): {self.cpu_s:.2f} s, "
            f"{self.cpu_s / DEVICES * 1000:.1f} ms per device"
        )


async def _audit(client: AuditClient, ids: list[str]) -> _Run:
    request = request_for(requested_by="bench")
    first: list[float] = []
    cpu_start = time.process_time()
    start = time.perf_counter()
    await client.publish(request)
    events = await client.follow(
        request.audit_id,
        ids,
        timeout_s=300,
        on_event=lambda _: first.append(time.perf_counter()) if not first else None,
    )
    elapsed = time.perf_counter() - start
    return _Run(first[0] - start, elapsed, time.process_time() - cpu_start, len(events))


async def test_bench_pipeline_throughput(kafka_broker, kafka_namespace, tmp_path):
    with simulated_fleet(
        tmp_path / "fleet",
        n=DEVICES,
        drifted=DEVICES // 10,
        unreachable=DEVICES // 50,
        latency_s=LATENCY_S,
        transports_rest_only=True,
        platforms=(Platform.EOS, Platform.NXOS, Platform.JUNOS),
    ) as fleet:
        settings = fleet.settings(
            kafka_broker=kafka_broker.bootstrap,
            topic_prefix=kafka_namespace.prefix,
            app_id=kafka_namespace.app_id,
            topic_partitions=4,
            broker_session_timeout_s=6.0,
            clickhouse_dsn=chdb_dsn(tmp_path / "history"),
            masking_key="bench-key",
            batch_size=BATCH_SIZE,
            connect_timeout_s=2.0,
            total_timeout_s=20.0,
        )
        ids = [d.device_id for d in fleet.devices]
        async with local_pipeline(settings, web_port=free_port()) as stream_app:
            async with AuditClient(settings) as client:
                # the first audit right after start also pays the history store's connect,
                # migrations and first-use imports; the second one is a worker's steady state
                cold = await _audit(client, ids)
                warm = await _audit(client, ids)
            max_in_flight = stream_app.handlers.max_in_flight
    assert cold.events == warm.events == DEVICES
    assert max_in_flight <= BATCH_SIZE
    print(
        f"\npipeline: {DEVICES} REST devices ({LATENCY_S * 1000:.0f} ms answer latency), 1 worker, "
        f"batch_size {BATCH_SIZE}, {settings.topic_partitions} partitions, broker {kafka_broker.kind}"
        f"{cold.lines('first audit after the worker started')}"
        f"{warm.lines('second audit')}"
        f"\n  max fetches in flight: {max_in_flight} (bound {BATCH_SIZE})"
    )
