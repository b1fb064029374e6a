"""The seeds' eventLogger client: the GraphQL logEvents mutation."""

from __future__ import annotations

import json

import httpx

from tests.conftest import LiveServer, stored_rows

MUTATION = "mutation logEvents($events: [Event!]) { logEvents(events: $events) { alwaysNil } }"


def test_log_events_mutation(live_server: LiveServer, ingest_key: str) -> None:
    events = [
        {
            "event": "SearchSubmitted",
            "userCookieID": "cookie-1",
            "cohortID": "2024-05-06",
            "url": "https://x/search",
            "source": "WEB",
            "argument": json.dumps({"code_search": {"results": {"results_count": 17}}}),
            "publicArgument": "{}",
            "deviceID": "dev-1",
            "eventID": 11,
            "insertID": "el-1",
            "referrer": "",
            "firstSourceURL": "https://x/",
            "lastSourceURL": "https://x/search",
        },
        {
            "event": "ViewRepogroup:python",
            "userCookieID": "cookie-1",
            "userID": 42,
            "insertID": "el-2",
            "argument": "not json",
            "source": "WEB",
        },
        {"userCookieID": "cookie-1"},
    ]
    response = httpx.post(
        f"{live_server.url}/.api/graphql",
        json={"query": MUTATION, "variables": {"events": events}},
        headers={"Authorization": f"token {ingest_key}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"logEvents": {"alwaysNil": None}}
    assert [error["extensions"]["index"] for error in body["errors"]] == [2]
    rows = stored_rows(
        live_server,
        "SELECT event, distinct_id, user_id, device_id, insert_id, properties FROM events ORDER BY insert_id",
    )
    assert [(r["event"], r["distinct_id"], r["user_id"], r["device_id"]) for r in rows] == [
        ("Search Submitted", "cookie-1", None, "cookie-1"),  # the tracking plan's Proper Case, by default
        ("View Repogroup:python", "42", "42", "cookie-1"),
    ]
    first = json.loads(str(rows[0]["properties"]))
    assert first["argument"]["code_search"]["results"]["results_count"] == 17
    assert first["cohort_id"] == "2024-05-06" and first["device_id"] == "dev-1"
    assert json.loads(str(rows[1]["properties"]))["argument"] == "not json"
    unauthorised = httpx.post(f"{live_server.url}/.api/graphql", json={"query": MUTATION, "variables": {"events": []}})
    assert unauthorised.status_code == 401 and unauthorised.json()["errors"]
