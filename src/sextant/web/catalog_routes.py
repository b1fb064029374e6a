"""The event catalog over HTTP: `GET /api/v1/catalog`, and group properties at `GET /api/v1/catalog/groups`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sextant import catalog
from sextant.web.state import reader_state

router = APIRouter()


@router.get("/api/v1/catalog")
async def get_catalog(request: Request) -> JSONResponse:
    """Every event seen and planned, with volume, first and last seen, plan status and observed properties."""
    state = reader_state(request)
    entries = await run_in_threadpool(
        catalog.build, state.workspace.warehouse.cursor(), state.workspace.project.name, state.pipeline.plan_file.plan
    )
    return JSONResponse({"events": [entry.as_json() for entry in entries]})


@router.get("/api/v1/catalog/groups")
async def get_group_properties(request: Request) -> JSONResponse:
    """Every group type (account, instance, ...) with the properties its groups have, for filters on them."""
    state = reader_state(request)
    groups = await run_in_threadpool(
        catalog.group_properties, state.workspace.warehouse.cursor(), state.workspace.project.name
    )
    return JSONResponse({"groups": groups})
