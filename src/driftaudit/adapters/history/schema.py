"""The history schema and its versioned migrations.

Tables (all ``ReplacingMergeTree`` with ``ingested_at`` as the version column,
so a re-delivered row replaces the earlier copy of the same key):

- ``audit_runs``: one row per audit (key ``audit_id``).
- ``device_results``: one row per audit and device (key ``device_id, audit_id``):
  status, inventory dimensions, counts, the masked diff, hashes, latencies, and
  ``intended_version``, the intended config compared with (migration 14).
- ``drift_lines``: one row per added or removed line with its section path
  (key ``device_id, audit_id, change, line_no, result_id``; see migration 11).
- ``fleet_scores``: one row per tenant and score window (key ``tenant, window_start``).
- ``feature_results``: one row per audit, device and compliance feature (key
  ``device_id, audit_id, feature, result_id``; see migration 16): the feature's
  status and counts.

Why these keys: the sorting key *is* the idempotency key, so ``FINAL`` (which
the read queries use) collapses duplicates while reading the parts in key
order, with no extra sort; ``device_id`` first makes a device's timeline a
primary-key range scan. Partitions are monthly on the time that belongs to the
audit (``requested_at``) or window (``window_start``), never on ingestion
time, so a re-delivered copy always lands in the partition of the original
and background merges also deduplicate it. TTL drops rows older than
``ttl_days`` (reconciled on every start, so changing the setting takes effect).

Migrations are applied in version order, each once: the applied versions are
kept in ``schema_migrations``. Every statement is idempotent (``IF NOT
EXISTS``), so two processes migrating the same server at once cannot break it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

__all__ = [
    "MIGRATIONS",
    "TABLES",
    "Migration",
    "apply_migrations",
    "applied_versions",
    "reconcile_ttl",
]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; ``statements`` may use ``{ttl_days}``."""

    version: int
    name: str
    statements: tuple[str, ...]


#: table -> the column its TTL counts from
TABLES: dict[str, str] = {
    "audit_runs": "requested_at",
    "device_results": "requested_at",
    "drift_lines": "requested_at",
    "fleet_scores": "window_start",
    "feature_results": "requested_at",
}

_TS = "DateTime64(3, 'UTC')"
_INGESTED = f"ingested_at {_TS} DEFAULT now64(3, 'UTC')"

_CREATE_TABLES = (
    f"""
    CREATE TABLE IF NOT EXISTS audit_runs (
        audit_id String,
        requested_at {_TS},
        requested_by String,
        device_count UInt32,
        device_ids Array(String),
        selector String,
        {_INGESTED}
    )
    ENGINE = ReplacingMergeTree(ingested_at)
    PARTITION BY toYYYYMM(requested_at)
    ORDER BY audit_id
    TTL toDateTime(requested_at) + toIntervalDay({{ttl_days}})
    """,
    f"""
    CREATE TABLE IF NOT EXISTS device_results (
        audit_id String,
        device_id String,
        status LowCardinality(String),
        tenant LowCardinality(String),
        site LowCardinality(String),
        role LowCardinality(String),
        platform LowCardinality(String),
        added_count UInt32,
        removed_count UInt32,
        unified_diff String CODEC(ZSTD(3)),
        actual_hash String,
        intended_hash String,
        fetch_ms Float64,
        analyze_ms Float64,
        reason String,
        requested_at {_TS},
        observed_at {_TS},
        {_INGESTED}
    )
    ENGINE = ReplacingMergeTree(ingested_at)
    PARTITION BY toYYYYMM(requested_at)
    ORDER BY (device_id, audit_id)
    TTL toDateTime(requested_at) + toIntervalDay({{ttl_days}})
    """,
    f"""
    CREATE TABLE IF NOT EXISTS drift_lines (
        audit_id String,
        device_id String,
        tenant LowCardinality(String),
        site LowCardinality(String),
        platform LowCardinality(String),
        change LowCardinality(String),
        line_no UInt32,
        section String,
        path Array(String),
        line String,
        requested_at {_TS},
        observed_at {_TS},
        {_INGESTED}
    )
    ENGINE = ReplacingMergeTree(ingested_at)
    PARTITION BY toYYYYMM(requested_at)
    ORDER BY (device_id, audit_id, change, line_no)
    TTL toDateTime(requested_at) + toIntervalDay({{ttl_days}})
    """,
    f"""
    CREATE TABLE IF NOT EXISTS fleet_scores (
        tenant LowCardinality(String),
        window_start {_TS},
        score Nullable(Float64),
        compliant UInt32,
        drifted UInt32,
        unreachable UInt32,
        error UInt32,
        reachable UInt32,
        total UInt32,
        {_INGESTED}
    )
    ENGINE = ReplacingMergeTree(ingested_at)
    PARTITION BY toYYYYMM(window_start)
    ORDER BY (tenant, window_start)
    TTL toDateTime(window_start) + toIntervalDay({{ttl_days}})
    """,
)

