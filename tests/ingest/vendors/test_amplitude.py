"""The official Amplitude Python SDK as a client of the Amplitude-compatible endpoints."""

from __future__ import annotations

import datetime as dt
import json

import httpx
from amplitude import Amplitude, BaseEvent, Config, EventOptions, Identify

from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, set_ingest_settings, stored_rows

MS = int(T0.timestamp() * 1000)


def sdk(server: LiveServer, key: str) -> Amplitude:
    return Amplitude(key, Config(server_url=f"{server.url}/2/httpapi", flush_queue_size=50, flush_max_retries=3))


def test_sdk_events_land_with_names_ids_times_and_properties(live_server: LiveServer, ingest_key: str) -> None:
    client = sdk(live_server, ingest_key)
    client.track(
        BaseEvent(
            event_type="Viewed Page",
            device_id="device-0001",
            time=MS,
            insert_id="amp-1",
            event_properties={"url": "/pricing"},
            platform="Web",
            country="DE",
        )
    )
    client.track(
        BaseEvent(
            event_type="Signed Up",
            user_id="user-0001",
            device_id="device-0001",
            time=MS + 60_000,
            insert_id="amp-2",
            user_properties={"plan": "pro"},
            groups={"org": "acme-co"},
            session_id=MS,
        )
    )
    identify = Identify().set("email", "a@example.com").add("logins", 2).set_once("first_plan", "pro")
    client.identify(identify, EventOptions(user_id="user-0001", time=MS + 120_000))
    client.shutdown()
    rows = stored_rows(
        live_server,
        """
        SELECT event, distinct_id, user_id, device_id, insert_id, session_id, timestamp, properties,
               groups, person_properties FROM events ORDER BY timestamp""",
    )
    assert [(r["event"], r["distinct_id"], r["user_id"], r["device_id"]) for r in rows] == [
        ("Viewed Page", "device-0001", None, "device-0001"),
        ("Signed Up", "user-0001", "user-0001", "device-0001"),
        ("$identify", "user-0001", "user-0001", None),
    ]
    assert [r["timestamp"] for r in rows] == [T0, T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=2)]
    assert [r["insert_id"] for r in rows[:2]] == ["amp-1", "amp-2"]
    assert rows[1]["session_id"] == str(MS)
    assert json.loads(str(rows[0]["properties"])) == {
        "url": "/pricing",
        "$platform": "Web",
        "$country": "DE",
        "$lib": json.loads(str(rows[0]["properties"]))["$lib"],
    }
    assert json.loads(str(rows[1]["groups"])) == {"org": "acme-co"}
    assert json.loads(str(rows[2]["person_properties"])) == {
        "plan": "pro",
        "email": "a@example.com",
        "logins": 2,
        "first_plan": "pro",
    }
    # The user id + device id pair made the anonymous page view the user's.
    people = stored_rows(live_server, "SELECT count(DISTINCT person_id) AS n FROM person_distinct_ids")
    assert people == [{"n": 1}]


def test_an_invalid_event_stores_nothing_and_names_the_event(live_server: LiveServer, ingest_key: str) -> None:
    body = {
        "api_key": ingest_key,
        "events": [
            {"event_type": "Good", "user_id": "user-0002", "time": MS, "insert_id": "g1"},
            {"event_type": "Bad time", "user_id": "user-0002", "time": "noon"},
            {"user_id": "user-0002"},
        ],
    }
    response = httpx.post(f"{live_server.url}/2/httpapi", json=body)
    assert response.status_code == 400
    content = response.json()
    assert content["code"] == 400
    assert content["events_with_invalid_fields"] == {"time": [1]}
    assert content["events_with_missing_fields"] == {"event_type": [2]}
    assert stored_rows(live_server, "SELECT count(*) AS n FROM events") == [{"n": 0}]
    # The SDK then resends the valid event, which is stored once.
    retry = httpx.post(f"{live_server.url}/2/httpapi", json={"api_key": ingest_key, "events": body["events"][:1]})
    assert retry.json()["events_ingested"] == 1
    assert stored_rows(live_server, "SELECT count(*) AS n FROM events") == [{"n": 1}]


def test_amplitude_limits_and_key_errors(live_server: LiveServer, ingest_key: str) -> None:
    url = f"{live_server.url}/2/httpapi"
    too_many = {"api_key": ingest_key, "events": [{"event_type": "E", "user_id": "user-0003"}] * 2001}
    assert httpx.post(url, json=too_many).status_code == 413
    bad_key = httpx.post(url, json={"api_key": "nope", "events": [{"event_type": "E", "user_id": "user-0003"}]})
    assert bad_key.status_code == 400 and bad_key.json()["error"].startswith("Invalid API key")
    missing = httpx.post(url, json={"api_key": ingest_key})
    assert missing.json() == {"code": 400, "error": "Request missing required field", "missing_field": "events"}
    short = httpx.post(url, json={"api_key": ingest_key, "events": [{"event_type": "E", "user_id": "ab"}]})
    assert short.json()["events_with_invalid_id_lengths"] == {"user_id": [0]}
    # The Batch API takes far more per request.
    many = {
        "api_key": ingest_key,
        "events": [{"event_type": "E", "user_id": "user-0003", "insert_id": f"b{i}"} for i in range(2500)],
    }
    assert httpx.post(f"{live_server.url}/batch", json=many).json()["events_ingested"] == 2500


def test_events_over_the_event_limit(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, max_event_bytes=1000)
    server = LiveServer(workspace)
    try:
        big = {"event_type": "Big", "user_id": "user-0004", "event_properties": {"x": "y" * 2000}}
        small = {"event_type": "Small", "user_id": "user-0004"}
        mixed = httpx.post(f"{server.url}/batch", json={"api_key": ingest_key, "events": [small, big]})
        assert mixed.status_code == 400 and mixed.json()["events_with_invalid_fields"] == {"event": [1]}
        only_big = httpx.post(f"{server.url}/batch", json={"api_key": ingest_key, "events": [big, big]})
        assert only_big.status_code == 413  # the SDK splits the batch, then drops a single event it cannot send
        assert only_big.json()["code"] == 413 and "event 1: the event is" in only_big.json()["error"]
        assert stored_rows(server, "SELECT count(*) AS n FROM events") == [{"n": 0}]
    finally:
        server.stop()


def test_identify_api_form_body(live_server: LiveServer, ingest_key: str) -> None:
    identification = [{"user_id": "user-0004", "user_properties": {"$set": {"plan": "team"}, "$unset": {"old": "-"}}}]
    response = httpx.post(
        f"{live_server.url}/identify", data={"api_key": ingest_key, "identification": json.dumps(identification)}
    )
    assert (response.status_code, response.text) == (200, "success")
    rows = stored_rows(live_server, "SELECT event, person_properties FROM events")
    assert [(r["event"], json.loads(str(r["person_properties"]))) for r in rows] == [("$identify", {"plan": "team"})]
