"""The official PostHog Python SDK as a client of the PostHog-compatible endpoints."""

from __future__ import annotations

import datetime as dt
import json

import httpx
from posthog import Posthog

from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, set_ingest_settings, stored_rows


def test_sdk_capture_identify_alias_and_groups(live_server: LiveServer, ingest_key: str) -> None:
    client = Posthog(ingest_key, host=live_server.url, sync_mode=True, max_retries=1)
    client.capture(
        distinct_id="anon-3",
        event="$pageview",
        timestamp=T0,
        properties={"$current_url": "https://lodestar.example.com/docs", "$set_once": {"first": "docs"}},
    )
    client.capture(
        distinct_id="user-3",
        event="$identify",
        timestamp=T0 + dt.timedelta(minutes=1),
        properties={"$anon_distinct_id": "anon-3", "$set": {"plan": "team"}},
    )
    client.capture(
        distinct_id="user-3",
        event="Search Submitted",
        timestamp=T0 + dt.timedelta(minutes=2),
        properties={"query": "lang:go"},
        groups={"company": "acme"},
    )
    client.group_identify("company", "acme", {"name": "Acme Inc"}, timestamp=T0 + dt.timedelta(minutes=3))
    client.alias(previous_id="user-3", distinct_id="user-3-email", timestamp=T0 + dt.timedelta(minutes=4))
    client.flush()
    client.shutdown()
    rows = stored_rows(
        live_server,
        """
        SELECT event, distinct_id, uuid, insert_id, timestamp, properties, groups, person_properties
        FROM events ORDER BY timestamp""",
    )
    assert [(r["event"], r["distinct_id"]) for r in rows] == [
        ("$pageview", "anon-3"),
        ("$identify", "user-3"),
        ("Search Submitted", "user-3"),
        ("$groupidentify", rows[3]["distinct_id"]),
        ("$create_alias", "user-3"),
    ]
    # sent_at corrects clock skew, so each time moves by the request's transit time at most.
    for row, minutes in zip(rows, range(5), strict=True):
        assert abs(row["timestamp"] - (T0 + dt.timedelta(minutes=minutes))) < dt.timedelta(seconds=1)
    assert all(str(r["uuid"]) == r["insert_id"] for r in rows)  # PostHog's uuid is the dedup key
    assert json.loads(str(rows[2]["groups"])) == {"company": "acme"}
    assert json.loads(str(rows[2]["person_properties"])) == {"first": "docs", "plan": "team"}
    assert "$lib" in json.loads(str(rows[0]["properties"]))
    groups = stored_rows(live_server, "SELECT properties FROM groups WHERE group_key = 'acme' ORDER BY version DESC")
    assert json.loads(str(groups[0]["properties"])) == {"name": "Acme Inc"}
    people = stored_rows(
        live_server,
        """
        SELECT distinct_id, CAST(arg_max(person_id, version) AS VARCHAR) AS person FROM person_distinct_ids
        GROUP BY distinct_id""",
    )
    person = {row["distinct_id"]: row["person"] for row in people}
    assert person["anon-3"] == person["user-3"] == person["user-3-email"]


def test_posthog_errors_and_single_event_endpoints(live_server: LiveServer, ingest_key: str) -> None:
    bad = httpx.post(
        f"{live_server.url}/batch/", json={"api_key": "wrong", "batch": [{"event": "e", "distinct_id": "d"}]}
    )
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_api_key"
    mixed = httpx.post(
        f"{live_server.url}/batch/",
        json={"api_key": ingest_key, "batch": [{"event": "Kept", "distinct_id": "d"}, {"event": "Lost"}]},
    )
    assert mixed.status_code == 400 and mixed.json()["type"] == "validation_error"
    single = httpx.post(f"{live_server.url}/capture/", json={"api_key": ingest_key, "event": "One", "distinct_id": "d"})
    assert single.json() == {"status": 1}
    web = httpx.post(
        f"{live_server.url}/e/", json=[{"event": "Web", "properties": {"distinct_id": "d", "token": ingest_key}}]
    )
    assert web.json() == {"status": 1}
    assert sorted(r["event"] for r in stored_rows(live_server, "SELECT event FROM events")) == ["Kept", "One", "Web"]


def test_events_over_the_event_limit(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, max_event_bytes=1000)
    server = LiveServer(workspace)
    try:
        big = {"event": "Big", "distinct_id": "d", "properties": {"x": "y" * 2000}}
        mixed = httpx.post(
            f"{server.url}/batch/", json={"api_key": ingest_key, "batch": [big, {"event": "Kept", "distinct_id": "d"}]}
        )
        assert mixed.status_code == 400 and "event 0: the event is" in mixed.json()["detail"]
        # Only oversized events: the request is too large, in PostHog's error format, and nothing is stored.
        only_big = httpx.post(f"{server.url}/batch/", json={"api_key": ingest_key, "batch": [big, big]})
        assert only_big.status_code == 413
        assert only_big.json()["type"] == "validation_error"
        assert "event 1: the event is" in only_big.json()["detail"]
        assert [r["event"] for r in stored_rows(server, "SELECT event FROM events")] == ["Kept"]
    finally:
        server.stop()
