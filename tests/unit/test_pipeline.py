"""trigger_fleet_audit with hand-written fakes of the ports and the real steps."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from driftaudit.audit.pipeline import (
    analyze_config,
    resolve_audit,
    summarize,
    to_device_config,
    trigger_fleet_audit,
)
from driftaudit.audit.summary import TOP_LEVEL, top_sections
from driftaudit.domain.errors import (
    AuthError,
    ConnectError,
    InputError,
    MissingDeviceError,
    StoreUnavailableError,
    UnknownDeviceError,
)
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import (
    AuditRequest,
    AuditRun,
    ChangeType,
    ConfigResult,
    Device,
    DeviceSelector,
    DeviceStatus,
    DriftEvent,
    DriftLine,
    FleetScore,
    Platform,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET_HASH = "$1$abCD$3Wq1ZQ0tMpDjn1SbaL3bq/"

INTENDED = """\
hostname {name}
username admin secret 5 $1$zzzz$intendedHashValue00000
interface GigabitEthernet0/1
 description uplink
 ip address 10.0.0.1 255.255.255.0
ntp server 10.1.1.1
"""

DRIFTED = """\
hostname {name}
username admin secret 5 $1$zzzz$intendedHashValue00000
interface GigabitEthernet0/1
 description uplink
 ip address 10.0.0.9 255.255.255.0
 shutdown
