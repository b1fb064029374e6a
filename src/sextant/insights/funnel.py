"""Funnels: how many actors go through 2 to 30 steps within a conversion window, where they drop off, how
long each step takes, how conversion changes over time, and who converted or dropped.

One filtered scan gives each actor's step events in time order; the per-actor pass in `funnel_attempts`
follows every attempt from its entry. Each actor counts once, with their best attempt.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator
from sqlglot import exp

from sextant.insights.buckets import bucket_labels, label, start_of
from sextant.insights.funnel_attempts import Attempt, Exclusion, FunnelEvent, Group, attempts
from sextant.insights.runner import QueryRunner
from sextant.insights.scan import NONE, OTHER
from sextant.insights.spec import DateRange, EventSelector, InsightSpec, StrictModel

MAX_STEPS = 30
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


class Window(StrictModel):
    value: int = Field(default=1, ge=1)
    unit: Literal["second", "minute", "hour", "day", "week"] = "day"

    @property
    def seconds(self) -> int:
        return self.value * UNIT_SECONDS[self.unit]

    @model_validator(mode="after")
    def _at_most_a_year(self) -> Window:
        if self.seconds > 365 * 86400:
            raise ValueError("the conversion window can be at most 365 days")
        return self


class ExclusionStep(EventSelector):
    """Actors who do this event between `from_step` and `to_step` (0-based) drop out of that attempt."""

    from_step: int = Field(default=0, ge=0)
    to_step: int = Field(default=1, ge=1)


class PersonsRequest(StrictModel):
    step: int = Field(ge=0, description="0-based step")
    status: Literal["converted", "dropped"] = "converted"
    breakdown_value: str | None = None
    limit: int = Field(default=100, ge=1, le=1_000_000)


class FunnelSpec(InsightSpec):
    kind: Literal["funnel"] = "funnel"
    steps: list[EventSelector] = Field(min_length=2, max_length=MAX_STEPS)
    order: Literal["ordered", "strict", "any"] = "ordered"
    window: Window = Window()
    exclusions: list[ExclusionStep] = Field(default=[])
    hold_constant: list[str] = Field(default=[], description="event properties that must not change across steps")
    attribution: Literal["first_touch", "last_touch", "step"] = "first_touch"
    attribution_step: int = Field(default=0, ge=0)
    count: Literal["uniques", "totals"] = "uniques"
    view: Literal["steps", "over_time"] = "steps"
    persons: PersonsRequest | None = None

    @model_validator(mode="after")
    def _references(self) -> FunnelSpec:
        for number, exclusion in enumerate(self.exclusions):
            if not exclusion.from_step < exclusion.to_step < len(self.steps):
                raise ValueError(
                    f"exclusion {number}: needs from_step < to_step < {len(self.steps)} (steps count from 0)"
                )
        if self.exclusions and self.order == "any":
            raise ValueError("exclusions need an ordered or strict funnel")
        if self.attribution_step >= len(self.steps):
            raise ValueError(f"attribution_step must be below {len(self.steps)} (steps count from 0)")
        if self.persons and self.persons.step >= len(self.steps):
            raise ValueError(f"persons.step must be below {len(self.steps)} (steps count from 0)")
        return self


@dataclass
class ActorResult:
    actor: str
    best: Attempt  # the attempt the actor counts with
    value: str | None  # its breakdown value
    attempts: list[Attempt]  # every attempt not excluded, for totals


class FunnelRunner(QueryRunner):
    kind = "funnel"
    spec_model = FunnelSpec
    spec: FunnelSpec

    def queries(self) -> dict[str, exp.Expr]:
        scan = self.scan()
        spec = self.spec
        base = [scan.condition(spec.filters)]
        step_conditions = [_always(scan.events_named(step.event), scan.condition(step.filters)) for step in spec.steps]
        exclusion_conditions = [
            _always(scan.events_named(item.event), scan.condition(item.filters)) for item in spec.exclusions
        ]
        columns = [
            scan.actor().as_("actor"),
            scan.timestamp().as_("time"),
            _bitmask(step_conditions).as_("steps"),
            _bitmask(exclusion_conditions).as_("exclusions"),
        ]
        if spec.breakdown:
            columns.append(scan.breakdown_value(spec.breakdown).as_("breakdown"))
        for index, key in enumerate(spec.hold_constant):
            columns.append(
                exp.Coalesce(this=scan.property("event", key), expressions=[exp.Literal.string(NONE)]).as_(
                    f"held_{index}"
                )
            )
        relevant = None if spec.order == "strict" else exp.or_(*step_conditions, *exclusion_conditions)
        # Attempts that enter before date_to may finish within their window after it.
        dates = DateRange(
            self.dates.start, self.dates.end + dt.timedelta(seconds=spec.window.seconds), self.dates.timezone
        )
        query = scan.select(*columns, dates=dates, where=[*base, relevant])
        return {"events": query.order_by("actor", "time")}

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        actors = self._actors(results["events"])
        spec = self.spec
        step_count = len(spec.steps)
        counted: list[tuple[str | None, Attempt]] = []
        if spec.count == "uniques":
            counted = [(actor.value, actor.best) for actor in actors]
        else:
            for actor in actors:
                counted.extend((self._value(attempt), attempt) for attempt in actor.attempts)
        values = self._top_values(counted)

        def shown(value: str | None) -> str | None:
            if spec.breakdown is None:
                return None
            return value if value in values else OTHER

        if spec.persons is not None:
            return {"persons": self._persons(actors, shown)}
        if spec.view == "over_time":
            return self._over_time(counted, step_count)
        lines: dict[str | None, list[Attempt]] = defaultdict(list)
        for value, attempt in counted:
            lines[shown(value)].append(attempt)
        ordered = sorted(lines.items(), key=lambda item: (item[0] == OTHER, -len(item[1]), item[0] or ""))
        output = [self._steps(attempts_of, value) for value, attempts_of in ordered]
        if not output:
            output = [self._steps([], None)]
        return {"order": spec.order, "window_seconds": spec.window.seconds, "results": output}

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        if "persons" in result:
            return [{"actor": actor} for actor in result["persons"]]
        if "labels" in result:
            return [
                {"bucket": bucket, "entered": entered, "converted": converted, "conversion": rate}
                for bucket, entered, converted, rate in zip(
                    result["labels"], result["entered"], result["converted"], result["conversion"], strict=True
                )
            ]
        output = []
        for line in result["results"]:
            for step in line["steps"]:
                row: dict[str, Any] = {}
                if "breakdown_value" in line:
                    row["breakdown"] = line["breakdown_value"]
                timing = step.get("time_to_convert") or {}
                row |= {
                    "step": step["step"],
                    "event": step["event"],
                    "count": step["count"],
                    "from_previous": step["conversion_from_previous"],
                    "from_first": step["conversion_from_first"],
                    "median_seconds": timing.get("median"),
                }
                output.append(row)
        return output

    def _actors(self, table: pa.Table) -> list[ActorResult]:
        spec = self.spec
        if table.num_rows == 0:
            return []
        times = pc.cast(table.column("time"), pa.int64()).to_pylist()
        actor_ids = table.column("actor").to_pylist()
        step_masks = table.column("steps").to_pylist()
        exclusion_masks = table.column("exclusions").to_pylist()
        values = table.column("breakdown").to_pylist() if spec.breakdown else [None] * table.num_rows
        held = list(zip(*(table.column(f"held_{i}").to_pylist() for i in range(len(spec.hold_constant))), strict=True))
        exclusions = [Exclusion(item.from_step, item.to_step) for item in spec.exclusions]
        entry_from = _micros(self.dates.start)
        entry_to = _micros(self.dates.end)
        window = spec.window.seconds * 1_000_000
        # Rows come sorted by actor and time; hold_constant splits an actor's events by the held values.
        partitions: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
        for row, actor in enumerate(actor_ids):
            partitions[(actor, held[row] if held else ())].append(row)
        best: dict[str, tuple[tuple[Any, ...], Attempt, list[Attempt]]] = {}
        for (actor, _), rows in partitions.items():
            groups = _groups(rows, times, step_masks, exclusion_masks, values)
            found = attempts(groups, len(spec.steps), window, spec.order, exclusions, entry_from, entry_to)
            # An any-order attempt whose window holds no first step reached no step: it never entered.
            kept = [attempt for attempt in found if attempt.reached and not attempt.excluded]
            previous = best.get(actor)
            pool = (previous[2] if previous else []) + kept
            if not pool:
                continue
            chosen = min(pool, key=self._preference)
            best[actor] = (self._preference(chosen), chosen, pool)
        return [ActorResult(actor, chosen, self._value(chosen), pool) for actor, (_, chosen, pool) in best.items()]

    def _preference(self, attempt: Attempt) -> tuple[Any, ...]:
        value = self._value(attempt)
        return (-len(attempt.reached), attempt.entry_time, value is None, value or "")

    def _value(self, attempt: Attempt) -> str | None:
        if self.spec.breakdown is None:
            return None
        step = {"first_touch": 0, "last_touch": len(attempt.reached) - 1, "step": self.spec.attribution_step}[
            self.spec.attribution
        ]
        return attempt.values[step] if step < len(attempt.values) else NONE

    def _top_values(self, counted: list[tuple[str | None, Attempt]]) -> set[str | None]:
        if self.spec.breakdown is None:
            return {None}
        volume: dict[str | None, int] = defaultdict(int)
        for value, _ in counted:
            volume[value] += 1
        ranked = sorted(volume, key=lambda value: (-volume[value], value or ""))
        return set(ranked[: self.spec.breakdown.limit])

    def _steps(self, attempts_of: list[Attempt], value: str | None) -> dict[str, Any]:
        steps = []
        first = sum(1 for attempt in attempts_of if attempt.reached)
        previous = first
        for index, step in enumerate(self.spec.steps):
            reached = [attempt for attempt in attempts_of if len(attempt.reached) > index]
            count = len(reached)
            entry: dict[str, Any] = {
                "step": index,
                "event": step.event,
                "count": count,
                "conversion_from_previous": _rate(count, previous),
                "conversion_from_first": _rate(count, first),
            }
            if index > 0:
                from_previous = [(a.reached[index] - a.reached[index - 1]) / 1e6 for a in reached]
                from_first = [(a.reached[index] - a.reached[0]) / 1e6 for a in reached]
                entry["time_to_convert"] = _durations(from_previous)
                entry["time_from_first"] = _durations(from_first)
            steps.append(entry)
            previous = count
        line: dict[str, Any] = {"steps": steps}
        if self.spec.breakdown is not None:
            line["breakdown_value"] = value
        return line

    def _over_time(self, counted: list[tuple[str | None, Attempt]], step_count: int) -> dict[str, Any]:
        interval = "day" if self.spec.interval == "hour" else self.spec.interval
        labels = bucket_labels(self.dates, interval)
        zone = zoneinfo.ZoneInfo(self.context.timezone)
        entered = dict.fromkeys(labels, 0)
        converted = dict.fromkeys(labels, 0)
        for _, attempt in counted:
            local = (EPOCH + dt.timedelta(microseconds=attempt.entry_time)).astimezone(zone)
            bucket = label(start_of(local.date(), interval))
            entered[bucket] += 1
            converted[bucket] += len(attempt.reached) == step_count
        return {
            "interval": interval,
            "labels": labels,
            "entered": [entered[bucket] for bucket in labels],
            "converted": [converted[bucket] for bucket in labels],
            "conversion": [_rate(converted[bucket], entered[bucket]) for bucket in labels],
        }

    def _persons(self, actors: list[ActorResult], shown: Any) -> list[str]:
        request = self.spec.persons
        assert request is not None
        chosen = []
        for actor in actors:
            reached = len(actor.best.reached)
            if request.breakdown_value is not None and shown(actor.value) != request.breakdown_value:
                continue
            if (request.status == "converted" and reached > request.step) or (
                request.status == "dropped" and reached == request.step
            ):
                chosen.append(actor.actor)
        return sorted(chosen)[: request.limit]


def _groups(
    rows: list[int], times: list[int], steps: list[int], exclusions: list[int], values: list[str | None]
) -> list[Group]:
    groups: list[Group] = []
    current: list[FunnelEvent] = []
    for position, row in enumerate(rows):
        current.append(FunnelEvent(steps[row], exclusions[row], values[row]))
        if position + 1 == len(rows) or times[rows[position + 1]] != times[row]:
            groups.append(Group(times[row], tuple(current)))
            current = []
    return groups


def _always(*conditions: exp.Expr | None) -> exp.Expr:
    present = [condition for condition in conditions if condition is not None]
    return exp.and_(*present) if present else exp.true()


def _bitmask(conditions: list[exp.Expr]) -> exp.Expr:
    """An integer with bit k set when condition k holds."""
    terms: list[exp.Expr] = [
        exp.If(this=exp.paren(condition.copy()), true=exp.Literal.number(1 << k), false=exp.Literal.number(0))
        for k, condition in enumerate(conditions)
    ]
    if not terms:
        return exp.Literal.number(0)
    total = terms[0]
    for term in terms[1:]:
        total = exp.Add(this=total, expression=term)
    return total


def _micros(instant: dt.datetime) -> int:
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def _rate(count: int, base: int) -> float | None:
    return round(count / base, 6) if base else None


def _durations(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"median": None, "mean": None, "p90": None}
    ordered = sorted(seconds)
    return {
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "p90": _quantile(ordered, 0.9),
    }


def _quantile(ordered: list[float], level: float) -> float:
    """Linear interpolation between the closest ranks (as numpy's default)."""
    position = (len(ordered) - 1) * level
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
