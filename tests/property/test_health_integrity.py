"""Properties of the fleet score: bounded, honest about missing devices, defined or None."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftaudit.domain.errors import MissingDeviceError
from driftaudit.domain.models import DeviceStatus
from driftaudit.domain.scoring import FleetHealthScorer

device_ids = st.text("abcdefgh0123456789-", min_size=1, max_size=8).map(lambda s: f"d{s}")
fleets = st.dictionaries(device_ids, st.sampled_from(list(DeviceStatus)), max_size=60)


@given(fleets)
def test_score_is_within_bounds_or_none(statuses: dict[str, DeviceStatus]) -> None:
    score = FleetHealthScorer().score(statuses, expected=list(statuses))
    reachable = sum(s in (DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED) for s in statuses.values())
    if reachable == 0:
        assert score.score is None
    else:
        assert score.score is not None
        assert 0.0 <= score.score <= 100.0
        assert score.score == pytest.approx(100.0 * score.compliant / reachable)
    assert score.total == len(statuses)
    assert score.reachable == reachable


@given(fleets, st.data())
def test_omitting_a_reachable_device_fails(statuses: dict[str, DeviceStatus], data: st.DataObject) -> None:
    reachable = [d for d, s in statuses.items() if s in (DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED)]
    if not reachable:
        return
    dropped = data.draw(st.sampled_from(reachable))
    partial = {d: s for d, s in statuses.items() if d != dropped}
    with pytest.raises(MissingDeviceError, match=re.escape(dropped) if len(statuses) <= 10 else None):
        FleetHealthScorer().score(partial, expected=list(statuses))


@given(
    st.dictionaries(device_ids, st.sampled_from([DeviceStatus.UNREACHABLE, DeviceStatus.ERROR]), max_size=30)
)
def test_zero_reachable_is_none_and_counts_everything(statuses: dict[str, DeviceStatus]) -> None:
    score = FleetHealthScorer().score(statuses, expected=list(statuses))
    assert score.score is None
    assert score.unreachable + score.error == len(statuses)
