"""The native ingestion API: POST /api/v1/batch and /api/v1/event, and the internal endpoint through which
`sextant import` sends normalized batches to a running server."""

from __future__ import annotations

import asyncio
import datetime as dt

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sextant.errors import AuthError, IngestError
from sextant.ingest import payload
from sextant.ingest.normalize import NORMALIZED_SCHEMA, Context, over_event_limit
from sextant.metadata.models import KeyKind
from sextant.web.body import read_body
from sextant.web.state import ServerState, bearer_token

router = APIRouter()


async def ingest(request: Request, source: str) -> JSONResponse:
    """Read, authenticate and submit one request's events; answer once they are durable."""
    state: ServerState = request.app.state.sextant
    settings = state.workspace.project.config.ingest
    body = await read_body(request, settings.max_request_bytes)
    received_at = dt.datetime.now(dt.UTC)
    header_key = bearer_token(request)
    if header_key:
        state.keys.require(header_key, KeyKind.INGEST)
    body = payload.decompress(body, request.headers.get("content-encoding"), settings.max_request_bytes)
    parsed = await run_in_threadpool(payload.parse, body, request.headers.get("content-type"))
    key = header_key or parsed.api_key
    if not header_key:
        state.keys.require(key, KeyKind.INGEST)
    assert key is not None
    state.rate_limiter.take(key)
    if not parsed.documents:
        raise IngestError("the batch holds no events")
    context = Context(received_at=received_at, source=source, settings=settings)
    future = state.pipeline.submit_documents(parsed.documents, context)
    result = await asyncio.wrap_future(future)
    content: dict[str, object] = {"accepted": result.accepted, "rejected": len(result.rejections)}
    if not result.rejections:
        return JSONResponse(content)
    content["errors"] = [
        {"index": rejection.index, "field": rejection.field, "reason": rejection.reason}
        for rejection in result.rejections
    ]
    if over_event_limit(result.rejections, len(parsed.documents)):
        content["message"] = (
            f"every event is over the {settings.max_event_bytes} byte event limit (ingest.max_event_bytes) and "
            "none was stored; send smaller events, e.g. with fewer or shorter properties."
        )
        return JSONResponse(content, status_code=413)
    content["message"] = (
        f"{len(result.rejections)} of {len(parsed.documents)} events were rejected and not stored; "
        "the others were stored. Fix the listed fields and resend only the rejected events."
    )
    return JSONResponse(content, status_code=400)


@router.post("/api/v1/batch")
async def batch(request: Request) -> JSONResponse:
    """A JSON array of events, NDJSON, or {"api_key", "sent_at", "batch": [...]}; gzip optional."""
    return await ingest(request, "api")


@router.post("/api/v1/event")
async def event(request: Request) -> JSONResponse:
    """One event as a JSON object."""
    return await ingest(request, "api")


@router.post("/api/v1/internal/normalized", include_in_schema=False)
async def normalized(request: Request) -> JSONResponse:
    """An Arrow IPC stream of already-normalized events, from `sextant import` on this machine. Only the
    server's local token (in `.sextant/server.json`, readable by the project's owner) is accepted."""
    state: ServerState = request.app.state.sextant
    if bearer_token(request) != state.local_token:
        raise AuthError("this endpoint takes only the server's local token")
    body = await read_body(request, 1024**3)
    table = pa.ipc.open_stream(body).read_all()
    if table.schema != NORMALIZED_SCHEMA:
        raise IngestError("the batch does not have the normalized event schema of this Sextant version")
    result = await asyncio.wrap_future(state.pipeline.submit_normalized(table))
    assert result.written is not None
    written = await asyncio.wrap_future(result.written)
    return JSONResponse({"accepted": result.accepted, "stored": written.stored, "duplicates": written.duplicates})
