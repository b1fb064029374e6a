from __future__ import annotations

import datetime as dt

import pytest

from sextant.ingest.store import EventStore
from sextant.warehouse.timelines import compact
from sextant.workspace import Workspace
from tests.conftest import ingest, journeys_for
from tests.insights.journeys import DAY, HOUR, T0, load_world, query

BASE = {"kind": "retention", "interval": "day", "date_from": "2024-05-06", "date_to": "2024-05-07"}
STEPS = {"start": {"event": "Signed Up"}, "return": {"event": "Search"}}


# Every question is asked of the events and of person timelines built from them.
pytestmark = pytest.mark.parametrize("timelines", [False, True], ids=["events", "timelines"])


def cohorts(result: dict[str, object]) -> dict[str, list[int]]:
    (line,) = result["results"]  # type: ignore[misc]
    return {cohort["cohort"]: cohort["counts"] for cohort in line["cohorts"]}


def test_daily_retention_in_calendar_days_of_the_project_time_zone(
    workspace: Workspace, store: EventStore, timelines: bool
) -> None:
    load_world(store, timelines=timelines)
    result = query(workspace, {**BASE, **STEPS, "periods": 4})
    # alice (6 May) searched the same day (period 0) and on 7 May; bob (7 May) on 8 May and on 10 May, which is
    # a Friday in Berlin although it is Thursday 23:00 in UTC.
    assert result["periods"] == ["0", "1", "2", "3"]
    assert cohorts(result) == {"2024-05-06": [1, 1, 0, 0], "2024-05-07": [1, 1, 0, 1]}


def test_on_or_after_and_brackets(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines)
    unbounded = query(workspace, {**BASE, **STEPS, "periods": 4, "measure": "return_on_or_after"})
    assert cohorts(unbounded) == {"2024-05-06": [1, 1, 0, 0], "2024-05-07": [1, 1, 1, 1]}
    brackets = query(workspace, {**BASE, **STEPS, "brackets": [[1, 1], [2, 9]]})
    assert brackets["periods"] == ["0", "1", "2-9"]
    assert cohorts(brackets) == {"2024-05-06": [1, 1, 1], "2024-05-07": [1, 1, 1]}


def test_rolling_periods_count_from_the_start_event(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines)
    # bob signed up Tue 09:00 UTC; his Thu 23:00 UTC search is 2 days 14 hours later: rolling period 2.
    rolling = query(workspace, {**BASE, **STEPS, "periods": 4, "rolling": True})
    assert cohorts(rolling)["2024-05-07"] == [1, 1, 1, 0]


def test_periods_that_have_not_ended_are_flagged(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines)
    # Now is Wed 8 May, 23:00 in Berlin: 8 May (period 2 of the first cohort) has not ended.
    result = query(workspace, {**BASE, **STEPS, "periods": 4}, now=T0 + 2 * DAY + 12 * HOUR)
    (line,) = result["results"]  # type: ignore[misc]
    assert [cohort["complete"] for cohort in line["cohorts"]] == [
        [True, True, False, False],
        [True, False, False, False],
    ]


def test_a_cohort_takes_the_smallest_breakdown_value_of_its_first_start_events_at_one_time(
    workspace: Workspace, store: EventStore, timelines: bool
) -> None:
    # carol signs up twice at one instant, first with the larger value; ties have one rule, whatever order
    # the warehouse reads them in: the smallest value.
    carol = [
        ("Signed Up", T0, {"properties": {"plan": "team"}}),
        ("Signed Up", T0, {"properties": {"plan": "business"}}),
        ("Search", T0 + DAY),
    ]
    ingest(store, journeys_for({"carol": carol}))  # type: ignore[dict-item]
    if timelines:
        compact(store.engine, store.project.name, store.project.config.timezone)
    for start_type in ("recurring", "first_time"):
        spec = {**BASE, **STEPS, "periods": 2, "start_type": start_type, "breakdown": {"type": "event", "key": "plan"}}
        result = query(workspace, spec)
        assert [line["breakdown_value"] for line in result["results"]] == ["business"]  # type: ignore[attr-defined]


def test_a_breakdown_by_a_group_property(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    def signed_up(account: str, tier: str) -> tuple[str, dt.datetime, dict[str, object]]:
        return ("Signed Up", T0, {"groups": {"account": account}, "group_properties": {"account": {"tier": tier}}})

    people = {
        "carol": [signed_up("acme", "gold"), ("Search", T0 + DAY)],
        "dave": [signed_up("globex", "silver")],
        "erin": [signed_up("initech", "gold")],
    }
    ingest(store, journeys_for(people))  # type: ignore[arg-type]
    if timelines:
        compact(store.engine, store.project.name, store.project.config.timezone)
    breakdown = {"type": "group", "group_type": "account", "key": "tier"}
    result = query(workspace, {**BASE, **STEPS, "periods": 2, "breakdown": breakdown})
    lines = {line["breakdown_value"]: line["cohorts"][0]["counts"] for line in result["results"]}  # type: ignore[attr-defined]
    assert lines == {"gold": [2, 1], "silver": [1, 0]}
