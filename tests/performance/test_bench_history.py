"""History benchmarks on chDB: batched insert throughput, and query latency on 1M+ results.

Run with ``make bench``. The large history is generated inside the engine
(``INSERT ... SELECT FROM numbers()``): 20,000 devices x 50 audits = 1,000,000
device results over 25 days, 1,000,000 drift lines, 5% of the results
re-delivered (so ``FINAL`` has duplicates to collapse), hourly fleet scores.
Then every CLI/API query and every Grafana panel query is timed (median of 3).
A comparison of three deduplication strategies backs the choice of ``FINAL``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftaudit.adapters.history.clickhouse import ClickHouseHistory, chdb_dsn, open_history
from tests.plugins.history import expand_macros, make_event, substitute_variables

pytestmark = pytest.mark.bench

DEVICES = 20_000
AUDITS = 50
RESULTS = DEVICES * AUDITS
LINES = 1_000_000
REPEAT = 3
DASHBOARDS = sorted(
    (Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards").glob("*.json")
)

_RESULTS_SQL = f"""
INSERT INTO device_results (audit_id, device_id, status, tenant, site, role, platform,
    added_count, removed_count, unified_diff, actual_hash, intended_hash, fetch_ms, analyze_ms, reason,
    requested_at, observed_at)
SELECT
    concat('audit-', toString(audit)) AS audit_id,
    concat('dev', leftPad(toString(device), 5, '0')) AS device_id,
    multiIf(h < 70, 'compliant', h < 90, 'drifted', h < 97, 'unreachable', 'error') AS status,
    ['acme', 'globex', 'initech'][1 + device % 3] AS tenant,
    concat('site', toString(device % 40)) AS site,
    ['core', 'edge', 'access'][1 + intDiv(device, 3) % 3] AS role,
    ['cisco_ios', 'cisco_nxos', 'cisco_iosxr', 'arista_eos', 'juniper_junos'][1 + device % 5] AS platform,
    if(status = 'drifted', 1 + h % 7, 0) AS added_count,
    if(status = 'drifted', h % 3, 0) AS removed_count,
    if(status = 'drifted', '--- intended\\n+++ actual\\n+ logging host 10.9.9.9\\n', '') AS unified_diff,
    hex(cityHash64(device, audit)) AS actual_hash,
    hex(cityHash64(device)) AS intended_hash,
    20 + h * 3.1 AS fetch_ms,
    1.5 + h / 50 AS analyze_ms,
    if(status IN ('unreachable', 'error'), 'connect timeout', '') AS reason,
    now64(3, 'UTC') - toIntervalHour(({AUDITS} - audit) * 12) AS requested_at,
    requested_at + toIntervalMillisecond(h * 97) AS observed_at
FROM (
    SELECT number % {DEVICES} AS device, intDiv(number, {DEVICES}) AS audit, cityHash64(number) % 100 AS h
    FROM numbers({{rows}}) WHERE number >= {{first}}
)
"""

_LINES_SQL = f"""
INSERT INTO drift_lines (audit_id, device_id, tenant, site, platform, change, line_no, section, path, line,
    requested_at, observed_at)
SELECT
    concat('audit-', toString(audit)), concat('dev', leftPad(toString(device), 5, '0')),
    ['acme', 'globex', 'initech'][1 + device % 3], concat('site', toString(device % 40)),
    ['cisco_ios', 'cisco_nxos', 'cisco_iosxr', 'arista_eos', 'juniper_junos'][1 + device % 5],
    if(h % 2 = 0, 'added', 'removed'), 0,
    ['', 'interface GigabitEthernet0/1', 'router bgp 65000', 'line vty 0 4', 'snmp-server', 'ntp',
     'ip access-list extended MGMT', 'router ospf 1', 'aaa new-model', 'logging'][1 + h % 10] AS section,
    if(section = '', [], [section]), concat(' drift line ', toString(h)),
    now64(3, 'UTC') - toIntervalHour(({AUDITS} - audit) * 12),
    now64(3, 'UTC') - toIntervalHour(({AUDITS} - audit) * 12) + toIntervalMillisecond(h * 97)
FROM (
    SELECT number % {DEVICES} AS device, intDiv(number, {DEVICES}) % {AUDITS} AS audit,
        cityHash64(number) % 1000 AS h
    FROM numbers({LINES})
)
"""

_SCORES_SQL = f"""
INSERT INTO fleet_scores
    (tenant, window_start, score, compliant, drifted, unreachable, error, reachable, total)
SELECT ['', 'acme', 'globex', 'initech'][1 + number % 4],
    toStartOfHour(now64(3, 'UTC')) - toIntervalHour(intDiv(number, 4)),
    70 + (cityHash64(number) % 300) / 10, 700, 200, 70, 30, 900, 1000
