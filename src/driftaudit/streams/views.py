"""Web views of the worker: the rolling fleet score as JSON ``FleetScore``.

``GET /fleet/score`` answers from the tenants this worker holds (every tenant
when one worker runs); ``GET /fleet/score/{tenant}`` is routed by Faust to the
worker that owns the tenant's partition, so it is right with many workers.

The web server binds ``DRIFTAUDIT_WORKER_WEB_BIND`` (loopback by default; a
non-loopback bind without a token is refused, see
:func:`~driftaudit.streams.worker_web.check_web_access`). When API tokens are
configured (``DRIFTAUDIT_API_TOKEN``, ``DRIFTAUDIT_API_TOKENS_PATH``), every
view needs ``Authorization: Bearer <token>`` too and answers within the
token's tenants, as the HTTP API does: another tenant's score is 404.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response, View

from driftaudit.domain.access import ADMIN, AccessTable, Scope
from driftaudit.domain.models import FleetScore
from driftaudit.streams.score import total_score
from driftaudit.streams.scoreboard import FleetScoreboard

__all__ = ["register_views", "score_document"]

logger = logging.getLogger(__name__)


def score_document(score: FleetScore) -> dict[str, Any]:
    """The JSON form of a score, with its derived counts."""
    document: dict[str, Any] = score.model_dump(mode="json")
    document["reachable"] = score.reachable
    document["total"] = score.total
    return document


def register_views(app: faust.App, scoreboard: FleetScoreboard, *, access: AccessTable | None = None) -> None:
    """Add the fleet-score pages to ``app``'s web server (token-checked when ``access`` is given)."""

    def caller(request: Request) -> Scope | None:
        if access is None:
            return ADMIN
        return access.scope_of_header(request.headers.get("Authorization"))

    def refused(view: View) -> Response:
        return view.json(
            {"error": "missing or invalid bearer token"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.page("/fleet/score")
    class FleetScoreView(View):
        """The whole fleet's score and each tenant's, in the current window."""

        async def get(self, request: Request) -> Response:
            scope = caller(request)
            if scope is None:
                return refused(self)
            tenants = scoreboard.scores()
            if scope.admin:
                fleet = scoreboard.total()
            else:
                tenants = {name: score for name, score in tenants.items() if scope.allows(name)}
                fleet = total_score(v for t, v in scoreboard.table.items() if scope.allows(str(t)))
            return self.json(
                {
                    "fleet": score_document(fleet),
                    "tenants": {name: score_document(score) for name, score in sorted(tenants.items())},
                }
            )

    @app.page("/fleet/score/{tenant}")
    class TenantScoreView(View):
        """One tenant's score in the current window."""

        async def get(self, request: Request, tenant: str) -> Response:
            """Forward to the worker owning ``tenant``, or answer here when it is this one.

            Routing needs the changelog's partition metadata, which a worker has
            only once the table was written; until then it answers locally
            (what ``app.table_route`` would do, minus its HTTP 500).
            """
            scope = caller(request)
            if scope is None:
                return refused(self)
            if not scope.allows(tenant):
                return self.json({"error": f"unknown tenant {tenant[:128]!r}"}, status=404)
            try:
                return await app.router.route_req(scoreboard.base.name, tenant, self.web, request)
            except SameNode:
                pass
            except Exception as exc:  # noqa: BLE001 - routing metadata not ready: answer here
                logger.debug("fleet score for %s answered locally (%s)", tenant, type(exc).__name__)
            return self.json(score_document(scoreboard.score(tenant)))
