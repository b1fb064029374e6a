"""eventLogger, the seeds' own client: the GraphQL mutation `logEvents(events: [Event!])` at
`POST /.api/graphql`. The ingest key goes in `Authorization: token <key>` (or `Bearer`).

Each event's `userCookieID` is the anonymous visitor id (the device id), `userID`/`user_id` the signed-in
user; `argument` and `publicArgument` arrive as JSON strings and are kept as JSON properties. Answers follow
GraphQL: 200 with `data`, and `errors` for events that were rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from sextant.errors import IngestError, SextantError
from sextant.ingest.pipeline import IntakeResult
from sextant.ingest.vendors import Reply, Translated, Vendor

# Event fields that become properties, with their property names.
PROPERTIES = {
    "cohortID": "cohort_id",
    "firstSourceURL": "first_source_url",
    "lastSourceURL": "last_source_url",
    "referrer": "referrer",
    "url": "url",
    "source": "source",
    "deviceID": "device_id",
    "eventID": "event_id",
    "deviceSessionID": "device_session_id",
    "featureFlags": "feature_flags",
    "connectedSiteID": "site_id",
    "hashedLicenseKey": "hashed_license_key",
    "client": "client",
}
JSON_PROPERTIES = {"argument": "argument", "publicArgument": "public_argument", "featureFlags": "feature_flags"}


class EventLogger(Vendor):
    name = "eventlogger"
    paths = ("/.api/graphql",)

    def translate(self, body: bytes, headers: Mapping[str, str], path: str) -> Translated:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise IngestError(f"the body is not valid JSON: {error}") from None
        query = request.get("query", "") if isinstance(request, dict) else ""
        if not re.search(r"\blogEvents\b", query or ""):
            raise IngestError("only the logEvents mutation is served here")
        events = (request.get("variables") or {}).get("events")
        if not isinstance(events, list):
            raise IngestError("variables.events must be a list of events")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() in ("token", "bearer") else None
        return Translated(
            [orjson.dumps(native(event) if isinstance(event, dict) else event).decode() for event in events],
            api_key=key,
        )

    def accepted(self, result: IntakeResult, translated: Translated, path: str) -> Reply:
        body: dict[str, Any] = {"data": {"logEvents": {"alwaysNil": None}}}
        if result.rejections:
            body["errors"] = [
                {
                    "message": f"event {r.index}: {r.reason}",
                    "path": ["logEvents"],
                    "extensions": {"index": r.index, "field": r.field},
                }
                for r in result.rejections
            ]
        return Reply(200, body)

    def refused(self, error: SextantError, path: str) -> Reply:
        return Reply(error.status, {"data": None, "errors": [{"message": error.message}]})


def native(event: dict[str, Any]) -> dict[str, Any]:
    """One eventLogger event as a native event."""
    properties: dict[str, Any] = {}
    for field, name in PROPERTIES.items():
        if event.get(field) not in (None, ""):
            properties[name] = event[field]
    for field, name in JSON_PROPERTIES.items():
        value = event.get(field)
        if isinstance(value, str) and value:
            try:
                properties[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                properties[name] = value  # kept as it came
        elif value is not None:
            properties[name] = value
    result: dict[str, Any] = {"event": event.get("event"), "properties": properties}
    user = event.get("userID", event.get("user_id"))
    if user not in (None, "", 0, "0"):
        result["user_id"] = user
    if event.get("userCookieID"):
        result["device_id"] = event["userCookieID"]
    if event.get("insertID"):
        result["insert_id"] = event["insertID"]
    if event.get("timestamp"):
        result["timestamp"] = event["timestamp"]
    return result
