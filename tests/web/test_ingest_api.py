"""The native ingestion API over a real socket: status codes, limits and back-pressure."""

from __future__ import annotations

import gzip
import http.client
import json

import httpx
import pytest

from sextant.auth.keys import create_key, revoke_key
from sextant.metadata.models import KeyKind
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, journeys_for, set_ingest_settings


def post(
    server: LiveServer, key: str | None, body: bytes | str, path: str = "/api/v1/batch", **headers: str
) -> httpx.Response:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(server.url + path, content=body, headers=headers, timeout=30)


def stored_events(server: LiveServer) -> list[str]:
    server.wait_until_written()
    reader = server.app.state.sextant.workspace.warehouse.cursor()
    return [row["event"] for row in reader.execute("SELECT event FROM events ORDER BY timestamp, event").to_pylist()]


def batch_body(count: int, prefix: str = "E") -> str:
    return "[" + ",".join(journeys_for({"u": [(f"{prefix}{i}", T0) for i in range(count)]})) + "]"


def test_a_valid_batch_is_acknowledged_and_stored(live_server: LiveServer, ingest_key: str) -> None:
    response = post(live_server, ingest_key, batch_body(3))
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "rejected": 0}
    assert stored_events(live_server) == ["E0", "E1", "E2"]


def test_bad_events_get_400_with_index_field_and_reason_and_good_ones_are_kept(
    live_server: LiveServer, ingest_key: str
) -> None:
    body = json.dumps(
        [
            {"event": "Good", "distinct_id": "u"},
            {"event": "Bad", "distinct_id": "u", "timestamp": "noon"},
            {"distinct_id": "u"},
        ]
    )
    response = post(live_server, ingest_key, body)
    assert response.status_code == 400
    content = response.json()
    assert (content["accepted"], content["rejected"]) == (1, 2)
    assert [(e["index"], e["field"]) for e in content["errors"]] == [(1, "timestamp"), (2, "event")]
    assert '"noon" is not a timestamp' in content["errors"][0]["reason"]
    assert stored_events(live_server) == ["Good"]


def test_a_client_uuid_is_the_dedup_key_of_an_event_without_insert_id(live_server: LiveServer, ingest_key: str) -> None:
    event = {"event": "Retried", "distinct_id": "u", "uuid": "0190d5f4-5b7e-7c3a-9f00-0123456789ab"}
    for _ in range(2):  # a client retrying a request whose answer it did not get
        assert post(live_server, ingest_key, json.dumps(event), path="/api/v1/event").status_code == 200
    without_ids = {"event": "Twice", "distinct_id": "u"}  # no uuid and no insert_id: no dedup key
    assert post(live_server, ingest_key, json.dumps([without_ids, without_ids])).status_code == 200
    assert stored_events(live_server) == ["Retried", "Twice", "Twice"]


def test_ndjson_gzip_envelope_and_single_event_forms(live_server: LiveServer, ingest_key: str) -> None:
    ndjson = "\n".join(journeys_for({"u": [("N1", T0), ("N2", T0)]})) + "\n"
    assert post(live_server, ingest_key, ndjson, **{"Content-Type": "application/x-ndjson"}).json()["accepted"] == 2
    zipped = gzip.compress(batch_body(2, "G").encode())
    assert post(live_server, ingest_key, zipped, **{"Content-Encoding": "gzip"}).json()["accepted"] == 2
    envelope = json.dumps({"api_key": ingest_key, "batch": [{"event": "Env", "distinct_id": "u"}]})
    assert post(live_server, None, envelope).json()["accepted"] == 1
    single = json.dumps({"event": "One", "distinct_id": "u", "api_key": ingest_key})
    assert post(live_server, None, single, path="/api/v1/event").json()["accepted"] == 1
    assert sorted(stored_events(live_server)) == ["Env", "G0", "G1", "N1", "N2", "One"]


def test_keys_are_required_and_only_ingest_keys_write(live_server: LiveServer, workspace: Workspace) -> None:
    body = batch_body(1)
    assert post(live_server, None, body).status_code == 401
    assert post(live_server, "sx_ingest_not-a-key", body).status_code == 401
    personal = create_key(workspace.metadata, KeyKind.PERSONAL, "reader").secret
    assert post(live_server, personal, body).status_code == 401
    key = create_key(workspace.metadata, KeyKind.INGEST, "soon revoked")
    assert post(live_server, key.secret, body).status_code == 200
    revoke_key(workspace.metadata, key.id)
    live_server.app.state.sextant.keys._cache.clear()  # skip the short cache instead of waiting for it
    response = post(live_server, key.secret, body)
    assert response.status_code == 401
    assert "sextant keys create" in response.json()["message"]


