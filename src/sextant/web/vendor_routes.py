"""The vendor-compatible ingestion endpoints: one route per vendor path, answering in the vendor's format."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from sextant.errors import PayloadTooLarge, SextantError
from sextant.ingest import payload
from sextant.ingest.normalize import Context, over_event_limit
from sextant.ingest.vendors import Reply, Vendor, registry
from sextant.metadata.models import KeyKind
from sextant.web.body import read_body
from sextant.web.state import ServerState, bearer_token


def register(app: FastAPI) -> None:
    for vendor in registry():
        for path in vendor.paths:
            app.add_api_route(
                path, _endpoint(vendor, path), methods=["POST"], include_in_schema=False, name=f"{vendor.name} {path}"
            )


def _endpoint(vendor: Vendor, path: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return _response(await _ingest(request, vendor, path))
        except SextantError as error:
            reply = vendor.refused(error, path)
            if isinstance(error, PayloadTooLarge) and error.close_connection:
                reply.headers = {**(reply.headers or {}), "Connection": "close"}
            return _response(reply)

    return endpoint


async def _ingest(request: Request, vendor: Vendor, path: str) -> Reply:
    state: ServerState = request.app.state.sextant
    settings = state.workspace.project.config.ingest
    limit = min(settings.max_request_bytes, vendor.max_request_bytes or settings.max_request_bytes)
    body = await read_body(request, limit)
    received_at = dt.datetime.now(dt.UTC)
    body = payload.decompress(body, request.headers.get("content-encoding"), settings.max_request_bytes)
    translated = await run_in_threadpool(vendor.translate, body, request.headers, path)
    key = translated.api_key or bearer_token(request) or basic_username(request)
    if translated.early_reply and not key:
        return translated.early_reply
    state.keys.require(key, KeyKind.INGEST)
    if translated.early_reply:
        return translated.early_reply
    assert key is not None
    state.rate_limiter.take(key)
    context = Context(received_at=received_at, source=vendor.name, settings=settings)
    future = state.pipeline.submit_documents(translated.documents, context, atomic=translated.atomic)
    result = await asyncio.wrap_future(future)
    if over_event_limit(result.rejections, len(translated.documents)):
        # Answered as the vendor answers a request over its size limit, with each event's size.
        details = "; ".join(f"event {rejection.index}: {rejection.reason}" for rejection in result.rejections)
        raise PayloadTooLarge(f"every event is over the event size limit and none was stored ({details})")
    return vendor.accepted(result, translated, path)


def basic_username(request: Request) -> str | None:
    """The user name of HTTP Basic auth, where Segment puts its write key."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value).decode().partition(":")[0] or None
    except (ValueError, UnicodeDecodeError):
        return None


def _response(reply: Reply) -> Response:
    if reply.plain_text:
        return PlainTextResponse(str(reply.body), status_code=reply.status, headers=reply.headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
