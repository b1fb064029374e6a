"""Reading an ingestion request body: gzip, then a JSON array, NDJSON, one event, or an envelope
`{"api_key": ..., "sent_at": ..., "batch": [...]}`. Each event is passed on as its own JSON text, so that a
malformed event is rejected alone; an envelope's `sent_at` is copied into events that lack their own.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import orjson

from sextant.errors import IngestError, PayloadTooLarge

ENVELOPE_LISTS = ("batch", "events")


@dataclass
class Payload:
    documents: list[str]
    api_key: str | None = None


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo gzip (by header or by its magic bytes), refusing output over `limit` bytes."""
    if (content_encoding or "").lower() not in ("gzip", "x-gzip") and not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib, detected from the header
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise IngestError(f"the body is not valid gzip: {error}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the decompressed body is over the {limit} byte limit; send smaller batches")
    return data


def parse(body: bytes, content_type: str | None = None) -> Payload:
    if not body.strip():
        raise IngestError("the body is empty; send a JSON array of events, NDJSON, or one event object")
    if "ndjson" not in (content_type or "") and "jsonlines" not in (content_type or ""):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            # Read as NDJSON only when its first line is a whole event: the lines of a truncated, pretty-printed
            # array would otherwise pass as events, and its complete ones be stored.
            if not _starts_with_an_object(body):
                raise IngestError(
                    f"the body is not valid JSON ({error}); send a complete JSON array, one event object, "
                    "or NDJSON with one event object per line"
                ) from None
        else:
            return _from_value(value)
    # NDJSON: each line is one event; a bad line is rejected on its own by validation. Lines end at line feeds
    # only: str.splitlines would also cut at U+2028, U+2029 and U+0085, which JSON strings may hold unescaped.
    lines = body.decode("utf-8", errors="replace").split("\n")
    return Payload([line.removesuffix("\r") for line in lines if line.strip()])


def _starts_with_an_object(body: bytes) -> bool:
    first_line = body.lstrip().split(b"\n", 1)[0]
    try:
        return isinstance(orjson.loads(first_line), dict)
    except orjson.JSONDecodeError:
        return False


def _from_value(value: object) -> Payload:
    if isinstance(value, list):
        return Payload([_dump(item) for item in value])
    if not isinstance(value, dict):
        raise IngestError("the body must be a JSON array of events, NDJSON, or an object")
    api_key = value.get("api_key")
    for name in ENVELOPE_LISTS:
        if isinstance(value.get(name), list):
            sent_at = value.get("sent_at")
            if sent_at is not None:
                for item in value[name]:
                    if isinstance(item, dict):
                        item.setdefault("sent_at", sent_at)
            return Payload([_dump(item) for item in value[name]], api_key=api_key if isinstance(api_key, str) else None)
    return Payload([_dump(value)], api_key=api_key if isinstance(api_key, str) else None)


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()
