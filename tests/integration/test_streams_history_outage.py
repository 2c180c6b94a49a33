"""The history store down for 30 s during an audit, for real: the audit goes on, history catches up.

The store is chDB on a small tmpfs of its own, filled to the last byte by
a filler file for the outage, then freed (root only: the test skips where
mounting is not allowed). Drift
events must all be delivered while the store is down; once it is writable
again every device has exactly one row and the audit run is stored.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftaudit.adapters.history.clickhouse import chdb_dsn
from driftaudit.cli.audit_cmd import audit_via_broker, local_pipeline, request_for
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.streams import simulated_fleet

pytestmark = [pytest.mark.usefixtures("faust_garbage"), pytest.mark.integration, pytest.mark.kafka]

OUTAGE_S = 30.0


def _fill(directory: Path) -> Path:
    """Take every free byte of the filesystem holding ``directory``; returns the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (2**20, 2**14, 2**10, 64, 1):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)  # noqa: S603, S607


@pytest.fixture
def store_mount() -> Iterator[Path]:
    """A 512 MiB tmpfs for the history store, unmounted at the end."""
    path = Path("/tmp") / f"driftaudit-store-{uuid.uuid4().hex[:8]}"  # noqa: S108 - a mount point of our own
    path.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=512m", "tmpfs", str(path))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        path.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)  # noqa: S603, S607
        path.rmdir()


async def test_store_down_30_s_during_an_audit_every_event_delivered_history_complete(
    kafka_broker, kafka_namespace, tmp_path, store_mount
):
    with simulated_fleet(tmp_path / "fleet", n=12, drifted=3, unreachable=2, latency_s=0.2) as fleet:
        settings = fleet.settings(
            kafka_broker=kafka_broker.bootstrap,
            topic_prefix=kafka_namespace.prefix,
            app_id=kafka_namespace.app_id,
            topic_partitions=2,
            broker_session_timeout_s=6.0,
            clickhouse_dsn=chdb_dsn(store_mount / "history"),
            history_flush_s=0.2,
            masking_key="integration-test-key",
            batch_size=4,
            connect_timeout_s=2.0,
            total_timeout_s=10.0,
        )
        ids = [d.device_id for d in fleet.devices]
        request = request_for(requested_by="outage")
        async with local_pipeline(settings, web_port=free_port()) as stream_app:
            filler = _fill(store_mount)
            down_at = time.monotonic()
            try:
                summary = await audit_via_broker(settings, request, fleet.devices, timeout_s=OUTAGE_S - 5)
                delivered_after = time.monotonic() - down_at
                assert {e.device_id: e.status.value for e in summary.events} == fleet.expected
                await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
                assert stream_app.recorder.failed_attempts > 0, "the outage was not felt by the writer"
                assert stream_app.recorder.events_written == 0
            finally:
                filler.unlink()
            for _ in range(300):
                if stream_app.recorder.waiting == 0 and stream_app.recorder.events_written >= len(ids):
                    break
                await asyncio.sleep(0.1)
            caught_up = stream_app.recorder.events_written
    print(f"\nall {len(ids)} events delivered {delivered_after:.1f} s into a {OUTAGE_S:.0f} s outage")
    assert caught_up >= len(ids)
    from driftaudit.bootstrap import build_history

    history = build_history(settings)
    try:
        assert history.audit_run(request.audit_id) is not None
        for device_id in ids:
            rows = [r for r in history.device_timeline(device_id) if r["audit_id"] == request.audit_id]
            assert len(rows) == 1, device_id
            assert rows[0]["status"] == fleet.expected[device_id]
    finally:
        history.close()
