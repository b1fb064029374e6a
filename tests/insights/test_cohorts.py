from __future__ import annotations

import httpx
import pytest

from sextant.auth import audit
from sextant.auth.keys import create_key
from sextant.errors import QueryError
from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.service import Insights
from sextant.metadata.models import KeyKind
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, ingest, journeys_for
from tests.insights.journeys import DAY, NOW, load_world

SEARCHERS = {"type": "did_event", "event": "Search", "min_times": 2, "days": 30}
UNIQUE_SEARCHERS = {
    "kind": "segmentation",
    "date_from": "2024-05-01",
    "date_to": "2024-05-17",
    "series": [{"event": "Search", "math": "unique"}],
}


def insights_for(workspace: Workspace) -> Insights:
    return Insights(workspace.project, workspace.warehouse, TrackingPlan, workspace.metadata)


def total(insights: Insights, spec: dict[str, object]) -> object:
    return insights.query(spec, now=NOW).result["series"][0]["total"]


def test_a_did_event_cohort_filters_every_query(workspace: Workspace, store: EventStore) -> None:
    load_world(store)
    insights = insights_for(workspace)
    cohort = insights.create_cohort({"name": "searched twice", "definition": SEARCHERS}).id
    # alice searched 3 times and bob twice in the 30 days before now; backend once.
    assert total(insights, {**UNIQUE_SEARCHERS, "filters": [{"type": "cohort", "cohort": cohort}]}) == 2
    negated = {**UNIQUE_SEARCHERS, "filters": [{"type": "cohort", "cohort": cohort, "negate": True}]}
    assert total(insights, negated) == 1

    def person(distinct_id: str) -> str:
        (found,) = insights.query({"kind": "persons", "search": distinct_id}, now=NOW).result["persons"]
        return str(found["person_id"])

    assert insights.cohort_persons(cohort, now=NOW) == sorted([person("alice"), person("bob")])
    # Thirty days later their searches are out of the window.
    assert insights.cohort_persons(cohort, now=NOW + 30 * DAY) == []


def test_person_property_and_static_cohorts_as_breakdowns(workspace: Workspace, store: EventStore) -> None:
    load_world(store)
    ingest(store, journeys_for({"bob": [("Upgraded", T0 + 4 * DAY, {"person_updates": {"$set": {"plan": "pro"}}})]}))
    insights = insights_for(workspace)
    pro = insights.create_cohort(
        {
            "name": "pro",
            "definition": {"type": "person_property", "filters": [{"type": "person", "key": "plan", "value": "pro"}]},
        }
    ).id
    # Persons who signed up but never searched within a day: nobody; who reached step 1: alice and bob.
    funnel = {
        "kind": "funnel",
        "date_from": "2024-05-01",
        "date_to": "2024-05-17",
        "steps": [{"event": "Signed Up"}, {"event": "Search"}],
        "persons": {"step": 1, "status": "converted"},
    }
    converted = insights.create_cohort({"name": "converted", "from_query": funnel})
    assert converted.members is not None and len(converted.members) == 2
    spec = {**UNIQUE_SEARCHERS, "breakdown": {"type": "cohort", "cohorts": [pro, converted.id]}}
    lines = {line["breakdown_value"]: line["total"] for line in insights.query(spec, now=NOW).result["series"]}
    # bob is in both cohorts and shows under the first listed; alice only converted; backend in neither.
    assert lines == {"pro": 1, "converted": 1, "$none": 1}


def test_funnel_step_cohorts_and_bad_cohorts(workspace: Workspace, store: EventStore) -> None:
    load_world(store)
    insights = insights_for(workspace)
    dropped = {
        "type": "funnel_step",
        "funnel": {
            "kind": "funnel",
            "date_from": "2024-05-01",
            "date_to": "2024-05-17",
            "steps": [{"event": "Search"}, {"event": "Signed Up"}],
            "window": {"value": 7, "unit": "day"},
        },
        "step": 1,
        "status": "dropped",
    }
    cohort = insights.create_cohort({"name": "searched, never signed up after", "definition": dropped}).id
    # alice and bob signed up before searching; backend never signed up: all three dropped at step 1.
    assert total(insights, {**UNIQUE_SEARCHERS, "filters": [{"type": "cohort", "cohort": cohort}]}) == 3
    with pytest.raises(QueryError, match="exists already"):
        insights.create_cohort({"name": "searched, never signed up after", "persons": []})
    with pytest.raises(QueryError, match="exactly one"):
        insights.create_cohort({"name": "both", "persons": [], "definition": SEARCHERS})
    with pytest.raises(QueryError, match="no cohort 99"):
        total(insights, {**UNIQUE_SEARCHERS, "filters": [{"type": "cohort", "cohort": 99}]})


