"""A pure-Python reference for active users, stickiness, lifecycle and retention, written from the documented
rules (docs/insights.md and the runners' docstrings) and deliberately naive: every count is a set of actors
found by walking the events again. Tests compare the runners with it on random activity.

It supports the parts of a spec the generated activity uses: bare dates, `count_by` a group type, the
active-event definition of active users, an event property breakdown (active users, stickiness, retention),
and every retention option but brackets.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from tests.insights.reference import NONE, OTHER, period_start, resolve_persons, text

DEFAULT_EXCLUDED_EVENTS = (
    "%sign in%",
    "%signed in%",
    "%sign up%",
    "%signed up%",
    "%sign out%",
    "%signed out%",
    "%password%",
)
DEFAULT_EXCLUDED_DISTINCT_IDS = ("backend",)
ROLLING = {"day": dt.timedelta(days=1), "week": dt.timedelta(days=7), "month": dt.timedelta(days=30)}


@dataclass(frozen=True)
class Activity:
    """One event as the activity kinds see it: who it counts for, who sent it, what and when (UTC)."""

    actor: str
    distinct_id: str
    name: str
    time: dt.datetime
    properties: Mapping[str, Any]


def activities_of(documents: Sequence[Mapping[str, Any]], count_by: str = "persons") -> list[Activity]:
    """The events of documents, each counted for its person (the representative distinct id of its merged
    ids) or, with a group type, for its group of that type; events without that group count for nobody."""
    people = resolve_persons(documents)
    found = []
    for document in documents:
        distinct_id = document.get("distinct_id") or document.get("user_id") or document["device_id"]
        actor = people[distinct_id] if count_by == "persons" else (document.get("groups") or {}).get(count_by)
        if actor is not None:
            time = dt.datetime.fromisoformat(document["timestamp"]).astimezone(dt.UTC)
            found.append(Activity(actor, distinct_id, document["event"], time, document.get("properties") or {}))
    return found


# Dates and periods


def local_day(time: dt.datetime, timezone: str) -> dt.date:
    return time.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def next_period(day: dt.date, interval: str) -> dt.date:
    if interval == "month":
        return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + dt.timedelta(days=7 if interval == "week" else 1)


def period_end(day: dt.date, interval: str) -> dt.date:
    """The last day of the period that contains `day`."""
    return next_period(period_start(day, interval), interval) - dt.timedelta(days=1)


def ended(start: dt.date, interval: str, timezone: str, now: dt.datetime) -> bool:
    """Whether the period that starts on `start` is over by `now` in the time zone."""
    after = next_period(start, interval)
    return dt.datetime(after.year, after.month, after.day, tzinfo=zoneinfo.ZoneInfo(timezone)) <= now


def periods_between(first: dt.date, last: dt.date, interval: str) -> list[dt.date]:
    """The starts of every period from the one holding `first` to the one holding `last`."""
    found = [period_start(first, interval)]
    while next_period(found[-1], interval) <= last:
        found.append(next_period(found[-1], interval))
    return found


def periods_apart(earlier: dt.date, later: dt.date, interval: str) -> int:
    """How many calendar periods the period of `later` comes after that of `earlier`."""
    if interval == "month":
        return (later.year - earlier.year) * 12 + later.month - earlier.month
    days = (period_start(later, interval) - period_start(earlier, interval)).days
    return days // 7 if interval == "week" else days


def dates_of(spec: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(spec["date_from"]), dt.date.fromisoformat(spec["date_to"])


# Breakdowns


def value_of(activity: Activity, breakdown: Mapping[str, Any]) -> str:
    assert breakdown.get("type", "event") == "event"
    return text(activity.properties.get(breakdown["key"])) or NONE


def split(
    days: set[tuple[str, dt.date, str]], breakdown: Mapping[str, Any], first: dt.date, last: dt.date
) -> list[tuple[str, set[tuple[str, dt.date]]]]:
    """Each breakdown line's (actor, day) pairs, from (actor, day, value) triples: the values with the most
    actors active from `first` to `last` (then by value), and the rest together as `$other`."""
    volume: dict[str, set[str]] = defaultdict(set)
    for actor, day, value in days:
        if first <= day <= last:
            volume[value].add(actor)
    top = sorted(volume, key=lambda value: (-len(volume[value]), value))[: breakdown.get("limit", 10)]
    lines = [(value, {(actor, day) for actor, day, other in days if other == value}) for value in top]
    rest = {(actor, day) for actor, day, value in days if value not in top}
    return [*lines, (OTHER, rest)] if rest else lines


# Active users


def _like(pattern: str, name: str) -> bool:
    """SQL LIKE, case-insensitive (the patterns use only `%`)."""
    return fnmatchcase(name.lower(), pattern.lower().replace("%", "*"))


def active_users(
    activities: Iterable[Activity], spec: Mapping[str, Any], timezone: str, now: dt.datetime
) -> dict[str, Any]:
    excluded = spec.get("excluded_events", DEFAULT_EXCLUDED_EVENTS)
    excluded_ids = spec.get("excluded_distinct_ids", DEFAULT_EXCLUDED_DISTINCT_IDS)
    listed = spec.get("events")
    counted = [
        activity
        for activity in activities
        if not any(_like(pattern, activity.name) for pattern in excluded)
        and activity.distinct_id not in excluded_ids
        and (listed is None or activity.name in listed)
    ]
    first, last = dates_of(spec)
    days = {(activity.actor, local_day(activity.time, timezone)) for activity in counted}
    result: dict[str, Any] = {
        "labels": [day.isoformat() for day in days_between(first, last)],
        "incomplete": [not ended(day, "day", timezone, now) for day in days_between(first, last)],
    }
    result |= _active_counts(days, first, last)
    if breakdown := spec.get("breakdown"):
        # The days any shown number counts: MAU looks 29 days back, DAU/MAU to the first of the month.
        since = min(first - dt.timedelta(days=29), first.replace(day=1))
        valued = {
            (a.actor, day, value_of(a, breakdown))
            for a in counted
            if since <= (day := local_day(a.time, timezone)) <= last
        }
        result["breakdown"] = [
            {"breakdown_value": value, **_active_counts(line, first, last)}
            for value, line in split(valued, breakdown, first, last)
        ]
    return result


def _active_counts(days: set[tuple[str, dt.date]], first: dt.date, last: dt.date) -> dict[str, Any]:
    def active(since: dt.date, until: dt.date) -> int:
        return len({actor for actor, day in days if since <= day <= until})

    counts = {
        name: [active(day - dt.timedelta(days=width - 1), day) for day in days_between(first, last)]
        for name, width in (("dau", 1), ("wau", 7), ("mau", 30))
    }
    months = []
    for month in periods_between(first, last, "month"):
        month_days = days_between(month, min(period_end(month, "month"), last))
        average = sum(active(day, day) for day in month_days) / len(month_days)
        mau = active(month, min(period_end(month, "month"), last))
        months.append(
            {
                "month": month.isoformat(),
                "average_dau": round(average, 6),
                "mau": mau,
                "dau_mau": round(average / mau, 6) if mau else None,
                "complete": period_end(month, "month") <= last,
            }
        )
    return {**counts, "dau_mau_by_month": months}


# Stickiness and lifecycle: any event is activity, unless `events` lists the ones that are.


def _days_of(activities: Iterable[Activity], spec: Mapping[str, Any], timezone: str) -> set[tuple[str, dt.date]]:
    listed = spec.get("events")
    return {(a.actor, local_day(a.time, timezone)) for a in activities if listed is None or a.name in listed}


def stickiness(activities: Sequence[Activity], spec: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    interval = spec.get("interval", "week")
    most = 7 if interval == "week" else 31
    first, last = dates_of(spec)
    result: dict[str, Any] = {
        "interval": interval,
        "days": list(range(1, most + 1)),
        "cumulative": spec.get("cumulative", False),
        **_histograms(_days_of(activities, spec, timezone), spec, first, last),
    }
    if breakdown := spec.get("breakdown"):
        # Values are ranked on the whole periods the result counts.
        since, until = period_start(first, interval), period_end(last, interval)
        listed = spec.get("events")
        valued = {
            (a.actor, day, value_of(a, breakdown))
            for a in activities
            if (listed is None or a.name in listed) and since <= (day := local_day(a.time, timezone)) <= until
        }
        result["breakdown"] = [
            {"breakdown_value": value, **_histograms(line, spec, first, last)}
            for value, line in split(valued, breakdown, since, until)
        ]
    return result


def _histograms(days: set[tuple[str, dt.date]], spec: Mapping[str, Any], first: dt.date, last: dt.date) -> dict:
    interval = spec.get("interval", "week")
    most = 7 if interval == "week" else 31
    periods = []
    for start in periods_between(first, last, interval):
        per_actor: dict[str, int] = defaultdict(int)
        for actor, day in days:
            if start <= day <= period_end(start, interval):
                per_actor[actor] += 1
        exactly = [sum(1 for count in per_actor.values() if count == n) for n in range(1, most + 1)]
        at_least = [sum(1 for count in per_actor.values() if count >= n) for n in range(1, most + 1)]
        periods.append({"period": start.isoformat(), "actors": at_least if spec.get("cumulative") else exactly})
    total = [sum(period["actors"][index] for period in periods) for index in range(most)]
    return {"periods": periods, "total": total}


def lifecycle(
    activities: Sequence[Activity], spec: Mapping[str, Any], timezone: str, now: dt.datetime
) -> dict[str, Any]:
    interval = spec.get("interval", "week")
    first, last = dates_of(spec)
    active: dict[str, set[dt.date]] = defaultdict(set)  # actor -> starts of their active periods
    for actor, day in _days_of(activities, spec, timezone):
        active[actor].add(period_start(day, interval))
    labels = periods_between(first, last, interval)
    statuses: dict[str, list[int]] = {status: [] for status in ("new", "returning", "resurrecting", "dormant")}
    for start in labels:
        previous = periods_between(start - dt.timedelta(days=1), start - dt.timedelta(days=1), interval)[0]
        now_active = {actor for actor, periods in active.items() if start in periods}
        before = {actor for actor, periods in active.items() if min(periods) < start}
        was_active = {actor for actor, periods in active.items() if previous in periods}
        statuses["new"].append(len(now_active - before))
        statuses["returning"].append(len(now_active & was_active))
        statuses["resurrecting"].append(len((now_active & before) - was_active))
        statuses["dormant"].append(-len(was_active - now_active))
    incomplete = [not ended(start, interval, timezone, now) for start in labels]
    return {
        "interval": interval,
        "labels": [start.isoformat() for start in labels],
        "incomplete": incomplete,
        **statuses,
    }


# Retention


def retention(activities: Sequence[Activity], spec: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """Each line's cohorts as {cohort: [size, returned in column 1, ...]}, lines in the runner's order."""
    interval = spec.get("interval", "week")
    first, last = dates_of(spec)
    zone = zoneinfo.ZoneInfo(timezone)
    range_start = dt.datetime.combine(first, dt.time(), zone)
    range_end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    breakdown = spec.get("breakdown")
    last_period = spec.get("periods", 8) - 1

    def selected(activity: Activity, selector: Mapping[str, Any]) -> bool:
        return selector.get("event") in (None, activity.name)

    starts = sorted(
        (a for a in activities if selected(a, spec["start"])),
        key=lambda a: (a.time, value_of(a, breakdown) if breakdown else ""),
    )
    # (actor, cohort) -> (the first start's time, its breakdown value): ties in time take the smallest value.
    cohorts: dict[tuple[str, dt.date], tuple[dt.datetime, str | None]] = {}
    for activity in starts:
        cohort = period_start(local_day(activity.time, timezone), interval)
        if spec.get("start_type", "recurring") == "first_time":
            if any(actor == activity.actor for actor, _ in cohorts):
                continue  # only an actor's first start ever makes a cohort, and it must fall in the range
        elif not range_start <= activity.time < range_end:
            continue
        value = value_of(activity, breakdown) if breakdown else None
        cohorts.setdefault((activity.actor, cohort), (activity.time, value))
    cohorts = {key: started for key, started in cohorts.items() if range_start <= started[0] < range_end}
    returns = [a for a in activities if selected(a, spec["return"])]
    lines: dict[str | None, dict[str, list[int]]] = defaultdict(dict)
    for (actor, cohort), (started, value) in cohorts.items():
        periods = set()
        for activity in returns:
            if activity.actor != actor or activity.time <= started:
                continue
            if spec.get("rolling"):
                periods.add((activity.time - started) // ROLLING[interval])
            else:
                periods.add(periods_apart(cohort, local_day(activity.time, timezone), interval))
        counts = lines[value].setdefault(cohort.isoformat(), [0] * (last_period + 1))
        counts[0] += 1
        for column in range(1, last_period + 1):
            if spec.get("measure", "return_on") == "return_on_or_after":
                counts[column] += any(column <= period <= last_period for period in periods)
            else:
                counts[column] += column in periods
    return {"results": _retention_lines(lines, spec, periods_between(first, last, interval))}


def _retention_lines(
    lines: dict[str | None, dict[str, list[int]]], spec: Mapping[str, Any], cohorts: list[dt.date]
) -> list[dict[str, Any]]:
    columns = spec.get("periods", 8)
    breakdown = spec.get("breakdown")
    volume = {value: sum(counts[0] for counts in line.values()) for value, line in lines.items()}
    shown: dict[str | None, dict[str, list[int]]] = defaultdict(dict)
    if breakdown:
        top = sorted(volume, key=lambda value: (-volume[value], value or ""))[: breakdown.get("limit", 10)]
        for value, line in lines.items():
            merged = shown[value if value in top else OTHER]
            for cohort, counts in line.items():
                total = merged.setdefault(cohort, [0] * columns)
                merged[cohort] = [a + b for a, b in zip(total, counts, strict=True)]
    if not shown:  # without a breakdown, or without cohorts: one line
        shown[None] = lines.get(None, {})

    def order(value: str | None) -> tuple[bool, int, str]:
        return value == OTHER, -volume.get(value, 0), value or ""

    return [
        {
            **({"breakdown_value": value} if breakdown else {}),
            "cohorts": {cohort.isoformat(): shown[value].get(cohort.isoformat(), [0] * columns) for cohort in cohorts},
        }
        for value in sorted(shown, key=order)
    ]
