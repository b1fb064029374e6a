"""Active users, stickiness, lifecycle, retention and paths on random activity, against the pure-Python
reference (activity_reference.py): persons active on random local days (around a DST change in Berlin and
across a month boundary), some through an anonymous device linked to them later, with a plan on some events."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.workspace import Workspace
from tests.insights import activity_reference as reference
from tests.insights.conftest import InsightProject, approximately, reads_timelines

TIMEZONE = "Europe/Berlin"
FIRST = dt.date(2024, 3, 1)  # Berlin moves to summer time on 31 March
DAYS = 60
NOW = dt.datetime(2024, 5, 15, tzinfo=dt.UTC)
EVENTS = ("Search", "Signed In", "Viewed Page")
PLANS = ("free", "pro", "team", None)
RANGE = {"date_from": "2024-03-20", "date_to": "2024-04-20"}
TIMELINES = st.sampled_from(["none", "before links", "after all"])
BREAKDOWNS = st.one_of(st.none(), st.builds(lambda limit: {"key": "plan", "limit": limit}, st.integers(1, 3)))


@dataclass(frozen=True)
class Row:
    """One event: person i's, on day `offset` after FIRST at `hour` local time, with a plan or none."""

    person: int
    offset: int
    event: str
    hour: int
    plan: str | None


@st.composite
def activity(draw: st.DrawFn) -> list[Row]:
    rows = []
    for person in range(draw(st.integers(1, 5))):
        for _ in range(draw(st.integers(1, 12))):
            offset = draw(st.integers(0, DAYS - 1))
            event = draw(st.sampled_from(EVENTS))
            rows.append(Row(person, offset, event, draw(st.sampled_from([0, 1, 12, 23])), draw(st.sampled_from(PLANS))))
    return rows


def documents(rows: list[Row], link: bool) -> list[dict[str, Any]]:
    zone = zoneinfo.ZoneInfo(TIMEZONE)
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
        found.append(document)
    if link:
        late = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS + 5), dt.time(12), zone)
        for person in sorted({row.person for row in rows if row.person % 2}):
            found.append(
                {"event": "Signed In", "distinct_id": f"user{person}", "user_id": f"user{person}",
                 "device_id": f"device{person}", "timestamp": late.astimezone(dt.UTC).isoformat()}
            )  # fmt: skip
    return found


def ingest_in_two_parts(rows: list[Row], link: bool, timelines: str, shared_workspace: Workspace) -> InsightProject:
    """A project with the events, then the links that merge persons; person timelines built before the links,
    after all, or never ("none"), so that queries read the events, timelines with merges since, or fresh
    timelines."""
    project = InsightProject(shared_workspace)
    unlinked = documents(rows, link=False)
    project.ingest(unlinked)
    if timelines == "before links":
        project.compact()
    if link:
        project.ingest(documents(rows, link)[len(unlinked) :])
    if timelines == "after all":
        project.compact()
    return project


@settings(max_examples=15, deadline=None, derandomize=True)
@given(rows=activity(), link=st.booleans(), timelines=TIMELINES, breakdown=BREAKDOWNS)
def test_active_users_match_the_reference(
    shared_workspace: Workspace, rows: list[Row], link: bool, timelines: str, breakdown: dict[str, Any] | None
) -> None:
    """Read from the events, or from person timelines built before the links that merge persons or after."""
    project = ingest_in_two_parts(rows, link, timelines, shared_workspace)
    spec = {"kind": "active_users", **RANGE, **({"breakdown": breakdown} if breakdown else {})}
    run = project.run(spec, now=NOW)
    assert ("timeline_days" in run.sql.get("days", "")) == (timelines != "none")
    expected = reference.active_users(reference.activities_of(documents(rows, link)), spec, TIMEZONE)
    assert run.result == approximately(expected)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(rows=activity(), link=st.booleans(), timelines=TIMELINES, cumulative=st.booleans(), breakdown=BREAKDOWNS)
def test_stickiness_matches_the_reference(
    shared_workspace: Workspace,
    rows: list[Row],
    link: bool,
    timelines: str,
    cumulative: bool,
    breakdown: dict[str, Any] | None,
) -> None:
    project = ingest_in_two_parts(rows, link, timelines, shared_workspace)
    spec = {"kind": "stickiness", **RANGE, "interval": "week", "cumulative": cumulative}
    if breakdown:
        spec["breakdown"] = breakdown
    run = project.run(spec, now=NOW)
    assert ("timeline_days" in run.sql["days"]) == (timelines != "none")
    assert run.result == reference.stickiness(reference.activities_of(documents(rows, link)), spec, TIMEZONE)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(rows=activity(), link=st.booleans(), timelines=TIMELINES)
def test_lifecycle_matches_the_reference(
    shared_workspace: Workspace, rows: list[Row], link: bool, timelines: str
) -> None:
    project = ingest_in_two_parts(rows, link, timelines, shared_workspace)
    spec = {"kind": "lifecycle", **RANGE, "interval": "week"}
    run = project.run(spec, now=NOW)
    assert ("timeline_days" in run.sql["days"]) == (timelines != "none")
    assert run.result == reference.lifecycle(reference.activities_of(documents(rows, link)), spec, TIMEZONE)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    rows=activity(),
    link=st.booleans(),
    start_type=st.sampled_from(["recurring", "first_time"]),
    measure=st.sampled_from(["return_on", "return_on_or_after"]),
    timelines=TIMELINES,
)
def test_retention_matches_the_reference(
    shared_workspace: Workspace, rows: list[Row], link: bool, start_type: str, measure: str, timelines: str
) -> None:
    project = ingest_in_two_parts(rows, link, timelines, shared_workspace)
    spec = {
        "kind": "retention",
        **RANGE,
        "interval": "week",
        "start": {"event": "Signed In"},
        "return": {"event": "Search"},
        "start_type": start_type,
        "measure": measure,
        "periods": 4,
    }
    run = project.run(spec, now=NOW)
    assert reads_timelines(run) == (timelines != "none")
    lines = [
        {
            **({"breakdown_value": line["breakdown_value"]} if "breakdown_value" in line else {}),
            "cohorts": {cohort["cohort"]: cohort["counts"] for cohort in line["cohorts"]},
        }
        for line in run.result["results"]
    ]
    expected = reference.retention(reference.activities_of(documents(rows, link)), spec, TIMEZONE)
    assert lines == expected["results"]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    rows=activity(),
    link=st.booleans(),
    anchor=st.sampled_from([{}, {"start_event": "Search"}, {"end_event": "Viewed Page"}]),
    collapse=st.booleans(),
)
def test_paths_match_a_brute_force_walk(
    shared_workspace: Workspace, rows: list[Row], link: bool, anchor: dict[str, str], collapse: bool
) -> None:
    project = InsightProject(shared_workspace)
    project.ingest(documents(rows, link))
    spec = {"kind": "paths", **RANGE, **anchor, "steps": 3, "collapse_repeats": collapse, "top": 3}
    result = project.query(spec, now=NOW)
    first, last = reference.dates_of(spec)
    by_actor: dict[str, list[tuple[dt.datetime, str]]] = {}
    for activity_row in reference.activities_of(documents(rows, link)):
        if first <= reference.local_day(activity_row.time, TIMEZONE) <= last:
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
