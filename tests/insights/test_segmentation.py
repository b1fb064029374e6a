"""Segmentation on every engine: hand-written journeys with hand-computed results, and random event logs
checked against the pure-Python reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.workspace import Workspace
from tests.conftest import T0, Journey
from tests.insights import reference
from tests.insights.conftest import (
    EVENT_NAMES,
    NOW,
    PLANS,
    RANDOM_RANGE,
    TIMEZONE,
    InsightProject,
    approximately,
    event_logs,
)

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MONDAY_TO_WEDNESDAY = {"date_from": "2024-05-06", "date_to": "2024-05-08"}  # T0 is Monday 2024-05-06


@pytest.fixture(params=["events", "timelines"])
def project(request: pytest.FixtureRequest, shared_workspace: Workspace) -> InsightProject:
    """Every hand-written question is asked of the events and of person timelines built just before it."""
    return InsightProject(shared_workspace, timelines=request.param == "timelines")


def segmentation(**fields: Any) -> dict[str, Any]:
    return {"kind": "segmentation", **MONDAY_TO_WEDNESDAY, **fields}


def line(result: dict[str, Any], series: str, breakdown: str | None = None) -> dict[str, Any]:
    (found,) = [
        item for item in result["series"] if item["series"] == series and item.get("breakdown_value") == breakdown
    ]
    return found


def purchases(amounts: list[Any]) -> Journey:
    return [
        ("Purchase", T0 + index * HOUR, {"properties": {} if amount is None else {"amount": amount}})
        for index, amount in enumerate(amounts)
    ]


# Hand-written journeys


def test_totals_uniques_and_property_math(project: InsightProject) -> None:
    project.track(
        {
            "alice": purchases([10, 20, 60]),  # Monday
            "bob": [("Purchase", T0 + DAY, {"properties": {"amount": 30}})],  # Tuesday
            "carol": [("Purchase", T0 + DAY + HOUR)],  # Tuesday, without an amount
            "dave": [("Viewed Page", T0)],
        }
    )
    maths = ["total", "unique", "sum", "avg", "min", "max", "median", "p90"]
    series = [{"event": "Purchase", "math": math, "property": "amount"} for math in maths[2:]]
    result = project.query(segmentation(series=[{"event": "Purchase", "math": math} for math in maths[:2]] + series))
    assert result["labels"] == ["2024-05-06", "2024-05-07", "2024-05-08"]
    data = {item["math"]: (item["data"], item["total"]) for item in result["series"]}
    assert data == approximately(
        {
            "total": ([3, 2, 0], 5),
            "unique": ([1, 2, 0], 3),
            "sum": ([90.0, 30.0, None], 120.0),
            "avg": ([30.0, 30.0, None], 30.0),  # carol's purchase has no amount and does not count
            "min": ([10.0, 30.0, None], 10.0),
            "max": ([60.0, 30.0, None], 60.0),
            "median": ([20.0, 30.0, None], 25.0),
            "p90": ([52.0, 30.0, None], 51.0),  # interpolated: 20 + 0.8 * 40 and 30 + 0.7 * 30
        }
    )


def test_unique_counts_each_person_once_across_their_merged_ids(project: InsightProject) -> None:
    project.track(
        {
            "anon-1": [("Viewed Page", T0), ("Viewed Page", T0 + HOUR)],
            "alice": [("Signed Up", T0 + 2 * HOUR, {"user_id": "alice", "device_id": "anon-1"})],
            "bob": [("Viewed Page", T0 + 3 * HOUR)],
        }
    )
    result = project.query(segmentation(series=[{"event": None, "math": "unique"}, {"event": None}]))
    assert line(result, "A")["total"] == 2  # alice (with her anonymous views) and bob
    assert line(result, "B")["total"] == 4
    assert line(result, "A")["label"] == "All events"


def test_a_later_merge_applies_to_earlier_events(project: InsightProject) -> None:
    project.track({"anon-1": [("Viewed Page", T0)], "alice": [("Viewed Page", T0 + HOUR)]})
    spec = segmentation(series=[{"event": "Viewed Page", "math": "unique"}])
    assert line(project.query(spec), "A")["total"] == 2
    project.track({"alice": [("Signed Up", T0 + 2 * HOUR, {"user_id": "alice", "device_id": "anon-1"})]})
    assert line(project.query(spec), "A")["total"] == 1


def test_uniques_from_timelines_follow_writes_and_merges_since_the_build(shared_workspace: Workspace) -> None:
    project = InsightProject(shared_workspace)
    project.track(
        {"anon-1": [("Viewed Page", T0)], "alice": [("Viewed Page", T0 + HOUR)], "bob": [("Viewed Page", T0)]}
    )
    project.compact()
    project.track(
        {
            "alice": [("Signed Up", T0 + 2 * HOUR, {"user_id": "alice", "device_id": "anon-1"})],
            "carol": [("Viewed Page", T0 + 3 * HOUR)],
        }
    )
    run = project.run(segmentation(series=[{"event": "Viewed Page", "math": "unique"}]))
    assert "timeline_events" in run.sql["A"]
    assert line(run.result, "A")["total"] == 3  # alice with her anonymous view, bob and carol


def test_breakdown_shows_the_top_values_and_the_rest_as_other(project: InsightProject) -> None:
    def plan(name: str) -> dict[str, Any]:
        return {"properties": {"plan": name}}

    project.track(
        {
            "alice": [("Purchase", T0 + n * HOUR, plan("pro")) for n in range(4)],
            "bob": [("Purchase", T0, plan("free")), ("Purchase", T0 + DAY, plan("team"))],
            "carol": [("Purchase", T0, plan("free")), ("Purchase", T0 + HOUR)],
        }
    )
    totals = project.query(segmentation(series=[{"event": "Purchase"}], breakdown={"key": "plan", "limit": 2}))
    assert [(item["breakdown_value"], item["total"], item["data"]) for item in totals["series"]] == [
        ("pro", 4, [4, 0, 0]),
        ("free", 2, [2, 0, 0]),
        ("$other", 2, [1, 1, 0]),  # team and the purchase without a plan ($none)
    ]
    # With unique math the top values are those with the most persons: free (bob, carol) before pro (alice).
    uniques = project.query(
        segmentation(series=[{"event": "Purchase", "math": "unique"}], breakdown={"key": "plan", "limit": 1})
    )
    assert [(item["breakdown_value"], item["total"]) for item in uniques["series"]] == [("free", 2), ("$other", 3)]


def test_breakdown_by_a_group_property(project: InsightProject) -> None:
    def purchase(hours: int, account: str, tier: str | None = None) -> tuple[str, dt.datetime, dict[str, Any]]:
        extra: dict[str, Any] = {"groups": {"account": account}}
        if tier is not None:
            extra["group_properties"] = {"account": {"tier": tier}}
        return ("Purchase", T0 + hours * HOUR, extra)

    project.track(
        {
            "alice": [purchase(0, "acme", "gold"), purchase(1, "acme")],
            "bob": [purchase(2, "initech", "silver"), ("Purchase", T0 + 3 * HOUR)],  # the second without an account
            "carol": [purchase(4, "acme")],
            "dave": [purchase(5, "globex", "gold"), purchase(6, "globex", "bronze")],  # globex is bronze now
        }
    )
    breakdown = {"type": "group", "group_type": "account", "key": "tier"}
    result = project.query(segmentation(series=[{"event": "Purchase", "math": "unique"}], breakdown=breakdown))
    totals = {item["breakdown_value"]: item["total"] for item in result["series"]}
    assert totals == {"gold": 2, "silver": 1, "bronze": 1, "$none": 1}


def test_breakdown_of_property_math_ranks_values_by_event_count(project: InsightProject) -> None:
    project.track(
        {
            "alice": [
                ("Purchase", T0, {"properties": {"plan": "free", "amount": 1}}),
                ("Purchase", T0 + HOUR, {"properties": {"plan": "free", "amount": 1}}),
                ("Purchase", T0 + 2 * HOUR, {"properties": {"plan": "pro", "amount": 100}}),
            ]
        }
    )
    result = project.query(
        segmentation(
            series=[{"event": "Purchase", "math": "sum", "property": "amount"}], breakdown={"key": "plan", "limit": 1}
        )
    )
    # free has two purchases and pro one; $other comes last whatever its total.
    assert [(item["breakdown_value"], item["total"]) for item in result["series"]] == [("free", 2.0), ("$other", 100.0)]


def test_formula_divides_series_per_bucket_and_in_total(project: InsightProject) -> None:
    project.track(
        {
            "alice": [("Viewed Page", T0), ("Viewed Page", T0 + HOUR), ("Purchase", T0 + 2 * HOUR)],
            "bob": [("Viewed Page", T0 + DAY), ("Viewed Page", T0 + DAY), ("Purchase", T0 + 2 * DAY)],
        }
    )
    result = project.query(
        segmentation(series=[{"event": "Purchase"}, {"event": "Viewed Page"}], formula="A / B * 100")
    )
    # Wednesday has a purchase and no views: dividing by zero gives no value.
    assert result["formula"] == [{"formula": "A / B * 100", "data": [50.0, 0.0, None], "total": 50.0}]


def test_formula_per_breakdown_value(project: InsightProject) -> None:
    project.track(
        {
            "alice": [
                ("Viewed Page", T0, {"properties": {"plan": "pro"}}),
                ("Purchase", T0, {"properties": {"plan": "pro"}}),
                ("Viewed Page", T0, {"properties": {"plan": "free"}}),
                ("Viewed Page", T0, {"properties": {"plan": "free"}}),
                ("Viewed Page", T0, {"properties": {"plan": "free"}}),
                ("Viewed Page", T0, {"properties": {"plan": "free"}}),
                ("Purchase", T0, {"properties": {"plan": "free"}}),
            ]
        }
    )
    result = project.query(
        segmentation(
            series=[{"event": "Purchase"}, {"event": "Viewed Page"}], formula="A / B * 100", breakdown={"key": "plan"}
        )
    )
    assert [(item["breakdown_value"], item["total"]) for item in result["formula"]] == [("free", 25.0), ("pro", 100.0)]


def test_frequency_counts_persons_by_how_often_they_did_the_event(project: InsightProject) -> None:
    project.track(
        {
            "alice": purchases([1, 2, 3]),
            "bob": purchases([1]),
            "carol": [*purchases([1]), ("Viewed Page", T0)],
            "dave": [("Purchase", T0 - 3 * DAY)],  # before the range
        }
    )
    result = project.query(segmentation(series=[{"event": "Purchase"}], frequency=True))
    assert line(result, "A")["frequency"] == [{"times": 1, "actors": 2}, {"times": 3, "actors": 1}]


def test_frequency_per_breakdown_value_counts_only_the_events_with_that_value(project: InsightProject) -> None:
    def on(plan: str, hours: int) -> tuple[str, dt.datetime, dict[str, Any]]:
        return ("Purchase", T0 + hours * HOUR, {"properties": {"plan": plan}})

    project.track(
        {
            "alice": [on("pro", 0), on("free", 1), on("free", 2), on("free", 3)],
            "bob": [on("pro", 0), on("pro", 1)],
            "carol": [on("team", 0)],
        }
    )
    result = project.query(
        segmentation(series=[{"event": "Purchase"}], frequency=True, breakdown={"key": "plan", "limit": 2})
    )
    # alice purchased once on pro and three times on free; carol's team purchase is the only one under $other.
    assert line(result, "A", "pro")["frequency"] == [{"times": 1, "actors": 1}, {"times": 2, "actors": 1}]
    assert line(result, "A", "free")["frequency"] == [{"times": 3, "actors": 1}]
    assert line(result, "A", "$other")["frequency"] == [{"times": 1, "actors": 1}]


def test_days_are_days_in_the_project_time_zone(project: InsightProject) -> None:
    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text)

    project.track(
        {
            "alice": [
                ("Purchase", at("2024-05-05T21:30:00+00:00")),  # 23:30 on Sunday in Berlin: before the range
                ("Purchase", at("2024-05-05T22:30:00+00:00")),  # 00:30 on Monday
                ("Purchase", at("2024-05-06T21:30:00+00:00")),  # 23:30 on Monday
                ("Purchase", at("2024-05-06T23:30:00+00:00")),  # 01:30 on Tuesday
                ("Purchase", at("2024-05-07T22:00:00+00:00")),  # 00:00 on Wednesday: after the range
            ]
        }
    )
    two_days = project.query(segmentation(series=[{"event": "Purchase"}], date_from="2024-05-06", date_to="2024-05-07"))
    assert (two_days["labels"], line(two_days, "A")["data"]) == (["2024-05-06", "2024-05-07"], [2, 1])
    # A bare date_to includes that whole local day, and no more.
    monday = project.query(segmentation(series=[{"event": "Purchase"}], date_from="2024-05-06", date_to="2024-05-06"))
    assert (monday["labels"], line(monday, "A")["total"]) == (["2024-05-06"], 2)
    # Times are instants: a date_to with a time ends there.
    until = project.query(
        segmentation(series=[{"event": "Purchase"}], date_from="2024-05-06", date_to="2024-05-06T23:30:00")
    )
    assert line(until, "A")["total"] == 1  # the Monday 23:30 purchase is the end of the range, not inside it


def test_the_week_clocks_go_forward(project: InsightProject) -> None:
    # Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on Sunday 2024-03-31.
    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text)

    project.track(
        {
            "alice": [
                ("Purchase", at("2024-03-30T22:30:00+00:00")),  # 23:30 on Saturday (UTC+1)
                ("Purchase", at("2024-03-30T23:30:00+00:00")),  # 00:30 on Sunday (UTC+1)
                ("Purchase", at("2024-03-31T00:30:00+00:00")),  # 01:30 on Sunday (UTC+1)
                ("Purchase", at("2024-03-31T01:30:00+00:00")),  # 03:30 on Sunday (UTC+2)
                ("Purchase", at("2024-03-31T21:30:00+00:00")),  # 23:30 on Sunday (UTC+2)
                ("Purchase", at("2024-03-31T22:30:00+00:00")),  # 00:30 on Monday 2024-04-01
            ]
        }
    )
    series = [{"event": "Purchase"}]
    days = project.query(segmentation(series=series, date_from="2024-03-25", date_to="2024-03-31"))
    assert days["labels"][-2:] == ["2024-03-30", "2024-03-31"]
    assert line(days, "A")["data"] == [0, 0, 0, 0, 0, 1, 4]
    weeks = project.query(segmentation(series=series, date_from="2024-03-25", date_to="2024-04-01", interval="week"))
    assert (weeks["labels"], line(weeks, "A")["data"]) == (["2024-03-25", "2024-04-01"], [5, 1])
    hours = project.query(segmentation(series=series, date_from="2024-03-31", date_to="2024-03-31", interval="hour"))
    assert len(hours["labels"]) == 23 and "2024-03-31 02:00:00" not in hours["labels"]
    counted = {label: count for label, count in zip(hours["labels"], line(hours, "A")["data"], strict=True) if count}
    assert counted == {
        "2024-03-31 00:00:00": 1,
        "2024-03-31 01:00:00": 1,
        "2024-03-31 03:00:00": 1,
        "2024-03-31 23:00:00": 1,
    }


def test_hours_in_a_time_zone_half_an_hour_off_utc(shared_workspace: Workspace) -> None:
    project = InsightProject(shared_workspace, timezone="Asia/Kolkata")  # UTC+5:30

    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text)

    project.track(
        {
            "alice": [
                ("Purchase", at("2024-05-05T18:20:00+00:00")),  # 23:50 on Sunday: before the range
                ("Purchase", at("2024-05-05T18:40:00+00:00")),  # 00:10 on Monday
                ("Purchase", at("2024-05-05T19:20:00+00:00")),  # 00:50
                ("Purchase", at("2024-05-06T18:10:00+00:00")),  # 23:40
            ]
        }
    )
    result = project.query(
        segmentation(series=[{"event": "Purchase"}], date_from="2024-05-06", date_to="2024-05-06", interval="hour")
    )
    assert result["labels"] == [f"2024-05-06 {hour:02}:00:00" for hour in range(24)]
    assert line(result, "A")["data"] == [2] + [0] * 22 + [1]


def test_filters_of_the_spec_and_of_a_series(project: InsightProject) -> None:
    project.track(
        {
            "alice": [
                ("Purchase", T0, {"properties": {"plan": "pro", "amount": 5}}),
                ("Purchase", T0, {"properties": {"plan": "free", "amount": 5}}),
                ("Purchase", T0, {"properties": {"plan": "pro", "amount": 50}}),
            ]
        }
    )
    result = project.query(
        segmentation(
            series=[{"event": "Purchase", "filters": [{"key": "amount", "operator": "gt", "value": 10}]}],
            filters=[{"key": "plan", "value": "pro"}],
        )
    )
    assert line(result, "A")["total"] == 1


def test_no_events_give_one_empty_line(project: InsightProject) -> None:
    result = project.query(
        segmentation(
            series=[{"event": "Purchase", "math": "unique"}, {"event": "Purchase", "math": "avg", "property": "x"}]
        )
    )
    assert [(item["data"], item["total"]) for item in result["series"]] == [([0, 0, 0], 0), ([None] * 3, None)]


# Random event logs against the reference

MATHS = ["total", "unique", "sum", "avg", "min", "max", "median", "p90"]


@st.composite
def segmentation_specs(draw: st.DrawFn, dates: dict[str, str]) -> dict[str, Any]:
    series = []
    for _ in range(draw(st.integers(1, 3))):
        item: dict[str, Any] = {
            "event": draw(st.sampled_from([*EVENT_NAMES[:3], None])),
            "math": draw(st.sampled_from(MATHS)),
        }
        if item["math"] not in reference.COUNTING:
            item["property"] = "amount"
        if draw(st.integers(0, 3)) == 0:
            item["filters"] = [{"key": "plan", "value": draw(st.sampled_from(PLANS))}]
        series.append(item)
    spec: dict[str, Any] = {
        "kind": "segmentation",
        **dates,
        "interval": draw(st.sampled_from(["day", "hour", "week", "month"])),
        "series": series,
        "frequency": draw(st.booleans()),
    }
    if draw(st.booleans()):
        spec["breakdown"] = {"key": "plan", "limit": draw(st.integers(1, 3))}
    if len(series) >= 2 and draw(st.booleans()):
        spec["formula"] = draw(st.sampled_from(sorted(reference.FORMULAS)))
    if draw(st.integers(0, 4)) == 0:
        spec["filters"] = [{"key": "plan", "value": draw(st.sampled_from(PLANS))}]
    return spec


def assert_same_segmentation(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal results; lines of one series may come in any order among equal totals."""

    def key(item: dict[str, Any]) -> tuple[str, str]:
        return item["series"], item.get("breakdown_value") or ""

    assert {**actual, "series": sorted(actual["series"], key=key)} == approximately(
        {**expected, "series": sorted(expected["series"], key=key)}
    )
    letters = [item["series"] for item in actual["series"]]
    assert letters == sorted(letters)
    for before, after in zip(actual["series"], actual["series"][1:], strict=False):
        if before["series"] == after["series"]:
            assert (before.get("breakdown_value") == reference.OTHER, -(before["total"] or 0)) <= (
                after.get("breakdown_value") == reference.OTHER,
                -(after["total"] or 0),
            )


