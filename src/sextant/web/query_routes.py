"""Insight queries over HTTP: `POST /api/v1/query` and its JSON Schema at `GET /api/v1/query/schema`.
Reading needs a personal API key."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sextant.errors import QueryError
from sextant.insights.runner import spec_schema
from sextant.web.state import reader_state

router = APIRouter()


@router.post("/api/v1/query")
async def post_query(request: Request, refresh: bool = False) -> JSONResponse:
    """Run an insight spec (`kind`: segmentation, funnel, retention, ...); returns the result, the generated
    SQL and the timing. `?refresh=true` skips the results cache."""
    state = reader_state(request)
    try:
        spec: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise QueryError(
            f'the body is not JSON ({error}); send an insight spec such as {{"kind": "funnel", ...}}'
        ) from None
    result = await run_in_threadpool(state.insights.query, spec, refresh=refresh)
    return JSONResponse(result.as_json())


@router.get("/api/v1/query/schema")
async def get_query_schema(request: Request) -> JSONResponse:
    """The JSON Schema of every insight spec."""
    reader_state(request)
    return JSONResponse(spec_schema())
