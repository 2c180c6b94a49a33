"""Timestamps on the wire: one rule, the same in the published schema and in the code.

The third-party validator (``jsonschema`` with format checking) and our models
must agree on every sample: what the schema refuses the worker refuses (with
a reason naming the rule), and what it accepts the worker accepts and
re-emits in UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest

from driftaudit.cli.schemas import schema_documents
from driftaudit.domain.errors import InputError
from driftaudit.domain.models import AuditRequest, DriftEvent
from driftaudit.streams.codec import decode

ACCEPTED = [
    "2026-12-01T19:40:00Z",
    "2026-12-01T19:40:00.123456Z",
    "2026-12-01T19:40:00+01:00",
    "2026-12-01T19:40:00-05:30",
    "2026-12-01t19:40:00z",
]
REFUSED = {
    "2026-11-30T19:40:00": "naive date-time",
    "2026-12-01 19:40:00Z": "a space instead of 'T'",
    "2026-12-01 19:40:00": "naive date-time",
    "2026-11-30": "a bare date",
    "1764618000": "epoch numbers",
    1764618000: "epoch numbers",
    1764618000.5: "epoch numbers",
    "yesterday": "not an RFC 3339 date-time",
    "": "not an RFC 3339 date-time",
}


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = schema_documents()[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _request(requested_at: object) -> dict[str, object]:
    return {"audit_id": "a-1", "requested_at": requested_at, "selector": {}}


def test_the_schema_checker_really_checks_date_time() -> None:
    """Without the rfc3339 format checker installed this whole file would prove nothing."""
    assert "date-time" in jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers
    assert not _validator("AuditRequest").is_valid(_request("2026-12-01T19:40:00"))


@pytest.mark.parametrize("value", ACCEPTED)
def test_aware_rfc3339_is_accepted_by_both_and_reemitted_in_utc(value: str) -> None:
    assert _validator("AuditRequest").is_valid(_request(value))
    request = decode(AuditRequest, json.dumps(_request(value)), max_bytes=10_000)
    assert request.requested_at.utcoffset() == timedelta(0)
    expected = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    assert request.requested_at == expected
    out = json.loads(request.model_dump_json())
    assert out["requested_at"].endswith("Z")
    assert _validator("AuditRequest").is_valid(out)


@pytest.mark.parametrize(("value", "problem"), list(REFUSED.items()))
def test_naive_or_malformed_is_refused_by_both_with_the_rule(value: object, problem: str) -> None:
    assert not _validator("AuditRequest").is_valid(_request(value))
    with pytest.raises(InputError) as caught:
        decode(AuditRequest, json.dumps(_request(value)), max_bytes=10_000)
    reason = str(caught.value)
    assert "requested_at" in reason
    assert problem in reason
    assert "RFC 3339" in reason
    if isinstance(value, str) and value:
        assert value not in reason  # the rule is named, the input is never quoted


def test_naive_datetime_objects_are_refused_in_process_too() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        AuditRequest(audit_id="a-1", requested_at=datetime(2026, 12, 1, 19, 40))  # noqa: DTZ001


def test_aware_datetime_objects_are_normalized_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    request = AuditRequest(audit_id="a-1", requested_at=datetime(2026, 12, 1, 21, 40, tzinfo=plus_two))
    assert request.requested_at == datetime(2026, 12, 1, 19, 40, tzinfo=UTC)
    assert request.requested_at.tzinfo is UTC


def test_every_timestamp_of_every_contract_is_aware_in_the_schema() -> None:
    """Each ``format: date-time`` property documents the rule a producer must follow."""
    found = 0

    def walk(node: object) -> None:
        nonlocal found
        if isinstance(node, dict):
            if node.get("format") == "date-time":
                found += 1
                assert "UTC offset" in node["description"]
                assert "refused" in node["description"]
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema_documents())
    assert found >= 8


def test_the_selector_semantics_are_in_the_schema() -> None:
    schema = schema_documents()["AuditRequest"]
    selector = schema["properties"]["selector"]["description"]
    assert "WHOLE FLEET" in selector
    assert "whole fleet" in schema["$defs"]["DeviceSelector"]["description"]


def test_drift_event_schema_accepts_what_the_model_emits() -> None:
    event = DriftEvent(
        audit_id="a-1",
        device_id="r1",
        tenant="t",
        platform="cisco_ios",
        status="compliant",
        requested_at=datetime(2026, 12, 1, 19, 40, tzinfo=UTC),
        observed_at=datetime(2026, 12, 1, 19, 40, 1, 500_000, tzinfo=UTC),
    )
    errors = list(_validator("DriftEvent").iter_errors(json.loads(event.model_dump_json())))
    assert errors == []


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_timestamp_outside_the_years_once_in_utc_is_refused_not_a_crash(value: str) -> None:
    """RFC 3339 allows it (the schema accepts it); UTC cannot hold it: a clear refusal, no OverflowError."""
    raw = json.dumps({"audit_id": "a-1", "requested_at": value, "selector": {}}).encode()
    with pytest.raises(InputError, match="out of the years 1-9999 once converted to UTC"):
        decode(AuditRequest, raw, max_bytes=10_000)
