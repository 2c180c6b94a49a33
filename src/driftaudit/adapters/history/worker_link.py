"""Reading the embedded history beside the worker that owns it.

Embedded chDB allows one process per path, and a running worker holds its
store for its whole life. So the worker publishes where its web server is, in
a small state file next to the store (``<store>/.driftaudit.worker.json``:
URL and pid, written by ``ClickHouseHistory.advertise`` while the worker holds
the path lock, removed when it lets go), and serves the history read-only under
``/history/`` (see :mod:`driftaudit.streams.history_views`). The history
commands and the API open the store themselves when they can; when a worker
owns it, :func:`open_history_reader` hands them a :class:`WorkerHistory`
that asks that worker instead, with the same methods and the same rows.

A state file left by a worker that died (its pid no longer runs) is ignored.
The worker's views need ``DRIFTAUDIT_API_TOKEN`` when one is set; the reader
sends it as a bearer token and never logs it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from driftaudit.adapters.history.clickhouse import (
    WORKER_STATE_FILE,
    ClickHouseHistory,
    HistoryTarget,
    history_from_settings,
    parse_dsn,
)
from driftaudit.domain.errors import HistoryError, StoreLockedError, StoreUnavailableError
from driftaudit.settings import Settings

__all__ = [
    "STATE_FILE",
    "WorkerHistory",
    "find_worker",
    "open_history_reader",
]

log = logging.getLogger(__name__)

STATE_FILE = WORKER_STATE_FILE

#: row fields that are datetimes (JSON carries them as ISO 8601 text)
_TIME_FIELDS = frozenset(
    {"observed_at", "requested_at", "window_start", "last_seen", "unreachable_since", "first_unreachable"}
)


def _state_path(target: HistoryTarget) -> Path | None:
    return target.path / STATE_FILE if target.kind == "chdb" and target.path is not None else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def find_worker(target: HistoryTarget) -> str | None:
    """The web URL of the live worker that owns the store, or None."""
    path = _state_path(target)
    if path is None:
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        url, pid = str(state["url"]), int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if _pid_alive(pid) else None


def _rows(value: Any) -> Any:
    if isinstance(value, list):
        return [_rows(item) for item in value]
    if isinstance(value, dict):
        return {
            key: datetime.fromisoformat(item)
            if key in _TIME_FIELDS and isinstance(item, str)
            else _rows(item)
            for key, item in value.items()
        }
    return value


class WorkerHistory:
    """The history reads of ``ClickHouseHistory``, asked of the worker that owns the store.

    Every failure leaves as ``StoreUnavailableError`` (the worker cannot be
    reached or answers 5xx) or ``HistoryError`` (it refused: 401, 404, 4xx),
    with the worker's own message and never the token.
    """

    def __init__(self, url: str, *, token: SecretStr | None = None, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def __repr__(self) -> str:
        return f"WorkerHistory({self.url})"

    def __enter__(self) -> WorkerHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def _get(self, path: str, **params: Any) -> Any:
        query = {key: value for key, value in params.items() if value is not None}
        try:
            response = self._http.get(path, params=query)
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(
                f"the worker owning the history ({self.url}) cannot be reached: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            try:
                reason = str(response.json().get("error", response.reason_phrase))
            except ValueError:
                reason = response.reason_phrase
            error = StoreUnavailableError if response.status_code >= 500 else HistoryError
            raise error(
                f"the worker owning the history ({self.url}) answered {response.status_code}: {reason}"
            )
        return _rows(response.json()["rows"])

    def device_timeline(self, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """One device's results, newest first."""
        return list(self._get(f"/history/devices/{quote(device_id, safe='')}", limit=limit))

    def latest_status(self) -> list[dict[str, Any]]:
        """The newest result of every device."""
        return list(self._get("/history/latest"))

    def score_over_time(self, tenant: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Fleet scores, oldest first."""
        return list(self._get("/history/scores", tenant=tenant, limit=limit))

    def most_drifted_sections(self, limit: int = 20, since: datetime | None = None) -> list[dict[str, Any]]:
        """Config sections with drift on the most devices."""
        return list(
            self._get(
                "/history/sections", limit=limit, since=since.isoformat() if since is not None else None
            )
        )

    def unreachable_devices(self) -> list[dict[str, Any]]:
        """Devices whose newest result is unreachable."""
        return list(self._get("/history/unreachable"))

    def drift_by(self, dimension: str) -> list[dict[str, Any]]:
        """Status counts and score per value of ``dimension``."""
        return list(self._get(f"/history/drift-by/{quote(dimension, safe='')}"))

    def audit_run(self, audit_id: str) -> dict[str, Any] | None:
        """The recorded audit run, or None."""
        rows = self._get(f"/history/audits/{quote(audit_id, safe='')}")
        return dict(rows[0]) if rows else None

    def feature_matrix(
        self, dimension: str | None = None, tenants: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Per compliance feature (and ``dimension`` value): status counts and score."""
        return list(self._get("/history/features", by=dimension, tenant=list(tenants) or None))

    def feature_trend(
        self, feature: str | None = None, *, days: int = 30, tenants: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Per compliance feature and day: status counts and score, oldest first."""
        return list(
            self._get("/history/features/trend", feature=feature, days=days, tenant=list(tenants) or None)
        )


def open_history_reader(settings: Settings) -> ClickHouseHistory | WorkerHistory:
    """The store itself when this process can open it, else the worker that owns it.

    Raises:
        StoreLockedError: another process owns the store and no live worker
            advertises it (the message says what to do).
        HistoryError: the store cannot be opened for another reason.
    """
    try:
        return history_from_settings(settings)
    except StoreLockedError as exc:
        target = parse_dsn(settings.clickhouse_dsn)
        url = find_worker(target)
        if url is None:
            raise StoreLockedError(
                f"{exc}; no running worker advertises it ({STATE_FILE} missing or stale), so it cannot "
                "be read through one either: stop the process that holds it, or run the worker with a "
                "ClickHouse server (DRIFTAUDIT_CLICKHOUSE_DSN=http://...)"
            ) from exc
        log.info("history store %s is owned by the worker at %s; reading through it", target.describe(), url)
        return WorkerHistory(url, token=settings.api_token)
