"""The read queries of the history, as SQL with server-side parameters.

Every query reads the ``ReplacingMergeTree`` tables with ``FINAL``: the
sorting key of each table is exactly its idempotency key, so ``FINAL`` merges
duplicates while streaming the parts in key order, and every query sees one
row per key whatever the state of background merges. ``LIMIT 1 BY`` or
``argMax`` over the whole key would need a full sort or hash of every row
instead; ``argMax`` is still used *on top of* ``FINAL`` where a query wants the
newest result of each device, which is a different question from dedup.

Drift lines are read only through the result that owns them: a line counts
when its ``(device_id, audit_id, result_id)`` is the one the ``FINAL`` row of
``device_results`` names (:data:`RESULT_LINES`, the ``IN`` of
:data:`MOST_DRIFTED_SECTIONS`), so a replayed result replaces its earlier
lines whole and no query mixes the lines of two results. Only drifted results
have lines, so the set of current results is taken from those alone (a
compliant re-run is then, rightly, in no set), and it is a set of 64-bit
hashes of the three columns, not of string tuples: on a million results that
makes the ``IN`` about 2.5 times cheaper (``make bench``), and a collision
would need two of a few million keys to share 64 bits. Compliance feature
rows are read the same way (``_CURRENT_FEATURES``, migration 16), against
every current result since any status may carry features.

Parameters use ClickHouse's ``{name:Type}`` syntax, bound by the server (or
chDB), never by string formatting, except the grouping column of
:func:`drift_by_sql`, which is an identifier chosen from :data:`DIMENSIONS`.
"""

# ruff: noqa: S608 - SQL composed from constants only; every value is bound server-side
from __future__ import annotations

__all__ = [
    "DEVICE_TIMELINE",
    "DIMENSIONS",
    "LATEST_STATUS",
    "MOST_DRIFTED_SECTIONS",
    "RESULT_LINES",
    "SCORE_OVER_TIME",
    "SCORE_OVER_TIME_FOR_TENANT",
    "UNREACHABLE_DEVICES",
    "drift_by_sql",
    "FEATURE_LATEST",
    "FEATURE_TREND",
    "feature_matrix_sql",
]

#: the inventory dimensions the history can be grouped by
DIMENSIONS: tuple[str, ...] = ("tenant", "site", "role", "platform")

_RESULT_COLUMNS = (
    "audit_id, device_id, status, tenant, site, role, platform, added_count, removed_count,"
    " reason, actual_hash, intended_hash, fetch_ms, analyze_ms, requested_at, observed_at"
)

DEVICE_TIMELINE = f"""
SELECT {_RESULT_COLUMNS}, unified_diff, intended_version
FROM device_results FINAL
WHERE device_id = {{device_id:String}}
ORDER BY observed_at DESC, audit_id DESC
LIMIT {{limit:UInt32}}
"""

#: the drift lines of the current result of one (device, audit), in the order they were written
RESULT_LINES = """
SELECT change, line_no, section, path, line
FROM drift_lines FINAL
WHERE device_id = {device_id:String} AND audit_id = {audit_id:String}
    AND result_id IN (
        SELECT result_id FROM device_results FINAL
        WHERE device_id = {device_id:String} AND audit_id = {audit_id:String})
ORDER BY line_no
"""

#: the newest result of every device: one ``argMax`` of a tuple, by (observed_at, audit_id) so ties are stable
_LATEST = """
SELECT
    device_id,
    newest.1 AS audit_id,
    newest.2 AS status,
    newest.3 AS tenant,
    newest.4 AS site,
    newest.5 AS role,
    newest.6 AS platform,
    newest.7 AS added_count,
    newest.8 AS removed_count,
    newest.9 AS reason,
    newest.10 AS observed_at
FROM (
    SELECT
        device_id,
        argMax(
            (audit_id, status, tenant, site, role, platform, added_count, removed_count, reason, observed_at),
            (observed_at, audit_id)
        ) AS newest
    FROM device_results FINAL
    GROUP BY device_id
)
"""

LATEST_STATUS = f"""
SELECT * FROM ({_LATEST})
ORDER BY device_id
"""

UNREACHABLE_DEVICES = f"""
SELECT latest.device_id AS device_id, latest.tenant AS tenant, latest.site AS site,
    latest.platform AS platform, latest.reason AS reason, latest.observed_at AS observed_at,
    since.first_unreachable AS unreachable_since
FROM ({_LATEST}) AS latest
LEFT JOIN (
    SELECT device_id, min(observed_at) AS first_unreachable
    FROM (
        SELECT device_id, observed_at, status,
            max(if(status != 'unreachable', observed_at, toDateTime64(0, 3, 'UTC')))
                OVER (PARTITION BY device_id) AS last_reachable
        FROM device_results FINAL
    )
    WHERE status = 'unreachable' AND observed_at > last_reachable
    GROUP BY device_id
) AS since ON since.device_id = latest.device_id
WHERE latest.status = 'unreachable'
ORDER BY latest.observed_at DESC, latest.device_id
"""