_SKIP_INDEXES = (
    "ALTER TABLE device_results ADD INDEX IF NOT EXISTS idx_observed observed_at TYPE minmax GRANULARITY 1",
    "ALTER TABLE device_results ADD INDEX IF NOT EXISTS idx_status status TYPE set(8) GRANULARITY 4",
    "ALTER TABLE drift_lines ADD INDEX IF NOT EXISTS idx_observed observed_at TYPE minmax GRANULARITY 1",
)

#: Issue 14: the intended config's version each result was compared with (``git:`` or ``sha256:``).
_INTENDED_VERSION = (
    "ALTER TABLE device_results ADD COLUMN IF NOT EXISTS intended_version String DEFAULT ''",
)

#: compliance features (issue 15): one row per (audit, device, feature); numbered apart from
#: the core sequence so migrations added on other branches never take its number
_FEATURE_RESULTS = (
    f"""
    CREATE TABLE IF NOT EXISTS feature_results (
        audit_id String,
        device_id String,
        feature LowCardinality(String),
        status LowCardinality(String),
        tenant LowCardinality(String),
        site LowCardinality(String),
        role LowCardinality(String),
        platform LowCardinality(String),
        added_count UInt32,
        removed_count UInt32,
        policies_failed UInt32,
        requested_at {_TS},
        observed_at {_TS},
        {_INGESTED}
    )
    ENGINE = ReplacingMergeTree(ingested_at)
    PARTITION BY toYYYYMM(requested_at)
    ORDER BY (device_id, audit_id, feature)
    TTL toDateTime(requested_at) + toIntervalDay({{ttl_days}})
    """,
)

#: Migration 11 (issue 11, "latest result wins whole"): every result and drift
#: line carries ``result_id``, the version of the device result it belongs to
#: (:func:`driftaudit.adapters.history.clickhouse.result_id`). It joins the
#: end of the drift lines' sorting key (allowed because the column is added by
#: the same ALTER, without a default), so lines of two versions of one
#: (audit, device) never collapse into each other; the readers take the lines
#: of the version the ``FINAL`` result row names, so a replay with fewer lines,
#: or a compliant re-run, shows exactly its own lines. Rows written before it
#: have ``result_id`` 0 on both sides and still match. Its own version number
#: keeps it apart from other migrations added in parallel.
_RESULT_VERSIONS = (
    "ALTER TABLE device_results ADD COLUMN IF NOT EXISTS result_id UInt64",
    "ALTER TABLE drift_lines ADD COLUMN IF NOT EXISTS result_id UInt64,"
    " MODIFY ORDER BY (device_id, audit_id, change, line_no, result_id)",
)