FROM numbers({AUDITS * 12 * 4})
"""

_DEDUP = {
    "dedup: FINAL": "SELECT status, count() FROM device_results FINAL GROUP BY status",
    "dedup: LIMIT 1 BY": (
        "SELECT status, count() FROM (SELECT device_id, audit_id, status FROM device_results"
        " ORDER BY device_id, audit_id, ingested_at DESC LIMIT 1 BY device_id, audit_id) GROUP BY status"
    ),
    "dedup: argMax GROUP BY": (
        "SELECT status, count() FROM (SELECT argMax(status, ingested_at) AS status FROM device_results"
        " GROUP BY device_id, audit_id) GROUP BY status"
    ),
}


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def _print_table(title: str, rows: list[tuple[str, float, int]]) -> None:
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{title}\n{'query':<{width}}  {'median ms':>10}  {'rows':>8}")
    for name, ms, count in rows:
        print(f"{name:<{width}}  {ms:>10.1f}  {count:>8}")


def _insert_throughput(store: ClickHouseHistory) -> None:
    batch, batches = 500, 20
    now = datetime.now(UTC) - timedelta(days=40)
    events = [
        [make_event(f"ins{i:05d}", f"ins-audit-{b}", at=now + timedelta(seconds=i)) for i in range(batch)]
        for b in range(batches)
    ]
    started = time.perf_counter()
    for chunk in events:
        store.write_events(chunk)
    elapsed = time.perf_counter() - started
    lines = sum(e.added_count + e.removed_count for chunk in events for e in chunk)
    print(
        f"\nhistory insert (write_events, {batches} batches of {batch} events, {lines} drift lines):"
        f" {batch * batches / elapsed:,.0f} results/s, {(batch * batches + lines) / elapsed:,.0f} rows/s,"
        f" {elapsed / batches * 1000:.1f} ms per batch"
    )


def _generate(store: ClickHouseHistory) -> None:
    client = store._ensure_client()
    started = time.perf_counter()
    client.command(_RESULTS_SQL.format(rows=RESULTS, first=0))
    redelivered = RESULTS // 20
    client.command(_RESULTS_SQL.format(rows=RESULTS, first=RESULTS - redelivered))
    client.command(_LINES_SQL)
    client.command(_SCORES_SQL)
    elapsed = time.perf_counter() - started
    total = client.query("SELECT count() FROM device_results").result_rows[0][0]
    unique = client.query("SELECT count() FROM device_results FINAL").result_rows[0][0]
    print(
        f"\ngenerated {total:,} device results ({unique:,} unique after re-delivery), {LINES:,} drift lines"
        f" in {elapsed:.1f} s ({(total + LINES) / elapsed:,.0f} rows/s with INSERT ... SELECT)"
    )
    assert unique >= RESULTS


def test_bench_history(tmp_path: Path) -> None:
    store = open_history(chdb_dsn(tmp_path / "bench"), ttl_days=365)
    try:
        _insert_throughput(store)
        _generate(store)
        client = store._ensure_client()

        api: list[tuple[str, float, int]] = []
        for name, action in {
            "device_timeline(dev00042)": lambda: store.device_timeline("dev00042"),
            "latest_status()": store.latest_status,
            "score_over_time()": store.score_over_time,
            "score_over_time('acme')": lambda: store.score_over_time("acme"),
            "most_drifted_sections()": store.most_drifted_sections,
            "unreachable_devices()": store.unreachable_devices,
            **{
                f"drift_by({d})": (lambda d=d: store.drift_by(d))
                for d in ("tenant", "site", "role", "platform")
            },
        }.items():
            ms, rows = _timed(action)
            api.append((name, ms, len(rows)))
        _print_table(f"CLI/API queries on {RESULTS:,} device results", api)

        end = datetime.now(UTC)
        panels: list[tuple[str, float, int]] = []
        for path in DASHBOARDS:
            for panel in json.loads(path.read_text())["panels"]:
                for target in panel.get("targets", []):
                    sql = substitute_variables(
                        expand_macros(target["rawSql"], end - timedelta(days=7), end, interval_s=3600),
                        {"tenant": ["acme", "globex", "initech"]},
                    )
                    ms, result = _timed(lambda sql=sql: client.query(sql).result_rows)
                    panels.append((panel["title"], ms, len(result)))
        _print_table("Grafana panels (last 7 days, all tenants)", panels)

        dedup = []
        for name, sql in _DEDUP.items():
            ms, result = _timed(lambda sql=sql: client.query(sql).result_rows)
            dedup.append((name, ms, sum(int(count) for _, count in result)))
        _print_table("deduplication strategies (count by status)", dedup)
        assert len({count for _, _, count in dedup}) == 1  # all three agree
    finally:
        store.close()