_SCORE_COLUMNS = """
SELECT tenant, window_start, score, compliant, drifted, unreachable, error, reachable, total
FROM fleet_scores FINAL
"""

SCORE_OVER_TIME = f"""
SELECT * FROM ({_SCORE_COLUMNS} ORDER BY window_start DESC, tenant LIMIT {{limit:UInt32}})
ORDER BY window_start, tenant
"""

SCORE_OVER_TIME_FOR_TENANT = f"""
SELECT * FROM ({_SCORE_COLUMNS}
    WHERE tenant = {{tenant:String}}
    ORDER BY window_start DESC LIMIT {{limit:UInt32}})
ORDER BY window_start
"""

MOST_DRIFTED_SECTIONS = """
SELECT
    if(section = '', '(top level)', section) AS section,
    uniqExact(device_id) AS devices,
    count() AS lines,
    countIf(change = 'added') AS added,
    countIf(change = 'removed') AS removed,
    max(observed_at) AS last_seen
FROM drift_lines FINAL
WHERE observed_at >= {since:DateTime64(3, 'UTC')}
    AND cityHash64(device_id, audit_id, result_id) IN (
        SELECT cityHash64(device_id, audit_id, result_id) FROM device_results FINAL
        WHERE observed_at >= {since:DateTime64(3, 'UTC')} AND status = 'drifted')
GROUP BY section
ORDER BY devices DESC, lines DESC, section
LIMIT {limit:UInt32}
"""

_DRIFT_BY = """
SELECT
    {dimension} AS value,
    countIf(status = 'compliant') AS compliant,
    countIf(status = 'drifted') AS drifted,
    countIf(status = 'unreachable') AS unreachable,
    countIf(status = 'error') AS error,
    compliant + drifted AS reachable,
    count() AS total,
    if(reachable = 0, NULL, round(compliant / reachable * 100, 2)) AS score
FROM ({latest})
GROUP BY value
ORDER BY value
"""


def drift_by_sql(dimension: str) -> str:
    """The drift-by query grouped on ``dimension``, one of :data:`DIMENSIONS`.

    Raises:
        ValueError: for any other dimension (it is an identifier in the SQL).
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}, not {dimension!r}")
    return _DRIFT_BY.format(dimension=dimension, latest=_LATEST)


# -- compliance features (feature_results) ---------------------------------------------------------

#: the tenant filter of the feature queries: an empty array means every tenant
_TENANTS = "(empty({tenants:Array(String)}) OR has({tenants:Array(String)}, tenant))"

#: feature rows are read only through the result that owns them, like drift lines: a row counts when
#: its ``(device_id, audit_id, result_id)`` is the one the ``FINAL`` row of ``device_results`` names,
#: so a replayed result (e.g. after a rules change, with fewer or other features) replaces its earlier
#: feature rows whole. ``{where}`` narrows both sides alike (the same event wrote both rows).
_CURRENT_FEATURES = """
SELECT * FROM feature_results FINAL
WHERE ({where})
    AND cityHash64(device_id, audit_id, result_id) IN (
        SELECT cityHash64(device_id, audit_id, result_id) FROM device_results FINAL WHERE ({where}))
"""

#: the feature results of each device's newest audit that has any: a feature dropped from the
#: rules stops counting once the device is audited again
FEATURE_LATEST = f"""
SELECT device_id, feature, status, tenant, site, role, platform, added_count, removed_count, observed_at
FROM ({_CURRENT_FEATURES.format(where=_TENANTS)})
WHERE (device_id, audit_id) IN (
        SELECT device_id, argMax(audit_id, (observed_at, audit_id))
        FROM ({_CURRENT_FEATURES.format(where="1")})
        GROUP BY device_id
    )
"""

_FEATURE_COUNTS = """
    countIf(status = 'compliant') AS compliant,
    countIf(status = 'drifted') AS drifted,
    countIf(status = 'not_applicable') AS not_applicable,
    compliant + drifted AS applicable,
    if(applicable = 0, NULL, round(compliant / applicable * 100, 2)) AS score
"""

_FEATURE_MATRIX = """
SELECT feature, {dimension} AS value,{counts},
    sum(added_count) AS added,
    sum(removed_count) AS removed
FROM ({latest})
GROUP BY feature, value
ORDER BY feature, value
"""

FEATURE_TREND = f"""
SELECT feature, toStartOfDay(observed_at) AS day,{_FEATURE_COUNTS}
FROM ({_CURRENT_FEATURES.format(where="observed_at >= {since:DateTime64(3, 'UTC')} AND " + _TENANTS)})
WHERE {{feature:String}} = '' OR feature = {{feature:String}}
GROUP BY feature, day
ORDER BY feature, day
"""


def feature_matrix_sql(dimension: str | None) -> str:
    """The compliance matrix: feature × ``dimension`` (None: one row per feature, the fleet score).

    Raises:
        ValueError: for a dimension not in :data:`DIMENSIONS` (it is an identifier in the SQL).
    """
    if dimension is not None and dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}, not {dimension!r}")
    return _FEATURE_MATRIX.format(dimension=dimension or "''", counts=_FEATURE_COUNTS, latest=FEATURE_LATEST)