#: Migration 16: the compliance feature rows get migration 11's treatment. ``result_id`` joins the
#: end of the sorting key (same ALTER, no default), the writer puts the event's :func:`result_id
#: <driftaudit.adapters.history.clickhouse.result_id>` on every feature row, and the readers take
#: only the rows of the result the ``FINAL`` row of ``device_results`` names, so a replay with
#: fewer or other features (a rules change) replaces the earlier feature rows whole. Rows written
#: before it have ``result_id`` 0 while their result row already has its id (since migration 11),
#: so they are copied once under that id (a key column cannot be updated in place); the copies of
#: a re-run collapse under ``FINAL``, and the 0 rows left behind are never read and expire by TTL.
_FEATURE_VERSIONS = (
    "ALTER TABLE feature_results ADD COLUMN IF NOT EXISTS result_id UInt64,"
    " MODIFY ORDER BY (device_id, audit_id, feature, result_id)",
    "INSERT INTO feature_results (audit_id, device_id, feature, status, tenant, site, role, platform,"
    " added_count, removed_count, policies_failed, requested_at, observed_at, ingested_at, result_id)"
    " SELECT f.audit_id, f.device_id, f.feature, f.status, f.tenant, f.site, f.role, f.platform,"
    " f.added_count, f.removed_count, f.policies_failed, f.requested_at, f.observed_at, f.ingested_at,"
    " r.result_id"
    " FROM feature_results AS f FINAL"
    " INNER JOIN (SELECT device_id, audit_id, result_id FROM device_results FINAL WHERE result_id != 0) AS r"
    " ON f.device_id = r.device_id AND f.audit_id = r.audit_id"
    " WHERE f.result_id = 0",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create history tables", tuple(" ".join(s.split()) for s in _CREATE_TABLES)),
    Migration(2, "skip indexes for time and status filters", _SKIP_INDEXES),
    Migration(11, "result versions: a replayed result replaces its drift lines whole", _RESULT_VERSIONS),
    Migration(14, "device_results.intended_version", _INTENDED_VERSION),
    Migration(
        15, "feature_results: per-feature compliance", tuple(" ".join(s.split()) for s in _FEATURE_RESULTS)
    ),
    Migration(16, "result versions: a replayed result replaces its feature rows whole", _FEATURE_VERSIONS),
)

_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    f" version UInt32, name String, applied_at {_TS} DEFAULT now64(3, 'UTC'))"
    " ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"
)

_TTL_DAYS = re.compile(r"toIntervalDay\((\d+)\)")


def applied_versions(client: Client) -> set[int]:
    """The migration versions recorded in ``schema_migrations``."""
    client.command(_MIGRATIONS_TABLE)
    rows = client.query("SELECT DISTINCT version FROM schema_migrations").result_rows
    return {int(str(row[0])) for row in rows}


def apply_migrations(
    client: Client, *, ttl_days: int, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Apply every migration not applied yet, in version order.

    Returns:
        The versions applied by this call (empty when the schema was current).
    """
    done = applied_versions(client)
    applied: list[int] = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        for statement in migration.statements:
            client.command(statement.format(ttl_days=int(ttl_days)))
        client.insert(
            "schema_migrations", [[migration.version, migration.name]], column_names=["version", "name"]
        )
        applied.append(migration.version)
    return applied


def reconcile_ttl(client: Client, *, ttl_days: int) -> list[str]:
    """Set each table's TTL to ``ttl_days`` where it differs.

    ``materialize_ttl_after_modify = 0`` keeps the change cheap: old parts
    expire at their next merge instead of being rewritten now.

    Returns:
        The tables whose TTL changed.
    """
    rows = client.query(
        "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"
    ).result_rows
    current = {str(name): _TTL_DAYS.search(str(engine)) for name, engine in rows}
    changed: list[str] = []
    for table, column in TABLES.items():
        found = current.get(table)
        if found is not None and int(found.group(1)) == int(ttl_days):
            continue
        client.command(
            f"ALTER TABLE {table} MODIFY TTL toDateTime({column}) + toIntervalDay({int(ttl_days)})"
            " SETTINGS materialize_ttl_after_modify = 0"
        )
        changed.append(table)
    return changed
