"""Liveness and metrics: the only routes served without authentication besides ingestion."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sextant.web.state import ServerState

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state: ServerState = request.app.state.sextant
    error = state.pipeline.last_write_error
    return JSONResponse(
        {
            "status": "degraded" if error else "ok",
            "project": state.workspace.project.name,
            "pending_events": state.pipeline.pending_events,
            "last_write_error": error,
        }
    )


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
