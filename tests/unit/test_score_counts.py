"""The fleet-score table's fast paths: counts at C speed, the changelog codec, the routing key.

``fleet_score`` and ``total_score`` count a window's statuses in one C-level
pass instead of a status member per entry; they must score exactly as the
domain scorer does over the same statuses (the reference below is the code
they replace). The table's changelog codec (Faust's ``json``, orjson when
installed) must give back every window value it wrote (what a restarted
worker restores), and the input topic's key must be the table's own key
serialization (what Faust's router hashes), non-ASCII tenants included.
"""

from __future__ import annotations

import json

import pytest
from faust.serializers import codecs
from hypothesis import given
from hypothesis import strategies as st

from driftaudit.domain.models import DeviceStatus
from driftaudit.domain.scoring import FleetHealthScorer
from driftaudit.streams.app import create_app
from driftaudit.streams.deps import StreamDeps
from driftaudit.streams.outbox import RecordingOutbox
from driftaudit.streams.score import ScoreObservation, fleet_score, total_score
from tests.plugins.streams import MemoryHistory, MemoryIntended, MemoryInventory, stream_settings

pytestmark = pytest.mark.usefixtures("faust_garbage")

_STATUS = st.sampled_from([s.value for s in DeviceStatus])
_IDS = st.text(st.sampled_from("abcé-0123"), min_size=1, max_size=6)
_WINDOW = st.dictionaries(_IDS, st.tuples(_STATUS, st.floats(0, 2e9)).map(list), max_size=40)


def _reference(tenant: str | None, value: dict[str, list[object]]) -> object:
    """fleet_score as it was: a status member per entry, then the domain scorer."""
    statuses = {device_id: DeviceStatus(entry[0]) for device_id, entry in value.items()}
    return FleetHealthScorer().score(statuses, tenant=tenant)


@given(_WINDOW)
def test_fleet_score_equals_the_domain_scorer_over_the_windows_statuses(value) -> None:
    assert fleet_score("t", value) == _reference("t", value)


@given(st.lists(_WINDOW, max_size=4))
def test_total_score_counts_a_device_once_with_its_last_tenants_status(values) -> None:
    merged: dict[str, list[object]] = {}
    for value in values:
        merged.update(value)
    assert total_score(values) == _reference(None, merged)


def test_an_unknown_status_in_a_window_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="sleeping"):
        fleet_score("t", {"d1": ["compliant", 1.0], "d2": ["sleeping", 2.0]})


def test_score_counts_ignores_statuses_nobody_has_and_refuses_unknown_ones() -> None:
    scorer = FleetHealthScorer()
    assert scorer.score_counts({"compliant": 3, "drifted": 1, "error": 0}).score == 75.0
    assert scorer.score_counts({}).score is None
    with pytest.raises(ValueError, match="sleeping"):
        scorer.score_counts({"sleeping": 1})


@pytest.fixture
def scoreboard(masking_registry):
    deps = StreamDeps(
        settings=stream_settings(),
        inventory=MemoryInventory([]),
        intended=MemoryIntended({}),
        client=None,  # type: ignore[arg-type]
        registry=masking_registry,
        history=MemoryHistory(),
    )
    return create_app(deps, outbox=RecordingOutbox(), web_enabled=False).scoreboard


def test_the_changelog_codec_gives_back_every_window_value(scoreboard) -> None:
    serializer = scoreboard.base.value_serializer

    @given(_WINDOW)
    def round_trip(value) -> None:
        assert codecs.loads(serializer, codecs.dumps(serializer, value)) == value
        # a changelog written before orjson (the stdlib's JSON, with its spaces and escapes) restores too
        assert codecs.loads(serializer, json.dumps(value).encode()) == value

    round_trip()


@pytest.mark.parametrize("tenant", ["acme", "café", "租户", 'a"b\\c'])
def test_the_input_key_is_the_tables_own_key_serialization(scoreboard, tenant) -> None:
    observation = ScoreObservation(
        tenant=tenant, device_id="d", status="compliant", observed_at="2026-05-01T12:00:00Z"
    )
    key = observation.routing_key()
    assert key == codecs.dumps(scoreboard.base.key_serializer, tenant)
    assert codecs.loads(scoreboard.base.key_serializer, key) == tenant
