"""``driftaudit history device <id>``, ``driftaudit history fleet`` and ``driftaudit score``.

They read the history named by ``DRIFTAUDIT_CLICKHOUSE_DSN``. In embedded mode
(chDB) only one process may open the store: when a running worker owns it,
they read through that worker's web views (found in the store's state file;
``DRIFTAUDIT_API_TOKEN`` is sent when set); when another process owns it and
no worker advertises it, they say so and exit with status 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from driftaudit.adapters.history.clickhouse import ClickHouseHistory
from driftaudit.adapters.history.queries import DIMENSIONS
from driftaudit.adapters.history.worker_link import WorkerHistory, open_history_reader
from driftaudit.cli.render import STATUS_STYLES
from driftaudit.domain.errors import ConfigurationError, HistoryError, StoreLockedError
from driftaudit.settings import Settings

__all__ = ["register"]

T = TypeVar("T")

#: exit status when another process owns the embedded store
EXIT_LOCKED = 2
EXIT_FAILED = 1

#: the audit summary's status colours, by the status text the store returns
_STATUS_STYLE = {status.value: style for status, style in STATUS_STYLES.items()}

history_app = typer.Typer(help="Audit history: one device's timeline, the fleet score over time.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int) -> NoReturn:
    err = Console(stderr=True)
    err.print(Text.assemble(("error: ", "red"), message), highlight=False)
    raise typer.Exit(code)


def _with_history(action: Callable[[ClickHouseHistory | WorkerHistory], T]) -> T:
    try:
        settings = Settings()
    except ValidationError as exc:
        # field and reason only: the rejected input may be a secret
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _fail(f"invalid DRIFTAUDIT_* settings: {problems}", EXIT_FAILED)
    try:
        history = open_history_reader(settings)
    except StoreLockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except (HistoryError, ConfigurationError) as exc:
        _fail(str(exc), EXIT_FAILED)
    try:
        return action(history)
    except HistoryError as exc:
        _fail(str(exc), EXIT_FAILED)
    finally:
        history.close()


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _print_json(rows: object) -> None:
    typer.echo(json.dumps(rows, default=_json_default, indent=2))


def _answered(rows: list[dict[str, Any]], as_json: bool, empty: str | None = None) -> bool:
    """Print ``rows`` as JSON, or the ``empty`` message when there are none; False: a table is to follow.

    Every command answers ``--json`` and an empty history the same way.
    """
    if as_json:
        _print_json(rows)
        return True
    if empty is not None and not rows:
        Console().print(empty, markup=False)
        return True
    return False


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Table:
    # Text cells, never markup: ids, sections and reasons may hold a "[".
    table = Table(title=Text(title))
    for column in columns:
        is_time = any(isinstance(row.get(column), datetime) for row in rows[:1])
        table.add_column(column.replace("_", " "), no_wrap=is_time)
    for row in rows:
        cells = []
        for column in columns:
            text = _cell(row.get(column))
            style = _STATUS_STYLE.get(text, "") if column == "status" else ""
            cells.append(Text(text, style=style))
        table.add_row(*cells)
    return table


@history_app.command("device")
def device(
    device_id: Annotated[str, typer.Argument(help="The device id.")],
    limit: Annotated[int, typer.Option(min=1, help="How many results, newest first.")] = 20,
    diff: Annotated[bool, typer.Option("--diff", help="Also print the masked diff of each result.")] = False,
    as_json: JsonOption = False,
) -> None:
    """One device's audit results, newest first."""
    rows = _with_history(lambda h: h.device_timeline(device_id, limit=limit))
    if _answered(rows, as_json, f"no history for device {device_id}"):
        return
    console = Console()
    columns = ("observed_at", "audit_id", "status", "added_count", "removed_count", "reason", "fetch_ms")
    console.print(_table(f"history of {device_id}", rows, columns))
    if diff:
        for row in rows:
            if row["unified_diff"]:
                console.rule(Text(f"{row['audit_id']} {_cell(row['observed_at'])}"))
                console.print(row["unified_diff"], markup=False, highlight=False)