# Where random logs are queried: the default range, and a range in each time zone that crosses a change of
# its clocks (Berlin goes forward on 31 March; Los Angeles back on 3 November, when 01:00 comes twice) or,
# in Kolkata (UTC+5:30), a month boundary.
SCENARIOS = [
    (TIMEZONE, RANDOM_RANGE),
    ("Europe/Berlin", {"date_from": "2024-03-30", "date_to": "2024-04-01"}),
    ("America/Los_Angeles", {"date_from": "2024-11-02", "date_to": "2024-11-04"}),
    ("Asia/Kolkata", {"date_from": "2024-04-29", "date_to": "2024-05-01"}),
]


@pytest.mark.parametrize(
    ("timezone", "dates"), SCENARIOS, ids=[f"{zone}-{dates['date_from']}" for zone, dates in SCENARIOS]
)
@settings(max_examples=5, deadline=None, database=None, derandomize=True)
@given(data=st.data(), timelines=st.booleans())
def test_random_logs_match_the_reference(
    shared_workspace: Workspace, timezone: str, dates: dict[str, str], data: st.DataObject, timelines: bool
) -> None:
    """With `timelines`, person timelines are built after the first batch, whose persons the second may merge."""
    start, end = reference.date_range(dates, timezone)
    # The grid starts 3 hours before the range and ends 6 hours after it.
    log = data.draw(event_logs(start - 3 * HOUR, (end - start) // HOUR + 9), label="log")
    specs = data.draw(st.lists(segmentation_specs(dates), min_size=2, max_size=2), label="specs")
    project = InsightProject(shared_workspace, timezone=timezone)
    for number, batch in enumerate(log):
        project.ingest(batch)
        if timelines and number == 0:
            project.compact()
    events = reference.events_of([document for batch in log for document in batch], project.person_ids().__getitem__)
    for spec in specs:
        assert_same_segmentation(project.query(spec), reference.segmentation(events, spec, timezone, NOW))
