"""`POST /api/v1/query` and `GET /api/v1/query/schema` on a live server."""

from __future__ import annotations

import httpx

from sextant.auth.keys import create_key
from sextant.ingest.store import EventStore
from sextant.insights.runner import RUNNERS
from sextant.metadata.models import KeyKind
from sextant.workspace import Workspace
from tests.conftest import LiveServer
from tests.insights.journeys import load_world

FUNNEL = {
    "kind": "funnel",
    "date_from": "2024-05-01",
    "date_to": "2024-05-31",
    "steps": [{"event": "Signed Up"}, {"event": "Search"}],
}


def test_reading_needs_a_personal_key(live_server: LiveServer, workspace: Workspace, ingest_key: str) -> None:
    url = f"{live_server.url}/api/v1/query"
    assert httpx.post(url, json=FUNNEL).status_code == 401
    # An ingest key can only write.
    assert httpx.post(url, json=FUNNEL, headers={"Authorization": f"Bearer {ingest_key}"}).status_code == 401
    assert httpx.get(f"{url}/schema").status_code == 401


def test_a_funnel_over_http_with_its_sql_and_timing(
    live_server: LiveServer, workspace: Workspace, store: EventStore
) -> None:
    load_world(store)
    personal = create_key(workspace.metadata, KeyKind.PERSONAL, "analyst").secret
    headers = {"Authorization": f"Bearer {personal}"}
    response = httpx.post(f"{live_server.url}/api/v1/query", json=FUNNEL, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [step["count"] for step in body["result"]["results"][0]["steps"]] == [2, 2]
    assert "FROM events" in body["sql"]["events"] and body["timing_ms"]["execute"] >= 0
    assert body["cached"] is False
    again = httpx.post(f"{live_server.url}/api/v1/query", json=FUNNEL, headers=headers).json()
    assert again["cached"] is True and again["result"] == body["result"]
    fresh = httpx.post(f"{live_server.url}/api/v1/query?refresh=true", json=FUNNEL, headers=headers).json()
    assert fresh["cached"] is False


def test_a_bad_spec_gets_400_naming_the_field(live_server: LiveServer, workspace: Workspace) -> None:
    personal = create_key(workspace.metadata, KeyKind.PERSONAL, "analyst").secret
    headers = {"Authorization": f"Bearer {personal}"}
    bad = {**FUNNEL, "steps": [{"event": "Signed Up"}], "window": {"value": 400, "unit": "day"}}
    response = httpx.post(f"{live_server.url}/api/v1/query", json=bad, headers=headers)
    assert response.status_code == 400
    message = response.json()["message"]
    assert "steps" in message and "window" in message and "365 days" in message
    unknown = httpx.post(f"{live_server.url}/api/v1/query", json={"kind": "telepathy"}, headers=headers)
    assert unknown.status_code == 400 and "segmentation" in unknown.json()["message"]
    not_json = httpx.post(f"{live_server.url}/api/v1/query", content=b"{", headers=headers)
    assert not_json.status_code == 400


def test_the_schema_covers_every_kind(live_server: LiveServer, workspace: Workspace) -> None:
    personal = create_key(workspace.metadata, KeyKind.PERSONAL, "analyst").secret
    schema = httpx.get(f"{live_server.url}/api/v1/query/schema", headers={"Authorization": f"Bearer {personal}"})
    assert schema.status_code == 200
    body = schema.json()
    variants = [body["$defs"][variant["$ref"].rsplit("/", 1)[1]] for variant in body["anyOf"]]
    kinds = {variant["properties"]["kind"]["const"] for variant in variants}
    assert kinds == set(RUNNERS) >= {"segmentation", "funnel", "retention", "stickiness", "lifecycle", "paths"}
