"""The official Segment Python SDK (analytics-python) as a client of the Segment-compatible endpoints."""

from __future__ import annotations

import base64
import datetime as dt
import json

import httpx
import segment.analytics as analytics

from tests.conftest import T0, LiveServer, stored_rows


def test_sdk_calls_land_as_events_with_identity_traits_and_groups(live_server: LiveServer, ingest_key: str) -> None:
    client = analytics.Client(write_key=ingest_key, host=live_server.url, sync_mode=True, max_retries=1)
    client.page(
        anonymous_id="anon-7",
        name="Pricing",
        timestamp=T0,
        message_id="seg-1",
        context={
            "page": {
                "url": "https://lodestar.example.com/pricing?utm_source=hn",
                "referrer": "https://news.ycombinator.com/",
            }
        },
    )
    client.identify(
        user_id="user-7",
        anonymous_id="anon-7",
        traits={"email": "u7@example.com", "plan": "pro"},
        timestamp=T0 + dt.timedelta(minutes=1),
        message_id="seg-2",
    )
    client.track(
        user_id="user-7",
        event="Search Submitted",
        properties={"query": "repo:acme"},
        timestamp=T0 + dt.timedelta(minutes=2),
        message_id="seg-3",
    )
    client.group(
        user_id="user-7",
        group_id="acct-42",
        traits={"name": "Acme"},
        timestamp=T0 + dt.timedelta(minutes=3),
        message_id="seg-4",
    )
    client.alias(previous_id="user-7", user_id="user-7-new", timestamp=T0 + dt.timedelta(minutes=4), message_id="seg-5")
    client.track(
        user_id="user-7", event="Search Submitted", timestamp=T0 + dt.timedelta(minutes=2), message_id="seg-3"
    )  # an SDK retry of the same message
    client.flush()
    rows = stored_rows(
        live_server,
        """
        SELECT event, distinct_id, user_id, device_id, insert_id, timestamp, properties, person_properties
        FROM events ORDER BY timestamp""",
    )
    assert [(r["event"], r["distinct_id"], r["insert_id"]) for r in rows] == [
        ("$pageview", "anon-7", "seg-1"),
        ("$identify", "user-7", "seg-2"),
        ("Search Submitted", "user-7", "seg-3"),
        ("$groupidentify", "user-7", "seg-4"),
        ("$create_alias", "user-7-new", "seg-5"),
    ]
    # sentAt corrects clock skew, so each time moves by the request's transit time at most.
    for row, minutes in zip(rows, range(5), strict=True):
        assert abs(row["timestamp"] - (T0 + dt.timedelta(minutes=minutes))) < dt.timedelta(seconds=1)
    page = json.loads(str(rows[0]["properties"]))
    assert page["$current_url"] == "https://lodestar.example.com/pricing?utm_source=hn" and page["name"] == "Pricing"
    assert json.loads(str(rows[2]["person_properties"])) == {"email": "u7@example.com", "plan": "pro"}
    groups = stored_rows(
        live_server, "SELECT group_type, group_key, properties FROM groups WHERE group_key = 'acct-42'"
    )
    assert [(g["group_type"], json.loads(str(g["properties"]))) for g in groups][-1] == ("account", {"name": "Acme"})
    people = stored_rows(
        live_server,
        "SELECT count(DISTINCT person_id) AS n FROM (SELECT distinct_id, "
        "arg_max(person_id, version) AS person_id FROM person_distinct_ids GROUP BY 1)",
    )
    assert people == [{"n": 1}]  # anonymous id, user id and alias are one person


def test_write_key_batches_and_segment_errors(live_server: LiveServer, ingest_key: str) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{ingest_key}:".encode()).decode()}
    batch = {
        "batch": [
            {"type": "track", "event": "Good", "userId": "u", "messageId": "m1", "timestamp": T0.isoformat()},
            {"type": "track", "userId": "u", "messageId": "m2"},
        ],
        "sentAt": T0.isoformat(),
    }
    response = httpx.post(f"{live_server.url}/v1/batch", json=batch, headers=auth)
    assert response.status_code == 400
    assert "message 1" in response.json()["message"]
    assert [r["event"] for r in stored_rows(live_server, "SELECT event FROM events")] == ["Good"]
    bad = httpx.post(
        f"{live_server.url}/v1/track",
        json={"event": "E", "userId": "u"},
        headers={"Authorization": "Basic " + base64.b64encode(b"wrong:").decode()},
    )
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_write_key"
    big = httpx.post(
        f"{live_server.url}/v1/track",
        headers=auth,
        json={"event": "E", "userId": "u", "properties": {"x": "y" * 40_000}},
    )
    assert big.status_code == 400 and "32 KB" in big.json()["message"]
    huge = httpx.post(
        f"{live_server.url}/v1/batch",
        headers=auth,
        json={"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"x": "y" * 20_000}}] * 30},
    )
    assert huge.status_code == 413
    body_key = httpx.post(
        f"{live_server.url}/v1/track", json={"event": "Body key", "userId": "u", "writeKey": ingest_key}
    )
    assert body_key.json() == {"success": True}
