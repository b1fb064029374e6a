"""Insight queries over HTTP: `POST /api/v1/query` and its JSON Schema at `GET /api/v1/query/schema`.
Running a query needs a role that runs ad-hoc queries (Creator or Admin)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sextant.auth.dependencies import require
from sextant.auth.permissions import Action, Principal
from sextant.errors import QueryError
from sextant.insights.runner import spec_schema
from sextant.web.state import ServerState

router = APIRouter()


@router.post("/api/v1/query")
async def post_query(
    request: Request, user: Annotated[Principal, Depends(require(Action.RUN_QUERIES))], refresh: bool = False
) -> JSONResponse:
    """Run an insight spec (`kind`: segmentation, funnel, retention, ...); returns the result, the generated
    SQL and the timing. `?refresh=true` skips the results cache."""
    state: ServerState = request.app.state.sextant
    try:
        spec: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise QueryError(
            f'the body is not JSON ({error}); send an insight spec such as {{"kind": "funnel", ...}}'
        ) from None
    result = await run_in_threadpool(state.insights.query, spec, refresh=refresh, access_filters=user.access_filters)
    return JSONResponse(result.as_json())


@router.get("/api/v1/query/schema")
async def get_query_schema(user: Annotated[Principal, Depends(require(Action.VIEW_CONTENT))]) -> JSONResponse:
    """The JSON Schema of every insight spec."""
    return JSONResponse(spec_schema())
