"""The shared analysis step: every status, and no secret anywhere in an event."""

from datetime import UTC, datetime

import pytest

from driftaudit.audit.steps import NO_INTENDED_REASON, analyze_outcome, redact_outcome
from driftaudit.domain.masking import CompiledPatterns, MaskingRegistry
from driftaudit.domain.models import (
    ConfigResult,
    Device,
    DeviceStatus,
    FetchFailure,
    MaskingPattern,
    PatternKind,
    Platform,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
DEVICE = Device(
    device_id="r1", host="127.0.0.1", platform=Platform.IOS, tenant="acme", site="lhr", role="edge"
)

SECRETS = ("$1$mERr$OLDhashVALUEx", "$1$mERr$NEWhashVALUEy", "Sup3rS3cretCommunity", "t0ps3cretkey")
INTENDED = f"""\
hostname r1
enable secret 5 {SECRETS[0]}
snmp-server community {SECRETS[2]} RO
interface Gi1
 description uplink
 ip address 10.0.0.1 255.255.255.0
"""
# the device: a changed enable secret, a changed description, an extra key line
ACTUAL = (
    INTENDED.replace(SECRETS[0], SECRETS[1]).replace("uplink", "core")
    + f"line vty 0 4\n password 7 {SECRETS[3]}\n"
)


@pytest.fixture
def patterns() -> CompiledPatterns:
    extra = [
        MaskingPattern(name="community", regex=r"community (?P<value>\S+)", kind=PatternKind.SECRET),
        MaskingPattern(
            name="line-password", regex=r"^ password(?: \d)? (?P<value>\S+)", kind=PatternKind.SECRET
        ),
    ]
    return MaskingRegistry.builtin(key=b"steps-test-key-0123456789abcdef!", extra=extra).for_platform(
        Platform.IOS
    )


def _result(text: str) -> ConfigResult:
    return ConfigResult(device_id="r1", raw_text=text, cleaned_text=text, timestamp=T1, fetch_ms=12.5)


def _analyze(patterns: CompiledPatterns, **kwargs):
    base = {
        "audit_id": "a-1",
        "device": DEVICE,
        "requested_at": T0,
        "observed_at": T1,
        "redacted_text": None,
        "failure": None,
        "intended": INTENDED,
        "patterns": patterns,
        "fetch_ms": 12.5,
    }
    return analyze_outcome(**{**base, **kwargs})


def _assert_no_secret(event) -> None:
    dumped = event.model_dump_json()
    for secret in SECRETS:
        assert secret not in dumped


def test_redact_outcome_fingerprints_secrets(patterns: CompiledPatterns) -> None:
    redacted = redact_outcome(_result(ACTUAL), patterns)
    assert redacted is not None
    assert "<secret:" in redacted
    assert "description core" in redacted
    for secret in SECRETS:
        assert secret not in redacted


def test_redact_outcome_of_a_failure_is_none(patterns: CompiledPatterns) -> None:
    failure = FetchFailure(
        device_id="r1", status=DeviceStatus.UNREACHABLE, reason="x", error_type="E", timestamp=T1
    )
    assert redact_outcome(failure, patterns) is None


def test_compliant(patterns: CompiledPatterns) -> None:
    event = _analyze(patterns, redacted_text=redact_outcome(_result(INTENDED), patterns))
    assert event.status is DeviceStatus.COMPLIANT
    assert event.reason is None
    assert event.added == event.removed == ()
    assert event.unified_diff == ""
    assert event.actual_hash == event.intended_hash != ""
    assert (event.audit_id, event.device_id, event.tenant, event.site, event.role) == (
        "a-1",
        "r1",
        "acme",
        "lhr",
        "edge",
    )
    assert event.platform is Platform.IOS
    assert (event.requested_at, event.observed_at, event.fetch_ms) == (T0, T1, 12.5)
    assert event.analyze_ms > 0
    _assert_no_secret(event)


def test_drifted(patterns: CompiledPatterns) -> None:
    event = _analyze(patterns, redacted_text=redact_outcome(_result(ACTUAL), patterns))
    assert event.status is DeviceStatus.DRIFTED
    added = {(line.path, line.line.split(" <secret:")[0]) for line in event.added}
    removed = {(line.path, line.line.split(" <secret:")[0]) for line in event.removed}
    assert added == {
        ((), "enable secret 5"),
        (("interface Gi1",), "description core"),
        ((), "line vty 0 4"),
        (("line vty 0 4",), "password 7"),
    }
    assert removed == {((), "enable secret 5"), (("interface Gi1",), "description uplink")}
    assert event.added_count == 4
    assert event.removed_count == 2
    assert "+ description core" in event.unified_diff
    assert event.actual_hash != event.intended_hash
    _assert_no_secret(event)


def test_unredacted_text_is_still_masked_before_it_reaches_the_event(patterns: CompiledPatterns) -> None:
    event = _analyze(patterns, redacted_text=ACTUAL)
    assert event.status is DeviceStatus.DRIFTED
    _assert_no_secret(event)


@pytest.mark.parametrize("status", [DeviceStatus.UNREACHABLE, DeviceStatus.ERROR])
def test_failures_keep_their_status_and_reason(patterns: CompiledPatterns, status: DeviceStatus) -> None:
    failure = FetchFailure(
        device_id="r1",
        status=status,
        reason=f"connect timeout after 5s; leaked snmp-server community {SECRETS[2]} RO",
        error_type="FetchTimeoutError",
        timestamp=T1,
    )
    event = _analyze(patterns, failure=failure, redacted_text="ignored")
    assert event.status is status
    assert event.reason is not None
    assert event.reason.startswith("connect timeout after 5s")
    assert event.added == event.removed == ()
    assert event.actual_hash == ""
    _assert_no_secret(event)


def test_missing_intended_config_is_an_error(patterns: CompiledPatterns) -> None:
    event = _analyze(patterns, redacted_text=redact_outcome(_result(ACTUAL), patterns), intended=None)
    assert event.status is DeviceStatus.ERROR
    assert event.reason == NO_INTENDED_REASON
    assert event.unified_diff == ""
    _assert_no_secret(event)


def test_no_config_and_no_failure_is_an_error(patterns: CompiledPatterns) -> None:
    event = _analyze(patterns, redacted_text=None)
    assert event.status is DeviceStatus.ERROR
    assert event.reason


def test_the_event_round_trips_as_json(patterns: CompiledPatterns) -> None:
    event = _analyze(patterns, redacted_text=redact_outcome(_result(ACTUAL), patterns))
    assert type(event).model_validate_json(event.model_dump_json()) == event
