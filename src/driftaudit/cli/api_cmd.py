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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from fastapi import FastAPI

from driftaudit.settings import Settings

if TYPE_CHECKING:
    pass

__all__ = ["build_api", "register"]


def build_api(settings: Settings) -> FastAPI:
    """The API app wired from settings; the lifespan closes the pools and the store.

    Raises:
        ConfigurationError: no API token, or unusable inventory/intended/pattern files.
    """
    from driftaudit.api import create_api
    from driftaudit.bootstrap import build_api_deps

    deps, release = build_api_deps(settings)
    app = create_api(deps)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await release()

    app.router.lifespan_context = lifespan
    return app


def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: DRIFTAUDIT_API_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: DRIFTAUDIT_API_PORT).")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs); needs DRIFTAUDIT_API_TOKEN or DRIFTAUDIT_API_TOKENS_PATH."""
    import uvicorn

    settings = Settings()
    app = build_api(settings)
    uvicorn.run(app, host=host or settings.api_host, port=port or settings.api_port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``api`` to the root command."""
    app.command("api")(api)
