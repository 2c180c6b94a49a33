"""The history store on ClickHouse: embedded chDB or a ClickHouse server.

The DSN chooses the engine, so the same code runs on a laptop and in
production:

- ``chdb:///relative/path`` or ``chdb:////absolute/path`` (three slashes then
  the path, as SQLAlchemy spells SQLite paths; the default,
  ``driftaudit.settings.default_history_dsn``, is the absolute
  ``$XDG_DATA_HOME/driftaudit/history``, else ``~/.local/share/driftaudit/history``);
  ``chdb://memory`` keeps everything in memory. :func:`chdb_dsn` builds one
  from a path.
- ``http://host:8123/database`` or ``https://...``: a ClickHouse server, with
  user and password passed separately (from settings), never in the DSN.

chDB hosts one engine per process and one process per path. A second process
opening the same path gets :class:`StoreLockedError` (an advisory ``flock`` on
``<path>/.driftaudit.lock`` decides it before chDB is touched, so the store is
never opened twice); the same process opening a *different* path while a
store is open gets :class:`HistoryError`. chDB has no async client: this class
is synchronous and serializes its calls with a lock; async callers run it in a
worker thread (see :mod:`driftaudit.adapters.history.sink`).

The store connects lazily (or eagerly with :meth:`ClickHouseHistory.connect`)
and forgets a connection that failed, so a store that comes back (a server
restarted, a path released) is picked up by the next call. Every foreign
exception leaves as :class:`HistoryError` or one of its subclasses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver import exceptions as ch_errors
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.insert import InsertContext
from pydantic import SecretStr

from driftaudit.adapters.history import queries
from driftaudit.adapters.history.schema import apply_migrations, reconcile_ttl
from driftaudit.domain.errors import (
    ConfigurationError,
    HistoryError,
    StoreLockedError,
    StoreUnavailableError,
)
from driftaudit.domain.models import AuditRun, DriftEvent, FleetScore
from driftaudit.settings import Settings

__all__ = [
    "DEFAULT_DATABASE",
    "WORKER_STATE_FILE",
    "ClickHouseHistory",
    "HistoryTarget",
    "chdb_dsn",
    "history_from_settings",
    "open_history",
    "parse_dsn",
    "result_id",
]

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "driftaudit"
_LOCK_FILE = ".driftaudit.lock"
#: next to the lock: the web URL of the process holding the store, while it holds it
WORKER_STATE_FILE = ".driftaudit.worker.json"
_MAX_MESSAGE = 300
#: ClickHouse's and the OS's words for a full disk (code 243, ENOSPC)
_FULL_MARKERS = ("NOT_ENOUGH_SPACE", "No space left on device")

_RESULT_COLUMNS = (
    "audit_id",
    "device_id",
    "status",
    "tenant",
    "site",
    "role",
    "platform",
    "added_count",
    "removed_count",
    "unified_diff",
    "actual_hash",
    "intended_hash",
    "fetch_ms",
    "analyze_ms",
    "reason",
    "requested_at",
    "observed_at",
    "intended_version",  # migration 14
    "result_id",
)
_LINE_COLUMNS = (
    "audit_id",
    "device_id",
    "tenant",
    "site",
    "platform",
    "change",
    "line_no",
    "section",
    "path",
    "line",
    "requested_at",
    "observed_at",
    "result_id",
)
_FEATURE_COLUMNS = (
    "audit_id",
    "device_id",
    "feature",
    "status",
    "tenant",
    "site",
    "role",
    "platform",
    "added_count",
    "removed_count",
    "policies_failed",
    "requested_at",
    "observed_at",
    "result_id",  # migration 16
)
_RUN_COLUMNS = ("audit_id", "requested_at", "requested_by", "device_count", "device_ids", "selector")
_SCORE_COLUMNS = (
    "tenant",
    "window_start",
    "score",
    "compliant",
    "drifted",
    "unreachable",
    "error",
    "reachable",
    "total",
)


@dataclass(frozen=True, slots=True)
class HistoryTarget:
    """Where the history lives, parsed from a DSN; carries no credentials."""

    kind: Literal["chdb", "http"]
    database: str = DEFAULT_DATABASE
    path: Path | None = None  # chdb on disk; None is in memory
    host: str = ""
    port: int = 0
    secure: bool = False

    def describe(self) -> str:
        """A printable location, safe for logs and error messages."""
        if self.kind == "chdb":
            return f"chdb:{self.path}" if self.path is not None else "chdb:memory"
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.host}:{self.port}/{self.database}"


def chdb_dsn(path: str | os.PathLike[str]) -> str:
    """The chDB DSN for ``path`` (relative paths stay relative to the working directory)."""
    return f"chdb:///{os.fspath(path)}"


def parse_dsn(dsn: str, *, cwd: Path | None = None) -> HistoryTarget:
    """Parse a history DSN; relative chDB paths are resolved against ``cwd``.

    Raises:
        ConfigurationError: for an unknown scheme or a malformed DSN (the
            message never repeats the DSN, which may hold a password).
    """
    scheme, sep, rest = dsn.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigurationError("history DSN must look like chdb:///path or http://host:8123")
    if scheme == "chdb":
        location, _, query = rest.partition("?")
        database = parse_qs(query).get("database", [DEFAULT_DATABASE])[0]
        if location in ("memory", ":memory:", "/:memory:"):
            return HistoryTarget(kind="chdb", database=database)
        if not location.startswith("/") or location == "/":
            raise ConfigurationError(
                "chDB DSN must be chdb:///relative/path, chdb:////absolute/path or chdb://memory"
            )
        path = Path(unquote(location[1:]))
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path
        return HistoryTarget(kind="chdb", database=database, path=Path(os.path.realpath(path)))
    if scheme in ("http", "https"):
        parts = urlsplit(dsn)
        secure = scheme == "https"
        try:
            port = parts.port or (8443 if secure else 8123)
        except ValueError as exc:
            raise ConfigurationError("history DSN has an invalid port") from exc
        if not parts.hostname:
            raise ConfigurationError("history DSN has no host")
        database = unquote(parts.path.strip("/")) or DEFAULT_DATABASE
        return HistoryTarget(kind="http", database=database, host=parts.hostname, port=port, secure=secure)
    raise ConfigurationError(f"history DSN scheme {scheme!r} is not one of chdb, http, https")


def _owner(path: Path) -> str:
    """`` (the worker at URL, pid N)`` from the store's state file, or nothing."""
    try:
        state = json.loads((path / WORKER_STATE_FILE).read_text(encoding="utf-8"))
        return f" (the worker at {state['url']}, pid {int(state['pid'])})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class _PathLocks:
    """Process-wide advisory locks on chDB paths, counted per path.

    ``flock`` is per open file description, so two stores of one process on the
    same path share one descriptor; another process conflicts with it.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[Path, tuple[int, int]] = {}

    def acquire(self, path: Path) -> None:
        with self._guard:
            held = self._held.get(path)
            if held is not None:
                self._held[path] = (held[0], held[1] + 1)
                return
            try:
                path.mkdir(parents=True, exist_ok=True)
                fd = os.open(path / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot open the history store at {path}: {exc.strerror}"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                raise StoreLockedError(
                    f"another driftaudit process{_owner(path)} owns the history store at {path} (embedded "
                    "chDB allows one process per path); stop it, give each worker its own "
                    "DRIFTAUDIT_CLICKHOUSE_DSN=chdb:////path, or use a ClickHouse server (http://...)"
                ) from exc
            self._held[path] = (fd, 1)

    def release(self, path: Path) -> None:
        with self._guard:
            held = self._held.get(path)
            if held is None:
                return
            fd, count = held
            if count > 1:
                self._held[path] = (fd, count - 1)
                return
            del self._held[path]
            os.close(fd)  # closing the descriptor drops the flock


_PATH_LOCKS = _PathLocks()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def result_id(event: DriftEvent) -> int:
    """The version of one device result: a 63-bit hash of the whole event.

    The same event written twice (a retried insert that had landed, a
    re-delivered message, two writers at once) gets the same id, so its rows
    collapse; a re-fetched result differs (at least in ``observed_at``), so
    its lines never merge with the lines of the result it replaces.
    """
    digest = hashlib.blake2b(event.model_dump_json().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to it."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ClickHouseHistory:
    """``HistoryRepository`` on chDB or a ClickHouse server (see the module docstring).

    Thread-safe: every call holds one lock, since a chDB handle must not be
    used by two threads at once and the lazy (re)connect must run once.
    """

    def __init__(
        self,
        target: HistoryTarget,
        *,
        user: str = "default",
        password: SecretStr | str = "",
        ttl_days: int = 365,
        connect_timeout: float = 5.0,
        query_timeout: float = 60.0,
    ) -> None:
        """Describe a store; nothing connects until :meth:`connect` or the first call."""
        self.target = target
        self._user = user
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self._ttl_days = int(ttl_days)
        self._connect_timeout = connect_timeout
        self._query_timeout = query_timeout
        self._lock = threading.RLock()
        self._client: Client | None = None
        self._path_locked = False
        self._closed = False
        self._down: str | None = None  # why the store is unavailable, while it is
        self._was_up = False
        self._wake = threading.Event()
        self._connector: threading.Thread | None = None
        self._advertised: str | None = None
        #: (table, columns) -> the insert context of the current client (see ``_insert``)
        self._insert_contexts: dict[tuple[str, tuple[str, ...]], InsertContext] = {}

    def __repr__(self) -> str:
        return f"ClickHouseHistory({self.target.describe()})"

    def __enter__(self) -> ClickHouseHistory:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- connection ---------------------------------------------------

    def connect(self) -> None:
        """Open the store and bring its schema up to date (idempotent).

        Raises:
            StoreLockedError: another process owns the chDB path.
            StoreUnavailableError: the server cannot be reached.
            HistoryError: anything else, e.g. the schema could not be created.
        """
        with self._lock, self._health():
            self._ensure_client()

    def advertise(self, url: str) -> None:
        """Name ``url`` (this process's web server) in the store's state file while it holds the store.

        For chDB on disk only: the file is written when the path lock is taken
        and removed when it is released, so it always names the process that
        owns the store, never a second worker waiting for it. Readers use it
        to read the history through that process
        (:mod:`driftaudit.adapters.history.worker_link`).
        """
        with self._lock:
            self._advertised = url
            if self._path_locked:
                self._write_state()

    def _write_state(self) -> None:
        if self._advertised is None or self.target.path is None:
            return
        path = self.target.path / WORKER_STATE_FILE
        try:
            temporary = path.with_name(f"{path.name}.{os.getpid()}")
            temporary.write_text(json.dumps({"url": self._advertised, "pid": os.getpid()}), encoding="utf-8")
            temporary.replace(path)
        except OSError as exc:
            log.warning("cannot write %s (history readers will not find this worker): %s", path, exc.strerror)

    def _remove_state(self) -> None:
        if self._advertised is None or self.target.path is None:
            return
        path = self.target.path / WORKER_STATE_FILE
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()

    @property
    def available(self) -> bool:
        """True once connected, until a call finds the store unavailable again."""
        return self._client is not None and self._down is None

    def connect_in_background(self, *, initial_backoff_s: float = 0.5, max_backoff_s: float = 30.0) -> None:
        """Keep trying :meth:`connect` in a daemon thread until it succeeds or the store is closed.

        A worker calls this at start instead of :meth:`connect`, so a store
        that is down (a server not up yet, a chDB path another process holds,
        a directory that cannot be created) never stops it: the schema is
        created or migrated the moment the store is reachable, and writes
        made before then fail with a retryable error their caller retries.
        The state changes are logged once each (see :meth:`_health`), never
        once per attempt. Idempotent.
        """
        if self._closed or (self._connector is not None and self._connector.is_alive()):
            return

        def run() -> None:
            delay = initial_backoff_s
            while not self._closed:
                try:
                    self.connect()
                    return
                except (StoreUnavailableError, StoreLockedError):
                    pass
                except HistoryError as exc:  # e.g. a migration that failed: retried too, slower
                    log.debug("history store %s not ready: %s", self.target.describe(), exc)
                if self._wake.wait(delay):
                    return
                delay = min(delay * 2, max_backoff_s)

        connector = threading.Thread(target=run, name="history-connect", daemon=True)
        self._connector = connector
        connector.start()

    @contextlib.contextmanager
    def _health(self) -> Iterator[None]:
        """Log the store's state changes, once each: unavailable (with why), then back.

        Every call of the store runs inside it. A store that stays down logs
        nothing more than its first warning (later reasons go to DEBUG), so a
        worker retrying writes for an hour writes two lines, not thousands.
        """
        where = self.target.describe()
        # A one-shot reader (the history CLI) reports failures through its exceptions;
        # only a long-lived store (a worker's, see connect_in_background) logs its states.
        loud = self._connector is not None
        try:
            yield
        except (StoreUnavailableError, StoreLockedError) as exc:
            reason = str(exc)
            if self._down is None:
                log.log(
                    logging.WARNING if loud else logging.DEBUG,
                    "history store %s is unavailable, retrying until it is back (audits go on): %s",
                    where,
                    reason,
                )
            elif reason != self._down:
                log.debug("history store %s still unavailable: %s", where, reason)
            self._down = reason
            raise
        if self._down is not None:
            log.log(logging.WARNING if loud else logging.DEBUG, "history store %s is available again", where)
            self._down = None
        elif not self._was_up:
            log.log(logging.INFO if loud else logging.DEBUG, "history store %s is ready", where)
        self._was_up = True

    def _ensure_client(self) -> Client:
        if self._closed:
            raise HistoryError(f"history store {self.target.describe()} is closed")
        if self._client is not None:
            return self._client
        if self.target.kind == "chdb" and self.target.path is not None and not self._path_locked:
            _PATH_LOCKS.acquire(self.target.path)
            self._path_locked = True
            self._write_state()
        client: Client | None = None
        try:
            with self._translate("open"):
                client = self._new_client()
                client.command(f"CREATE DATABASE IF NOT EXISTS `{self.target.database}`")
                client.database = self.target.database
                applied = apply_migrations(client, ttl_days=self._ttl_days)
                changed = reconcile_ttl(client, ttl_days=self._ttl_days)
        except BaseException:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            self._release_path()
            raise
        if applied:
            log.info("history schema at %s migrated to versions %s", self.target.describe(), applied)
        if changed:
            log.info("history TTL set to %d days on %s", self._ttl_days, ", ".join(changed))
        self._client = client
        return client

    def _new_client(self) -> Client:
        if self.target.kind == "chdb":
            path = str(self.target.path) if self.target.path is not None else ":memory:"
            return clickhouse_connect.get_client(interface="chdb", path=path, tz_mode="aware")
        return clickhouse_connect.get_client(
            host=self.target.host,
            port=self.target.port,
            secure=self.target.secure,
            username=self._user,
            password=self._password.get_secret_value(),
            connect_timeout=self._connect_timeout,
            send_receive_timeout=self._query_timeout,
            tz_mode="aware",
        )

    def _release_path(self) -> None:
        if self._path_locked and self.target.path is not None:
            self._remove_state()
            _PATH_LOCKS.release(self.target.path)
            self._path_locked = False

    def _drop_client(self) -> None:
        self._insert_contexts.clear()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        self._release_path()

    @contextlib.contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Map clickhouse-connect and chDB exceptions to the history errors."""
        where = self.target.describe()
        try:
            yield
        except HistoryError:
            raise
        except ch_errors.OperationalError as exc:
            self._drop_client()
            raise StoreUnavailableError(
                f"history store {where} unavailable during {action}: {_short(exc)}"
            ) from exc
        except ch_errors.ProgrammingError as exc:
            text = str(exc)
            if "already initialized with path" in text:
                raise HistoryError(
                    f"this process already hosts a chDB store at another path; cannot open {where}"
                ) from exc
            if "Error initializing EmbeddedServer" in text:
                raise StoreLockedError(
                    f"the history store {where} is in use by another process (embedded chDB allows one)"
                ) from exc
            raise HistoryError(f"history {action} failed on {where}: {_short(exc)}") from exc
        except (ch_errors.Error, ValueError, TypeError, KeyError) as exc:
            if any(marker in str(exc) for marker in _FULL_MARKERS):
                # a full disk is an outage like a server down: the same write succeeds once space is freed
                raise StoreUnavailableError(
                    f"history store {where} is full during {action}: {_short(exc)}"
                ) from exc
            raise HistoryError(f"history {action} failed on {where}: {_short(exc)}") from exc
        except OSError as exc:
            self._drop_client()
            raise StoreUnavailableError(
                f"history store {where} unavailable during {action}: {_short(exc)}"
            ) from exc

    def close(self) -> None:
        """Release the connection and the chDB path; later calls raise ``HistoryError``."""
        self._closed = True
        self._wake.set()
        with self._lock:
            self._drop_client()

    # ---- writes -------------------------------------------------------

    def _insert(self, table: str, rows: list[list[Any]], columns: Sequence[str]) -> None:
        """Insert through the table's insert context, built once per connection.

        ``client.insert(table, ...)`` builds a context on every call, which
        asks the store for the table's column types (a ``DESCRIBE`` round trip
        and its result parsed in Python): a worker's history sink paid that for
        every batch. The contexts are dropped with the connection, so a
        reconnect (after migrations) reads the types again; a failed insert
        drops its context too.
        """
        with self._health():
            client = self._ensure_client()
            key = (table, tuple(columns))
            with self._translate(f"insert into {table}"):
                context = self._insert_contexts.get(key)
                if context is None:
                    context = client.create_insert_context(table, column_names=list(columns))
                    self._insert_contexts[key] = context
                try:
                    client.insert(data=rows, context=context)
                except BaseException:
                    self._insert_contexts.pop(key, None)
                    raise

    def record_audit_run(self, run: AuditRun) -> None:
        """Store an audit run; recording it again replaces the earlier row."""
        row = [
            run.audit_id,
            _utc(run.requested_at),
            run.requested_by,
            len(run.device_ids),
            list(run.device_ids),
            run.selector.model_dump_json(),
        ]
        with self._lock:
            self._insert("audit_runs", [row], _RUN_COLUMNS)

    def write_events(self, events: Sequence[DriftEvent]) -> None:
        """Store device results, their drift lines and feature rows: one insert per table.

        A re-delivered event (same audit and device) replaces its earlier copy
        whole: every row carries the event's :func:`result_id`, the result row
        kept by ``FINAL`` names the one version whose drift lines and feature
        rows count, and those of any other version are never read (see
        :mod:`driftaudit.adapters.history.queries`).
        """
        if not events:
            return
        results: list[list[Any]] = []
        lines: list[list[Any]] = []
        versions: list[int] = []
        for event in events:
            requested, observed = _utc(event.requested_at), _utc(event.observed_at)
            version = result_id(event)
            versions.append(version)
            results.append(
                [
                    event.audit_id,
                    event.device_id,
                    event.status.value,
                    event.tenant,
                    event.site,
                    event.role,
                    event.platform.value,
                    event.added_count,
                    event.removed_count,
                    event.unified_diff,
                    event.actual_hash,
                    event.intended_hash,
                    float(event.fetch_ms),
                    float(event.analyze_ms),
                    event.reason or "",
                    requested,
                    observed,
                    event.intended_version or "",
                    version,
                ]
            )
            for line_no, drift in enumerate((*event.added, *event.removed)):
                lines.append(
                    [
                        event.audit_id,
                        event.device_id,
                        event.tenant,
                        event.site,
                        event.platform.value,
                        drift.change.value,
                        line_no,
                        " > ".join(drift.path),
                        list(drift.path),
                        drift.line,
                        requested,
                        observed,
                        version,
                    ]
                )
        with self._lock:
            self._insert("device_results", results, _RESULT_COLUMNS)
            if lines:
                self._insert("drift_lines", lines, _LINE_COLUMNS)
        features = _feature_rows(events, versions)
        if features:
            with self._lock:
                self._insert("feature_results", features, _FEATURE_COLUMNS)

    def write_scores(self, scores: Sequence[tuple[datetime, FleetScore]]) -> None:
        """Store fleet scores; the fleet-wide score (tenant None) is kept as tenant ''."""
        if not scores:
            return
        rows = [
            [
                score.tenant or "",
                _utc(window_start),
                score.score,
                score.compliant,
                score.drifted,
                score.unreachable,
                score.error,
                score.reachable,
                score.total,
            ]
            for window_start, score in scores
        ]
        with self._lock:
            self._insert("fleet_scores", rows, _SCORE_COLUMNS)

    # ---- reads --------------------------------------------------------

    def _rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock, self._health():
            client = self._ensure_client()
            with self._translate("query"):
                return list(client.query(sql, parameters=parameters or {}).named_results())

    def device_timeline(self, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """One device's results, newest first (each with its masked ``unified_diff``)."""
        return self._rows(queries.DEVICE_TIMELINE, {"device_id": device_id, "limit": max(0, limit)})

    def result_lines(self, device_id: str, audit_id: str) -> list[dict[str, Any]]:
        """The drift lines of the current result of (device, audit): added first, then removed."""
        return self._rows(queries.RESULT_LINES, {"device_id": device_id, "audit_id": audit_id})

    def latest_status(self) -> list[dict[str, Any]]:
        """The newest result of every device, ordered by device id."""
        return self._rows(queries.LATEST_STATUS)

    def score_over_time(self, tenant: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Fleet scores, oldest first: one tenant's, or every row when ``tenant`` is None.

        The fleet-wide score comes back with ``tenant`` None.
        """
        if tenant is None:
            rows = self._rows(queries.SCORE_OVER_TIME, {"limit": max(0, limit)})
        else:
            rows = self._rows(queries.SCORE_OVER_TIME_FOR_TENANT, {"tenant": tenant, "limit": max(0, limit)})
        for row in rows:
            row["tenant"] = row["tenant"] or None
        return rows

    def most_drifted_sections(self, limit: int = 20, since: datetime | None = None) -> list[dict[str, Any]]:
        """Config sections with drift on the most devices (default: the last 30 days)."""
        start = _utc(since) if since is not None else datetime.now(UTC) - timedelta(days=30)
        return self._rows(
            queries.MOST_DRIFTED_SECTIONS,
            {"since": start.replace(tzinfo=None), "limit": max(0, limit)},
        )

    def unreachable_devices(self) -> list[dict[str, Any]]:
        """Devices whose newest result is ``unreachable``, with since when."""
        return self._rows(queries.UNREACHABLE_DEVICES)

    def drift_by(self, dimension: str) -> list[dict[str, Any]]:
        """Status counts and score per value of ``dimension``, from each device's newest result.

        Raises:
            ValueError: when ``dimension`` is not one of ``queries.DIMENSIONS``.
        """
        return self._rows(queries.drift_by_sql(dimension))

    def feature_matrix(
        self, dimension: str | None = None, tenants: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Per feature (and ``dimension`` value): status counts and score of each newest result.

        ``tenants`` empty means every tenant; otherwise only those (API tenant scoping).

        Raises:
            ValueError: when ``dimension`` is not one of ``queries.DIMENSIONS``.
        """
        return self._rows(queries.feature_matrix_sql(dimension), {"tenants": list(tenants)})

    def feature_trend(
        self, feature: str | None = None, *, days: int = 30, tenants: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Per feature and day: status counts and score, oldest first (the last ``days`` days)."""
        since = (datetime.now(UTC) - timedelta(days=max(1, days))).replace(tzinfo=None)
        return self._rows(
            queries.FEATURE_TREND,
            {"feature": feature or "", "since": since, "tenants": list(tenants)},
        )

    def audit_run(self, audit_id: str) -> dict[str, Any] | None:
        """The recorded audit run, or None."""
        rows = self._rows(
            "SELECT audit_id, requested_at, requested_by, device_count, device_ids, selector"
            " FROM audit_runs FINAL WHERE audit_id = {audit_id:String}",
            {"audit_id": audit_id},
        )
        if not rows:
            return None
        row = rows[0]
        row["selector"] = json.loads(row["selector"]) if row["selector"] else {}
        return row


def _feature_rows(events: Sequence[DriftEvent], versions: Sequence[int]) -> list[list[Any]]:
    """One ``feature_results`` row per feature result of each event, under its ``versions`` entry."""
    rows: list[list[Any]] = []
    for event, version in zip(events, versions, strict=True):
        requested, observed = _utc(event.requested_at), _utc(event.observed_at)
        for result in event.features:
            rows.append(
                [
                    event.audit_id,
                    event.device_id,
                    result.feature,
                    result.status.value,
                    event.tenant,
                    event.site,
                    event.role,
                    event.platform.value,
                    result.added_count,
                    result.removed_count,
                    sum(1 for policy in result.policies if not policy.passed),
                    requested,
                    observed,
                    version,
                ]
            )
    return rows


def open_history(
    dsn: str,
    *,
    user: str = "default",
    password: SecretStr | str = "",
    ttl_days: int = 365,
    connect_timeout: float = 5.0,
    connect: bool = True,
) -> ClickHouseHistory:
    """Build the history store the DSN names, connected unless ``connect`` is False.

    Raises:
        ConfigurationError: the DSN is malformed.
        StoreLockedError: another process owns the chDB path.
        StoreUnavailableError: the server cannot be reached (fails within ``connect_timeout``).
    """
    history = ClickHouseHistory(
        parse_dsn(dsn), user=user, password=password, ttl_days=ttl_days, connect_timeout=connect_timeout
    )
    if connect:
        history.connect()
    return history


def history_from_settings(settings: Settings, *, connect: bool = True) -> ClickHouseHistory:
    """The history store configured by ``settings`` (DSN, user, password, TTL, connect timeout)."""
    return open_history(
        settings.clickhouse_dsn,
        user=settings.clickhouse_user,
        password=settings.clickhouse_password,
        ttl_days=settings.history_ttl_days,
        connect_timeout=settings.connect_timeout_s,
        connect=connect,
    )
