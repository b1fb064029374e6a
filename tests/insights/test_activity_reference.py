"""Active users, stickiness, lifecycle, retention and paths on random activity, against the pure-Python
reference (activity_reference.py): persons active on random local days in one of three time zones, over a
range that crosses a change of the clocks there (none in Kolkata) and a month boundary, some through an
anonymous device linked to them later, with a plan on some events and an account on most."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.workspace import Workspace
from tests.insights import activity_reference as reference
from tests.insights.conftest import InsightProject, approximately, reads_timelines

FIRST = dt.date(2024, 3, 1)
DAYS = 60
BURST_DAYS = 10
HOURS = (0, 1, 12, 23)  # local hours: near midnight, a day differs between time zones
NOW = dt.datetime(2024, 5, 15, tzinfo=dt.UTC)
EVENTS = ("Search", "Signed In", "Viewed Page", "Password Reset")
PLANS = ("free", "pro", "team", None)
# Los Angeles moves to summer time on 10 March, Berlin on 31 March; Kolkata (UTC+5:30) never does.
ZONES = st.sampled_from(["Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"])
RANGE = {"date_from": "2024-03-05", "date_to": "2024-04-05"}
TIMELINES = st.sampled_from(["none", "before links", "after all"])
BREAKDOWNS = st.one_of(st.none(), st.builds(lambda limit: {"key": "plan", "limit": limit}, st.integers(1, 3)))
COUNT_BY = st.sampled_from(["persons", "account"])


@dataclass(frozen=True)
class Row:
    """One event: person i's, on day `offset` after FIRST at `hour` local time, with a plan or none, in an
    account or none."""

    person: int
    offset: int
    event: str
    hour: int
    plan: str | None
    account: str | None


@st.composite
def activity(draw: st.DrawFn) -> list[Row]:
    """Each person is active in one to three bursts of up to BURST_DAYS days, so that a sign-in is often
    followed by searches within a few days, weeks or months."""
    rows = []
    for person in range(draw(st.integers(1, 5))):
        usual_account = f"account{draw(st.integers(0, 2))}"
        bursts = draw(st.lists(st.integers(0, DAYS - BURST_DAYS), min_size=1, max_size=3))
        for _ in range(draw(st.integers(1, 12))):
            offset = draw(st.sampled_from(bursts)) + draw(st.integers(0, BURST_DAYS - 1))
            event = draw(st.sampled_from(EVENTS))
            hour = draw(st.sampled_from(HOURS))
            account = draw(st.sampled_from([usual_account, usual_account, "account3", None]))
            rows.append(Row(person, offset, event, hour, draw(st.sampled_from(PLANS)), account))
    return rows


# About how long a retention period is, in days; `with_returns` puts searches near their ends.
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}
LAST_OFFSET = 70  # before NOW: later returns would not have happened yet


@st.composite
def with_returns(draw: st.DrawFn, interval: str) -> list[Row]:
    """`activity()` plus, for each person, a sign-in in the range and searches 0 to 3 periods after it, give or
    take a day: random activity alone has too few returns, and too few near the end of a period, to tell
    retention's periods apart."""
    rows = draw(activity())
    for person in sorted({row.person for row in rows}):
        signed_in = draw(st.integers(4, 35))  # 5 March to 5 April
        returns = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 1)), min_size=1, max_size=4))
        days_after = [max(periods * PERIOD_DAYS[interval] + nudge, 0) for periods, nudge in returns]
        for offset, event in [(signed_in, "Signed In"), *((signed_in + days, "Search") for days in days_after)]:
            hour = draw(st.sampled_from(HOURS))
            account = draw(st.sampled_from(["account0", "account1", None]))
            rows.append(Row(person, min(offset, LAST_OFFSET), event, hour, draw(st.sampled_from(PLANS)), account))
    return rows


def documents(rows: list[Row], link: bool, timezone: str) -> list[dict[str, Any]]:
    zone = zoneinfo.ZoneInfo(timezone)
    found = []
    for row in rows:
        local = dt.datetime.combine(FIRST + dt.timedelta(days=row.offset), dt.time(row.hour), zone)
        # Odd persons' first events come from a device; a later event links it to the person (when `link`).
        distinct = f"device{row.person}" if row.person % 2 and row.offset < DAYS // 2 else f"user{row.person}"
        document: dict[str, Any] = {
            "event": row.event,
            "distinct_id": distinct,
            "timestamp": local.astimezone(dt.UTC).isoformat(),
        }
        if row.plan is not None:
            document["properties"] = {"plan": row.plan}
        if row.account is not None:
            document["groups"] = {"account": row.account}
        found.append(document)
    if link:
        late = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS + 5), dt.time(12), zone)
        for person in sorted({row.person for row in rows if row.person % 2}):
            found.append(
                {"event": "Signed In", "distinct_id": f"user{person}", "user_id": f"user{person}",
                 "device_id": f"device{person}", "timestamp": late.astimezone(dt.UTC).isoformat()}
            )  # fmt: skip
    return found


