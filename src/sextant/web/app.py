"""The FastAPI application: routes, error responses, and the ingestion pipeline's lifetime."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sextant import instances
from sextant.auth.keys import KeyChecker
from sextant.errors import Overloaded, PayloadTooLarge, RateLimited, SextantError
from sextant.ingest.pipeline import IngestPipeline
from sextant.ingest.rate_limit import RateLimiter
from sextant.insights.service import Insights
from sextant.web import (
    catalog_routes,
    cohort_routes,
    health_routes,
    ingest_routes,
    pages,
    query_routes,
    telemetry_routes,
    vendor_routes,
)
from sextant.web.state import ServerState
from sextant.web.templating import wants_html
from sextant.workspace import Workspace


def create_app(workspace: Workspace, local_token: str | None = None) -> FastAPI:
    settings = workspace.project.config.ingest
    pipeline = IngestPipeline(workspace.project, workspace.warehouse)
    state = ServerState(
        workspace=workspace,
        pipeline=pipeline,
        keys=KeyChecker(workspace.metadata),
        rate_limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        local_token=local_token or secrets.token_urlsafe(32),
        agreed_levels=instances.agreed_levels(workspace.warehouse, workspace.project.name),
        insights=Insights(workspace.project, workspace.warehouse, lambda: pipeline.plan_file.plan, workspace.metadata),
    )
    state.keys.local_ingest_secrets.add(state.local_token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.pipeline.start()
        try:
            yield
        finally:
            tile_runner = getattr(app.state, "tile_runner", None)  # made by the first dashboard or look
            if tile_runner is not None:
                tile_runner.close()
            state.pipeline.stop()

    # The API reference is served by api_docs_routes, behind sign-in.
    app = FastAPI(title="Sextant", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sextant = state
    app.include_router(health_routes.router)
    app.include_router(ingest_routes.router)
    app.include_router(telemetry_routes.router)
    app.include_router(catalog_routes.router)
    app.include_router(query_routes.router)
    app.include_router(cohort_routes.router)
    vendor_routes.register(app)
    pages.install(app, state)
    app.add_exception_handler(SextantError, _error_response)  # type: ignore[arg-type]
    return app


async def _error_response(request: Request, error: SextantError) -> Response:
    if wants_html(request):
        return pages.error_page(request, error)
    headers = {}
    if isinstance(error, RateLimited | Overloaded):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if isinstance(error, PayloadTooLarge) and error.close_connection:
        headers["Connection"] = "close"
    return JSONResponse(
        {"error": type(error).__name__, "message": error.message}, status_code=error.status, headers=headers
    )