def test_cohorts_over_http(live_server: LiveServer, workspace: Workspace, store: EventStore) -> None:
    load_world(store)
    headers = {"Authorization": f"Bearer {create_key(workspace.metadata, KeyKind.PERSONAL, 'analyst').secret}"}
    url = f"{live_server.url}/api/v1/cohorts"
    created = httpx.post(url, json={"name": "searchers", "definition": SEARCHERS}, headers=headers)
    assert created.status_code == 201 and created.json()["kind"] == "dynamic"
    static = httpx.post(url, json={"name": "vip", "persons": ["b", "a", "a"]}, headers=headers).json()
    assert static["size"] == 2
    members = httpx.get(f"{url}/{static['id']}/persons", headers=headers).json()
    assert members == {"cohort": static["id"], "persons": ["a", "b"]}
    assert [cohort["name"] for cohort in httpx.get(url, headers=headers).json()["cohorts"]] == ["searchers", "vip"]
    assert httpx.delete(f"{url}/{static['id']}", headers=headers).status_code == 204
    assert httpx.get(f"{url}/{static['id']}", headers=headers).status_code == 400
    assert httpx.post(url, json={"name": "x", "definition": {"type": "telepathy"}}, headers=headers).status_code == 400
    assert httpx.get(url).status_code == 401
    logged = [(entry.action, entry.target) for entry in audit.entries(workspace.metadata, action="cohort")]
    vip = f"cohort:{static['id']}"
    assert logged == [
        ("cohort.delete", vip),
        ("cohort.create", vip),
        ("cohort.create", f"cohort:{created.json()['id']}"),
    ]


def test_a_cohort_filters_retention_and_paths(workspace: Workspace, store: EventStore) -> None:
    load_world(store)
    insights = insights_for(workspace)
    # alice searched three times in the 30 days before now; bob twice and the backend once.
    cohort = insights.create_cohort({"name": "searched thrice", "definition": {**SEARCHERS, "min_times": 3}}).id
    member, not_member = {"type": "cohort", "cohort": cohort}, {"type": "cohort", "cohort": cohort, "negate": True}
    retention = {
        "kind": "retention",
        "interval": "day",
        "date_from": "2024-05-06",
        "date_to": "2024-05-07",
        "start": {"event": "Signed Up"},
        "return": {"event": "Search"},
        "periods": 4,
    }

    def cohorts(filters: list[dict[str, object]]) -> dict[str, list[int]]:
        (line,) = insights.query({**retention, "filters": filters}, now=NOW).result["results"]
        return {row["cohort"]: row["counts"] for row in line["cohorts"]}

    # alice signed up on 6 May and searched that day and the next; bob signed up on 7 May.
    assert cohorts([member]) == {"2024-05-06": [1, 1, 0, 0], "2024-05-07": [0, 0, 0, 0]}
    assert cohorts([not_member]) == {"2024-05-06": [0, 0, 0, 0], "2024-05-07": [1, 1, 0, 1]}
    paths = {"kind": "paths", "date_from": "2024-05-01", "date_to": "2024-05-31", "steps": 3}
    assert insights.query({**paths, "filters": [member]}, now=NOW).result["paths"] == [
        {"path": ["Signed Up", "Search"], "actors": 1}
    ]
    assert insights.query({**paths, "filters": [not_member]}, now=NOW).result["paths"] == [
        {"path": ["Search"], "actors": 1},  # the backend
        {"path": ["Signed Up", "Search"], "actors": 1},  # bob
    ]
