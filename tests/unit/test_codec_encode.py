"""``encode`` writes every wire model as ``model_dump_json().encode()`` did, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftaudit.domain.models import (
    AuditRequest,
    AuditStatus,
    DeadLetter,
    Device,
    DeviceConfig,
    DeviceFetchTask,
    DeviceSelector,
    DeviceStatus,
    DriftEvent,
    DriftLine,
    FeatureResult,
    FetchFailure,
    Platform,
    PolicyResult,
    Transport,
)
from driftaudit.streams.codec import decode, encode
from driftaudit.streams.completion import AuditProgress
from driftaudit.streams.score import ScoreBatch, ScoreObservation

NOW = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
DEVICE = Device(
    device_id="r1",
    host="::1",
    port=443,
    platform=Platform.EOS,
    transport=Transport.REST,
    tenant="café",
    tags=frozenset({"b", "a"}),
)
LINE = DriftLine(change="added", path=("interface Ethernet1",), line=' description "née" \\ \t')
VALUES = [
    AuditRequest(audit_id="a", requested_at=NOW, selector=DeviceSelector(device_ids=("r1",))),
    DeviceFetchTask(audit_id="a", device=DEVICE, requested_at=NOW),
    DeviceConfig(
        audit_id="a",
        device=DEVICE,
        requested_at=NOW,
        fetched_at=NOW,
        fetch_ms=1.5,
        redacted_text='hostname r1\n\u00e9\u2028\x00 "q" </script>\n',
    ),
    DeviceConfig(
        audit_id="a",
        device=DEVICE,
        requested_at=NOW,
        fetched_at=NOW,
        failure=FetchFailure(
            device_id="r1",
            status=DeviceStatus.UNREACHABLE,
            reason="x",
            error_type="ConnectError",
            timestamp=NOW,
        ),
    ),
    DriftEvent(
        audit_id="a",
        device_id="r1",
        tenant="t",
        platform=Platform.EOS,
        status=DeviceStatus.DRIFTED,
        added=(LINE,),
        unified_diff="--- a\n+++ b\n",
        requested_at=NOW,
        observed_at=NOW,
        analyze_ms=float("1e-7"),
        features=(
            FeatureResult(
                feature="f",
                status="drifted",
                added=(LINE,),
                added_count=1,
                policies=(PolicyResult(name="p", kind="present", passed=False, missing=("x",)),),
            ),
        ),
        remediation=("no x",),
    ),
    DeadLetter(stage="s", reason="r", payload_b64="AA==", received_at=NOW, payload_size=1),
    AuditStatus(
        audit_id="a",
        requested_at=NOW,
        complete=False,
        expected=2,
        reported=1,
        missing=("r2",),
        score=None,
        deadline_at=NOW,
        closed_at=NOW,
    ),
    ScoreBatch(
        tenant="t",
        observations=(ScoreObservation(tenant="t", device_id="r1", status="compliant", observed_at=NOW),),
    ),
    AuditProgress(kind="reported", audit_id="a", reports=(("r1", DeviceStatus.COMPLIANT),)),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_encode_is_model_dump_json_encoded_and_decodes_back(value) -> None:
    assert encode(value) == value.model_dump_json().encode()
    assert decode(type(value), encode(value), max_bytes=1_000_000) == value
