"""Read-only history views on the worker's web server (``GET /history/...``).

A worker on embedded chDB owns its store, so nobody else can open it; these
views let the history commands and the API read it through the worker (see
:mod:`driftaudit.adapters.history.worker_link`). Each answers
``{"rows": [...]}`` with the rows of the store method of the same name, runs
the (blocking) query in a thread, and needs the bearer token when one is set
(:func:`driftaudit.streams.worker_web.bearer_refusal`). A store that is down
answers 503 with the reason; bad parameters 400.

=================================  =============================
``/history/devices/{device_id}``   ``device_timeline`` (``limit``)
``/history/latest``                ``latest_status``
``/history/scores``                ``score_over_time`` (``tenant``, ``limit``)
``/history/sections``              ``most_drifted_sections`` (``limit``, ``since``)
``/history/unreachable``           ``unreachable_devices``
``/history/drift-by/{dimension}``  ``drift_by``
``/history/audits/{audit_id}``     ``audit_run``
``/history/features``               ``feature_matrix`` (``by``, ``tenant`` repeated)
``/history/features/trend``         ``feature_trend`` (``feature``, ``days``, ``tenant`` repeated)
=================================  =============================
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import faust
from faust.web import Request, Response, View

from driftaudit.domain.errors import HistoryError, StoreLockedError, StoreUnavailableError
from driftaudit.domain.ports import FeatureHistoryReader, HistoryReader
from driftaudit.streams.worker_web import bearer_refusal

__all__ = ["HistoryQueries", "register_history_views"]

_MAX_LIMIT = 10_000


@runtime_checkable
class HistoryQueries(HistoryReader, FeatureHistoryReader, Protocol):
    """The read side of the store the views serve (``ClickHouseHistory``).

    The ports' readers plus the dashboard queries only the store answers.
    """

    def most_drifted_sections(self, limit: int = 20, since: datetime | None = None) -> list[dict[str, Any]]:
        """Config sections with drift on the most devices."""
        ...

    def unreachable_devices(self) -> list[dict[str, Any]]:
        """Devices whose newest result is unreachable."""
        ...

    def drift_by(self, dimension: str) -> list[dict[str, Any]]:
        """Status counts per value of an inventory dimension."""
        ...

    def audit_run(self, audit_id: str) -> dict[str, Any] | None:
        """One recorded audit run, or None."""
        ...


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _tenants(request: Request) -> tuple[str, ...]:
    """The repeated ``tenant`` query parameters (faust's typing shows the query as a plain mapping)."""
    getall = getattr(request.query, "getall", None)
    if getall is None:
        value = request.query.get("tenant")
        return (value,) if value else ()
    return tuple(str(v) for v in getall("tenant", []))


def _limit(request: Request, default: int) -> int:
    raw = request.query.get("limit")
    value = int(raw) if raw is not None else default  # ValueError -> 400
    if not 1 <= value <= _MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {_MAX_LIMIT}")
    return value


def register_history_views(app: faust.App, history: HistoryQueries, token: str | None) -> None:
    """Add the ``/history/`` views over ``history`` to ``app``'s web server."""

    async def answer(view: View, request: Request, query: Callable[[], Any]) -> Response:
        refusal = bearer_refusal(request.headers, token)
        if refusal is not None:
            return view.json({"error": refusal}, status=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            call = query()  # parameters are parsed here, before the thread
        except ValueError as exc:
            return view.json({"error": f"bad request: {exc}"}, status=400)
        try:
            result = await asyncio.to_thread(call)
        except (StoreUnavailableError, StoreLockedError) as exc:
            return view.json({"error": f"history store unavailable: {exc}"}, status=503)
        except (HistoryError, ValueError) as exc:
            return view.json({"error": str(exc)}, status=400)
        rows = result if isinstance(result, list) else ([] if result is None else [result])
        body = json.dumps({"rows": rows}, default=_default).encode("utf-8")
        return view.bytes(body, content_type="application/json")

    @app.page("/history/devices/{device_id}")
    class DeviceHistory(View):
        """One device's results, newest first."""

        async def get(self, request: Request, device_id: str) -> Response:
            return await answer(
                self, request, lambda: _bind(history.device_timeline, device_id, limit=_limit(request, 100))
            )

    @app.page("/history/latest")
    class LatestStatus(View):
        """The newest result of every device."""

        async def get(self, request: Request) -> Response:
            return await answer(self, request, lambda: history.latest_status)

    @app.page("/history/scores")
    class Scores(View):
        """Fleet scores over time."""

        async def get(self, request: Request) -> Response:
            return await answer(
                self,
                request,
                lambda: _bind(
                    history.score_over_time, request.query.get("tenant"), limit=_limit(request, 500)
                ),
            )

    @app.page("/history/sections")
    class Sections(View):
        """The most drifted config sections."""

        async def get(self, request: Request) -> Response:
            def call() -> Callable[[], Any]:
                since = request.query.get("since")
                return _bind(
                    history.most_drifted_sections,
                    limit=_limit(request, 20),
                    since=datetime.fromisoformat(since) if since else None,
                )

            return await answer(self, request, call)

    @app.page("/history/unreachable")
    class Unreachable(View):
        """Devices whose newest result is unreachable."""

        async def get(self, request: Request) -> Response:
            return await answer(self, request, lambda: history.unreachable_devices)

    @app.page("/history/drift-by/{dimension}")
    class DriftBy(View):
        """Status counts and score per inventory dimension."""

        async def get(self, request: Request, dimension: str) -> Response:
            return await answer(self, request, lambda: _bind(history.drift_by, dimension))

    @app.page("/history/audits/{audit_id}")
    class AuditRun(View):
        """One recorded audit run."""

        async def get(self, request: Request, audit_id: str) -> Response:
            return await answer(self, request, lambda: _bind(history.audit_run, audit_id))

    @app.page("/history/features")
    class Features(View):
        """Compliance per feature (and inventory dimension), of each device's newest audit."""

        async def get(self, request: Request) -> Response:
            return await answer(
                self,
                request,
                lambda: _bind(history.feature_matrix, request.query.get("by"), _tenants(request)),
            )

    @app.page("/history/features/trend")
    class FeatureTrend(View):
        """Compliance per feature and day."""

        async def get(self, request: Request) -> Response:
            return await answer(
                self,
                request,
                lambda: _bind(
                    history.feature_trend,
                    request.query.get("feature"),
                    days=int(request.query.get("days", "30")),
                    tenants=_tenants(request),
                ),
            )


def _bind(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: function(*args, **kwargs)
