"""The stage handlers and agents without a broker: fakes of the ports, a recording outbox.

The agent tests go through Faust's ``agent.test_context()``, which feeds an
agent from an in-memory channel, so decoding, dead-lettering and emitting are
exercised exactly as a worker runs them.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from driftaudit.domain.errors import InputError
from driftaudit.domain.models import (
    AuditRequest,
    DeadLetter,
    DeviceConfig,
    DeviceFetchTask,
    DeviceSelector,
    DeviceStatus,
    DriftEvent,
)
from driftaudit.domain.scoring import FleetHealthScorer
from driftaudit.streams.app import create_app
from driftaudit.streams.codec import decode, encode
from driftaudit.streams.deps import StreamDeps
from driftaudit.streams.fitting import bounded_dead_letter
from driftaudit.streams.outbox import RecordingOutbox
from driftaudit.streams.score import ScoreObservation, fleet_score, merge_latest, observed_timestamp
from driftaudit.streams.topics import TopicNames
from tests.plugins.streams import (
    INTENDED,
    MemoryHistory,
    MemoryIntended,
    MemoryInventory,
    ScriptedClient,
    make_devices,
    stream_settings,
)

pytestmark = pytest.mark.usefixtures("faust_garbage")

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NAMES = TopicNames("test.")


def _deps(masking_registry, n=6, *, unreachable=(), latency_s=0.0, drifted=(), **settings):
    devices = make_devices(n)
    intended = {d.device_id: INTENDED.format(name=d.device_id) for d in devices}
    actual = dict(intended)
    for device_id in drifted:
        actual[device_id] += "logging host 10.9.9.9\n"
    client = ScriptedClient(actual, unreachable=set(unreachable), latency_s=latency_s)
    history = MemoryHistory()
    deps = StreamDeps(
        settings=stream_settings(**settings),
        inventory=MemoryInventory(devices),
        intended=MemoryIntended(intended),
        client=client,
        registry=masking_registry,
        history=history,
        clock=lambda: NOW,
    )
    return deps, devices, client, history


def _request(**selector) -> bytes:
    request = AuditRequest(audit_id="a-1", requested_at=NOW, selector=DeviceSelector(**selector))
    return encode(request)


def _letters(outbox: RecordingOutbox) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(v) for _, v in outbox.on(NAMES.dead_letter)]


# -- codec ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty payload"),
        (b"{nope", "invalid JSON"),
        (b'{"audit_id": "x"}', "schema violation"),
        (b"x" * 5000, "exceeds max_message_bytes"),
    ],
)
def test_decode_turns_every_bad_payload_into_an_input_error(payload, reason):
    with pytest.raises(InputError, match=reason):
        decode(AuditRequest, payload, max_bytes=4096)


def test_a_schema_violation_never_quotes_the_rejected_value():
    payload = json.dumps({"audit_id": "ok", "requested_at": "s3cr3t-value"}).encode()
    with pytest.raises(InputError) as caught:
        decode(AuditRequest, payload, max_bytes=4096)
    assert "s3cr3t" not in str(caught.value)


def test_dead_letter_keeps_the_original_bytes():
    letter = bounded_dead_letter(
        stage="split",
        reason="r",
        topic="t",
        key=b"k\x00",
        payload=b"\xff\x01",
        received_at=NOW,
        max_payload_bytes=4096,
    )
    assert base64.b64decode(letter.payload_b64) == b"\xff\x01"
    assert base64.b64decode(letter.key_b64 or "") == b"k\x00"


# -- stage handlers ---------------------------------------------------------------------------


async def test_split_records_the_run_and_emits_one_task_per_selected_device(masking_registry):
    deps, devices, _, history = _deps(masking_registry)
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)
    await app.handlers.split(b"a-1", _request(tenant="acme"))
    tasks = [DeviceFetchTask.model_validate_json(v) for _, v in outbox.on(NAMES.device_fetch)]
    expected = [d.device_id for d in devices if d.tenant == "acme"]
    assert [t.device.device_id for t in tasks] == expected
    assert [k for k, _ in outbox.on(NAMES.device_fetch)] == [i.encode() for i in expected]
    assert history.runs["a-1"].device_ids == tuple(expected)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "invalid JSON"),
        (_request(device_ids=("nope",)), "nope"),
        (_request(tenant="no-such-tenant"), "matches no device"),
    ],
)
async def test_split_dead_letters_what_it_cannot_accept(masking_registry, payload, reason):
    deps, *_ = _deps(masking_registry)
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)
    await app.handlers.guard("split", NAMES.audit_requests, b"k", payload, app.handlers.split)
    (letter,) = _letters(outbox)
    assert (letter.stage, letter.topic) == ("split", NAMES.audit_requests)
    assert reason in letter.reason
    assert base64.b64decode(letter.payload_b64) == payload
    assert not outbox.on(NAMES.device_fetch)


async def test_fetch_never_has_more_than_batch_size_in_flight(masking_registry):
    deps, devices, client, _ = _deps(masking_registry, n=20, latency_s=0.02, batch_size=4)
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)
    tasks = [encode(DeviceFetchTask(audit_id="a", device=d, requested_at=NOW)) for d in devices]
    await asyncio.gather(*(app.handlers.fetch(None, t) for t in tasks))
    assert client.max_in_flight == 4
    assert len(outbox.on(NAMES.device_configs)) == 20


async def test_fetch_makes_unreachable_and_hung_devices_results_and_redacts_secrets(masking_registry):
    deps, devices, client, _ = _deps(masking_registry, n=3, unreachable={"dev-001"}, total_timeout_s=0.2)
    client.configs["dev-000"] += (
        "snmp-server community Sup3rS3cret RO\nusername admin secret 5 $1$abcd$0123456789abcdefghij\n"
    )
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)

    async def hang(device):
        await asyncio.sleep(30)

    slow = devices[2]
    for device in devices[:2]:
        await app.handlers.fetch(None, encode(DeviceFetchTask(audit_id="a", device=device, requested_at=NOW)))
    client.fetch_device_config = hang  # type: ignore[method-assign]
    await app.handlers.fetch(None, encode(DeviceFetchTask(audit_id="a", device=slow, requested_at=NOW)))
    configs = {
        c.device.device_id: c
        for c in (DeviceConfig.model_validate_json(v) for _, v in outbox.on(NAMES.device_configs))
    }
    assert configs["dev-001"].failure is not None
    assert configs["dev-001"].failure.status == DeviceStatus.UNREACHABLE
    assert configs["dev-002"].failure is not None
    assert "timeout" in configs["dev-002"].failure.reason
    wire = b"".join(v for _, v in outbox.on(NAMES.device_configs))
    assert b"Sup3rS3cret" not in wire
    assert b"0123456789abcdefghij" not in wire
    assert configs["dev-000"].redacted_text is not None


async def test_fetch_emits_the_drift_event_of_each_device_with_its_config(masking_registry):
    deps, devices, _, _ = _deps(masking_registry, n=4, unreachable={"dev-001"}, drifted={"dev-002"})
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)
    for device in devices:
        await app.handlers.fetch(None, encode(DeviceFetchTask(audit_id="a", device=device, requested_at=NOW)))
    assert [k for k, _ in outbox.on(NAMES.device_configs)] == [k for k, _ in outbox.on(NAMES.drift_events)]
    events = {
        e.device_id: e.status
        for e in (DriftEvent.model_validate_json(v) for _, v in outbox.on(NAMES.drift_events))
    }
    assert events == {
        "dev-000": DeviceStatus.COMPLIANT,
        "dev-001": DeviceStatus.UNREACHABLE,
        "dev-002": DeviceStatus.DRIFTED,
        "dev-003": DeviceStatus.COMPLIANT,
    }


def _event(device_id: str, status: DeviceStatus, *, tenant="acme", at=NOW, audit="a") -> DriftEvent:
    return DriftEvent(
        audit_id=audit,
        device_id=device_id,
        tenant=tenant,
        platform="arista_eos",
        status=status,
        requested_at=at,
        observed_at=at,
    )


async def test_record_stores_valid_events_once_and_dead_letters_the_rest(masking_registry):
    deps, _, _, history = _deps(masking_registry)
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)
    good = encode(_event("dev-000", DeviceStatus.COMPLIANT))
    try:
        for key, value in [(b"dev-000", good), (b"bad", b"{"), (b"dev-000", good)]:
            await app.handlers.record(key, value)
    finally:
        await app.recorder.stop()
    assert app.recorder.events_written == 2
    assert list(history.events) == [("a", "dev-000")]
    (letter,) = _letters(outbox)
    assert letter.stage == "record"


async def test_a_drift_event_the_outbox_refuses_is_cut_to_fit_never_dropped(masking_registry):
    deps, *_ = _deps(masking_registry)
    app = create_app(deps, outbox=(outbox := RecordingOutbox(max_bytes=4000)), web_enabled=False)
    from driftaudit.domain.models import ChangeType, DriftLine

    lines = tuple(DriftLine(change=ChangeType.ADDED, line=f"ntp server 10.0.0.{i}") for i in range(500))
    event = _event("dev-000", DeviceStatus.DRIFTED).model_copy(
        update={"added": lines, "unified_diff": "x" * 9000}
    )
    await app.handlers.send_event(event)
    ((_, value),) = outbox.on(NAMES.drift_events)
    sent = DriftEvent.model_validate_json(value)
    assert len(value) <= 4000
    assert sent.added_total == 500
    assert 0 < len(sent.added) < 500
    assert sent.truncated is not None
    assert "added 500 ->" in sent.truncated


async def test_a_drift_event_with_large_features_and_remediation_is_cut_to_fit(masking_registry):
    deps, *_ = _deps(masking_registry)
    app = create_app(deps, outbox=(outbox := RecordingOutbox(max_bytes=6000)), web_enabled=False)
    from driftaudit.domain.models import ChangeType, DriftLine, FeatureResult, FeatureStatus

    lines = tuple(
        DriftLine(change=ChangeType.ADDED, line=f"ntp server 10.0.{i // 250}.{i % 250}") for i in range(400)
    )
    steps = tuple(f"ntp server 10.0.{i // 250}.{i % 250}" for i in range(400))
    feature = FeatureResult(
        feature="ntp", status=FeatureStatus.DRIFTED, added=lines, added_count=400, remediation=steps
    )
    event = _event("dev-000", DeviceStatus.DRIFTED).model_copy(
        update={"added": lines, "remediation": steps, "features": (feature,)}
    )
    await app.handlers.send_event(event)
    ((_, value),) = outbox.on(NAMES.drift_events)
    sent = DriftEvent.model_validate_json(value)
    assert len(value) <= 6000
    assert sent.added_total == 400
    (ntp,) = sent.features
    assert ntp.status is FeatureStatus.DRIFTED
    assert ntp.added_count == 400
    assert len(ntp.added) < 400
    assert len(sent.remediation) < 400
    assert sent.truncated is not None
    assert "remediation 400 ->" in sent.truncated


async def test_a_dead_letter_keeps_a_bounded_prefix_with_size_and_sha256(masking_registry):
    import hashlib

    deps, *_ = _deps(masking_registry)
    app = create_app(deps, outbox=(outbox := RecordingOutbox(max_bytes=20_000)), web_enabled=False)
    payload = b"{" * 200_000
    await app.handlers.guard("split", NAMES.audit_requests, b"k", payload, app.handlers.split)
    (letter,) = _letters(outbox)
    assert letter.payload_size == 200_000
    assert letter.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert letter.payload_truncated
    assert 0 < len(base64.b64decode(letter.payload_b64)) < 20_000


# -- fleet score --------------------------------------------------------------------------------


def test_merge_latest_keeps_the_newest_status_per_device():
    old = ScoreObservation(tenant="t", device_id="d", status=DeviceStatus.DRIFTED, observed_at=NOW)
    new = old.model_copy(update={"status": DeviceStatus.COMPLIANT, "observed_at": NOW + timedelta(seconds=5)})
    assert merge_latest(merge_latest(None, old), new)["d"][0] == "compliant"
    assert merge_latest(merge_latest(None, new), old)["d"][0] == "compliant"  # a late repeat changes nothing


def test_fleet_score_of_a_window_is_the_domain_scorer_over_its_devices():
    statuses = {"a": DeviceStatus.COMPLIANT, "b": DeviceStatus.DRIFTED, "c": DeviceStatus.UNREACHABLE}
    value = {d: [s.value, 1.0] for d, s in statuses.items()}
    assert fleet_score("t", value) == FleetHealthScorer().score(statuses, tenant="t")
    assert fleet_score("t", {}).score is None


def test_the_window_follows_observed_at_not_the_broker_clock():
    class Event:
        value = encode(ScoreObservation(tenant="t", device_id="d", status="compliant", observed_at=NOW))

    assert observed_timestamp(Event()) == NOW.timestamp()


# -- the agents through Faust's test context ----------------------------------------------------


async def test_score_agent_counts_each_device_once_per_window(masking_registry):
    deps, *_ = _deps(masking_registry)
    stream_app = create_app(deps, outbox=RecordingOutbox(), web_enabled=False)
    stream_app.app.finalize()
    now = datetime.now(UTC)
    observations = [
        ScoreObservation(tenant="acme", device_id="d1", status="drifted", observed_at=now),
        ScoreObservation(
            tenant="acme", device_id="d1", status="compliant", observed_at=now + timedelta(seconds=1)
        ),
        ScoreObservation(tenant="acme", device_id="d2", status="unreachable", observed_at=now),
        ScoreObservation(tenant="globex", device_id="d3", status="drifted", observed_at=now),
    ]
    async with stream_app.agents.score.test_context() as agent:
        for observation in observations:
            await agent.put(encode(observation), key=observation.routing_key())
        acme = stream_app.scoreboard.score("acme")
        total = stream_app.scoreboard.total()
    assert (acme.compliant, acme.unreachable, acme.drifted, acme.score) == (1, 1, 0, 100.0)
    assert (total.compliant, total.drifted, total.unreachable) == (1, 1, 1)


async def test_fetch_carries_feature_results_and_reloads_a_changed_rules_file(masking_registry, tmp_path):
    from driftaudit.adapters.rules import FileRulesSource

    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text("features:\n  - name: logging\n    sections: ['logging ']\n")
    deps, devices, _, _ = _deps(masking_registry, n=2, drifted={"dev-001"})
    deps.rules = FileRulesSource(rules_path, check_interval_s=0.0)
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)
    tasks = [encode(DeviceFetchTask(audit_id="a", device=device, requested_at=NOW)) for device in devices]
    for task in tasks:
        await app.handlers.fetch(None, task)
    events = {
        e.device_id: e for e in (DriftEvent.model_validate_json(v) for _, v in outbox.on(NAMES.drift_events))
    }
    drifted = events["dev-001"]
    assert [(f.feature, f.status.value, f.added_count) for f in drifted.features] == [
        ("logging", "drifted", 1)
    ]
    assert drifted.remediation == ("no logging host 10.9.9.9",)
    assert events["dev-000"].remediation == ()
    # the file changes under the running worker: the next analysis uses the new rules
    rules_path.write_text("features:\n  - name: syslog\n    sections: ['logging host']\n")
    await app.handlers.fetch(None, tasks[1])
    latest = DriftEvent.model_validate_json(outbox.on(NAMES.drift_events)[-1][1])
    assert [f.feature for f in latest.features] == ["syslog"]


async def test_report_batches_score_and_progress_per_key_and_each_event_is_confirmed(masking_registry):
    from driftaudit.streams.completion import AuditProgress
    from driftaudit.streams.score import ScoreBatch

    deps, *_ = _deps(masking_registry)
    app = create_app(deps, outbox=(outbox := RecordingOutbox()), web_enabled=False)
    events = [
        _event(f"dev-{i:03d}", DeviceStatus.COMPLIANT, tenant=("acme", "globex")[i % 2]) for i in range(6)
    ]
    await asyncio.gather(*(app.handlers.report(e.device_id.encode(), encode(e)) for e in events))
    # every report returned: both messages that carry its event are in the outbox (confirmed)
    scores = [ScoreBatch.model_validate_json(v) for _, v in outbox.on(NAMES.score_input)]
    assert sorted(b.tenant for b in scores) == ["acme", "globex"]
    assert sorted(o.device_id for b in scores for o in b.observations) == [e.device_id for e in events]
    (progress,) = [AuditProgress.model_validate_json(v) for _, v in outbox.on(NAMES.audit_progress)]
    assert sorted(progress.reported()) == [(e.device_id, e.status) for e in events]


async def test_score_agent_applies_a_batch_once_per_window(masking_registry):
    from driftaudit.streams.score import ScoreBatch

    deps, *_ = _deps(masking_registry)
    stream_app = create_app(deps, outbox=RecordingOutbox(), web_enabled=False)
    stream_app.app.finalize()
    now = datetime.now(UTC)
    observations = (
        ScoreObservation(tenant="acme", device_id="d1", status="drifted", observed_at=now),
        ScoreObservation(tenant="acme", device_id="d2", status="compliant", observed_at=now),
        ScoreObservation(
            tenant="acme", device_id="d1", status="compliant", observed_at=now + timedelta(seconds=1)
        ),
    )
    batch = ScoreBatch(tenant="acme", observations=observations)
    async with stream_app.agents.score.test_context() as agent:
        await agent.put(encode(batch), key=observations[0].routing_key())
        acme = stream_app.scoreboard.score("acme")
    assert (acme.compliant, acme.drifted, acme.score) == (2, 0, 100.0)


async def test_split_sends_the_expected_devices_of_a_large_audit_in_chunks_that_fit(masking_registry):
    from driftaudit.streams.completion import AuditProgress

    deps, devices, *_ = _deps(masking_registry, n=60, max_message_bytes=4096)
    limit = 700  # the progress topic takes a few ids per record only
    outbox = RecordingOutbox(max_bytes=limit)
    app = create_app(deps, outbox=outbox, web_enabled=False)
    try:
        await app.handlers.split(b"a-1", _request())
    finally:
        await app.recorder.stop()
    records = [AuditProgress.model_validate_json(v) for _, v in outbox.on(NAMES.audit_progress)]
    assert records[0].kind == "opened"
    assert records[0].expected_count == 60
    assert {r.kind for r in records[1:]} == {"expected"}
    assert len(records) > 2
    ids = [i for r in records for i in r.device_ids]
    assert set(ids) == {d.device_id for d in devices}
    assert all(len(v) <= limit for _, v in outbox.on(NAMES.audit_progress))
    assert len(outbox.on(NAMES.device_fetch)) == 60
    assert not _letters(outbox)
