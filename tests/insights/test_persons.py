from __future__ import annotations

from sextant.ingest.store import EventStore
from sextant.workspace import Workspace
from tests.conftest import T0, ingest, journeys_for
from tests.insights.journeys import DAY, HOUR, query
from tests.row_order import reordering


def load(store: EventStore) -> None:
    people = {
        "device-1": [("Viewed Sign Up", T0)],
        # Signing up with the device id links the device's earlier events to ann.
        "ann@example.com": [
            ("Signed Up", T0 + HOUR, {"user_id": "ann@example.com", "device_id": "device-1"}),
            ("Search", T0 + 2 * HOUR, {"person_updates": {"$set": {"plan": "pro", "city": "Berlin"}}}),
        ],
        "bo@example.com": [("Search", T0 + DAY, {"person_updates": {"$set": {"plan": "free"}}})],
    }
    ingest(store, journeys_for(people))  # type: ignore[arg-type]


def test_search_by_property_and_by_distinct_id(workspace: Workspace, store: EventStore) -> None:
    load(store)
    pro = query(
        workspace, {"kind": "persons", "filters": [{"type": "person", "key": "plan", "operator": "eq", "value": "pro"}]}
    )
    (ann,) = pro["persons"]  # type: ignore[misc]
    assert ann["distinct_ids"] == ["ann@example.com", "device-1"] and ann["properties"]["city"] == "Berlin"
    by_device = query(workspace, {"kind": "persons", "search": "device-1"})
    assert [person["person_id"] for person in by_device["persons"]] == [ann["person_id"]]  # type: ignore[index]
    by_text = query(workspace, {"kind": "persons", "search": "BERLIN"})
    assert [person["person_id"] for person in by_text["persons"]] == [ann["person_id"]]  # type: ignore[index]
    everyone = query(workspace, {"kind": "persons"})
    assert len(everyone["persons"]) == 2  # type: ignore[arg-type]


def test_a_timeline_holds_the_anonymous_events_merged_into_the_person(workspace: Workspace, store: EventStore) -> None:
    load(store)
    for handle in ("ann@example.com", "device-1"):
        timeline = query(
            workspace, {"kind": "persons", "person": handle, "date_from": "2024-05-01", "date_to": "2024-05-31"}
        )
        assert [event["event"] for event in timeline["events"]] == ["Search", "Signed Up", "Viewed Sign Up"]  # type: ignore[index]


def test_a_person_search_refuses_event_filters(workspace: Workspace) -> None:
    import pytest

    from sextant.errors import QueryError

    with pytest.raises(QueryError, match="person properties"):
        query(workspace, {"kind": "persons", "filters": [{"type": "event", "key": "x", "operator": "is_set"}]})


def test_timeline_pages_hold_each_of_two_tied_events_once(workspace: Workspace, store: EventStore) -> None:
    """cy searches twice at one time. A page of one event each gives each search once, however the warehouse
    breaks the tie for each page (here one way for the first page and the other way for the second)."""
    ingest(store, journeys_for({"cy": [("Search", T0, {"properties": {"q": q}}) for q in ("a", "b")]}))
    engine = reordering(workspace.warehouse, [False, True])
    spec = {"kind": "persons", "person": "cy", "date_from": "2024-05-01", "date_to": "2024-05-31", "limit": 1}
    pages = [query(workspace, {**spec, "offset": offset}, engine=engine)["events"] for offset in (0, 1)]
    assert sorted(event["properties"]["q"] for page in pages for event in page) == ["a", "b"]  # type: ignore[attr-defined]
