from __future__ import annotations

import pytest

from sextant.ingest.store import EventStore
from sextant.insights.stickiness import StickinessRunner
from sextant.workspace import Workspace
from tests.insights.journeys import PLAN_WORLD, load_world, query

# Every question is asked of the events and of person timelines built from them.
pytestmark = pytest.mark.parametrize("timelines", [False, True], ids=["events", "timelines"])


def test_days_active_per_week(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines)
    spec = {"kind": "stickiness", "date_from": "2024-05-06", "date_to": "2024-05-19"}
    result = query(workspace, spec)
    # Week of 6 May: backend 1 day, alice 2 (6, 7 May), bob 3 (7, 8, 10 May). Week of 13 May: alice 1 day.
    assert result["periods"] == [
        {"period": "2024-05-06", "actors": [1, 1, 1, 0, 0, 0, 0]},
        {"period": "2024-05-13", "actors": [1, 0, 0, 0, 0, 0, 0]},
    ]
    cumulative = query(workspace, {**spec, "cumulative": True})
    assert cumulative["periods"][0]["actors"] == [3, 2, 1, 0, 0, 0, 0]  # type: ignore[index]


def test_days_active_per_week_by_an_event_property(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines, world=PLAN_WORLD)
    spec = {"kind": "stickiness", "date_from": "2024-05-06", "date_to": "2024-05-12"}
    result = query(workspace, {**spec, "breakdown": {"key": "plan", "limit": 1}})
    # Everyone: alice on 3 days, bob on 2, carol and dave on 1.
    assert result["periods"] == [{"period": "2024-05-06", "actors": [2, 1, 1, 0, 0, 0, 0]}]
    # free has the most actors (alice, bob, dave): alice was on free 1 day, bob 2 days, dave 1. Under $other,
    # alice's pro and team searches on Tuesday make one day.
    assert result["breakdown"] == [
        {
            "breakdown_value": "free",
            "periods": [{"period": "2024-05-06", "actors": [2, 1, 0, 0, 0, 0, 0]}],
            "total": [2, 1, 0, 0, 0, 0, 0],
        },
        {
            "breakdown_value": "$other",
            "periods": [{"period": "2024-05-06", "actors": [1, 1, 0, 0, 0, 0, 0]}],
            "total": [1, 1, 0, 0, 0, 0, 0],
        },
    ]
    # Tables and CSV downloads show each value's columns after everyone's.
    assert StickinessRunner.rows(result) == [
        {
            "period": "2024-05-06",
            **{f"{days} days": count for days, count in zip(range(1, 8), [2, 1, 1, 0, 0, 0, 0], strict=True)},
            **{f"{days} days [free]": count for days, count in zip(range(1, 8), [2, 1, 0, 0, 0, 0, 0], strict=True)},
            **{f"{days} days [$other]": count for days, count in zip(range(1, 8), [1, 1, 0, 0, 0, 0, 0], strict=True)},
        }
    ]
