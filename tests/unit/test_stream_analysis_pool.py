"""AnalysisPool: the fetch stage's redact-and-analyze step in child processes gives what a thread gives."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftaudit.audit.pipeline import analyze_config, to_device_config
from driftaudit.bootstrap import build_intended, build_masking
from driftaudit.domain.models import ConfigResult, Device, DeviceConfig, DriftEvent, Platform
from driftaudit.settings import Settings
from driftaudit.streams.analysis_pool import AnalysisPool, config_and_event

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INTENDED = "hostname leaf-1\ninterface Ethernet1\n   description uplink\nntp server 10.0.0.1\n"
ACTUAL = INTENDED.replace("10.0.0.1", "10.0.0.9") + "username admin secret 5 $1$abcd$0123456789abcdefghij\n"
DEVICE = Device(device_id="leaf-1", host="127.0.0.1", platform=Platform.EOS)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    intended = tmp_path / "intended"
    intended.mkdir()
    (intended / "leaf-1.cfg").write_text(INTENDED, encoding="utf-8")
    return Settings(intended_dir=intended, masking_key="pool-test-key")


def _same(value: bytes, event: DriftEvent) -> bool:
    """The event in ``value`` is ``event``, but for how long the analysis took."""
    exclude = {"analyze_ms"}
    got = DriftEvent.model_validate_json(value).model_dump(exclude=exclude)
    return got == event.model_dump(exclude=exclude)


def _outcome() -> ConfigResult:
    return ConfigResult(device_id="leaf-1", raw_text=ACTUAL, cleaned_text=ACTUAL, timestamp=NOW)


def _here(settings: Settings) -> tuple[DeviceConfig, DriftEvent]:
    registry = build_masking(settings)
    config = to_device_config(
        _outcome(), audit_id="a1", device=DEVICE, requested_at=NOW, registry=registry, max_message_bytes=10**6
    )
    return config, analyze_config(config, intended=build_intended(settings), registry=registry)


def _in_thread(settings: Settings, *, max_message_bytes: int = 10**6) -> tuple[bytes, bytes]:
    return config_and_event(
        _outcome(),
        audit_id="a1",
        device=DEVICE,
        requested_at=NOW,
        registry=build_masking(settings),
        intended=build_intended(settings),
        rules=None,
        max_message_bytes=max_message_bytes,
    )


async def _from_child(pool: AnalysisPool, here: object) -> tuple[bytes, bytes]:
    return await pool.config_and_event(
        _outcome(),
        audit_id="a1",
        device=DEVICE,
        requested_at=NOW,
        here=here,  # type: ignore[arg-type]
    )


async def test_the_children_redact_and_analyze_as_the_worker_does(settings: Settings) -> None:
    config_here, event_here = _here(settings)
    pool = AnalysisPool(settings, 1)
    await pool.start()
    try:
        value, event_bytes = await _from_child(pool, lambda: pytest.fail("no fallback expected"))
    finally:
        await pool.stop()
    config = DeviceConfig.model_validate_json(value)
    assert config == config_here
    assert "0123456789abcdefghij" not in value.decode()  # redacted in the child, before it leaves
    assert "0123456789abcdefghij" not in event_bytes.decode()
    assert _same(event_bytes, event_here)
    assert event_here.status.value == "drifted"
    thread_value, thread_event = _in_thread(settings)
    assert thread_value == value
    assert _same(thread_event, event_here)


def test_a_config_over_the_message_limit_is_an_error_on_both_messages(settings: Settings) -> None:
    value, event_bytes = _in_thread(settings, max_message_bytes=300)
    config = DeviceConfig.model_validate_json(value)
    event = DriftEvent.model_validate_json(event_bytes)
    assert config.redacted_text is None
    assert config.failure is not None
    assert config.failure.error_type == "ConfigTooLargeError"
    assert event.status.value == "error"
    assert "exceeds max_message_bytes=300" in (event.reason or "")


async def test_a_dead_child_is_replaced_and_its_message_runs_here(settings: Settings) -> None:
    _, event_here = _here(settings)
    pool = AnalysisPool(settings, 1)
    await pool.start()
    try:
        for pid in pool.child_pids():
            os.kill(pid, signal.SIGKILL)
        fallback = (b"config", b"event")
        assert await _from_child(pool, lambda: fallback) == fallback
        assert pool.fallbacks == 1
        # the new pool answers again from its own child
        _, again = await _from_child(pool, lambda: pytest.fail("no fallback expected"))
    finally:
        await pool.stop()
    assert _same(again, event_here)


def test_the_children_of_a_killed_worker_exit(settings: Settings, tmp_path: Path) -> None:
    """A SIGKILLed worker cannot stop its pool: its children must not live on."""
    import subprocess
    import sys
    import time

    script = tmp_path / "worker.py"
    script.write_text(
        "import asyncio, sys, time\n"
        "from pathlib import Path\n"
        "from driftaudit.settings import Settings\n"
        "from driftaudit.streams.analysis_pool import AnalysisPool\n"
        "async def main():\n"
        "    pool = AnalysisPool(Settings(intended_dir=Path(sys.argv[1]), masking_key='k'), 2)\n"
        "    await pool.start()\n"
        "    print(' '.join(str(p) for p in pool.child_pids()), flush=True)\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n",
        encoding="utf-8",
    )
    worker = subprocess.Popen(
        [sys.executable, str(script), str(settings.intended_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        children = [int(p) for p in worker.stdout.readline().split()]
        assert len(children) == 2
        worker.kill()
        worker.wait(10)
        deadline = time.monotonic() + 10
        alive = children
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [p for p in children if Path(f"/proc/{p}").exists() and _running(p)]
        assert alive == [], "the analysis processes outlived their worker"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        if worker.stdout is not None:
            worker.stdout.close()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