def ingest_in_two_parts(
    rows: list[Row], link: bool, timelines: str, timezone: str, shared_workspace: Workspace
) -> InsightProject:
    """A project in `timezone` with the events, then the links that merge persons; person timelines built
    before the links, after all, or never ("none"), so that queries read the events, timelines with merges
    since, or fresh timelines."""
    project = InsightProject(shared_workspace, timezone=timezone)
    unlinked = documents(rows, False, timezone)
    project.ingest(unlinked)
    if timelines == "before links":
        project.compact()
    if link:
        project.ingest(documents(rows, link, timezone)[len(unlinked) :])
    if timelines == "after all":
        project.compact()
    return project


# Who counts as active: the default (no sign-ins, sign-ups, sign-outs or password events, nor `backend`), other
# patterns and senders, or a list of events (still without the default's).
DEFINITIONS = st.sampled_from(
    [
        {},
        {"excluded_events": ["%page%"], "excluded_distinct_ids": ["user1", "device1"]},
        {"events": ["Search", "Password Reset"]},
    ]
)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    rows=activity(),
    link=st.booleans(),
    timelines=TIMELINES,
    timezone=ZONES,
    breakdown=BREAKDOWNS,
    count_by=COUNT_BY,
    definition=DEFINITIONS,
)
def test_active_users_match_the_reference(
    shared_workspace: Workspace,
    rows: list[Row],
    link: bool,
    timelines: str,
    timezone: str,
    breakdown: dict[str, Any] | None,
    count_by: str,
    definition: dict[str, Any],
) -> None:
    """Read from the events, or from person timelines built before the links that merge persons or after."""
    project = ingest_in_two_parts(rows, link, timelines, timezone, shared_workspace)
    spec = {"kind": "active_users", **RANGE, "count_by": count_by, **definition}
    if breakdown:
        spec["breakdown"] = breakdown
    run = project.run(spec, now=NOW)
    # Timelines hold persons' active days by the default definition.
    timeline = timelines != "none" and count_by == "persons" and not definition
    assert ("timeline_days" in run.sql.get("days", "")) == timeline
    activities = reference.activities_of(documents(rows, link, timezone), count_by)
    assert run.result == approximately(reference.active_users(activities, spec, timezone, NOW))


