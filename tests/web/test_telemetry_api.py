"""Instance pings over HTTP, the update check's answers, and telemetry status by account."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from sextant.auth import audit, users
from sextant.auth.keys import create_key
from sextant.metadata.models import KeyKind, Role
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, journeys_for, set_ingest_settings, stored_rows


def ping(site: str, version: str, minutes: int = 0, **fields: object) -> dict[str, object]:
    return {
        "site_id": site,
        "version": version,
        "timestamp": (T0 + dt.timedelta(minutes=minutes)).isoformat(),
        **fields,
    }


def test_update_check_answers_204_when_current_and_200_with_the_newest(workspace: Workspace, ingest_key: str) -> None:
    telemetry = workspace.project.config.telemetry.model_copy(update={"releases": ["5.1.0", "5.2.0", "5.3.0"]})
    workspace.project.config.telemetry = telemetry
    server = LiveServer(workspace)
    try:
        headers = {"Authorization": f"Bearer {ingest_key}"}
        current = httpx.post(f"{server.url}/updates", json={"site": "s1", "version": "5.3.0"}, headers=headers)
        assert current.status_code == 204
        behind = httpx.post(
            f"{server.url}/updates?api_key={ingest_key}",
            json={"site": "s2", "version": "5.1.0", "totalUsers": "12", "deployType": "helm"},
        )
        assert behind.status_code == 200 and behind.json() == {"version": "5.3.0", "versions_behind": 2}
        missing = httpx.post(f"{server.url}/updates", json={"version": "5.1.0"}, headers=headers)
        assert missing.status_code == 400 and "site_id is required" in missing.json()["message"]
        assert httpx.post(f"{server.url}/updates", json={"site": "s3", "version": "5.1.0"}).status_code == 401
        rows = stored_rows(
            server,
            "SELECT site_id, version, versions_behind, deployment_type, total_users FROM instances ORDER BY site_id",
        )
        assert rows == [
            {"site_id": "s1", "version": "5.3.0", "versions_behind": 0, "deployment_type": None, "total_users": None},
            {"site_id": "s2", "version": "5.1.0", "versions_behind": 2, "deployment_type": "helm", "total_users": 12},
        ]
    finally:
        server.stop()


def test_pings_over_the_event_limit_get_413(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, max_event_bytes=1000)
    server = LiveServer(workspace)
    try:
        big = ping("s1", "5.1.0", site_activity={"searches": "x" * 2000})
        response = httpx.post(f"{server.url}/api/v1/pings", json=[big, big], params={"api_key": ingest_key})
        assert response.status_code == 413 and "the limit is 1000 bytes" in response.json()["message"]
        assert stored_rows(server, "SELECT count(*) AS n FROM pings") == [{"n": 0}]
    finally:
        server.stop()


def test_status_by_account_and_critical_instances_store_only_critical_fields(
    live_server: LiveServer, workspace: Workspace, ingest_key: str
) -> None:
    admin_user = users.create_user(
        workspace.metadata, "ada@example.com", "a long password", actor=audit.COMMAND_LINE, role=Role.ADMIN
    )
    reader = create_key(workspace.metadata, KeyKind.PERSONAL, "admin", user_id=admin_user.id).secret
    admin = {"Authorization": f"Bearer {reader}"}
    links = {
        "links": {
            "crit": {"account_id": "acct-1", "telemetry_level": "critical"},
            "quiet": {"account_id": "acct-2"},
            "full": {"account_id": "acct-1"},
        },
        "source": "license",
    }
    assert httpx.post(f"{live_server.url}/api/v1/instances/links", json=links, headers=admin).json() == {"linked": 3}
    headers = {"Authorization": f"Bearer {ingest_key}"}
    sent = [
        ping("crit", "5.0.0", dau=4, repos=90, site_activity={"searches": 8}, total_users=10),
        ping("full", "5.0.0", 0, dau=5, repos=50, total_users=20),
        ping("full", "5.1.0", 30, dau=6, repos=51, total_users=21),
        ping("events", "5.1.0", 0),
    ]
    assert httpx.post(f"{live_server.url}/api/v1/pings", json=sent, headers=headers).json() == {"accepted": 4}
    stored = stored_rows(live_server, "SELECT site_id, payload FROM pings WHERE site_id = 'crit'")
    assert json.loads(str(stored[0]["payload"])) == {
        "site_id": "crit",
        "version": "5.0.0",
        "total_users": 10,
        "telemetry_level": "critical",
    }
    events = journeys_for({"u1": [("Search", dt.datetime.now(dt.UTC), {"groups": {"instance": "events"}})]})
    assert (
        httpx.post(f"{live_server.url}/api/v1/batch", content="[" + ",".join(events) + "]", headers=headers).status_code
        == 200
    )
    live_server.wait_until_written()
    listed = httpx.get(f"{live_server.url}/api/v1/instances", headers=admin).json()
    status = {row["site_id"]: (row["account_id"], row["telemetry_status"]) for row in listed}
    assert status == {
        "crit": ("acct-1", "critical"),
        "quiet": ("acct-2", "none"),
        "full": ("acct-1", "full"),
        "events": (None, "full+events"),
    }
    full = next(row for row in listed if row["site_id"] == "full")
    assert (full["version"], full["dau"], full["total_users"]) == ("5.1.0", 6, 21)
    assert (
        httpx.get(f"{live_server.url}/api/v1/instances", headers=headers).status_code == 401
    )  # ingest keys only write
