from __future__ import annotations

import pytest

from sextant.ingest.store import EventStore
from sextant.insights.active_users import ActiveUsersRunner
from sextant.workspace import Workspace
from tests.insights.journeys import PLAN_WORLD, T0, WORLD, load_world, query

# Every question is asked of the events and of person timelines built from them.
pytestmark = pytest.mark.parametrize("timelines", [False, True], ids=["events", "timelines"])


def test_rolling_active_users_exclude_sign_up_and_the_backend_sender(
    workspace: Workspace, store: EventStore, timelines: bool
) -> None:
    load_world(store, timelines=timelines)
    result = query(workspace, {"kind": "active_users", "date_from": "2024-05-05", "date_to": "2024-05-16"})
    assert result["labels"][0] == "2024-05-05" and result["labels"][-1] == "2024-05-16"
    # Signed Up never counts; bob's Thursday 23:00 UTC search is Friday in Berlin.
    assert result["dau"] == [0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0]
    # WAU on 14 May covers 8-14 May: bob (8 and 10 May) only.
    assert result["wau"] == [0, 1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2]
    assert result["mau"] == [0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]


def test_dau_mau_is_the_months_average_dau_over_its_mau(
    workspace: Workspace, store: EventStore, timelines: bool
) -> None:
    load_world(store, timelines=timelines)
    result = query(workspace, {"kind": "active_users", "date_from": "2024-05-05", "date_to": "2024-05-16"})
    # 1-16 May: five active person-days over 16 days; two people active in the month.
    (may,) = result["dau_mau_by_month"]  # type: ignore[misc]
    assert may == {"month": "2024-05-01", "average_dau": 0.3125, "mau": 2, "dau_mau": 0.15625, "complete": False}


def test_a_filter_reads_events_instead_of_the_rollup_and_agrees(
    workspace: Workspace, store: EventStore, timelines: bool
) -> None:
    load_world(store, timelines=timelines)
    spec = {"kind": "active_users", "date_from": "2024-05-05", "date_to": "2024-05-16", "events": ["Search"]}
    from_rollup = query(workspace, spec)
    filtered = {**spec, "filters": [{"type": "event", "key": "missing", "operator": "not_set"}]}
    assert query(workspace, filtered)["dau"] == from_rollup["dau"] == [0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0]


def test_active_users_by_an_event_property(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines, world=PLAN_WORLD)
    spec = {"kind": "active_users", "date_from": "2024-05-06", "date_to": "2024-05-10"}
    result = query(workspace, {**spec, "breakdown": {"key": "plan", "limit": 1}})
    assert result["dau"] == [2, 2, 1, 1, 1]  # everyone
    # free has the most actors in the range (alice, bob, dave); alice's pro and team searches on Tuesday count
    # her once under $other.
    free, other = result["breakdown"]  # type: ignore[misc]
    assert (free["breakdown_value"], free["dau"], free["wau"], free["mau"]) == (
        "free",
        [1, 0, 1, 1, 1],
        [1, 1, 2, 2, 3],
        [1, 1, 2, 2, 3],
    )
    assert (other["breakdown_value"], other["dau"], other["wau"]) == ("$other", [1, 2, 0, 0, 0], [1, 2, 2, 2, 2])
    # 1-10 May: four free person-days (0.4 a day) and three free actors; three $other person-days and two actors.
    assert [
        (month["average_dau"], month["mau"]) for month in (free["dau_mau_by_month"] + other["dau_mau_by_month"])
    ] == [
        (0.4, 3),
        (0.3, 2),
    ]
    # Tables and CSV downloads show each value's columns after everyone's.
    assert ActiveUsersRunner.rows(result)[0] == {
        "day": "2024-05-06",
        **{"dau": 2, "wau": 2, "mau": 2},
        **{"dau [free]": 1, "wau [free]": 1, "mau [free]": 1},
        **{"dau [$other]": 1, "wau [$other]": 1, "mau [$other]": 1},
    }


def test_who_counts_as_active(workspace: Workspace, store: EventStore, timelines: bool) -> None:
    load_world(store, timelines=timelines, world={**WORLD, "carol": [("Reset Password", T0)]})
    monday = {"kind": "active_users", "date_from": "2024-05-06", "date_to": "2024-05-06"}
    # By default alice's search counts; her sign-up, carol's password reset and the backend's search do not.
    assert query(workspace, monday)["dau"] == [1]
    everything = query(workspace, {**monday, "excluded_events": [], "excluded_distinct_ids": []})
    assert everything["dau"] == [3]
    # Searches do not count and alice is left out: only carol's password reset is left.
    custom = query(workspace, {**monday, "excluded_events": ["%SEARCH%"], "excluded_distinct_ids": ["alice"]})
    assert custom["dau"] == [1] and custom["mau"] == [1]
