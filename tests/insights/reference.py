"""A pure-Python reference for segmentation and funnel results, written from the documented rules (spec.py,
segmentation.py, the docstring of funnel_kernel.py) and deliberately naive: funnels enumerate chains of
events by brute force. Tests compare the runners with it on random event logs.

It supports the parts of a spec the generated logs use: bare dates, event property filters with `eq`, a
breakdown by an event property, and hold_constant on event properties.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

OTHER = "$other"
NONE = "$none"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
COUNTING = ("total", "unique")
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}

# Formulas the tests use, as Python functions of the series' values.
FORMULAS: dict[str, Callable[[Mapping[str, float]], float]] = {
    "A / B * 100": lambda v: v["A"] / v["B"] * 100,
    "A + B": lambda v: v["A"] + v["B"],
    "A - 2 * B": lambda v: v["A"] - 2 * v["B"],
    "(A + 1) / (B - A)": lambda v: (v["A"] + 1) / (v["B"] - v["A"]),
}


@dataclass(frozen=True)
class Event:
    actor: str
    name: str
    time: dt.datetime
    properties: Mapping[str, Any]


# Persons


def resolve_persons(documents: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """distinct id -> the distinct id that stands for its person. An event with both `user_id` and
    `device_id` links the device id to the event's distinct id. (Generated logs never link two identified
    persons, the one case where ingestion refuses a link.)"""
    parent: dict[str, str] = {}

    def root(identifier: str) -> str:
        parent.setdefault(identifier, identifier)
        while parent[identifier] != identifier:
            identifier = parent[identifier]
        return identifier

    for document in documents:
        distinct_id = document.get("distinct_id") or document.get("user_id") or document["device_id"]
        root(distinct_id)
        if document.get("user_id") and document.get("device_id"):
            device, person = root(document["device_id"]), root(distinct_id)
            if device != person:
                parent[device] = person
    return {identifier: root(identifier) for identifier in parent}


def events_of(documents: Sequence[Mapping[str, Any]], actor: Callable[[str], str]) -> list[Event]:
    """Events of documents, with `actor(representative distinct id)` as each event's actor."""
    people = resolve_persons(documents)
    return [
        Event(
            actor(people[document.get("distinct_id") or document.get("user_id") or document["device_id"]]),
            document["event"],
            dt.datetime.fromisoformat(document["timestamp"]).astimezone(dt.UTC),
            document.get("properties") or {},
        )
        for document in documents
    ]


# Values, filters, dates and buckets


