"""The event catalog over HTTP: `GET /api/v1/catalog`, and group properties at `GET /api/v1/catalog/groups`.
Both are worked out under the caller's row-level access filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sextant import catalog
from sextant.auth.dependencies import require
from sextant.auth.permissions import Action, Principal
from sextant.web.state import ServerState

router = APIRouter()
CanView = Annotated[Principal, Depends(require(Action.VIEW_CONTENT))]


@router.get("/api/v1/catalog")
async def get_catalog(request: Request, user: CanView) -> JSONResponse:
    """Every event seen and planned, with volume, first and last seen, plan status and observed properties."""
    state: ServerState = request.app.state.sextant
    entries = await run_in_threadpool(
        lambda: catalog.build(
            state.workspace.warehouse.cursor(),
            state.workspace.project.name,
            state.pipeline.plan_file.plan,
            access_filters=user.access_filters,
        )
    )
    return JSONResponse({"events": [entry.as_json() for entry in entries]})


@router.get("/api/v1/catalog/groups")
async def get_group_properties(request: Request, user: CanView) -> JSONResponse:
    """Every group type (account, instance, ...) with the properties its groups have, for filters on them."""
    state: ServerState = request.app.state.sextant
    groups = await run_in_threadpool(
        lambda: catalog.group_properties(
            state.workspace.warehouse.cursor(),
            state.workspace.project.name,
            state.pipeline.plan_file.plan,
            access_filters=user.access_filters,
        )
    )
    return JSONResponse({"groups": groups})