def test_oversized_requests_get_413_and_the_connection_still_works(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, max_request_bytes=20_000)
    live_server = LiveServer(workspace)
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
    headers = {"Authorization": f"Bearer {ingest_key}", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/batch", body=batch_body(400).encode(), headers=headers)
    socket = connection.sock
    response = connection.getresponse()
    assert response.status == 413
    assert "close" not in (response.getheader("Connection") or "").lower()
    assert "over the 20000 byte limit" in json.loads(response.read())["message"]
    connection.request("POST", "/api/v1/batch", body=batch_body(2).encode(), headers=headers)
    # http.client would reconnect by itself on a closed connection: the socket must be the same one.
    assert connection.sock is socket
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["accepted"] == 2
    connection.close()
    # A small gzip body that inflates past the limit is refused too.
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    assert post(live_server, ingest_key, bomb, **{"Content-Encoding": "gzip"}).status_code == 413
    live_server.stop()


def test_one_event_over_the_event_limit_is_rejected_alone(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, max_event_bytes=1000)
    live_server = LiveServer(workspace)
    body = json.dumps(
        [
            {"event": "Big", "distinct_id": "u", "properties": {"x": "y" * 2000}},
            {"event": "small", "distinct_id": "u"},
        ]
    )
    response = post(live_server, ingest_key, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "(event)"
    assert stored_events(live_server) == ["Small"]
    # When every event is over the limit the request is too large: 413, with the same details.
    big = {"distinct_id": "u", "properties": {"x": "y" * 2000}}
    response = post(live_server, ingest_key, json.dumps([{"event": "Big 1", **big}, {"event": "Big 2", **big}]))
    assert response.status_code == 413
    content = response.json()
    assert (content["accepted"], content["rejected"]) == (0, 2)
    assert [(e["index"], e["field"]) for e in content["errors"]] == [(0, "(event)"), (1, "(event)")]
    assert all(e["reason"].endswith("bytes; the limit is 1000 bytes") for e in content["errors"])
    assert "none was stored" in content["message"]
    assert stored_events(live_server) == ["Small"]
    live_server.stop()


def test_one_event_over_the_default_event_limit_gets_413(live_server: LiveServer, ingest_key: str) -> None:
    event = {"event": "Huge", "distinct_id": "u", "properties": {"blob": "x" * 1_100_000}}
    response = post(live_server, ingest_key, json.dumps(event), path="/api/v1/event")
    assert response.status_code == 413
    content = response.json()
    assert (content["accepted"], content["rejected"]) == (0, 1)
    assert content["errors"][0]["index"] == 0
    assert content["errors"][0]["reason"].endswith(f"the limit is {1024**2} bytes")
    assert stored_events(live_server) == []


def test_rate_limit_gives_429_with_retry_after(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, rate_limit_per_second=0.5, rate_limit_burst=2)
    server = LiveServer(workspace)
    try:
        statuses = [post(server, ingest_key, batch_body(1)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = post(server, ingest_key, batch_body(1))
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
    finally:
        server.stop()


def test_a_saturated_writer_gives_503_not_a_2xx(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, max_pending_events=1000, flush_interval_ms=3000)
    server = LiveServer(workspace)
    try:
        statuses = [post(server, ingest_key, batch_body(500, f"b{n}-")).status_code for n in range(3)]
        assert statuses == [200, 200, 503]
        refused = post(server, ingest_key, batch_body(500, "late-"))
        assert refused.status_code == 503
        assert "Retry-After" in refused.headers
        server.wait_until_written()
        assert post(server, ingest_key, batch_body(500, "after-")).status_code == 200
    finally:
        server.stop()


def test_malformed_bodies_get_400(live_server: LiveServer, ingest_key: str) -> None:
    for body in (b"", b"{not json", b"42"):
        response = post(live_server, ingest_key, body)
        assert response.status_code == 400, body
        assert response.json()["message"]


def test_a_truncated_json_array_gets_400_and_stores_nothing(live_server: LiveServer, ingest_key: str) -> None:
    complete = "[\n" + ",\n".join(journeys_for({"u": [(f"E{i}", T0) for i in range(3)]})) + "\n]"
    # Cut off before its last event, as a dropped connection does: the line before the cut is a whole event.
    truncated = complete[: complete.rindex(",\n")]
    response = post(live_server, ingest_key, truncated, **{"Content-Type": "application/json"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "not valid JSON" in message and f"line {truncated.count(chr(10)) + 1}" in message  # where it ends
    # NDJSON sent without its content type is still read line by line: its first line is a whole event.
    ndjson = "\n".join(journeys_for({"u": [("N1", T0), ("N2", T0)]}))
    assert post(live_server, ingest_key, ndjson, **{"Content-Type": "application/json"}).json()["accepted"] == 2
    assert stored_events(live_server) == ["N1", "N2"]


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_health_and_metrics_need_no_key(live_server: LiveServer, path: str) -> None:
    assert httpx.get(live_server.url + path).status_code == 200


def test_metrics_count_accepted_and_rejected_events(live_server: LiveServer, ingest_key: str) -> None:
    post(
        live_server,
        ingest_key,
        json.dumps([{"event": "a", "distinct_id": "u"}, {"event": 1, "distinct_id": "u"}]),
    )
    text = httpx.get(live_server.url + "/metrics").text
    assert 'sextant_events_rejected_total{field="event",source="api"}' in text
    assert "sextant_events_accepted_total" in text