@pytest.mark.parametrize("interval", ["week", "month"])
@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    rows=activity(),
    link=st.booleans(),
    timelines=TIMELINES,
    timezone=ZONES,
    cumulative=st.booleans(),
    breakdown=BREAKDOWNS,
    count_by=COUNT_BY,
)
def test_stickiness_matches_the_reference(
    shared_workspace: Workspace,
    rows: list[Row],
    link: bool,
    timelines: str,
    timezone: str,
    interval: str,
    cumulative: bool,
    breakdown: dict[str, Any] | None,
    count_by: str,
) -> None:
    project = ingest_in_two_parts(rows, link, timelines, timezone, shared_workspace)
    spec = {"kind": "stickiness", **RANGE, "interval": interval, "cumulative": cumulative, "count_by": count_by}
    if breakdown:
        spec["breakdown"] = breakdown
    run = project.run(spec, now=NOW)
    assert ("timeline_days" in run.sql["days"]) == (timelines != "none" and count_by == "persons")
    activities = reference.activities_of(documents(rows, link, timezone), count_by)
    assert run.result == reference.stickiness(activities, spec, timezone)


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@settings(max_examples=6, deadline=None, derandomize=True)
@given(rows=activity(), link=st.booleans(), timelines=TIMELINES, timezone=ZONES, count_by=COUNT_BY)
def test_lifecycle_matches_the_reference(
    shared_workspace: Workspace,
    rows: list[Row],
    link: bool,
    timelines: str,
    timezone: str,
    interval: str,
    count_by: str,
) -> None:
    project = ingest_in_two_parts(rows, link, timelines, timezone, shared_workspace)
    spec = {"kind": "lifecycle", **RANGE, "interval": interval, "count_by": count_by}
    run = project.run(spec, now=NOW)
    assert ("timeline_days" in run.sql["days"]) == (timelines != "none" and count_by == "persons")
    activities = reference.activities_of(documents(rows, link, timezone), count_by)
    assert run.result == reference.lifecycle(activities, spec, timezone, NOW)


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    data=st.data(),
    link=st.booleans(),
    timelines=TIMELINES,
    timezone=ZONES,
    rolling=st.booleans(),
    start_type=st.sampled_from(["recurring", "first_time"]),
    measure=st.sampled_from(["return_on", "return_on_or_after"]),
    breakdown=BREAKDOWNS,
    count_by=COUNT_BY,
)
def test_retention_matches_the_reference(
    shared_workspace: Workspace,
    data: st.DataObject,
    link: bool,
    timelines: str,
    timezone: str,
    interval: str,
    rolling: bool,
    start_type: str,
    measure: str,
    breakdown: dict[str, Any] | None,
    count_by: str,
) -> None:
    """Cohorts start with signing in and return with a search; with a breakdown, by the plan of the sign-in."""
    rows = data.draw(with_returns(interval), label="rows")
    project = ingest_in_two_parts(rows, link, timelines, timezone, shared_workspace)
    spec = {
        "kind": "retention",
        **RANGE,
        "interval": interval,
        "rolling": rolling,
        "start": {"event": "Signed In"},
        "return": {"event": "Search"},
        "start_type": start_type,
        "measure": measure,
        "periods": 4,
        "count_by": count_by,
    }
    if breakdown:
        spec["breakdown"] = breakdown
    run = project.run(spec, now=NOW)
    assert reads_timelines(run) == (timelines != "none" and count_by == "persons" and not breakdown)
    lines = [
        {
            **({"breakdown_value": line["breakdown_value"]} if "breakdown_value" in line else {}),
            "cohorts": {cohort["cohort"]: cohort["counts"] for cohort in line["cohorts"]},
        }
        for line in run.result["results"]
    ]
    activities = reference.activities_of(documents(rows, link, timezone), count_by)
    assert lines == reference.retention(activities, spec, timezone)["results"]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    rows=activity(),
    link=st.booleans(),
    timezone=ZONES,
    anchor=st.sampled_from([{}, {"start_event": "Search"}, {"end_event": "Viewed Page"}]),
    collapse=st.booleans(),
)
def test_paths_match_a_brute_force_walk(
    shared_workspace: Workspace, rows: list[Row], link: bool, timezone: str, anchor: dict[str, str], collapse: bool
) -> None:
    project = InsightProject(shared_workspace, timezone=timezone)
    project.ingest(documents(rows, link, timezone))
    spec = {"kind": "paths", **RANGE, **anchor, "steps": 3, "collapse_repeats": collapse, "top": 3}
    result = project.query(spec, now=NOW)
    first, last = reference.dates_of(spec)
    by_actor: dict[str, list[tuple[dt.datetime, str]]] = {}
    for activity_row in reference.activities_of(documents(rows, link, timezone)):
        if first <= reference.local_day(activity_row.time, timezone) <= last:
            by_actor.setdefault(activity_row.actor, []).append((activity_row.time, activity_row.name))
    paths: dict[tuple[str, ...], int] = {}
    for events in by_actor.values():
        names = [event for _, event in sorted(events)]  # time, then name for ties
        if "end_event" in anchor:
            if anchor["end_event"] not in names:
                continue
            end = len(names) - 1 - names[::-1].index(anchor["end_event"])
            names = names[: end + 1][::-1]
        elif "start_event" in anchor:
            if anchor["start_event"] not in names:
                continue
            names = names[names.index(anchor["start_event"]) :]
        walk: list[str] = []
        for name in names:
            if not (collapse and walk and walk[-1] == name):
                walk.append(name)
        walk = walk[:3]
        key = tuple(walk[::-1] if "end_event" in anchor else walk)
        paths[key] = paths.get(key, 0) + 1
    ranked = sorted(paths.items(), key=lambda item: (-item[1], item[0]))
    expected = [{"path": list(path), "actors": count} for path, count in ranked[:3]]
    if sum(count for _, count in ranked[3:]):
        expected.append({"path": ["$other"], "actors": sum(count for _, count in ranked[3:])})
    assert result["paths"] == expected
    assert result["actors"] == sum(paths.values())
