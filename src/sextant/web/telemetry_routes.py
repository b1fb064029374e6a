"""Instance telemetry: the update-check ping (`POST /updates`), the generic `POST /api/v1/pings`, and the
instances API (status by account; links to accounts)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sextant import instances
from sextant.auth.dependencies import authorize, require
from sextant.auth.permissions import Action, Principal
from sextant.errors import IngestError, PayloadTooLarge
from sextant.ingest import pings
from sextant.ingest.normalize import Context, over_event_limit
from sextant.insights.service import check_instances_readable
from sextant.metadata.models import KeyKind
from sextant.warehouse import tables
from sextant.web.body import read_body
from sextant.web.state import ServerState, bearer_token

router = APIRouter()


async def _receive(request: Request) -> list[dict[str, object]]:
    """Read, authenticate and store the pings of a request; returns them once they are durable."""
    state: ServerState = request.app.state.sextant
    project = state.workspace.project
    body = await read_body(request, project.config.ingest.max_request_bytes)
    received_at = dt.datetime.now(dt.UTC)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise IngestError(f"the ping is not valid JSON: {error}") from None
    items = payload if isinstance(payload, list) else [payload]
    key = (
        bearer_token(request)
        or request.query_params.get("api_key")
        or (payload.get("api_key") if isinstance(payload, dict) else None)
    )
    state.keys.require(key, KeyKind.INGEST)
    assert key is not None
    state.rate_limiter.take(key)
    read = [
        pings.read(
            item,
            project.config.telemetry.critical_fields,
            state.agreed_levels.get(str(item.get("site_id") or item.get("site") or ""))
            if isinstance(item, dict)
            else None,
        )
        for item in items
    ]
    context = Context(received_at=received_at, source=pings.SOURCE, settings=project.config.ingest)
    result = await asyncio.wrap_future(state.pipeline.submit_documents([pings.document(p) for p in read], context))
    if result.rejections:
        refusal = PayloadTooLarge if over_event_limit(result.rejections, len(read)) else IngestError
        raise refusal("; ".join(rejection.reason for rejection in result.rejections))
    return read


@router.post("/updates")
async def update_check(request: Request) -> Response:
    """The instances' update check: 204 when up to date, else 200 with the newest release."""
    ping = (await _receive(request))[0]
    releases = request.app.state.sextant.workspace.project.config.telemetry.releases
    newest = pings.newest(releases)
    behind = pings.versions_behind(str(ping["version"]), releases)
    if newest is None or not behind:
        return Response(status_code=204)
    return JSONResponse({"version": newest, "versions_behind": behind})


@router.post("/api/v1/pings")
async def receive_pings(request: Request) -> JSONResponse:
    """One ping or a list of pings, with Sextant's field names (or the update check's)."""
    return JSONResponse({"accepted": len(await _receive(request))})


class InstanceLink(BaseModel):
    account_id: str | None = None
    telemetry_level: str | None = None


class InstanceLinks(BaseModel):
    links: dict[str, InstanceLink]  # site id -> link
    source: str = "manual"


@router.get("/api/v1/instances")
async def list_instances(
    request: Request, user: Annotated[Principal, Depends(require(Action.VIEW_CONTENT))]
) -> JSONResponse:
    """Every known instance with its account, version and telemetry status (not to a user with access filters)."""
    check_instances_readable(user.access_filters)
    state: ServerState = request.app.state.sextant
    reader = state.workspace.warehouse.cursor()
    rows = instances.status(reader, state.workspace.project.name).to_pylist()
    return JSONResponse(orjson.loads(orjson.dumps(rows, default=str)))


@router.put("/api/v1/instances/{site_id}")
async def link_instance(site_id: str, link: InstanceLink, request: Request) -> JSONResponse:
    """Set the account an instance belongs to, and its agreed telemetry level."""
    await _store_links(request, InstanceLinks(links={site_id: link}))
    return JSONResponse({"site_id": site_id, **link.model_dump()})


@router.post("/api/v1/instances/links")
async def link_instances(links: InstanceLinks, request: Request) -> JSONResponse:
    """Set many links at once, e.g. from a licenses export (`source: "license"`)."""
    await _store_links(request, links)
    return JSONResponse({"linked": len(links.links)})


async def _store_links(request: Request, links: InstanceLinks) -> None:
    # Which account an instance belongs to, and the telemetry agreed with it, are project settings.
    authorize(request, Action.MANAGE_SETTINGS)
    state: ServerState = request.app.state.sextant
    rows = instances.link_rows(
        state.workspace.project.name,
        [(site_id, link.account_id, link.telemetry_level) for site_id, link in links.links.items()],
        source=links.source,
    )
    await asyncio.wrap_future(state.pipeline.submit_rows(tables.INSTANCE_ACCOUNTS, rows))
    for site_id, link in links.links.items():
        if link.telemetry_level:
            state.agreed_levels[site_id] = link.telemetry_level
