"""Web views of the worker: the rolling fleet score as JSON ``FleetScore``.

Both need ``Authorization: Bearer <DRIFTAUDIT_API_TOKEN>`` when a token is
set (:func:`driftaudit.streams.worker_web.bearer_refusal`); without one the
server listens on loopback only (:func:`~driftaudit.streams.worker_web.check_web_access`).

``GET /fleet/score`` answers from the tenants this worker holds (every tenant
when one worker runs); ``GET /fleet/score/{tenant}`` is routed by Faust to the
worker that owns the tenant's partition, so it is right with many workers.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response, View

from driftaudit.domain.models import FleetScore
from driftaudit.streams.scoreboard import FleetScoreboard
from driftaudit.streams.worker_web import bearer_refusal

__all__ = ["register_views", "score_document"]

logger = logging.getLogger(__name__)


def score_document(score: FleetScore) -> dict[str, Any]:
    """The JSON form of a score, with its derived counts."""
    document: dict[str, Any] = score.model_dump(mode="json")
    document["reachable"] = score.reachable
    document["total"] = score.total
    return document


def register_views(app: faust.App, scoreboard: FleetScoreboard, token: str | None = None) -> None:
    """Add the fleet-score pages to ``app``'s web server (token-checked when ``token`` is set)."""

    def refused(view: View, request: Request) -> Response | None:
        refusal = bearer_refusal(request.headers, token)
        if refusal is None:
            return None
        return view.json({"error": refusal}, status=401, headers={"WWW-Authenticate": "Bearer"})

    @app.page("/fleet/score")
    class FleetScoreView(View):
        """The whole fleet's score and each tenant's, in the current window."""

        async def get(self, request: Request) -> Response:
            if (refusal := refused(self, request)) is not None:
                return refusal
            tenants = scoreboard.scores()
            return self.json(
                {
                    "fleet": score_document(scoreboard.total()),
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
            if (refusal := refused(self, request)) is not None:
                return refusal
            try:
                return await app.router.route_req(scoreboard.base.name, tenant, self.web, request)
            except SameNode:
                pass
            except Exception as exc:  # noqa: BLE001 - routing metadata not ready: answer here
                logger.debug("fleet score for %s answered locally (%s)", tenant, type(exc).__name__)
            return self.json(score_document(scoreboard.score(tenant)))
