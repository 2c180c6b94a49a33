"""AnalysisPool: the fetch stage's redact-and-analyze step in child processes gives what a thread gives."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftaudit.audit.pipeline import analyze_config, to_device_config
from driftaudit.bootstrap import build_intended, build_masking
from driftaudit.domain.errors import ConfigurationError
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


def _outcome(device_id: str = "leaf-1", text: str = ACTUAL) -> ConfigResult:
    return ConfigResult(device_id=device_id, raw_text=text, cleaned_text=text, timestamp=NOW)


def _device(device_id: str = "leaf-1") -> Device:
    return Device(device_id=device_id, host="127.0.0.1", platform=Platform.EOS)


def _here(settings: Settings) -> tuple[DeviceConfig, DriftEvent]:
    registry = build_masking(settings)
    config = to_device_config(
        _outcome(), audit_id="a1", device=DEVICE, requested_at=NOW, registry=registry, max_message_bytes=10**6
    )
    return config, analyze_config(config, intended=build_intended(settings), registry=registry)


def _in_thread(
    settings: Settings, *, max_message_bytes: int = 10**6, device_id: str = "leaf-1", text: str = ACTUAL
) -> tuple[bytes, bytes]:
    return config_and_event(
        _outcome(device_id, text),
        audit_id="a1",
        device=_device(device_id),
        requested_at=NOW,
        registry=build_masking(settings),
        intended=build_intended(settings),
        rules=None,
        max_message_bytes=max_message_bytes,
    )


async def _from_child(
    pool: AnalysisPool, here: object, *, device_id: str = "leaf-1", text: str = ACTUAL
) -> tuple[bytes, bytes]:
    return await pool.config_and_event(
        _outcome(device_id, text),
        audit_id="a1",
        device=_device(device_id),
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


def test_the_pool_runs_on_uvloop_the_event_loop_of_a_worker(settings: Settings) -> None:
    """uvloop's transports are not asyncio.Transport subclasses: the pool must not assume they are."""
    import uvloop

    _, event_here = _here(settings)

    async def audit() -> tuple[bytes, tuple[bytes, bytes]]:
        pool = AnalysisPool(settings, 1)
        await pool.start()
        try:
            _, first = await _from_child(pool, _no_fallback)
            for pid in pool.child_pids():
                os.kill(pid, signal.SIGKILL)
            fallback = await _from_child(pool, lambda: (b"config", b"event"))
            assert pool.fallbacks == 1
            return first, fallback
        finally:
            await pool.stop()

    loop = uvloop.new_event_loop()
    try:
        first, fallback = loop.run_until_complete(asyncio.wait_for(audit(), 60))
    finally:
        loop.close()
    assert _same(first, event_here)
    assert fallback == (b"config", b"event")


def _no_fallback() -> tuple[bytes, bytes]:
    pytest.fail("no fallback expected")


