"""``driftaudit api``: serve the HTTP API (uvicorn) with warm connection pools.

The config client is built once and lives as long as the server, so repeated
pre-flight checks reuse SSH sessions and keep-alive HTTP connections. In
embedded mode a running worker may own the chDB store; the API then reads the
history through that worker's web views (see
:mod:`driftaudit.adapters.history.worker_link`). When the store cannot be read
at all, it serves pre-flight checks and answers the history endpoints with 503
and the reason, instead of refusing to start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from fastapi import FastAPI

from driftaudit.settings import Settings

if TYPE_CHECKING:
    from driftaudit.domain.ports import HistoryReader

__all__ = ["build_api", "register"]

_log = logging.getLogger(__name__)


def build_api(settings: Settings) -> FastAPI:
    """The API app wired from settings; the lifespan closes the pools and the store.

    Raises:
        ConfigurationError: no API token, or unusable inventory/intended/pattern files.
    """
    from driftaudit.adapters.history.worker_link import open_history_reader
    from driftaudit.api import ApiDeps, create_api
    from driftaudit.bootstrap import (
        build_config_client,
        build_intended,
        build_inventory,
        build_masking,
    )
    from driftaudit.domain.errors import ConfigurationError, HistoryError

    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token:  # before anything is opened: an open API is never served
        raise ConfigurationError("the API needs a bearer token: set DRIFTAUDIT_API_TOKEN")
    inventory = build_inventory(settings)
    intended = build_intended(settings)
    registry = build_masking(settings)
    history: HistoryReader | None = None
    try:
        history = open_history_reader(settings)  # the store, or the worker that owns it
    except HistoryError as exc:
        _log.warning("history unavailable, serving without it: %s", exc)
    client = build_config_client(settings)
    deps = ApiDeps(
        inventory=inventory,
        intended=intended,
        client=client,
        registry=registry,
        history=history,
        token=token,
        preflight_timeout_s=settings.preflight_timeout_s,
        batch_size=settings.batch_size,
    )
    app = create_api(deps)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()
            close = getattr(history, "close", None)
            if close is not None:
                close()

    app.router.lifespan_context = lifespan
    return app


def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: DRIFTAUDIT_API_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: DRIFTAUDIT_API_PORT).")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs); needs DRIFTAUDIT_API_TOKEN."""
    import uvicorn

    settings = Settings()
    app = build_api(settings)
    uvicorn.run(app, host=host or settings.api_host, port=port or settings.api_port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``api`` to the root command."""
    app.command("api")(api)
