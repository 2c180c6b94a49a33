"""The history store builds each table's insert context once per connection (real chDB, temp paths).

``ClickHouseHistory._insert`` keeps one clickhouse-connect insert context per
table and column list instead of asking the store for the column types on
every batch. These tests pin what that must not change: every batch is
stored, a failed insert leaves no broken context behind, and a reconnect
reads the column types again.
"""

from __future__ import annotations

import pytest

from driftaudit.adapters.history.clickhouse import _RESULT_COLUMNS, ClickHouseHistory
from driftaudit.domain.errors import HistoryError
from tests.plugins.history import make_event

pytestmark = pytest.mark.integration


def _count(store: ClickHouseHistory, table: str) -> int:
    client = store._ensure_client()
    return int(client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0])


def test_batches_reuse_one_context_per_table_and_every_row_is_stored(
    history_store: ClickHouseHistory,
) -> None:
    history_store.write_events([make_event(f"r{i}") for i in range(3)])
    first = dict(history_store._insert_contexts)
    history_store.write_events([make_event(f"r{i}") for i in range(3, 8)])
    assert {table for table, _ in first} == {"device_results", "drift_lines"}
    assert all(history_store._insert_contexts[key] is context for key, context in first.items())
    assert _count(history_store, "device_results") == 8
    assert _count(history_store, "drift_lines") == 16


def test_a_failed_insert_drops_its_context_and_the_next_batch_is_stored(
    history_store: ClickHouseHistory,
) -> None:
    history_store.write_events([make_event("r0")])
    key = ("device_results", tuple(_RESULT_COLUMNS))
    with history_store._lock, pytest.raises(HistoryError):
        history_store._insert("device_results", [["too", "few", "columns"]], _RESULT_COLUMNS)
    assert key not in history_store._insert_contexts
    history_store.write_events([make_event("r1"), make_event("r2")])
    assert _count(history_store, "device_results") == 3


def test_a_reconnect_builds_the_contexts_again(history_store: ClickHouseHistory) -> None:
    history_store.write_events([make_event("r0")])
    before = history_store._insert_contexts[("device_results", tuple(_RESULT_COLUMNS))]
    with history_store._lock:
        history_store._drop_client()
    assert history_store._insert_contexts == {}
    history_store.write_events([make_event("r1")])
    assert history_store._insert_contexts[("device_results", tuple(_RESULT_COLUMNS))] is not before
    assert _count(history_store, "device_results") == 2
