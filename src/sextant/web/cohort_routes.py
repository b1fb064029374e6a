"""Saved cohorts over HTTP: create (from a definition, a list of persons or a query's persons), list, show
and delete. Cohorts are used in any query's filters and breakdowns by id."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sextant.auth import audit
from sextant.auth.dependencies import require
from sextant.auth.permissions import Action, Principal
from sextant.errors import QueryError
from sextant.web.state import ServerState

router = APIRouter()
CanView = Annotated[Principal, Depends(require(Action.VIEW_CONTENT))]
CanCreate = Annotated[Principal, Depends(require(Action.CREATE_CONTENT))]


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.sextant
    return state


@router.post("/api/v1/cohorts")
async def create_cohort(request: Request, user: CanCreate) -> JSONResponse:
    """Save a cohort: `{"name", "definition"}`, `{"name", "persons": [...]}` or `{"name", "from_query": spec}`."""
    state = _state(request)
    try:
        body: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise QueryError(f"the body is not JSON ({error})") from None
    if not isinstance(body, dict):
        raise QueryError("a cohort is a JSON object with a `name`")
    saved = await run_in_threadpool(state.insights.create_cohort, body, access_filters=user.access_filters)
    _audit(state, user, "cohort.create", saved.id, name=saved.name)
    return JSONResponse(saved.as_json(), status_code=201)


@router.get("/api/v1/cohorts")
async def list_cohorts(request: Request, user: CanView) -> JSONResponse:
    state = _state(request)
    cohorts = await run_in_threadpool(state.insights.cohort_store().all)
    return JSONResponse({"cohorts": [cohort.as_json() for cohort in cohorts]})


@router.get("/api/v1/cohorts/{cohort}")
async def get_cohort(request: Request, cohort: int, user: CanView) -> JSONResponse:
    state = _state(request)
    saved = await run_in_threadpool(state.insights.cohort_store().get, cohort)
    return JSONResponse(saved.as_json())


@router.get("/api/v1/cohorts/{cohort}/persons")
async def cohort_persons(request: Request, cohort: int, user: CanView, limit: int = 1000) -> JSONResponse:
    """The ids of the persons in a cohort now (first `limit`, sorted)."""
    state = _state(request)
    if not 1 <= limit <= 100_000:
        raise QueryError("limit must be between 1 and 100000")
    persons = await run_in_threadpool(
        lambda: state.insights.cohort_persons(cohort, limit=limit, access_filters=user.access_filters)
    )
    return JSONResponse({"cohort": cohort, "persons": persons})


@router.delete("/api/v1/cohorts/{cohort}")
async def delete_cohort(request: Request, cohort: int, user: CanCreate) -> Response:
    state = _state(request)
    await run_in_threadpool(state.insights.cohort_store().delete, cohort)
    _audit(state, user, "cohort.delete", cohort)
    return Response(status_code=204)


def _audit(state: ServerState, user: Principal, action: str, cohort: int, **detail: Any) -> None:
    with state.workspace.metadata.begin() as session:
        audit.record(session, user, action, f"cohort:{cohort}", **detail)
