"""FleetHealthScorer: compliant / reachable, the other statuses beside it, missing devices refused."""

import pytest

from driftaudit.domain.errors import MissingDeviceError, ScoringError
from driftaudit.domain.models import DeviceStatus
from driftaudit.domain.scoring import MAX_LISTED_MISSING, FleetHealthScorer

C, D, U, E = DeviceStatus.COMPLIANT, DeviceStatus.DRIFTED, DeviceStatus.UNREACHABLE, DeviceStatus.ERROR


def test_score_is_compliant_over_reachable() -> None:
    score = FleetHealthScorer().score({"a": C, "b": C, "c": C, "d": D, "e": U, "f": E}, tenant="acme")
    assert score.score == pytest.approx(75.0)
    assert (score.compliant, score.drifted, score.unreachable, score.error) == (3, 1, 1, 1)
    assert score.reachable == 4
    assert score.total == 6
    assert score.tenant == "acme"


def test_unreachable_and_error_do_not_change_the_score() -> None:
    scorer = FleetHealthScorer()
    base = scorer.score({"a": C, "b": D})
    padded = scorer.score({"a": C, "b": D, "x": U, "y": U, "z": E})
    assert base.score == padded.score == pytest.approx(50.0)
    assert padded.unreachable == 2
    assert padded.error == 1


def test_nothing_reachable_scores_none() -> None:
    score = FleetHealthScorer().score({"a": U, "b": E})
    assert score.score is None
    assert score.unreachable == 1
    assert score.error == 1


def test_empty_fleet_scores_none() -> None:
    assert FleetHealthScorer().score({}).score is None


def test_all_compliant_is_100_and_all_drifted_is_0() -> None:
    scorer = FleetHealthScorer()
    assert scorer.score({"a": C, "b": C}).score == 100.0
    assert scorer.score({"a": D, "b": D}).score == 0.0


def test_plain_strings_are_accepted_as_statuses() -> None:
    assert FleetHealthScorer().score({"a": "compliant", "b": "drifted"}).score == 50.0  # type: ignore[dict-item]


def test_expected_devices_all_present_is_fine() -> None:
    score = FleetHealthScorer().score({"a": C, "b": U}, expected=["a", "b"])
    assert score.score == 100.0


def test_missing_expected_device_raises_and_names_it() -> None:
    with pytest.raises(MissingDeviceError, match="1 expected device has no result: b$"):
        FleetHealthScorer().score({"a": C}, expected=["a", "b"])


def test_missing_device_error_is_a_scoring_error() -> None:
    with pytest.raises(ScoringError):
        FleetHealthScorer().score({}, expected=["a"])


def test_thousands_missing_are_capped_in_the_message() -> None:
    expected = [f"dev{i:05d}" for i in range(5000)]
    with pytest.raises(MissingDeviceError) as info:
        FleetHealthScorer().score({"dev00000": C}, expected=expected)
    message = str(info.value)
    assert message.startswith("4999 expected devices have no result: dev00001, dev00002")
    assert message.endswith(f"and {4999 - MAX_LISTED_MISSING} more")
    assert message.count("dev0") == MAX_LISTED_MISSING
    assert len(message) < 400
