"""Instances counted by deployment type, version, versions behind and telemetry status, from pings sent to the
real server (and a license link for an instance that never pinged), against counts made by hand."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from sextant import instances
from sextant.errors import QueryError
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import run_query
from sextant.insights.scan import QueryContext
from sextant.warehouse.tables import INSTANCE_ACCOUNTS
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, journeys_for

NOW = T0 + dt.timedelta(days=3)


def counts(workspace: Workspace, by: str, date_from: str = "2024-05-01") -> dict[str, int]:
    reader = workspace.warehouse.cursor()
    context = QueryContext(reader, workspace.project.name, workspace.project.config.timezone, TrackingPlan(), NOW)
    spec = {"kind": "instances", "date_from": date_from, "date_to": "2024-05-10", "by": by}
    result = run_query(spec, context).result
    assert result["total"] == sum(line["instances"] for line in result["results"])
    return {line["value"]: line["instances"] for line in result["results"]}


def test_instances_by_each_dimension(workspace: Workspace, ingest_key: str) -> None:
    workspace.project.config.telemetry = workspace.project.config.telemetry.model_copy(
        update={"releases": ["5.0.0", "5.1.0", "5.2.0"]}
    )
    server = LiveServer(workspace)
    try:
        headers = {"Authorization": f"Bearer {ingest_key}"}

        def ping(site: str, version: str, deployment: str, days: int = 0) -> dict[str, object]:
            at = (T0 + dt.timedelta(days=days)).isoformat()
            return {"site_id": site, "version": version, "deployment_type": deployment, "timestamp": at}

        pings = [
            ping("a", "5.0.0", "docker"),
            ping("a", "5.2.0", "docker", days=1),
            ping("b", "5.1.0", "helm"),
            ping("c", "5.1.0", "docker"),
            ping("old", "5.0.0", "helm", days=-20),
        ]
        response = httpx.post(f"{server.url}/api/v1/pings", json=pings, headers=headers)
        assert response.json() == {"accepted": 5}
        # c's users send events, so its telemetry status is full+events.
        events = journeys_for({"u1": [("Search", NOW - dt.timedelta(days=1), {"groups": {"instance": "c"}})]})
        batch = httpx.post(f"{server.url}/api/v1/batch", content="[" + ",".join(events) + "]", headers=headers)
        assert batch.status_code == 200
        server.wait_until_written()
    finally:
        server.stop()
    # "quiet" is known from its license and never pinged.
    rows = instances.link_rows(workspace.project.name, [("quiet", "acct-1", None)], "license")
    workspace.warehouse.insert(INSTANCE_ACCOUNTS, rows)

    # "old" last pinged before the range: it is not counted; "quiet" never pinged: it is.
    assert counts(workspace, "deployment_type") == {"docker": 2, "helm": 1, "$none": 1}
    assert counts(workspace, "version") == {"5.1.0": 2, "5.2.0": 1, "$none": 1}
    assert counts(workspace, "versions_behind") == {"1": 2, "0": 1, "$none": 1}
    assert counts(workspace, "telemetry_status") == {"full": 2, "full+events": 1, "none": 1}
    assert counts(workspace, "deployment_type", date_from="2024-04-01") == {"docker": 2, "helm": 2, "$none": 1}


def test_instances_refuse_fields_that_do_not_apply(workspace: Workspace) -> None:
    with pytest.raises(QueryError, match="filters, breakdown and count_by do not apply"):
        counts_spec = {"kind": "instances", "by": "version", "filters": [{"key": "plan", "value": "pro"}]}
        context = QueryContext(workspace.warehouse, workspace.project.name, "UTC", TrackingPlan(), NOW)
        run_query(counts_spec, context)