async def test_a_child_killed_with_a_call_in_flight_on_it_gives_that_call_the_fallback(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    _, event_here = _here(settings)
    pool = AnalysisPool(settings, 1)
    await pool.start()
    try:
        [pid] = pool.child_pids()
        os.kill(pid, signal.SIGSTOP)  # it cannot answer: the call is surely in flight on it when it dies
        fallback = (b"config", b"event")
        call = asyncio.ensure_future(_from_child(pool, lambda: fallback))
        await asyncio.sleep(0.2)
        assert not call.done()
        with caplog.at_level(logging.ERROR, logger="driftaudit.streams.analysis_pool"):
            os.kill(pid, signal.SIGKILL)
            assert await asyncio.wait_for(call, 30) == fallback
        assert pool.fallbacks == 1
        assert any(
            r.levelno == logging.ERROR and f"process {pid} died" in r.getMessage() for r in caplog.records
        )
        # the next calls go to a new child
        _, again = await asyncio.wait_for(_from_child(pool, _no_fallback), 60)
        assert pool.child_pids()
        assert pid not in pool.child_pids()
    finally:
        await pool.stop()
    assert _same(again, event_here)
    assert pool.fallbacks == 1


async def _new_pids(pool: AnalysisPool, old: set[int]) -> list[int]:
    """The pool's children once none of them is in ``old`` (a replacement was started)."""
    for _ in range(1000):
        pids = pool.child_pids()
        if pids and not set(pids) & old:
            return pids
        await asyncio.sleep(0.01)
    pytest.fail(f"no child replaced {old}")


async def test_a_replacement_that_dies_before_it_is_ready_is_replaced_again(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    fallback = (b"config", b"event")
    pool = AnalysisPool(settings, 1)
    await pool.start()
    try:
        [first] = pool.child_pids()
        os.kill(first, signal.SIGKILL)
        assert await _from_child(pool, lambda: fallback) == fallback  # the call that meets it
        [second] = await _new_pids(pool, {first})
        os.kill(second, signal.SIGKILL)  # spawned, still importing: not ready
        with caplog.at_level(logging.ERROR, logger="driftaudit.streams.analysis_pool"):
            # no child running or starting: this call runs here at once
            assert await asyncio.wait_for(_from_child(pool, lambda: fallback), 30) == fallback
        assert any("no analysis process is running" in r.getMessage() for r in caplog.records)
        assert pool.fallbacks == 2
        [third] = await _new_pids(pool, {first, second})  # a second later, another child
        value, _ = await asyncio.wait_for(_from_child(pool, _no_fallback), 60)
        assert pool.child_pids() == [third]
    finally:
        await pool.stop()
    assert DeviceConfig.model_validate_json(value).device.device_id == "leaf-1"
    assert pool.fallbacks == 2


async def test_an_exception_of_the_step_in_a_child_is_raised_in_the_worker_as_that_exception(
    settings: Settings,
) -> None:
    text = ACTUAL + "banner motd \ud800\n"  # a lone surrogate: the message cannot be encoded
    with pytest.raises(UnicodeEncodeError) as here:
        _in_thread(settings, text=text)
    pool = AnalysisPool(settings, 1)
    await pool.start()
    try:
        with pytest.raises(UnicodeEncodeError) as there:
            await _from_child(pool, _no_fallback, text=text)
        value, _ = await _from_child(pool, _no_fallback)  # and the child goes on answering
    finally:
        await pool.stop()
    assert type(there.value) is type(here.value)
    assert there.value.args == here.value.args
    assert "config_and_event" in str(there.value.__cause__)  # where in the child it was raised
    assert DeviceConfig.model_validate_json(value).device.device_id == "leaf-1"
    assert pool.fallbacks == 0


async def test_many_concurrent_calls_each_get_the_answer_to_their_own_request(settings: Settings) -> None:
    ids = [f"leaf-{i}" for i in range(200)]
    texts = {}
    for i, device_id in enumerate(ids):
        intended = INTENDED.replace("leaf-1", device_id)
        (settings.intended_dir / f"{device_id}.cfg").write_text(intended, encoding="utf-8")
        # every other device drifts, each in its own way
        texts[device_id] = intended.replace("10.0.0.1", f"10.1.{i}.1") if i % 2 else intended
    expected = {d: _in_thread(settings, device_id=d, text=texts[d]) for d in ids}
    pool = AnalysisPool(settings, 2)
    await pool.start()
    try:
        got = await asyncio.gather(
            *(_from_child(pool, _no_fallback, device_id=d, text=texts[d]) for d in ids)
        )
    finally:
        await pool.stop()
    for device_id, (config, event) in zip(ids, got, strict=True):
        want_config, want_event = expected[device_id]
        assert config == want_config
        assert _same(event, DriftEvent.model_validate_json(want_event))
    statuses = [DriftEvent.model_validate_json(event).status.value for _, event in got]
    assert statuses.count("drifted") == 100
    assert statuses.count("compliant") == 100
    assert pool.fallbacks == 0


async def test_a_device_goes_to_its_own_child_unless_that_one_is_busier(settings: Settings) -> None:
    """Each child keeps the masked intended configs it made: a device must come back to the same child."""
    pool = AnalysisPool(settings, 2)
    await pool.start()
    try:
        homes = {d: await pool._pick(d) for d in (f"leaf-{i}" for i in range(40))}  # noqa: SLF001
        assert len(set(map(id, homes.values()))) == 2  # the devices are spread over both children
        for device_id, child in homes.items():
            assert await pool._pick(device_id) is child  # noqa: SLF001 - the same child, audit after audit
        # a device's own child far busier than the other: the other takes it
        device_id, busy = next(iter(homes.items()))
        busy.pending.update({-i: asyncio.get_running_loop().create_future() for i in range(1, 4)})
        try:
            assert await pool._pick(device_id) is not busy  # noqa: SLF001
        finally:
            busy.pending.clear()
        # and the answers are the same wherever a device goes
        results = [await _from_child(pool, _no_fallback) for _ in range(3)]
    finally:
        await pool.stop()
    assert len({config for config, _ in results}) == 1


def _big_config(size: int = 2_000_000) -> str:
    lines = ["hostname big-1"]
    total, i = 0, 0
    while total < size:
        block = [
            f"interface Ethernet{i}",
            f"   description port {i} to rack {i % 40}",
            "   switchport access vlan 10",
        ]
        lines += block
        total += sum(len(line) + 1 for line in block)
        i += 1
    return "\n".join(lines) + "\n"


@pytest.fixture
def big_settings(tmp_path: Path) -> Settings:
    intended = tmp_path / "intended-big"
    intended.mkdir()
    (intended / "big-1.cfg").write_text(_big_config().replace("vlan 10", "vlan 20", 50), encoding="utf-8")
    return Settings(intended_dir=intended, masking_key="pool-test-key", max_message_bytes=8_000_000)


async def test_a_large_config_crosses_both_ways_intact(big_settings: Settings) -> None:
    text = _big_config()
    want_config, want_event = _in_thread(
        big_settings, max_message_bytes=8_000_000, device_id="big-1", text=text
    )
    pool = AnalysisPool(big_settings, 1)
    await pool.start()
    try:
        config, event = await _from_child(pool, _no_fallback, device_id="big-1", text=text)
    finally:
        await pool.stop()
    assert len(config) > 2_000_000
    assert config == want_config
    assert DeviceConfig.model_validate_json(config).redacted_text == text
    assert _same(event, DriftEvent.model_validate_json(want_event))
    assert DriftEvent.model_validate_json(event).status.value == "drifted"


async def test_stop_cancels_the_calls_in_flight_and_leaves_no_child(big_settings: Settings) -> None:
    text = _big_config()
    pool = AnalysisPool(big_settings, 2)
    await pool.start()
    pids = pool.child_pids()
    assert len(pids) == 2
    calls = [
        asyncio.ensure_future(_from_child(pool, _no_fallback, device_id="big-1", text=text)) for _ in range(6)
    ]
    await asyncio.sleep(0.1)  # four on the children (0.3 s each), two waiting for a slot
    assert not any(call.done() for call in calls)
    await pool.stop()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, asyncio.CancelledError) for result in results), results
    assert pool.child_pids() == []
    with pytest.raises(RuntimeError, match="not started"):  # a call made after stop is refused
        await _from_child(pool, _no_fallback)
    assert [pid for pid in pids if _running(pid)] == []
    assert pool.fallbacks == 0


