"""Reading request bodies (ingest/payload.py): which bytes make one event's document."""

from __future__ import annotations

import orjson

from sextant.ingest.payload import parse


def test_ndjson_lines_end_only_at_line_feeds() -> None:
    # JSON allows U+2028, U+2029 and U+0085 unescaped inside strings, and Windows clients end lines with CRLF:
    # neither may cut an event in two.
    names = ["line\u2028separator", "paragraph\u2029separator", "next\x85line"]
    events = [{"event": "Search", "distinct_id": "u", "properties": {"query": name}} for name in names]
    body = b"\r\n".join(orjson.dumps(event) for event in events) + b"\r\n\r\n"
    documents = parse(body, "application/x-ndjson").documents
    assert [orjson.loads(document) for document in documents] == events
