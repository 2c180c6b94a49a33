"""HTTP API (FastAPI): pre-flight checks, the fleet score and device history.

The app is built by :func:`create_api` from already-built dependencies, so
nothing connects at import time and tests can serve it on a free port. Every
endpoint needs ``Authorization: Bearer <token>``: each token carries a scope
(the tenants it may see, or admin for all; :mod:`driftaudit.domain.access`,
compared in constant time, never logged), and every answer is filtered to it:
another tenant's device is 404, as if it did not exist, and the fleet score
counts only the caller's tenants. Errors are JSON ``{"error": ..., "detail": ...}``
with the right status, and no response carries a secret: device results hold
only masked text, and exception messages are driftaudit's own (secret-free).

The serving process keeps one config client for its whole life, so the SSH
pool and the keep-alive HTTP clients stay warm between pre-flight checks.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from driftaudit.audit.preflight import preflight_check
from driftaudit.audit.summary import score_document
from driftaudit.domain.access import AccessTable, Scope
from driftaudit.domain.errors import (
    ConfigurationError,
    DriftAuditError,
    HistoryError,
    InventoryError,
    UnknownDeviceError,
)
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import DeviceStatus, DriftEvent, FleetScore
from driftaudit.domain.ports import (
    ComplianceRulesSource,
    FeatureHistoryReader,
    HistoryReader,
    IConfigClient,
    IntendedConfigSource,
    Inventory,
)
from driftaudit.domain.scoring import FleetHealthScorer

__all__ = ["ApiDeps", "Caller", "PreflightRequest", "PreflightResponse", "create_api", "feature_compliance"]

_MAX_DEVICES_PER_CHECK = 500

#: Module level, not inside ``create_api``: with postponed annotations FastAPI
#: resolves ``Depends(_bearer)`` from this module's globals.
_bearer = HTTPBearer(auto_error=False)
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _caller(request: Request, credentials: _Credentials) -> Scope:
    """The scope of the request's bearer token (401 without a known one)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status_code=401, detail="missing bearer token")
    table: AccessTable = request.app.state.access
    scope = table.scope_of(credentials.credentials)
    if scope is None:
        raise HTTPException(status_code=401, detail="invalid bearer token")
    return scope


#: The caller's scope; every endpoint takes it and filters what it returns to it.
Caller = Annotated[Scope, Depends(_caller)]


@dataclass(frozen=True, slots=True)
class ApiDeps:
    """What the API needs, built once by the composition root."""

    inventory: Inventory
    intended: IntendedConfigSource
    client: IConfigClient
    registry: MaskingRegistry
    history: HistoryReader | None
    token: str
    preflight_timeout_s: float = 30.0
    batch_size: int = 50
    access: AccessTable | None = None  # None: ``token`` alone, with the admin scope

    def access_table(self) -> AccessTable | None:
        """The tokens this API accepts: ``access`` if set, else ``token`` as admin."""
        if self.access is not None and len(self.access):
            return self.access
        return AccessTable.single_admin(self.token) if self.token else None

    rules: ComplianceRulesSource | None = None


class PreflightRequest(BaseModel):
    """``POST /v1/preflight`` body."""

    model_config = ConfigDict(extra="forbid")

    devices: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1, max_length=_MAX_DEVICES_PER_CHECK
    )
    timeout_s: float | None = Field(default=None, gt=0, le=300)


class PreflightResponse(BaseModel):
    """Per-device status and masked diff, with the check's overall verdict."""

    check_id: str
    compliant: bool
    exit_code: int
    elapsed_ms: float
    timeout_s: float
    results: list[DriftEvent]


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=body, headers=headers)


def _scores(rows: Sequence[dict[str, Any]]) -> tuple[FleetScore, dict[str, FleetScore]]:
    """Fleet and per-tenant scores over the latest status of every device."""
    scorer = FleetHealthScorer()
    statuses = {str(row["device_id"]): DeviceStatus(row["status"]) for row in rows}
    by_tenant: dict[str, dict[str, DeviceStatus]] = defaultdict(dict)
    for row in rows:
        by_tenant[str(row["tenant"])][str(row["device_id"])] = DeviceStatus(row["status"])
    tenants = {t: scorer.score(s, expected=list(s), tenant=t) for t, s in sorted(by_tenant.items())}
    return scorer.score(statuses, expected=list(statuses)), tenants


def feature_compliance(
    history: HistoryReader, *, by: str | None, tenants: Sequence[str], trend: bool = False, days: int = 30
) -> dict[str, Any]:
    """The per-feature compliance document of ``GET /v1/features``, limited to ``tenants`` (empty: all).

    The tenant set is a parameter so an authorization layer can pass the
    caller's tenants instead of the requested ones.

    Raises:
        HTTPException: 400 for an unknown dimension, 501 when the store cannot answer.
    """
    if not isinstance(history, FeatureHistoryReader):
        raise HTTPException(status_code=501, detail="this history store has no feature results")
    if trend:
        return {"trend": history.feature_trend(None, days=days, tenants=tenants), "tenants": list(tenants)}
    try:
        rows = history.feature_matrix(by, tenants)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    for row in rows:
        value = row.pop("value", "")
        if by:
            row[by] = value
    return {"by": by, "tenants": list(tenants), "features": rows}


