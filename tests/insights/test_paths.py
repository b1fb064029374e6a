from __future__ import annotations

from sextant.ingest.store import EventStore
from sextant.workspace import Workspace
from tests.conftest import T0, ingest, journeys_for
from tests.insights.journeys import HOUR, query
from tests.row_order import reordering

MINUTE = HOUR / 60
RANGE = {"kind": "paths", "date_from": "2024-05-01", "date_to": "2024-05-31"}


def load(store: EventStore) -> None:
    people = {
        "ann": [("Home", T0), ("Search", T0 + MINUTE), ("Search", T0 + 2 * MINUTE), ("Click", T0 + 3 * MINUTE)],
        "bob": [
            ("Home", T0, {"session_id": "s1"}),
            ("Search", T0 + MINUTE, {"session_id": "s1"}),
            ("Pricing", T0 + HOUR, {"session_id": "s2"}),
        ],
        # cy's two events share a timestamp: the path takes them in name order.
        "cy": [("Search", T0), ("Click", T0), ("Home", T0 + MINUTE)],
    }
    ingest(store, journeys_for(people))  # type: ignore[arg-type]


def test_forward_paths_collapse_repeats_and_rank(workspace: Workspace, store: EventStore) -> None:
    load(store)
    result = query(workspace, {**RANGE, "start_event": "Home", "steps": 3})
    # Paths with equal counts are ranked by their steps.
    assert result["paths"] == [
        {"path": ["Home"], "actors": 1},
        {"path": ["Home", "Search", "Click"], "actors": 1},
        {"path": ["Home", "Search", "Pricing"], "actors": 1},
    ]
    assert {"step": 0, "source": "Home", "target": "Search", "actors": 2} in result["edges"]  # type: ignore[operator]


def test_paths_within_sessions_and_without_collapsing(workspace: Workspace, store: EventStore) -> None:
    load(store)
    result = query(
        workspace, {**RANGE, "start_event": "Home", "within_session": True, "collapse_repeats": False, "steps": 4}
    )
    paths = {tuple(line["path"]): line["actors"] for line in result["paths"]}  # type: ignore[union-attr]
    assert paths == {("Home", "Search", "Search", "Click"): 1, ("Home", "Search"): 1, ("Home",): 1}


def test_backward_paths_and_other(workspace: Workspace, store: EventStore) -> None:
    load(store)
    result = query(workspace, {**RANGE, "end_event": "Click", "steps": 3, "top": 1})
    # ann: Home, Search, Click. cy's Click and Search tie and are taken as Click then Search, so cy's last
    # Click is their first event: a path of one step, which ranks first.
    assert result["paths"] == [{"path": ["Click"], "actors": 1}, {"path": ["$other"], "actors": 1}]


def test_a_path_within_a_session_does_not_depend_on_how_the_database_orders_tied_events(
    workspace: Workspace, store: EventStore
) -> None:
    """dee searches twice at one time, in two sessions. Whichever order the warehouse returns the tie in, the
    path takes the sessions in order: it goes on in s1, where dee started."""
    dee = [
        ("Home", T0, {"session_id": "s1"}),
        ("Search", T0 + MINUTE, {"session_id": "s1"}),
        ("Search", T0 + MINUTE, {"session_id": "s2"}),
    ]
    ingest(store, journeys_for({"dee": dee}))  # type: ignore[dict-item]
    spec = {**RANGE, "within_session": True}
    for descending in (False, True):
        engine = reordering(workspace.warehouse, [descending])
        assert query(workspace, spec, engine=engine)["paths"] == [{"path": ["Home", "Search"], "actors": 1}]
