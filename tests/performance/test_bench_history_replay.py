"""What "latest result wins whole" costs: the sections query with and without its current-result filter.

Run with ``make bench``. On the history of :mod:`test_bench_history`
(1,000,000 device results, 1,000,000 drift lines), it times, interleaved so a
noisy machine slows both alike, the sections query as it was (every drift
line, whatever result it belongs to), with the filter as a set of string
tuples, and with the filter as shipped (drifted results only, 64-bit key
hashes), and prints the medians and the ratio to the unfiltered query.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftaudit.adapters.history import queries
from driftaudit.adapters.history.clickhouse import chdb_dsn, open_history
from tests.performance.test_bench_history import _LINES_SQL, _RESULTS_SQL, RESULTS

pytestmark = pytest.mark.bench

REPEAT = 5
_FILTER = queries.MOST_DRIFTED_SECTIONS[
    queries.MOST_DRIFTED_SECTIONS.index("    AND cityHash64") : queries.MOST_DRIFTED_SECTIONS.index(
        "GROUP BY"
    )
]
VARIANTS = {
    "unfiltered (before)": queries.MOST_DRIFTED_SECTIONS.replace(_FILTER, ""),
    "tuple IN, all results": queries.MOST_DRIFTED_SECTIONS.replace(
        _FILTER,
        "    AND (device_id, audit_id, result_id) IN (SELECT device_id, audit_id, result_id"
        " FROM device_results FINAL WHERE observed_at >= {since:DateTime64(3, 'UTC')})\n",
    ),
    "hash IN, drifted (shipped)": queries.MOST_DRIFTED_SECTIONS,
}


def test_bench_current_result_filter(tmp_path: Path) -> None:
    assert _FILTER.strip(), "the shipped query has no current-result filter"
    with open_history(chdb_dsn(tmp_path / "history")) as store:
        client = store._ensure_client()
        client.command(_RESULTS_SQL.format(rows=RESULTS, first=0))
        client.command(_LINES_SQL)
        parameters = {"since": (datetime.now(UTC) - timedelta(days=30)).replace(tzinfo=None), "limit": 20}
        timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
        rows: dict[str, int] = {}
        for _ in range(REPEAT):
            for name, sql in VARIANTS.items():
                started = time.perf_counter()
                result = client.query(sql, parameters=parameters).result_rows
                timings[name].append((time.perf_counter() - started) * 1000)
                rows[name] = sum(int(row[2]) for row in result)
    base = statistics.median(timings["unfiltered (before)"])
    print(
        f"\nsections query on {RESULTS:,} results and 1,000,000 drift lines (median of {REPEAT}, interleaved)"
    )
    print(f"{'variant':28} {'median ms':>10} {'x before':>9} {'lines counted':>14}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:28} {median:10.1f} {median / base:9.2f} {rows[name]:14,}")
