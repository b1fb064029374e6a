"""Active users, stickiness and lifecycle on random activity, against a brute-force reference: persons active
on random local days (around a DST change in Berlin and across a month boundary), some through an anonymous
device linked to them later."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.workspace import Workspace
from tests.insights.conftest import InsightProject, reads_timelines

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
FIRST = dt.date(2024, 3, 1)  # Berlin moves to summer time on 31 March
DAYS = 60
NOW = dt.datetime(2024, 5, 15, tzinfo=dt.UTC)
EVENTS = ("Search", "Signed In", "Viewed Page")


@st.composite
def activity(draw: st.DrawFn) -> list[tuple[int, int, str, int]]:
    """(person, day offset, event, hour of the local day) rows."""
    rows = []
    for person in range(draw(st.integers(1, 5))):
        for _ in range(draw(st.integers(1, 12))):
            rows.append(
                (
                    person,
                    draw(st.integers(0, DAYS - 1)),
                    draw(st.sampled_from(EVENTS)),
                    draw(st.sampled_from([0, 1, 12, 23])),
                )
            )
    return rows


def documents(rows: list[tuple[int, int, str, int]], link: bool) -> list[dict[str, Any]]:
    found = []
    for person, offset, event, hour in rows:
        local = dt.datetime.combine(FIRST + dt.timedelta(days=offset), dt.time(hour), BERLIN)
        # Odd persons' first events come from a device; a later event links it to the person (when `link`).
        distinct = f"device{person}" if person % 2 and offset < DAYS // 2 else f"user{person}"
        found.append({"event": event, "distinct_id": distinct, "timestamp": local.astimezone(dt.UTC).isoformat()})
    if link:
        for person in {row[0] for row in rows if row[0] % 2}:
            late = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS + 5), dt.time(12), BERLIN).astimezone(dt.UTC)
            found.append(
                {"event": "Signed In", "distinct_id": f"user{person}", "user_id": f"user{person}",
                 "device_id": f"device{person}", "timestamp": late.isoformat()}
            )  # fmt: skip
    return found


def actor(person: int, offset: int, link: bool) -> str:
    return f"user{person}" if link or not (person % 2 and offset < DAYS // 2) else f"device{person}"


def active_days(rows: list[tuple[int, int, str, int]], link: bool, counted: set[str]) -> set[tuple[str, dt.date]]:
    return {(actor(p, o, link), FIRST + dt.timedelta(days=o)) for p, o, event, _ in rows if event in counted}


RANGE = {"date_from": "2024-03-20", "date_to": "2024-04-20"}


def ingest_in_two_parts(project: InsightProject, rows: list[Any], link: bool, timelines: str) -> None:
    """The events, then the links that merge persons; person timelines built before the links, after all,
    or never ("none"), so that queries read the events, timelines with merges since, or fresh timelines."""
    unlinked = documents(rows, link=False)
    project.ingest(unlinked)
    if timelines == "before links":
        project.compact()
    if link:
        project.ingest(documents(rows, link)[len(unlinked) :])
    if timelines == "after all":
        project.compact()


@settings(max_examples=15, deadline=None, derandomize=True)
@given(rows=activity(), link=st.booleans(), timelines=st.sampled_from(["none", "before links", "after all"]))
def test_active_users_match_a_brute_force_count(
    shared_workspace: Workspace, rows: list[Any], link: bool, timelines: str
) -> None:
    """Read from the events, or from person timelines built before the links that merge persons or after."""
    project = InsightProject(shared_workspace)
    ingest_in_two_parts(project, rows, link, timelines)
    run = project.run({"kind": "active_users", **RANGE}, now=NOW)
    assert ("timeline_days" in run.sql.get("days", "")) == (timelines != "none")
    result = run.result
    days = active_days(rows, link, {"Search", "Viewed Page"})  # signing in is not activity
    first, last = dt.date(2024, 3, 20), dt.date(2024, 4, 20)
    calendar = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]

    def window(day: dt.date, width: int) -> int:
        return len({who for who, when in days if day - dt.timedelta(days=width - 1) <= when <= day})

    assert result["dau"] == [window(day, 1) for day in calendar]
    assert result["wau"] == [window(day, 7) for day in calendar]
    assert result["mau"] == [window(day, 30) for day in calendar]
    for month in result["dau_mau_by_month"]:
        start = dt.date.fromisoformat(month["month"])
        in_month = [
            day for day in (start + dt.timedelta(days=n) for n in range(31)) if day.month == start.month and day <= last
        ]
        mau = len({who for who, when in days if when.month == start.month and when <= last})
        assert month["mau"] == mau
        average = sum(window(day, 1) for day in in_month) / len(in_month)
        assert month["average_dau"] == round(average, 6)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(rows=activity(), link=st.booleans(), timelines=st.sampled_from(["none", "before links", "after all"]))
def test_stickiness_and_lifecycle_match_a_brute_force_count(
    shared_workspace: Workspace, rows: list[Any], link: bool, timelines: str
) -> None:
    project = InsightProject(shared_workspace)
    ingest_in_two_parts(project, rows, link, timelines)
    days = active_days(rows, link, set(EVENTS))
    if link:  # the linking events are activity too
        days |= {(f"user{p}", FIRST + dt.timedelta(days=DAYS + 5)) for p in {row[0] for row in rows if row[0] % 2}}
    weeks = [dt.date(2024, 3, 18) + dt.timedelta(weeks=n) for n in range(5)]  # Mondays from 18 March

    run = project.run({"kind": "stickiness", **RANGE, "interval": "week"}, now=NOW)
    assert ("timeline_days" in run.sql["days"]) == (timelines != "none")
    sticky = run.result
    for period in sticky["periods"]:
        start = dt.date.fromisoformat(period["period"])
        per_actor: dict[str, int] = {}
        for who, when in days:
            if start <= when < start + dt.timedelta(days=7):
                per_actor[who] = per_actor.get(who, 0) + 1
        expected = [sum(1 for count in per_actor.values() if count == n) for n in range(1, 8)]
        assert period["actors"] == expected, period["period"]

    life = project.query({"kind": "lifecycle", **RANGE, "interval": "week"}, now=NOW)
    assert life["labels"] == [week.isoformat() for week in weeks]

    def active(who: str, week: dt.date) -> bool:
        return any(w == who and week <= when < week + dt.timedelta(days=7) for w, when in days)

    actors = {who for who, _ in days}
    for index, week in enumerate(weeks):
        previous = week - dt.timedelta(days=7)
        first_seen = {who: min(when for w, when in days if w == who) for who in actors}
        new = sum(1 for who in actors if active(who, week) and week <= first_seen[who] < week + dt.timedelta(days=7))
        returning = sum(1 for who in actors if active(who, week) and active(who, previous) and first_seen[who] < week)
        resurrecting = sum(
            1 for who in actors if active(who, week) and not active(who, previous) and first_seen[who] < week
        )
        dormant = sum(1 for who in actors if active(who, previous) and not active(who, week))
        got = (life["new"][index], life["returning"][index], life["resurrecting"][index], life["dormant"][index])
        assert got == (new, returning, resurrecting, -dormant), week


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    rows=activity(),
    link=st.booleans(),
    start_type=st.sampled_from(["recurring", "first_time"]),
    measure=st.sampled_from(["return_on", "return_on_or_after"]),
    timelines=st.sampled_from(["none", "before links", "after all"]),
)
def test_weekly_retention_matches_a_brute_force_count(
    shared_workspace: Workspace, rows: list[Any], link: bool, start_type: str, measure: str, timelines: str
) -> None:
    project = InsightProject(shared_workspace)
    ingest_in_two_parts(project, rows, link, timelines)
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
    result = run.result

    def monday(day: dt.date) -> dt.date:
        return day - dt.timedelta(days=day.weekday())

    timed = [(actor(p, o, link), FIRST + dt.timedelta(days=o), hour, event) for p, o, event, hour in rows]
    first, last = dt.date(2024, 3, 20), dt.date(2024, 4, 20)
    starts: dict[tuple[str, dt.date], tuple[dt.date, int]] = {}  # (actor, cohort) -> earliest start
    for who, day, hour, event in sorted(timed, key=lambda row: (row[1], row[2])):
        if event != "Signed In":
            continue
        if start_type == "first_time" and any(key[0] == who for key in starts):
            continue  # only the first start ever makes a cohort (and it must fall in the range)
        if start_type == "recurring" and not first <= day <= last:
            continue  # every start in the range makes its week a cohort, from the first start in the range
        starts.setdefault((who, monday(day)), (day, hour))
    starts = {key: value for key, value in starts.items() if first <= value[0] <= last}
    expected: dict[str, list[int]] = {}
    for (who, cohort), started in starts.items():
        counts = expected.setdefault(cohort.isoformat(), [0, 0, 0, 0])
        counts[0] += 1
        periods = {
            (monday(day) - cohort).days // 7
            for w, day, hour, event in timed
            if w == who and event == "Search" and (day, hour) > started
        }
        for period in range(1, 4):
            hit = any(p >= period for p in periods if p <= 3) if measure == "return_on_or_after" else period in periods
            counts[period] += hit
    (line,) = result["results"]
    got = {cohort["cohort"]: cohort["counts"] for cohort in line["cohorts"] if cohort["size"]}
    assert got == expected


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    rows=activity(),
    link=st.booleans(),
    anchor=st.sampled_from([{}, {"start_event": "Search"}, {"end_event": "Viewed Page"}]),
    collapse=st.booleans(),
)
def test_paths_match_a_brute_force_walk(
    shared_workspace: Workspace, rows: list[Any], link: bool, anchor: dict[str, str], collapse: bool
) -> None:
    project = InsightProject(shared_workspace)
    project.ingest(documents(rows, link))
    spec = {"kind": "paths", **RANGE, **anchor, "steps": 3, "collapse_repeats": collapse, "top": 3}
    result = project.query(spec, now=NOW)
    first, last = dt.date(2024, 3, 20), dt.date(2024, 4, 20)
    by_actor: dict[str, list[tuple[dt.date, int, str]]] = {}
    for person, offset, event, hour in rows:
        day = FIRST + dt.timedelta(days=offset)
        if first <= day <= last:
            by_actor.setdefault(actor(person, offset, link), []).append((day, hour, event))
    paths: dict[tuple[str, ...], int] = {}
    for events in by_actor.values():
        names = [event for _, _, event in sorted(events)]  # time, then name for ties
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