ntp server 10.1.1.1
"""


class FakeInventory:
    def __init__(self, devices: Sequence[Device]) -> None:
        self.devices = {d.device_id: d for d in devices}

    def get(self, device_id: str) -> Device:
        try:
            return self.devices[device_id]
        except KeyError:
            raise UnknownDeviceError(device_id) from None

    def select(self, selector: DeviceSelector) -> list[Device]:
        if selector.device_ids:
            missing = [i for i in selector.device_ids if i not in self.devices]
            if missing:
                raise UnknownDeviceError(", ".join(missing))
            return [self.devices[i] for i in selector.device_ids]
        return [d for d in self.devices.values() if selector.tenant in (None, d.tenant)]

    def reload(self) -> None:
        pass


class FakeIntended:
    def __init__(self, configs: dict[str, str], broken: frozenset[str] = frozenset()) -> None:
        self.configs = configs
        self.broken = broken

    def get_intended(self, device_id: str) -> str | None:
        if device_id in self.broken:
            raise InputError(f"device id {device_id!r} escapes the intended-config directory")
        return self.configs.get(device_id)

    def reload(self) -> None:
        pass


class FakeClient:
    """Answers from a table: text, or an exception to raise; tracks concurrency."""

    def __init__(self, answers: dict[str, str | Exception], *, clock: Any, delay: float = 0.0) -> None:
        self.answers = answers
        self.clock = clock
        self.delay = delay
        self.calls: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def fetch_device_config(self, device: Device) -> ConfigResult:
        self.calls.append(device.device_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            answer = self.answers[device.device_id]
            if isinstance(answer, Exception):
                raise answer
            return ConfigResult(
                device_id=device.device_id,
                raw_text=answer,
                cleaned_text=answer,
                timestamp=self.clock(),
                fetch_ms=1.5,
            )
        finally:
            self.in_flight -= 1


class FakeHistory:
    def __init__(self, *, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.runs: list[AuditRun] = []
        self.events: list[DriftEvent] = []

    def _maybe_fail(self, what: str) -> None:
        if self.fail_on == what:
            raise StoreUnavailableError("history store chdb:///x is unavailable")

    def record_audit_run(self, run: AuditRun) -> None:
        self._maybe_fail("run")
        self.runs.append(run)

    def write_events(self, events: Sequence[DriftEvent]) -> None:
        self._maybe_fail("events")
        self.events.extend(events)

    def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        pass

    def device_timeline(self, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return []

    def latest_status(self) -> list[dict[str, Any]]:
        return []

    def score_over_time(self, tenant: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.ticks = itertools.count()

    def __call__(self) -> datetime:
        return T0 + timedelta(seconds=next(self.ticks))


def device(device_id: str, tenant: str = "acme") -> Device:
    return Device(device_id=device_id, host="127.0.0.1", platform=Platform.IOS, tenant=tenant)


@pytest.fixture
def registry() -> MaskingRegistry:
    return MaskingRegistry.builtin(key=b"unit-test-masking-key")


@pytest.fixture
def fleet() -> dict[str, Any]:
    devices = [
        device("ok-1"),
        device("drift-1"),
        device("down-1", tenant="globex"),
        device("auth-1", tenant="globex"),
        device("nointent-1"),
    ]
    clock = Clock()
    intended = FakeIntended({d.device_id: INTENDED.format(name=d.device_id) for d in devices[:4]})
    answers: dict[str, str | Exception] = {
        "ok-1": INTENDED.format(name="ok-1"),
        "drift-1": DRIFTED.format(name="drift-1"),
        "down-1": ConnectError("down-1", "connection refused"),
        "auth-1": AuthError("auth-1", "credentials refused"),
        "nointent-1": INTENDED.format(name="nointent-1"),
    }
    return {
        "devices": devices,
        "inventory": FakeInventory(devices),
        "intended": intended,
        "client": FakeClient(answers, clock=clock),
        "clock": clock,
    }


def request(selector: DeviceSelector | None = None, audit_id: str = "audit-1") -> AuditRequest:
    return AuditRequest(
        audit_id=audit_id, requested_at=T0, requested_by="unit", selector=selector or DeviceSelector()
    )


async def run(fleet: dict[str, Any], registry: MaskingRegistry, **overrides: Any) -> Any:
    audit_request = overrides.pop("request", request())
    arguments: dict[str, Any] = {
        "inventory": fleet["inventory"],
        "intended": fleet["intended"],
        "client": fleet["client"],
        "registry": registry,
        "history": FakeHistory(),
        "batch_size": 2,
        "now": fleet["clock"],
    }
    arguments.update(overrides)
    return await trigger_fleet_audit(audit_request, **arguments)


async def test_every_device_gets_its_status(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    summary = await run(fleet, registry)
    statuses = {e.device_id: e.status for e in summary.events}
    assert statuses == {
        "ok-1": DeviceStatus.COMPLIANT,
        "drift-1": DeviceStatus.DRIFTED,
        "down-1": DeviceStatus.UNREACHABLE,
        "auth-1": DeviceStatus.ERROR,
        "nointent-1": DeviceStatus.ERROR,
    }
    assert [e.device_id for e in summary.events] == [d.device_id for d in fleet["devices"]]
    assert summary.device_ids == tuple(d.device_id for d in fleet["devices"])
    assert all(e.audit_id == "audit-1" and e.requested_at == T0 for e in summary.events)
    assert summary.score == FleetScore(score=50.0, compliant=1, drifted=1, unreachable=1, error=2)
    assert set(summary.tenant_scores) == {"acme", "globex"}
    assert summary.tenant_scores["acme"].score == 50.0
    assert summary.tenant_scores["globex"].score is None
    assert summary.tenant_scores["globex"].unreachable == 1
    down = next(e for e in summary.events if e.device_id == "down-1")
    assert "connection refused" in (down.reason or "")


async def test_drift_lines_and_top_sections(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    summary = await run(fleet, registry)
    drifted = next(e for e in summary.events if e.device_id == "drift-1")
    added = {(line.line.strip(), line.path) for line in drifted.added}
    removed = {(line.line.strip(), line.path) for line in drifted.removed}
    section = ("interface GigabitEthernet0/1",)
    assert ("shutdown", section) in added
    assert ("ip address 10.0.0.9 255.255.255.0", section) in added
    assert ("ip address 10.0.0.1 255.255.255.0", section) in removed
    assert list(summary.top_sections.items())[0] == ("interface GigabitEthernet0/1", 3)


async def test_history_gets_run_and_events(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    history = FakeHistory()
    summary = await run(fleet, registry, history=history)
    assert summary.stored is True
    assert summary.history_error is None
    assert [r.audit_id for r in history.runs] == ["audit-1"]
    assert history.runs[0].device_ids == summary.device_ids
    assert history.events == list(summary.events)


@pytest.mark.parametrize("fail_on", ["run", "events"])
async def test_history_failure_keeps_results(
    fleet: dict[str, Any], registry: MaskingRegistry, fail_on: str
) -> None:
    history = FakeHistory(fail_on=fail_on)
    summary = await run(fleet, registry, history=history)
    assert summary.stored is False
    assert "unavailable" in (summary.history_error or "")
    assert len(summary.events) == 5
    assert history.events == []


async def test_without_history(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    summary = await run(fleet, registry, history=None)
    assert summary.stored is False
    assert summary.history_error is None
    assert len(summary.events) == 5


async def test_secrets_never_leave(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    leaked = DRIFTED.format(name="drift-1").replace("$1$zzzz$intendedHashValue00000", SECRET_HASH)
    fleet["client"].answers["drift-1"] = leaked
    history = FakeHistory()
    summary = await run(fleet, registry, history=history)
    drifted = next(e for e in summary.events if e.device_id == "drift-1")
    assert drifted.status is DeviceStatus.DRIFTED
    # a changed secret is drift, but only its fingerprint token travels
    assert any("username admin secret" in line.line for line in drifted.added)
    assert SECRET_HASH not in summary.model_dump_json()
    assert SECRET_HASH not in json.dumps([e.model_dump(mode="json") for e in history.events])


async def test_unknown_ids_fail_before_anything(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    history = FakeHistory()
    with pytest.raises(UnknownDeviceError, match="ghost"):
        await run(
            fleet, registry, history=history, request=request(DeviceSelector(device_ids=("ok-1", "ghost")))
        )
    assert fleet["client"].calls == []
    assert history.runs == []


async def test_selector_limits_the_audit(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    summary = await run(fleet, registry, request=request(DeviceSelector(tenant="globex")))
    assert summary.device_ids == ("down-1", "auth-1")
    assert sorted(fleet["client"].calls) == ["auth-1", "down-1"]
    assert summary.score.score is None
    assert summary.score.total == 2


async def test_fetches_stay_within_batch_size(registry: MaskingRegistry) -> None:
    devices = [device(f"r{i}") for i in range(12)]
    clock = Clock()
    text = {d.device_id: INTENDED.format(name=d.device_id) for d in devices}
    client = FakeClient(dict(text), clock=clock, delay=0.01)
    summary = await trigger_fleet_audit(
        request(),
        inventory=FakeInventory(devices),
        intended=FakeIntended(text),
        client=client,
        registry=registry,
        history=None,
        batch_size=3,
        now=clock,
    )
    assert summary.score.score == 100.0
    assert sorted(client.calls) == sorted(text)
    assert 1 < client.max_in_flight <= 3


async def test_unreadable_intended_is_one_error(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    fleet["intended"].broken = frozenset({"ok-1"})
    summary = await run(fleet, registry)
    ok = next(e for e in summary.events if e.device_id == "ok-1")
    assert ok.status is DeviceStatus.ERROR
    assert "escapes" in (ok.reason or "")
    assert next(e for e in summary.events if e.device_id == "drift-1").status is DeviceStatus.DRIFTED


async def test_empty_selection_is_refused(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    history = FakeHistory()
    with pytest.raises(InputError, match="matches no device"):
        await run(fleet, registry, history=history, request=request(DeviceSelector(tenant="nobody")))
    assert fleet["client"].calls == []
    assert history.runs == []


async def test_clock_is_injected(fleet: dict[str, Any], registry: MaskingRegistry) -> None:
    summary = await run(fleet, registry)
    assert summary.started_at == T0
    assert summary.finished_at > summary.started_at
    assert summary.duration_s == (summary.finished_at - summary.started_at).total_seconds()


def test_resolve_audit_records_selection(fleet: dict[str, Any]) -> None:
    selector = DeviceSelector(device_ids=("auth-1", "ok-1"))
    run_, devices = resolve_audit(request(selector), fleet["inventory"])
    assert run_ == AuditRun(
        audit_id="audit-1",
        requested_at=T0,
        requested_by="unit",
        device_ids=("auth-1", "ok-1"),
        selector=selector,
    )
    assert [d.device_id for d in devices] == ["auth-1", "ok-1"]


def test_device_config_is_redacted(registry: MaskingRegistry) -> None:
    d = device("r1")
    text = f"hostname r1\nusername admin secret 5 {SECRET_HASH}\n"
    outcome = ConfigResult(device_id="r1", raw_text=text, cleaned_text=text, timestamp=T0, fetch_ms=2.0)
    config = to_device_config(outcome, audit_id="a", device=d, requested_at=T0, registry=registry)
    assert config.failure is None
    assert config.fetched_at == T0
    assert config.redacted_text is not None
    assert SECRET_HASH not in config.redacted_text
    assert "hostname r1" in config.redacted_text
    event = analyze_config(config, intended=FakeIntended({"r1": text}), registry=registry)
    assert event.status is DeviceStatus.COMPLIANT


def test_summarize_requires_every_device() -> None:
    with pytest.raises(MissingDeviceError):
        summarize(
            audit_id="a",
            requested_at=T0,
            devices=[device("r1")],
            events=[],
            started_at=T0,
            finished_at=T0,
        )


def test_top_sections_counts_paths() -> None:
    def line(path: tuple[str, ...], change: ChangeType = ChangeType.ADDED) -> DriftLine:
        return DriftLine(change=change, line="x", path=path)

    def event(device_id: str, *lines: DriftLine) -> DriftEvent:
        return DriftEvent(
            audit_id="a",
            device_id=device_id,
            tenant="t",
            platform=Platform.IOS,
            status=DeviceStatus.DRIFTED,
            added=tuple(x for x in lines if x.change is ChangeType.ADDED),
            removed=tuple(x for x in lines if x.change is ChangeType.REMOVED),
            requested_at=T0,
            observed_at=T0,
        )

    bgp = ("router bgp 65000", "address-family ipv4")
    events = [
        event("r1", line(bgp), line(bgp, ChangeType.REMOVED), line(()), line(("line vty 0 4",))),
        event("r2", line(bgp), line(("line vty 0 4",))),
    ]
    assert top_sections(events, None) == {
        "router bgp 65000 > address-family ipv4": 3,
        "line vty 0 4": 2,
        TOP_LEVEL: 1,
    }
    assert top_sections(events, 1) == {"router bgp 65000 > address-family ipv4": 3}
    assert top_sections([], 5) == {}


async def test_the_oversize_rule_is_the_streams_in_process(
    fleet: dict[str, Any], registry: MaskingRegistry
) -> None:
    summary = await run(fleet, registry, max_message_bytes=300)
    ok = next(e for e in summary.events if e.device_id == "ok-1")
    assert ok.status is DeviceStatus.ERROR
    assert "exceeds max_message_bytes=300" in (ok.reason or "")


async def test_a_device_slower_than_the_timeout_is_a_timeout_result(registry: MaskingRegistry) -> None:
    from driftaudit.audit.fleet import fetch_fleet_configs
    from driftaudit.domain.models import FetchFailure

    class Hanging:
        async def fetch_device_config(self, device: Device) -> Any:
            await asyncio.sleep(30)

    devices = {"d": Device(device_id="d", host="127.0.0.1", platform=Platform.EOS)}
    (outcome,) = await fetch_fleet_configs(
        ["d"], Hanging(), resolve=devices.__getitem__, batch_size=1, timeout_s=0.2
    )
    assert isinstance(outcome, FetchFailure)
    assert outcome.status is DeviceStatus.UNREACHABLE
    assert outcome.reason == "timeout"
