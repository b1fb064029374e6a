"""Reading request bodies under a size limit, without breaking keep-alive connections."""

from __future__ import annotations

from starlette.requests import Request

from sextant.errors import PayloadTooLarge

# An oversized body is read and discarded up to this many times the limit, so the client's connection
# stays usable for its next request; beyond it the connection is closed instead.
_DRAIN_FACTOR = 4


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    over = declared is not None and declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            over = True
        if over:
            if size > limit * _DRAIN_FACTOR:
                raise PayloadTooLarge(_message(limit), close_connection=True)
            continue
        chunks.append(chunk)
    if over:
        raise PayloadTooLarge(_message(limit))
    return b"".join(chunks)


def _message(limit: int) -> str:
    return f"the request body is over the {limit} byte limit; split it into smaller batches"
