from __future__ import annotations

import pytest

from sextant.ingest.store import EventStore
from sextant.workspace import Workspace
from tests.insights.journeys import load_world, query

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
