"""The event catalog, with the plan's query-time transformations, on every engine."""

from __future__ import annotations

import datetime as dt

import httpx

from sextant import catalog
from sextant.auth.keys import create_key
from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.metadata.models import KeyKind
from tests.conftest import LiveServer, ingest, journeys_for
from tests.row_order import reordering

NOW = dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC)
PLAN = TrackingPlan.model_validate(
    {
        "events": {
            "Search": {"owner": "search-team", "category": "search", "description": "A search"},
            "Never Sent": {"status": "inactive"},
        },
        "transformations": {
            "rename_events": {"Srch": "Search"},
            "merge_events": {"Page": ["Page A", "Page B"]},
            "hide_events": ["Debug"],
        },
    }
)


def test_catalog_lists_volume_dates_plan_status_and_types(store: EventStore) -> None:
    old, recent = NOW - dt.timedelta(days=60), NOW - dt.timedelta(days=2)
    ingest(
        store,
        journeys_for(
            {
                "u": [
                    ("Srch", old, {"properties": {"q": "x"}}),
                    ("Srch", recent, {"properties": {"q": 5}}),
                    ("Page A", recent, {"properties": {"url": "/a"}}),
                    ("Page B", recent - dt.timedelta(hours=1)),
                    ("Debug", recent),
                    ("Other", recent, {"properties": {"flag": True}}),
                ]
            }
        ),
        received_at=NOW,
    )
    entries = {entry.event: entry for entry in catalog.build(store.engine, store.project.name, PLAN, now=NOW)}
    assert set(entries) == {"Search", "Page", "Other", "Never Sent"}  # Debug is hidden
    search = entries["Search"]
    assert (search.volume_30d, search.first_seen, search.last_seen) == (1, old, recent)
    assert (search.planned, search.owner, search.stored_as) == (True, "search-team", ["Srch"])
    assert search.properties == {"q": ["number"]}  # types come from recent events only
    page = entries["Page"]
    assert (page.volume_30d, sorted(page.stored_as), page.status) == (2, ["Page A", "Page B"], "unplanned")
    assert entries["Never Sent"].volume_30d == 0 and entries["Never Sent"].status == "inactive"
    assert entries["Other"].properties == {"flag": ["boolean"]}


def test_a_merged_event_lists_its_stored_names_in_order_whatever_order_the_warehouse_gives(store: EventStore) -> None:
    recent = NOW - dt.timedelta(days=2)
    ingest(store, journeys_for({"u": [("Page A", recent), ("Page B", recent)]}), received_at=NOW)
    for engine in (store.engine, reordering(store.engine, [False]), reordering(store.engine, [True])):
        entries = {entry.event: entry for entry in catalog.build(engine, store.project.name, PLAN, now=NOW)}
        assert entries["Page"].stored_as == ["Page A", "Page B"]


def test_catalog_over_http_needs_a_personal_key(live_server: LiveServer, ingest_key: str) -> None:
    workspace = live_server.app.state.sextant.workspace
    reader = create_key(workspace.metadata, KeyKind.PERSONAL, "reader").secret
    body = "[" + ",".join(journeys_for({"u": [("Search Submitted", dt.datetime.now(dt.UTC))]})) + "]"
    httpx.post(f"{live_server.url}/api/v1/batch", content=body, headers={"Authorization": f"Bearer {ingest_key}"})
    live_server.wait_until_written()
    response = httpx.get(f"{live_server.url}/api/v1/catalog", headers={"Authorization": f"Bearer {reader}"})
    assert [entry["event"] for entry in response.json()["events"]] == ["Search Submitted"]
    assert (
        httpx.get(f"{live_server.url}/api/v1/catalog", headers={"Authorization": f"Bearer {ingest_key}"}).status_code
        == 401
    )


def test_query_time_transformations_apply_to_stored_events_without_rewriting_them(store: EventStore) -> None:
    from sqlglot import exp

    from sextant.ingest.tracking_plan import hidden_events, shown_event, shown_value

    plan = TrackingPlan.model_validate(
        {
            "transformations": {
                "rename_events": {"Srch": "Search"},
                "merge_events": {"Page": ["Page A", "Page B"]},
                "hide_events": ["Debug"],
                "rename_values": {"plan": {"Pro": "pro"}},
            }
        }
    )
    recent = NOW - dt.timedelta(days=1)
    ingest(
        store,
        journeys_for(
            {
                "u": [
                    ("Srch", recent, {"properties": {"plan": "Pro"}}),
                    ("Page A", recent, {"properties": {"plan": "free"}}),
                    ("Page B", recent),
                    ("Debug", recent),
                    ("Other", recent),
                ]
            }
        ),
        received_at=NOW,
    )
    event = exp.column("event")
    plan_value = exp.JSONExtractScalar(
        this=exp.column("properties"),
        expression=exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this="plan")]),
    )
    query = (
        exp.select(shown_event(plan, event).as_("shown"), shown_value(plan, "plan", plan_value).as_("plan"))
        .from_("events")
        .where(hidden_events(plan, event))
    )
    rows = store.engine.execute(query).to_pylist()
    assert sorted((row["shown"], row["plan"] or "") for row in rows) == [
        ("Other", ""),
        ("Page", ""),
        ("Page", "free"),
        ("Search", "pro"),
    ]
    assert [row["event"] for row in store.engine.execute("SELECT event FROM events ORDER BY event").to_pylist()] == [
        "Debug",
        "Other",
        "Page A",
        "Page B",
        "Srch",
    ]  # stored events are untouched
    for stored in ("Srch", "Page A", "Debug", "Other"):
        assert (
            catalog.shown_name(plan, stored)
            == {"Srch": "Search", "Page A": "Page", "Debug": None, "Other": "Other"}[stored]
        )