def text(value: Any) -> str | None:
    """A property as the text queries see."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def number(value: Any) -> float | None:
    shown = text(value)
    if shown is None:
        return None
    try:
        return float(shown)
    except ValueError:
        return None


def matches(event: Event, filters: Sequence[Mapping[str, Any]]) -> bool:
    """Event property filters with `eq` (the only kind the generated specs use)."""
    for item in filters:
        assert item.get("type", "event") == "event" and item.get("operator", "eq") == "eq"
        if text(event.properties.get(item["key"])) != str(item["value"]):
            return False
    return True


def date_range(spec: Mapping[str, Any], timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of bare local dates; date_to includes its whole day."""
    zone = zoneinfo.ZoneInfo(timezone)
    first = dt.date.fromisoformat(spec["date_from"])
    last = dt.date.fromisoformat(spec["date_to"])
    start = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
    after = last + dt.timedelta(days=1)
    end = dt.datetime(after.year, after.month, after.day, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def period_start(day: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def bucket(time: dt.datetime, interval: str, timezone: str) -> str:
    local = time.astimezone(zoneinfo.ZoneInfo(timezone))
    if interval == "hour":
        return local.strftime("%Y-%m-%d %H:00:00")
    return period_start(local.date(), interval).isoformat()


def labels(start: dt.datetime, end: dt.datetime, interval: str, timezone: str) -> list[str]:
    """Every bucket of [start, end) in order, found by walking the range an hour at a time."""
    found: list[str] = []
    instant = start
    while instant < end:
        shown = bucket(instant, interval, timezone)
        if shown not in found:
            found.append(shown)
        instant += dt.timedelta(hours=1)
    return found


def cut_short(start: dt.datetime, end: dt.datetime, interval: str, timezone: str, now: dt.datetime) -> list[bool]:
    """Per label of [start, end): whether the range or `now` cuts its bucket short. The instant before the
    range falls in the first bucket when the bucket began before it; the first instant after the range (or
    now, when it comes first) falls in the last bucket that goes on past it, and every bucket after that
    one has not begun (labels sort as their buckets do)."""
    before = bucket(start - dt.timedelta(microseconds=1), interval, timezone)
    after = bucket(min(end, now), interval, timezone)
    return [label == before or label >= after for label in labels(start, end, interval, timezone)]


def quantile(values: Sequence[float], level: float) -> float | None:
    """Linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * level
    below = math.floor(position)
    above = math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def rate(count: int, base: int) -> float | None:
    return round(count / base, 6) if base else None


# Segmentation


def _measure(rows: Sequence[Event], series: Mapping[str, Any]) -> Any:
    math_name = series.get("math", "total")
    if math_name == "total":
        return len(rows)
    if math_name == "unique":
        return len({row.actor for row in rows})
    values = [value for row in rows if (value := number(row.properties.get(series["property"]))) is not None]
    if not values:
        return None
    if math_name == "sum":
        return sum(values)
    if math_name == "avg":
        return sum(values) / len(values)
    if math_name == "min":
        return min(values)
    if math_name == "max":
        return max(values)
    return quantile(values, {"median": 0.5, "p90": 0.9}[math_name])


def segmentation(events: Sequence[Event], spec: Mapping[str, Any], timezone: str, now: dt.datetime) -> dict[str, Any]:
    start, end = date_range(spec, timezone)
    interval = spec.get("interval", "day")
    shown_labels = labels(start, end, interval, timezone)
    breakdown = spec.get("breakdown")
    lines: list[dict[str, Any]] = []
    by_letter: dict[str, dict[str, dict[str, Any]]] = {}
    for letter, series in zip(LETTERS, spec["series"], strict=False):
        rows = [
            event
            for event in events
            if start <= event.time < end
            and series.get("event") in (None, event.name)
            and matches(event, series.get("filters", []))
            and matches(event, spec.get("filters", []))
        ]
        shown: dict[str, list[Event]] = defaultdict(list)
        if breakdown is None:
            if rows:
                shown[""] = rows
        else:
            by_value: dict[str, list[Event]] = defaultdict(list)
            for row in rows:
                by_value[text(row.properties.get(breakdown["key"])) or NONE].append(row)

            def volume(value: str, by_value: dict[str, list[Event]] = by_value, series: Any = series) -> Any:
                if series.get("math", "total") in COUNTING:
                    return _measure(by_value[value], series)
                return len(by_value[value])

            top = sorted(by_value, key=lambda value: (-volume(value), value))[: breakdown.get("limit", 10)]
            for value, value_rows in by_value.items():
                shown[value if value in top else OTHER].extend(value_rows)
        empty = 0 if series.get("math", "total") in COUNTING else None
        series_lines: dict[str, dict[str, Any]] = {}
        for key, key_rows in shown.items():
            per_bucket: dict[str, list[Event]] = defaultdict(list)
            for row in key_rows:
                per_bucket[bucket(row.time, interval, timezone)].append(row)
            series_lines[key] = _series_line(
                letter,
                series,
                key or None,
                [_measure(per_bucket[label], series) if per_bucket[label] else empty for label in shown_labels],
                _measure(key_rows, series),
            )
        if not series_lines:
            series_lines[""] = _series_line(letter, series, None, [empty] * len(shown_labels), empty)
        if spec.get("frequency"):
            # An actor counts under a breakdown line for their events on that line only.
            for key, line in series_lines.items():
                times = Counter(Counter(row.actor for row in shown.get(key, [])).values())
                line["frequency"] = [{"times": count, "actors": times[count]} for count in sorted(times)]
        by_letter[letter] = series_lines
        lines.extend(series_lines.values())
    result: dict[str, Any] = {
        "interval": interval,
        "labels": shown_labels,
        "incomplete": cut_short(start, end, interval, timezone, now),
        "series": lines,
    }
    if spec.get("formula"):
        result["formula"] = _formula(spec["formula"], by_letter, len(shown_labels))
    return result


def _series_line(letter: str, series: Mapping[str, Any], breakdown: str | None, data: list[Any], total: Any) -> dict:
    line = {
        "series": letter,
        "event": series.get("event"),
        "math": series.get("math", "total"),
        "label": series.get("event") or "All events",
        "data": data,
        "total": total,
    }
    if breakdown is not None:
        line["breakdown_value"] = breakdown
    return line


def _formula(formula: str, by_letter: dict[str, dict[str, dict[str, Any]]], buckets: int) -> list[dict[str, Any]]:
    function = FORMULAS[formula]

    def evaluate(key: str, index: int | None) -> float | None:
        values = {}
        for letter, lines in by_letter.items():
            line = lines.get(key)
            value = None if line is None else line["total"] if index is None else line["data"][index]
            values[letter] = float(value or 0)
        try:
            return function(values)
        except ZeroDivisionError:
            return None

    output = []
    for key in sorted({key for lines in by_letter.values() for key in lines}):
        line: dict[str, Any] = {
            "formula": formula,
            "data": [evaluate(key, index) for index in range(buckets)],
            "total": evaluate(key, None),
        }
        if key:
            line["breakdown_value"] = key
        output.append(line)
    return output


# Funnels


@dataclass(frozen=True)
class FunnelAttempt:
    actor: str
    entry: dt.datetime
    reached: tuple[dt.datetime, ...]  # the earliest time of each step reached
    value: str | None  # the attributed breakdown value


@dataclass(frozen=True)
class _Step:
    """One event of the scan, as the funnel sees it."""

    index: int
    time: dt.datetime
    steps: frozenset[int]
    exclusions: frozenset[int]
    value: str | None
    held: tuple[str, ...]


def funnel_attempts(events: Sequence[Event], spec: Mapping[str, Any], timezone: str) -> list[FunnelAttempt]:
    """Every attempt that is not excluded, of every actor."""
    start, end = date_range(spec, timezone)
    window_spec = spec.get("window", {})
    window = dt.timedelta(seconds=window_spec.get("value", 1) * UNIT_SECONDS[window_spec.get("unit", "day")])
    order = spec.get("order", "ordered")
    steps = spec["steps"]
    exclusions = spec.get("exclusions", [])
    breakdown = spec.get("breakdown")
    by_actor: dict[str, list[_Step]] = defaultdict(list)
    for event in sorted(events, key=lambda event: event.time):
        if not (start <= event.time < end + window and matches(event, spec.get("filters", []))):
            continue
        actor_events = by_actor[event.actor]
        actor_events.append(
            _Step(
                index=len(actor_events),
                time=event.time,
                steps=frozenset(k for k, step in enumerate(steps) if _selects(step, event)),
                exclusions=frozenset(j for j, item in enumerate(exclusions) if _selects(item, event)),
                value=(text(event.properties.get(breakdown["key"])) or NONE) if breakdown else None,
                held=tuple(text(event.properties.get(key)) or NONE for key in spec.get("hold_constant", [])),
            )
        )
    found = []
    for actor, actor_events in by_actor.items():
        for entry in actor_events:
            enters = 0 in entry.steps or (order == "any" and entry.steps)
            if not (enters and start <= entry.time < end):
                continue
            deadline = entry.time + window
            candidates = [event for event in actor_events if event.held == entry.held]
            if order == "any":
                reached = _any_order_times(entry, candidates, len(steps), deadline)
            else:
                between = sorted({event.time for event in actor_events}) if order == "strict" else None
                reached = _chain_times(entry, candidates, len(steps), deadline, between)
            if not reached:
                continue  # an any-order attempt whose window holds no first step never entered the funnel
            if _excluded(reached, actor_events, exclusions, deadline):
                continue
            values = _step_values(entry, candidates, reached)
            found.append(FunnelAttempt(actor, entry.time, reached, _attributed(spec, values, len(reached))))
    return found


def _selects(selector: Mapping[str, Any], event: Event) -> bool:
    return selector.get("event") in (None, event.name) and matches(event, selector.get("filters", []))


def _chain_times(
    entry: _Step,
    candidates: Sequence[_Step],
    step_count: int,
    deadline: dt.datetime,
    between: Sequence[dt.datetime] | None,
) -> tuple[dt.datetime, ...]:
    """Ordered (and, with `between` = every time the actor did something, strict) funnels: follow every chain
    of distinct events from the entry whose times never decrease, and keep the earliest time of each step."""
    earliest: dict[int, dt.datetime] = {0: entry.time}
    visited: set[tuple[int, dt.datetime, frozenset[int]]] = set()

    def follow(step: int, last: dt.datetime, used_at_last: frozenset[int]) -> None:
        if step == step_count:
            return
        for event in candidates:
            if step not in event.steps or event.index in used_at_last or not last <= event.time <= deadline:
                continue
            if between is not None and any(last < time < event.time for time in between):
                continue
            earliest[step] = min(earliest.get(step, event.time), event.time)
            used = used_at_last | {event.index} if event.time == last else frozenset({event.index})
            state = (step + 1, event.time, used)
            if state not in visited:
                visited.add(state)
                follow(step + 1, event.time, used)

    follow(1, entry.time, frozenset({entry.index}))
    return tuple(earliest[step] for step in range(len(earliest)))


def _any_order_times(
    entry: _Step, candidates: Sequence[_Step], step_count: int, deadline: dt.datetime
) -> tuple[dt.datetime, ...]:
    """Any-order funnels: step k is reached at the first time by which steps 0..k each have their own event,
    counting only events from the entry's time to the end of its window."""
    pool = [event for event in candidates if entry.time <= event.time <= deadline]
    reached: list[dt.datetime] = []
    for time in sorted({event.time for event in pool}):
        available = [event for event in pool if event.time <= time]
        while len(reached) < step_count and _can_fill(len(reached) + 1, available):
            reached.append(time)
    return tuple(reached)


def _can_fill(step_count: int, events: Sequence[_Step]) -> bool:
    """Whether steps 0..step_count-1 can each get a distinct event (by trying every assignment)."""

    def fill(step: int, used: frozenset[int]) -> bool:
        if step == step_count:
            return True
        return any(
            fill(step + 1, used | {event.index}) for event in events if step in event.steps and event.index not in used
        )

    return fill(0, frozenset())


def _excluded(
    reached: Sequence[dt.datetime],
    actor_events: Sequence[_Step],
    exclusions: Sequence[Mapping[str, Any]],
    deadline: dt.datetime,
) -> bool:
    """An exclusion event strictly after the from_step and strictly before the to_step (or, when the to_step
    is never reached, up to the end of the window)."""
    for number, item in enumerate(exclusions):
        from_step, to_step = item.get("from_step", 0), item.get("to_step", 1)
        if from_step >= len(reached):
            continue
        until = reached[to_step] if to_step < len(reached) else None
        for event in actor_events:
            if number not in event.exclusions or event.time <= reached[from_step]:
                continue
            if (until is not None and event.time < until) or (until is None and event.time <= deadline):
                return True
    return False


def _step_values(entry: _Step, candidates: Sequence[_Step], reached: Sequence[dt.datetime]) -> list[str | None]:
    """Per reached step: the entry's own value for step 0; later, the smallest value among the events that
    match the step at the step's earliest time."""
    values = [entry.value]
    for step, time in enumerate(reached[1:], start=1):
        present = [
            event.value
            for event in candidates
            if event.time == time and step in event.steps and event.value is not None
        ]
        values.append(min(present) if present else None)
    return values


def _attributed(spec: Mapping[str, Any], values: Sequence[str | None], reached: int) -> str | None:
    if not spec.get("breakdown"):
        return None
    attribution = spec.get("attribution", "first_touch")
    step = {"first_touch": 0, "last_touch": reached - 1, "step": spec.get("attribution_step", 0)}[attribution]
    return values[step] if 0 <= step < len(values) else NONE


def _best(attempts: Sequence[FunnelAttempt]) -> FunnelAttempt:
    """Most steps, then the earliest entry, then the breakdown value."""
    return min(attempts, key=lambda a: (-len(a.reached), a.entry, a.value is None, a.value or ""))


def funnel(events: Sequence[Event], spec: Mapping[str, Any], timezone: str, now: dt.datetime) -> dict[str, Any]:
    """The funnel result of `spec`: the steps view, the over_time view, or the persons of a step."""
    attempts = funnel_attempts(events, spec, timezone)
    per_actor: dict[str, list[FunnelAttempt]] = defaultdict(list)
    for attempt in attempts:
        per_actor[attempt.actor].append(attempt)
    best = {actor: _best(actor_attempts) for actor, actor_attempts in per_actor.items()}
    persons = spec.get("persons")
    # A list of persons is of actors, each with their best attempt, whatever `count` says.
    uniques = spec.get("count", "uniques") == "uniques" or persons is not None
    counted = list(best.values()) if uniques else attempts
    breakdown = spec.get("breakdown")
    volume = Counter(attempt.value for attempt in counted)
    top = (
        sorted(volume, key=lambda value: (-volume[value], value or ""))[: breakdown.get("limit", 10)]
        if breakdown
        else []
    )

    def shown(value: str | None) -> str | None:
        if not breakdown:
            return None
        return value if value in top else OTHER

    step_count = len(spec["steps"])
    if persons is not None:
        step, status = persons["step"], persons.get("status", "converted")
        chosen = sorted(
            actor
            for actor, attempt in best.items()
            if persons.get("breakdown_value") in (None, shown(attempt.value))
            and (len(attempt.reached) > step if status == "converted" else len(attempt.reached) == step)
        )
        return {"persons": chosen[: persons.get("limit", 100)]}
    if spec.get("view", "steps") == "over_time":
        start, end = date_range(spec, timezone)
        interval = "day" if spec.get("interval", "day") == "hour" else spec.get("interval", "day")
        shown_labels = labels(start, end, interval, timezone)
        # Each interval is a funnel of its own, as the steps view of that interval: an actor counts in every
        # interval they entered in, with their best attempt entered there (with totals, every attempt).
        in_interval: dict[tuple[str, str], list[FunnelAttempt]] = defaultdict(list)
        for attempt in attempts:
            in_interval[bucket(attempt.entry, interval, timezone), attempt.actor].append(attempt)
        per_interval = [
            (label, interval_attempt)
            for (label, _), interval_attempts in in_interval.items()
            for interval_attempt in ([_best(interval_attempts)] if uniques else interval_attempts)
        ]
        entered = Counter(label for label, _ in per_interval)
        converted = Counter(label for label, attempt in per_interval if len(attempt.reached) == step_count)
        window = spec.get("window", {})
        # An interval whose last entrants could still convert after `now` is not over.
        settled = now - dt.timedelta(seconds=window.get("value", 1) * UNIT_SECONDS[window.get("unit", "day")])
        return {
            "interval": interval,
            "labels": shown_labels,
            "incomplete": cut_short(start, end, interval, timezone, settled),
            "entered": [entered[label] for label in shown_labels],
            "converted": [converted[label] for label in shown_labels],
            "conversion": [rate(converted[label], entered[label]) for label in shown_labels],
        }
    lines: dict[str | None, list[FunnelAttempt]] = defaultdict(list)
    for attempt in counted:
        lines[shown(attempt.value)].append(attempt)
    ordered = sorted(lines.items(), key=lambda item: (item[0] == OTHER, -len(item[1]), item[0] or ""))
    results = [_funnel_line(spec, line_attempts, value) for value, line_attempts in ordered]
    if not results:
        results = [_funnel_line(spec, [], None)]
    window_spec = spec.get("window", {})
    return {
        "order": spec.get("order", "ordered"),
        "window_seconds": window_spec.get("value", 1) * UNIT_SECONDS[window_spec.get("unit", "day")],
        "results": results,
    }


def _funnel_line(spec: Mapping[str, Any], attempts: Sequence[FunnelAttempt], value: str | None) -> dict[str, Any]:
    counts = [sum(1 for attempt in attempts if len(attempt.reached) > step) for step in range(len(spec["steps"]))]
    steps = []
    for step, selector in enumerate(spec["steps"]):
        entry: dict[str, Any] = {
            "step": step,
            "event": selector.get("event"),
            "count": counts[step],
            "conversion_from_previous": rate(counts[step], counts[step - 1] if step else counts[0]),
            "conversion_from_first": rate(counts[step], counts[0]),
        }
        if step > 0:
            reaching = [attempt.reached for attempt in attempts if len(attempt.reached) > step]
            entry["time_to_convert"] = _durations([(r[step] - r[step - 1]).total_seconds() for r in reaching])
            entry["time_from_first"] = _durations([(r[step] - r[0]).total_seconds() for r in reaching])
        steps.append(entry)
    line: dict[str, Any] = {"steps": steps}
    if spec.get("breakdown"):
        line["breakdown_value"] = value
    return line


def _durations(seconds: Sequence[float]) -> dict[str, float | None]:
    if not seconds:
        return {"median": None, "mean": None, "p90": None}
    return {"median": statistics.median(seconds), "mean": sum(seconds) / len(seconds), "p90": quantile(seconds, 0.9)}
