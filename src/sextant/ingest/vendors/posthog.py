"""PostHog's capture API: `POST /capture/`, `/batch/`, `/e/` and `/i/v0/e/`, with the project key as
`api_key` (or `token`) in the body.

PostHog's SDKs retry 5xx, 408 and 429 and drop other 4xx, so good events of a batch are stored and bad
ones answered with 400. Identity comes from `$identify` (`$anon_distinct_id`), `$create_alias` (`alias`)
and `$groupidentify`; `$set`, `$set_once` and `$unset` may sit on the event or in its properties. The
event's `uuid` is also its dedup key.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping
from typing import Any

import orjson

from sextant.errors import AuthError, IngestError, RateLimited, SextantError
from sextant.ingest.pipeline import IntakeResult
from sextant.ingest.vendors import Reply, Translated, Vendor, as_object

PERSON_OPERATIONS = {"$set": "$set", "$set_once": "$set_once", "$unset": "$unset"}


class PostHog(Vendor):
    name = "posthog"
    paths = ("/capture/", "/capture", "/batch/", "/e/", "/e", "/i/v0/e/", "/i/v0/e")

    def translate(self, body: bytes, headers: Mapping[str, str], path: str) -> Translated:
        payload = _decode(body, headers.get("content-type", ""))
        if isinstance(payload, list):
            events, key, sent_at = payload, None, None
        elif isinstance(payload, dict):
            key = payload.get("api_key") or payload.get("token")
            sent_at = payload.get("sent_at")
            batch = payload.get("batch") if "batch" in payload else payload.get("data")
            events = batch if isinstance(batch, list) else [payload]
        else:
            raise IngestError("the body must be an event, a list of events or {'batch': [...]}")
        documents = []
        for event in events:
            if isinstance(event, dict):
                key = key or (event.get("api_key") or (event.get("properties") or {}).get("token"))
                documents.append(orjson.dumps(native(event, sent_at)).decode())
            else:
                documents.append(orjson.dumps(event).decode())
        return Translated(documents, api_key=key if isinstance(key, str) else None)

    def accepted(self, result: IntakeResult, translated: Translated, path: str) -> Reply:
        if not result.rejections:
            return Reply(200, {"status": 1})
        detail = "; ".join(f"event {r.index}: {r.reason}" for r in result.rejections)
        return Reply(
            400,
            {
                "type": "validation_error",
                "code": "invalid_payload",
                "detail": f"{len(result.rejections)} event(s) rejected, the rest stored: {detail}",
            },
        )

    def refused(self, error: SextantError, path: str) -> Reply:
        if isinstance(error, AuthError):
            return Reply(
                401,
                {
                    "type": "authentication_error",
                    "code": "invalid_api_key",
                    "detail": f"Project API key invalid: {error.message}",
                },
            )
        headers = {"Retry-After": str(max(1, round(error.retry_after)))} if isinstance(error, RateLimited) else None
        kind = "validation_error" if error.status < 500 else "server_error"
        return Reply(
            error.status, {"type": kind, "code": type(error).__name__, "detail": error.message}, headers=headers
        )


def native(event: dict[str, Any], sent_at: object) -> dict[str, Any]:
    """One PostHog event as a native event."""
    properties = dict(as_object(event.get("properties")))
    distinct_id = event.get("distinct_id", properties.pop("distinct_id", None))
    properties.pop("token", None)
    result: dict[str, Any] = {"event": event.get("event"), "distinct_id": distinct_id}
    updates: dict[str, Any] = {}
    for source in (event, properties):
        for name, target in PERSON_OPERATIONS.items():
            value = source.get(name)
            if source is properties:
                properties.pop(name, None)
            if not value:
                continue
            if target == "$unset":
                updates["$unset"] = [*updates.get("$unset", []), *value]
            elif isinstance(value, dict):
                updates.setdefault(target, {}).update(value)
    if updates:
        result["person_updates"] = updates
    event_name = event.get("event")
    if event_name == "$identify" and properties.get("$anon_distinct_id"):
        result["previous_id"] = properties.pop("$anon_distinct_id")
        result["user_id"] = distinct_id
    elif event_name == "$create_alias" and properties.get("alias"):
        result["previous_id"] = properties.pop("alias")
    elif event_name == "$groupidentify" and properties.get("$group_type"):
        group_type = properties.pop("$group_type")
        result["groups"] = {group_type: properties.pop("$group_key", None)}
        result["group_properties"] = {group_type: properties.pop("$group_set", None) or {}}
    groups = properties.pop("$groups", None)
    if isinstance(groups, dict) and groups:
        result["groups"] = {**groups, **result.get("groups", {})}
    if properties.get("$session_id"):
        result["session_id"] = properties["$session_id"]
    for field in ("timestamp", "uuid"):
        if event.get(field):
            result[field] = event[field]
    if event.get("sent_at") or sent_at:
        result["sent_at"] = event.get("sent_at") or sent_at
    result["properties"] = properties
    return result


def _decode(body: bytes, content_type: str) -> Any:
    """JSON, or the web SDK's form encoding `data=<base64 JSON>`."""
    if "application/x-www-form-urlencoded" in content_type:
        form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
        data = (form.get("data") or [""])[0]
        try:
            body = base64.b64decode(data + "=" * (-len(data) % 4))
        except ValueError:
            raise IngestError("the form field `data` is not base64") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise IngestError(f"the body is not valid JSON: {error}") from None