async def test_a_bad_setting_fails_start_with_the_error_and_leaves_no_child(
    settings: Settings, tmp_path: Path
) -> None:
    import multiprocessing

    bad = Settings(
        intended_dir=settings.intended_dir, masking_key="k", rules_path=tmp_path / "missing-rules.yaml"
    )
    pool = AnalysisPool(bad, 2)
    with pytest.raises(ConfigurationError, match="missing-rules.yaml") as raised:
        await pool.start()
    assert any("analysis process" in note for note in getattr(raised.value, "__notes__", []))
    assert pool.child_pids() == []
    assert [p for p in multiprocessing.active_children() if p.name == "driftaudit-analysis"] == []


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


class _KeywordOnlyError(Exception):
    """An exception pickle cannot rebuild (its constructor wants a keyword its args do not give)."""

    def __init__(self, *, detail: str) -> None:
        super().__init__(f"failed: {detail}")


def test_an_exception_that_cannot_cross_to_the_worker_becomes_a_runtime_error_naming_it() -> None:
    from driftaudit.streams.analysis_pool import _failure

    try:
        raise _KeywordOnlyError(detail="x")
    except _KeywordOnlyError as exc:
        ok, crossing, trace = _failure(exc)
    assert ok is False
    assert type(crossing) is RuntimeError
    assert "_KeywordOnlyError" in str(crossing)
    assert "test_an_exception_that_cannot_cross" in (trace or "")
    plain = ValueError("plain")
    assert _failure(plain)[1] is plain  # one that can cross goes as it is
