"""``UtcDatetime``'s one wrap validator accepts, converts and refuses exactly as the two it replaced.

The reference is the former definition: ``_rfc3339_only`` before pydantic's
datetime validation, ``_to_utc`` after. For JSON and Python input, canonical
timestamps (the fast path), their near misses (an impossible date, a leap
second, hour 24, other offsets, 3 or 9 fraction digits, lower-case ``t``/``z``,
a space, non-ASCII digits, bare dates, epochs) and datetime objects (naive,
UTC, other offsets), both give the same value with the same offset, or the
same errors (type, location, message).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError

from driftaudit.domain.models import UtcDatetime, _rfc3339_only, _to_utc


class _New(BaseModel):
    at: UtcDatetime


class _Old(BaseModel):
    at: Annotated[datetime, BeforeValidator(_rfc3339_only), AfterValidator(_to_utc)]


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        value = call().at
    except ValidationError as exc:
        return "error", [(e["type"], e["loc"], e["msg"]) for e in exc.errors(include_url=False)]
    return "value", (type(value), value, value.utcoffset(), value.tzinfo is UTC)


def _same(value: Any) -> None:
    assert _outcome(lambda: _New.model_validate({"at": value})) == _outcome(
        lambda: _Old.model_validate({"at": value})
    )
    if isinstance(value, str | int | float) or value is None:
        raw = json.dumps({"at": value})
        assert _outcome(lambda: _New.model_validate_json(raw)) == _outcome(
            lambda: _Old.model_validate_json(raw)
        )


_MOMENTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))


@settings(max_examples=600)
@given(_MOMENTS)
def test_canonical_timestamps_read_as_before(moment: datetime) -> None:
    _same(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    _same(moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    _same(moment)


@settings(max_examples=600)
@given(
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["", ".1", ".123", ".123456", ".123456789", ".9999995"]),
    st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", "", "+0000"]),
    st.sampled_from(["T", "t", " ", "_"]),
)
def test_near_misses_are_refused_or_read_as_before(
    year: int, month: int, day: int, hour: int, minute: int, second: int, fraction: str, zone: str, sep: str
) -> None:
    _same(f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}")


@given(
    st.one_of(
        st.text(st.sampled_from("0123456789-:TZ.+ ٢"), max_size=30),
        st.integers(),
        st.floats(allow_nan=False),
        st.none(),
        st.sampled_from(["2026-05-01", "1764590400", "2026-05-01T12:00:00", "٢٠٢٦-05-01T12:00:00Z"]),
    )
)
def test_any_other_value_is_refused_or_read_as_before(value: Any) -> None:
    _same(value)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30))]),
)
def test_datetime_objects_are_converted_or_refused_as_before(moment: datetime, zone: Any) -> None:
    _same(moment.replace(tzinfo=zone))