def create_api(deps: ApiDeps) -> FastAPI:
    """The FastAPI app over ``deps`` (OpenAPI at ``/docs``).

    Raises:
        ConfigurationError: no API token configured (an open API is never served).
    """
    access = deps.access_table()
    if access is None:
        raise ConfigurationError(
            "the API needs a bearer token: set DRIFTAUDIT_API_TOKEN or DRIFTAUDIT_API_TOKENS_PATH"
        )
    app = FastAPI(
        title="driftaudit",
        summary="Configuration-drift auditor: pre-flight checks, fleet score, device history.",
        version="1",
    )
    app.state.access = access

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
        return _error(422, "invalid request body", detail)

    @app.exception_handler(UnknownDeviceError)
    async def _unknown(_: Request, exc: UnknownDeviceError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(HistoryError)
    async def _history(_: Request, exc: HistoryError) -> JSONResponse:
        return _error(503, f"history store unavailable: {exc}")

    @app.exception_handler(DriftAuditError)
    async def _ours(_: Request, exc: DriftAuditError) -> JSONResponse:
        status = 400 if isinstance(exc, InventoryError) else 500
        return _error(status, str(exc))

    def _visible(scope: Scope, device_id: str) -> None:
        """404 for a device outside the caller's tenants, worded like an unknown one."""
        device = deps.inventory.get(device_id)  # UnknownDeviceError -> 404
        if not scope.allows(device.tenant):
            raise UnknownDeviceError(f"unknown device id {device_id[:128]!r}")

    @app.post("/v1/preflight", response_model=PreflightResponse)
    async def preflight(body: PreflightRequest, scope: Caller) -> PreflightResponse:
        """Fetch the devices now and compare them with their intended configs."""
        for device_id in body.devices:
            _visible(scope, device_id)
        report = await preflight_check(
            body.devices,
            inventory=deps.inventory,
            intended=deps.intended,
            client=deps.client,
            registry=deps.registry,
            timeout_s=body.timeout_s or deps.preflight_timeout_s,
            batch_size=deps.batch_size,
            rules=deps.rules,
        )
        return PreflightResponse(
            check_id=report.check_id,
            compliant=report.compliant,
            exit_code=report.exit_code,
            elapsed_ms=report.elapsed_ms,
            timeout_s=report.timeout_s,
            results=list(report.results),
        )

    def _history_reader() -> HistoryReader:
        if deps.history is None:
            raise HTTPException(status_code=503, detail="no history store is configured")
        return deps.history

    @app.get("/v1/fleet/score")
    async def fleet_score(scope: Caller) -> dict[str, Any]:
        """The score over the latest status of the caller's devices, overall and per tenant."""
        rows = await asyncio.to_thread(_history_reader().latest_status)
        rows = [row for row in rows if scope.allows(str(row["tenant"]))]
        fleet, tenants = _scores(rows)
        return {
            "fleet": score_document(fleet),
            "tenants": {tenant: score_document(score) for tenant, score in tenants.items()},
        }

    @app.get("/v1/devices/{device_id}/history")
    async def device_history(device_id: str, scope: Caller, limit: int = 100) -> dict[str, Any]:
        """One device's results, newest first (404 outside the caller's tenants)."""
        _visible(scope, device_id)
        rows = await asyncio.to_thread(_history_reader().device_timeline, device_id, max(1, min(limit, 1000)))
        rows = [row for row in rows if scope.allows(str(row["tenant"]))]
        return {"device_id": device_id, "results": rows}

    @app.get("/v1/features")
    async def features(
        scope: Caller,
        by: str | None = None,
        tenant: Annotated[list[str] | None, Query()] = None,
        trend: bool = False,
        days: Annotated[int, Query(ge=1, le=3650)] = 30,
    ) -> dict[str, Any]:
        """Compliance per feature (× tenant, site, role or platform with ``by``), or its daily trend.

        Limited to the caller's tenants: a tenant outside them is 404, like an unknown one.
        """
        requested = sorted(set(tenant or ()))
        if any(not scope.allows(name) for name in requested):
            raise HTTPException(status_code=404, detail="unknown tenant")
        tenants = requested if requested or scope.admin else sorted(scope.tenants)
        if (
            not tenants and not scope.admin
        ):  # an empty tenant list means every tenant: never for a tenant scope
            return (
                {"by": by, "tenants": [], "features": [], "trend": []}
                if trend
                else {"by": by, "tenants": [], "features": []}
            )
        reader = _history_reader()
        return await asyncio.to_thread(
            feature_compliance, reader, by=by, tenants=tenants, trend=trend, days=days
        )

    return app
