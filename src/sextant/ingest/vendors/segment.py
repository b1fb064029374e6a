"""Segment's tracking API: `POST /v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/group`,
`/v1/alias` and `/v1/batch`, with the write key sent as the Basic-auth user name (or `writeKey` in the body).

Segment's SDKs retry 5xx, 408 and 429 and drop other 4xx, so a batch with bad messages stores its good
ones and answers 400 with the reasons; nothing is resent. Limits as Segment's: 32 KB per message, 500 KB
per batch. `messageId` is the dedup key and `sentAt` corrects clock skew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from sextant.errors import AuthError, IngestError, RateLimited, SextantError
from sextant.ingest.pipeline import IntakeResult
from sextant.ingest.vendors import Reply, Translated, Vendor, as_object

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
GROUP_TYPE = "account"  # Segment's group calls carry no type; they become this group type
CALLS = ("track", "identify", "page", "screen", "group", "alias")


class Segment(Vendor):
    name = "segment"
    paths = ("/v1/batch", "/v1/import", *(f"/v1/{call}" for call in CALLS))
    max_request_bytes = MAX_BATCH_BYTES

    def translate(self, body: bytes, headers: Mapping[str, str], path: str) -> Translated:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise IngestError(f"Invalid JSON: {error}") from None
        if not isinstance(payload, dict):
            raise IngestError("the body must be a JSON object")
        call = path.rsplit("/", 1)[-1]
        if call in ("batch", "import"):
            messages = payload.get("batch")
            if not isinstance(messages, list):
                raise IngestError("a batch needs a `batch` array of messages")
            batch_context = as_object(payload.get("context"))
        else:
            messages, batch_context = [{**payload, "type": call}], {}
        documents = []
        for number, message in enumerate(messages):
            if not isinstance(message, dict):
                documents.append(orjson.dumps(message).decode())
                continue
            if len(orjson.dumps(message)) > MAX_MESSAGE_BYTES:
                raise IngestError(f"message {number} is over Segment's {MAX_MESSAGE_BYTES // 1024} KB limit")
            message.setdefault("sentAt", payload.get("sentAt"))
            if batch_context:
                message["context"] = {**batch_context, **(message.get("context") or {})}
            documents.append(orjson.dumps(native(message)).decode())
        key = payload.get("writeKey") if isinstance(payload.get("writeKey"), str) else None
        return Translated(documents, api_key=key)

    def accepted(self, result: IntakeResult, translated: Translated, path: str) -> Reply:
        if not result.rejections:
            return Reply(200, {"success": True})
        reasons = "; ".join(f"message {r.index}: {r.reason}" for r in result.rejections)
        return Reply(
            400,
            {
                "success": False,
                "code": "invalid_request",
                "message": f"{len(result.rejections)} message(s) rejected, the rest stored: {reasons}",
            },
        )

    def refused(self, error: SextantError, path: str) -> Reply:
        headers = {"Retry-After": str(max(1, round(error.retry_after)))} if isinstance(error, RateLimited) else None
        code = {400: "invalid_request", 401: "invalid_write_key", 413: "request_too_large", 429: "rate_limited"}
        message = f"Invalid write key: {error.message}" if isinstance(error, AuthError) else error.message
        return Reply(
            error.status,
            {"success": False, "code": code.get(error.status, "error"), "message": message},
            headers=headers,
        )


def native(message: dict[str, Any]) -> dict[str, Any]:
    """One Segment message as a native event."""
    call = message.get("type")
    context = as_object(message.get("context"))
    properties = dict(as_object(message.get("properties")))
    properties.update(_context_properties(context))
    result: dict[str, Any] = {"properties": properties}
    for source, target in (
        ("userId", "user_id"),
        ("anonymousId", "device_id"),
        ("messageId", "insert_id"),
        ("sentAt", "sent_at"),
    ):
        if message.get(source) not in (None, ""):
            result[target] = message[source]
    timestamp = message.get("timestamp") or message.get("originalTimestamp")
    if timestamp:
        result["timestamp"] = timestamp
    traits = message.get("traits") if isinstance(message.get("traits"), dict) else context.get("traits")
    if call == "track":
        result["event"] = message.get("event")
    elif call == "identify":
        result["event"] = "$identify"
    elif call in ("page", "screen"):
        result["event"] = "$pageview" if call == "page" else "$screen"
        if message.get("name"):
            properties["name"] = message["name"]
    elif call == "group":
        result["event"] = "$groupidentify"
        result["groups"] = {GROUP_TYPE: message.get("groupId")}
        result["group_properties"] = {GROUP_TYPE: traits or {}}
        traits = None
    elif call == "alias":
        result["event"] = "$create_alias"
        result["previous_id"] = message.get("previousId")
    else:
        result["event"] = call  # validation rejects a missing or unknown type by its event name
    if isinstance(traits, dict) and traits:
        result["person_updates"] = {"$set": traits}
    if call != "group" and isinstance(context.get("groupId"), str):
        result["groups"] = {GROUP_TYPE: context["groupId"]}
    return result


def _context_properties(context: dict[str, Any]) -> dict[str, Any]:
    """The parts of Segment's context that analyses use, as event properties."""
    found: dict[str, Any] = {}
    page = as_object(context.get("page"))
    for source, target in (
        ("url", "$current_url"),
        ("path", "$pathname"),
        ("referrer", "$referrer"),
        ("title", "$title"),
    ):
        if page.get(source):
            found[target] = page[source]
    campaign = as_object(context.get("campaign"))
    for name in ("source", "medium", "name", "term", "content"):
        if campaign.get(name):
            found["utm_campaign" if name == "name" else f"utm_{name}"] = campaign[name]
    library = as_object(context.get("library"))
    for source, target in (
        ("ip", "$ip"),
        ("userAgent", "$user_agent"),
        ("locale", "$locale"),
        ("timezone", "$timezone"),
    ):
        if context.get(source):
            found[target] = context[source]
    if library.get("name"):
        found["$lib"] = library["name"]
        found["$lib_version"] = library.get("version")
    return found
