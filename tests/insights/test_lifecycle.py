from __future__ import annotations

import pytest

from sextant.ingest.store import EventStore
from sextant.workspace import Workspace
from tests.insights.journeys import load_world, query

# Every question is asked of the events and of person timelines built from them.
pytestmark = pytest.mark.parametrize("timelines", [False, True], ids=["events", "timelines"])


def test_daily_lifecycle(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines)
    result = query(
        workspace, {"kind": "lifecycle", "interval": "day", "date_from": "2024-05-05", "date_to": "2024-05-16"}
    )
    # 6 May: alice and backend are new. 7 May: bob new, alice returning, backend dormant. 8 May: bob returning,
    # alice dormant. 10 May: bob resurrecting (Friday in Berlin). 15 May: alice resurrecting.
    assert result["new"] == [0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert result["returning"] == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert result["resurrecting"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    assert result["dormant"] == [0, 0, -1, -1, -1, 0, -1, 0, 0, 0, 0, -1]


def test_weekly_lifecycle_counts_activity_before_the_range(
    workspace: Workspace, store: EventStore, timelines: bool
) -> None:
    load_world(store, timelines=timelines)
    result = query(
        workspace, {"kind": "lifecycle", "interval": "week", "date_from": "2024-05-13", "date_to": "2024-05-19"}
    )
    # Week of 13 May: alice was also active the week before (returning); bob and backend go dormant.
    assert result["labels"] == ["2024-05-13"]
    assert (result["new"], result["returning"], result["resurrecting"], result["dormant"]) == ([0], [1], [0], [-2])
