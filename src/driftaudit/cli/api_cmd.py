"""``driftaudit api``: serve the HTTP API (uvicorn) with warm connection pools.

The config client is built once and lives as long as the server, so repeated
pre-flight checks reuse SSH sessions and keep-alive HTTP connections. In
embedded mode another process (the worker) may own the chDB store; the API
then serves pre-flight checks and answers the history endpoints with 503 and
the reason, instead of refusing to start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import typer
from fastapi import FastAPI

from driftaudit.settings import Settings

__all__ = ["build_api", "register"]

_log = logging.getLogger(__name__)


def build_api(settings: Settings) -> FastAPI:
    """The API app wired from settings; the lifespan closes the pools and the store.

    Raises:
        ConfigurationError: no API token, or unusable inventory/intended/pattern files.
    """
    from driftaudit.api import ApiDeps, create_api
    from driftaudit.bootstrap import (
        build_config_client,
        build_history,
        build_intended,
        build_inventory,
        build_masking,
        build_rules,
    )
    from driftaudit.domain.errors import ConfigurationError, HistoryError

    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token:  # before anything is opened: an open API is never served
        raise ConfigurationError("the API needs a bearer token: set DRIFTAUDIT_API_TOKEN")
    inventory = build_inventory(settings)
    intended = build_intended(settings)
    registry = build_masking(settings)
    history = None
    try:
        history = build_history(settings)
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
        rules=build_rules(settings),
    )
    app = create_api(deps)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()
            if history is not None:
                history.close()

    app.router.lifespan_context = lifespan
    return app


def api(
    host: Annotated[str | None, typer.Option(help="bind address (default: settings)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: settings)")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs); needs DRIFTAUDIT_API_TOKEN."""
    import uvicorn

    settings = Settings()
    app = build_api(settings)
    uvicorn.run(app, host=host or settings.api_host, port=port or settings.api_port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``api`` to the root command."""
    app.command("api")(api)