@history_app.command("fleet")
def fleet(
    tenant: Annotated[str | None, typer.Option(help="One tenant; default every tenant.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many score windows, newest kept.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The fleet score over time, per tenant and window."""
    rows = _with_history(lambda h: h.score_over_time(tenant, limit=limit))
    if _answered(rows, as_json, "no fleet scores recorded yet"):
        return
    for row in rows:
        row["tenant"] = row["tenant"] or "(fleet)"
    columns = ("window_start", "tenant", "score", "compliant", "drifted", "unreachable", "error", "total")
    Console().print(_table("fleet score over time", rows, columns))


@history_app.command("sections")
def sections(
    limit: Annotated[int, typer.Option(min=1, help="How many sections.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The config sections that drift on the most devices (last 30 days)."""
    rows = _with_history(lambda h: h.most_drifted_sections(limit=limit))
    if _answered(rows, as_json):
        return
    columns = ("section", "devices", "lines", "added", "removed", "last_seen")
    Console().print(_table("most drifted sections", rows, columns))


@history_app.command("unreachable")
def unreachable(as_json: JsonOption = False) -> None:
    """Devices whose latest result is unreachable, and since when."""
    rows = _with_history(lambda h: h.unreachable_devices())
    if _answered(rows, as_json):
        return
    columns = ("device_id", "tenant", "site", "platform", "reason", "unreachable_since", "observed_at")
    Console().print(_table("unreachable devices", rows, columns))


@history_app.command("features")
def features(
    by: Annotated[
        str | None, typer.Option(help=f"Matrix of feature x one of: {', '.join(DIMENSIONS)}; default none.")
    ] = None,
    trend: Annotated[bool, typer.Option("--trend", help="Per feature and day instead of now.")] = False,
    feature: Annotated[str | None, typer.Option(help="Only this feature (with --trend).")] = None,
    days: Annotated[int, typer.Option(min=1, help="How many days of trend.")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Compliance per feature: the feature x tenant/site/role matrix (newest results), or its trend.

    Score = compliant / applicable x 100 per feature (``not applicable`` results
    are shown beside it, never counted).
    """
    if by is not None and by not in DIMENSIONS:
        raise typer.BadParameter(f"must be one of {', '.join(DIMENSIONS)}", param_hint="--by")
    if trend:
        rows = _with_history(lambda h: h.feature_trend(feature, days=days))
        title, columns = (
            "compliance by feature per day",
            ("feature", "day", "score", "compliant", "drifted", "not_applicable"),
        )
    else:
        rows = _with_history(lambda h: h.feature_matrix(by))
        title = f"compliance by feature x {by}" if by else "compliance by feature"
        columns = (
            "feature",
            *((by,) if by else ()),
            "score",
            "compliant",
            "drifted",
            "not_applicable",
            "added",
            "removed",
        )
        for row in rows:
            if by:
                row[by] = row.pop("value") or "(none)"
            else:
                row.pop("value", None)
    if _answered(rows, as_json, "no feature results recorded yet (is DRIFTAUDIT_RULES_PATH set?)"):
        return
    Console().print(_table(title, rows, columns))


def score(
    by: Annotated[str, typer.Option(help=f"Group by one of: {', '.join(DIMENSIONS)}.")] = "tenant",
    as_json: JsonOption = False,
) -> None:
    """The current fleet score from each device's latest result, per group and in total.

    Score = compliant / reachable x 100; unreachable and errored devices are
    shown beside it; with nothing reachable the score is undefined ("-").
    """
    if by not in DIMENSIONS:
        raise typer.BadParameter(f"must be one of {', '.join(DIMENSIONS)}", param_hint="--by")
    rows = _with_history(lambda h: h.drift_by(by))
    counts = {
        key: sum(int(row[key]) for row in rows) for key in ("compliant", "drifted", "unreachable", "error")
    }
    reachable = counts["compliant"] + counts["drifted"]
    total = {
        "value": "(fleet)",
        **counts,
        "reachable": reachable,
        "total": reachable + counts["unreachable"] + counts["error"],
        "score": round(counts["compliant"] / reachable * 100, 2) if reachable else None,
    }
    if as_json:
        _print_json({"by": by, "groups": rows, "fleet": total})
        return
    for row in rows:
        row["value"] = row["value"] or "(none)"
    columns = ("value", "score", "compliant", "drifted", "unreachable", "error", "total")
    table = _table(f"fleet score by {by}", [*rows, total], columns)
    table.columns[0].header = by
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``history`` (device, fleet, sections, unreachable, features) and ``score`` to ``app``."""
    app.add_typer(history_app, name="history")
    app.command("score")(score)
