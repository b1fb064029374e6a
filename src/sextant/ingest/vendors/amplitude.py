"""Amplitude: HTTP V2 (`POST /2/httpapi`), Batch (`POST /batch`) and Identify (`POST /identify`).

As in Amplitude, a request with an invalid event stores nothing and answers 400 with the indices of the bad
events; the SDK then resends the valid ones (dedup by insert_id keeps them single). Invalid API keys are a
400 "Invalid API key", which the SDK raises. HTTP V2 takes at most 2,000 events or 1 MB per request.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import orjson

from sextant.errors import AuthError, IngestError, PayloadTooLarge, RateLimited, SextantError
from sextant.ingest.pipeline import IntakeResult
from sextant.ingest.vendors import Reply, Translated, Vendor, as_object

HTTP_V2_MAX_EVENTS = 2000
HTTP_V2_MAX_BYTES = 1024 * 1024
DEFAULT_MIN_ID_LENGTH = 5
# Amplitude's top-level device and context fields, kept as event properties under these names.
CONTEXT_FIELDS = {
    "platform": "$platform",
    "os_name": "$os",
    "os_version": "$os_version",
    "device_brand": "$device_brand",
    "device_manufacturer": "$device_manufacturer",
    "device_model": "$device_model",
    "carrier": "$carrier",
    "country": "$country",
    "region": "$region",
    "city": "$city",
    "dma": "$dma",
    "language": "$language",
    "app_version": "$app_version",
    "version_name": "$version_name",
    "ip": "$ip",
    "location_lat": "$latitude",
    "location_lng": "$longitude",
    "library": "$lib",
    "user_agent": "$user_agent",
    "event_id": "$event_id",
    "price": "$price",
    "quantity": "$quantity",
    "revenue": "$revenue",
    "currency": "$currency",
    "productId": "$product_id",
    "revenueType": "$revenue_type",
    "partner_id": "$partner_id",
}
# Amplitude's user property operations and the native ones they become.
OPERATIONS = {
    "$set": "$set",
    "$setOnce": "$set_once",
    "$add": "$add",
    "$append": "$append",
    "$prepend": "$prepend",
    "$unset": "$unset",
    "$remove": "$remove",
    "$preInsert": "$prepend",
    "$postInsert": "$append",
}
# Native field names in rejections, as Amplitude names them.
FIELD_NAMES = {"event": "event_type", "timestamp": "time", "distinct_id": "user_id", "(event)": "event"}


class Amplitude(Vendor):
    name = "amplitude"
    paths = ("/2/httpapi", "/batch", "/identify")

    def translate(self, body: bytes, headers: Mapping[str, str], path: str) -> Translated:
        if path == "/identify":
            return self._identify(body)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise IngestError(f"Invalid JSON request body: {error}") from None
        if not isinstance(payload, dict) or not payload.get("api_key"):
            return Translated([], early_reply=_missing("api_key"))
        events = payload.get("events")
        if not isinstance(events, list) or not events:
            return Translated([], api_key=payload["api_key"], early_reply=_missing("events"))
        if path == "/2/httpapi" and (len(events) > HTTP_V2_MAX_EVENTS or len(body) > HTTP_V2_MAX_BYTES):
            raise PayloadTooLarge("Payload too large")
        options = as_object(payload.get("options"))
        min_id_length = options.get("min_id_length") or DEFAULT_MIN_ID_LENGTH
        short: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            for field in ("user_id", "device_id"):
                value = event.get(field) if isinstance(event, dict) else None
                if isinstance(value, str) and len(value) < min_id_length:
                    short.setdefault(field, []).append(index)
        if short:
            return Translated(
                [],
                api_key=payload["api_key"],
                early_reply=Reply(
                    400,
                    {
                        "code": 400,
                        "error": "Invalid id length for user_id or device_id",
                        "events_with_invalid_id_lengths": short,
                    },
                ),
            )
        documents = [
            orjson.dumps(native(event)).decode() if isinstance(event, dict) else orjson.dumps(event).decode()
            for event in events
        ]
        return Translated(documents, api_key=str(payload["api_key"]), atomic=True)

    def _identify(self, body: bytes) -> Translated:
        form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
        api_key = (form.get("api_key") or [""])[0]
        if not api_key:
            return Translated([], early_reply=_missing("api_key", plain=True))
        try:
            identification = orjson.loads((form.get("identification") or ["[]"])[0])
        except orjson.JSONDecodeError:
            raise IngestError("identification is not valid JSON") from None
        identifications = identification if isinstance(identification, list) else [identification]
        documents = [
            orjson.dumps({**native({**item, "event_type": "$identify"}), "properties": {}}).decode()
            for item in identifications
            if isinstance(item, dict)
        ]
        return Translated(documents, api_key=api_key, atomic=True)

    def accepted(self, result: IntakeResult, translated: Translated, path: str) -> Reply:
        if path == "/identify":
            return (
                Reply(200, "success", plain_text=True)
                if not result.rejections
                else Reply(400, "; ".join(rejection.reason for rejection in result.rejections), plain_text=True)
            )
        if not result.rejections:
            return Reply(
                200,
                {
                    "code": 200,
                    "events_ingested": result.accepted,
                    "payload_size_bytes": sum(map(len, translated.documents)),
                    "server_upload_time": int(time.time() * 1000),
                },
            )
        missing: dict[str, list[int]] = {}
        invalid: dict[str, list[int]] = {}
        for rejection in result.rejections:
            target = missing if "required" in rejection.reason else invalid
            target.setdefault(FIELD_NAMES.get(rejection.field, rejection.field), []).append(rejection.index)
        body: dict[str, Any] = {"code": 400, "error": "; ".join(sorted({r.reason for r in result.rejections}))}
        if missing:
            body["events_with_missing_fields"] = missing
        if invalid:
            body["events_with_invalid_fields"] = invalid
        return Reply(400, body)

    def refused(self, error: SextantError, path: str) -> Reply:
        if isinstance(error, AuthError):
            return Reply(400, {"code": 400, "error": f"Invalid API key: {error.message}"})
        if isinstance(error, RateLimited):
            return Reply(
                429,
                {
                    "code": 429,
                    "error": "Too many requests for some devices and users",
                    "eps_threshold": 0,
                    "throttled_devices": {},
                    "throttled_users": {},
                },
                headers={"Retry-After": str(max(1, round(error.retry_after)))},
            )
        return Reply(error.status, {"code": error.status, "error": error.message})


def native(event: dict[str, Any]) -> dict[str, Any]:
    """One Amplitude event as a native event."""
    properties = dict(as_object(event.get("event_properties")))
    for field, name in CONTEXT_FIELDS.items():
        if event.get(field) is not None:
            properties[name] = event[field]
    result: dict[str, Any] = {"event": event.get("event_type"), "properties": properties}
    for field in ("user_id", "device_id", "insert_id"):
        if event.get(field) is not None:
            result[field] = event[field]
    if event.get("time") is not None:
        result["timestamp"] = event["time"]
    if event.get("session_id") not in (None, -1):
        result["session_id"] = event["session_id"]
    user_properties = event.get("user_properties")
    if isinstance(user_properties, dict) and user_properties:
        result["person_updates"] = person_updates(user_properties)
    groups = event.get("groups")
    if isinstance(groups, dict) and groups:
        # Amplitude allows several values per group type; Sextant keeps one, the first.
        result["groups"] = {
            key: value[0] if isinstance(value, list) and value else value for key, value in groups.items()
        }
    if isinstance(event.get("group_properties"), dict) and event["group_properties"]:
        result["group_properties"] = event["group_properties"]
    return result


def person_updates(user_properties: dict[str, Any]) -> dict[str, Any]:
    """Amplitude user properties: plain keys are $set; operations map to the native ones."""
    updates: dict[str, Any] = {}
    plain = {key: value for key, value in user_properties.items() if not key.startswith("$")}
    for operation, values in user_properties.items():
        target = OPERATIONS.get(operation)
        if target is None or not isinstance(values, dict):
            continue
        if target == "$unset":
            updates["$unset"] = sorted(values)
        else:
            updates.setdefault(target, {}).update(values)
    if plain:
        updates.setdefault("$set", {}).update(plain)
    return updates


def _missing(field: str, plain: bool = False) -> Reply:
    if plain:
        return Reply(400, f"Request missing required field: {field}", plain_text=True)
    return Reply(400, {"code": 400, "error": "Request missing required field", "missing_field": field})
