"""Funnels: how many actors go through 2 to 30 steps within a conversion window, where they drop off, how
long each step takes, how conversion changes over time, and who converted or dropped.

One filtered scan gives each actor's step events; the compiled per-actor pass in `funnel_kernel`
follows every attempt from its entry. Each actor counts once, with their best attempt; over time, once in
each interval, with their best attempt entered in it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator
from sqlglot import exp

from sextant.insights import funnel_kernel, funnel_runs
from sextant.insights.buckets import bucket_labels, incomplete, micros
from sextant.insights.runner import QueryRunner
from sextant.insights.scan import NONE, OTHER, EventScan
from sextant.insights.spec import DateRange, EventSelector, InsightSpec, StrictModel
from sextant.insights.timeline import TimelineView, person_order, person_runs

MAX_STEPS = 30
OTHER_CODE = -2
NO_BREAKDOWN: list[tuple[int, str | None]] = [(-1, None)]  # the one line of attempts without breakdown
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


class FunnelRunner(QueryRunner):
    kind = "funnel"
    spec_model = FunnelSpec
    spec: FunnelSpec
    # Per event code of the timeline build, the step and exclusion masks (set by `queries` when it reads them).
    code_masks: dict[str, npt.NDArray[np.int64]]
    # Whether each step's timeline rows are read on their own (`step_{k}`); set by `queries`.
    reads_step_runs = False

    def queries(self) -> dict[str, exp.Expr]:
        scan = self.scan()
        spec = self.spec
        base = [scan.condition(spec.filters)]
        step_conditions = [_always(scan.events_named(step.event), scan.condition(step.filters)) for step in spec.steps]
        exclusion_conditions = [
            _always(scan.events_named(item.event), scan.condition(item.filters)) for item in spec.exclusions
        ]
        relevant = None if spec.order == "strict" else exp.or_(*step_conditions, *exclusion_conditions)
        # Attempts that enter before date_to may finish within their window after it.
        dates = DateRange(
            self.dates.start, self.dates.end + dt.timedelta(seconds=spec.window.seconds), self.dates.timezone
        )
        masks = [_bitmask(step_conditions).as_("steps")]
        if spec.exclusions:
            masks.append(_bitmask(exclusion_conditions).as_("exclusions"))
        view = scan.timeline() if self._reads_timeline() else None
        if view is not None:
            # The persons of the timeline build come in order; those written or merged since are read from
            # the events, sorted in Python. Timeline rows carry event codes, turned into masks in `shape`.
            self.code_masks = {"steps": _code_masks(view, scan, spec.steps)}
            if spec.exclusions:
                self.code_masks["exclusions"] = _code_masks(view, scan, spec.exclusions)
            self.reads_step_runs = self._follows_step_runs(view, scan)
            built: dict[str, exp.Expr]
            if self.reads_step_runs:  # each step's rows on their own, for `funnel_runs`
                built = {
                    f"step_{index}": scan.timeline_select(
                        exp.column("person_number", "e").as_("actor_number"),
                        scan.timestamp().as_("time"),
                        view=view,
                        dates=self.dates if index == 0 else dates,
                        where=[scan.events_named(spec.steps[index].event)],
                    )
                    for index in range(len(spec.steps))
                }
            else:
                built = {
                    "events": scan.timeline_select(
                        exp.column("person_number", "e").as_("actor_number"),
                        scan.timestamp().as_("time"),
                        exp.column("event_code", "e").as_("event_code"),
                        view=view,
                        dates=dates,
                        where=[relevant],
                    )
                }
            if view.fresh:
                return built
            recent = scan.select(
                exp.cast(exp.null(), "bigint").as_("actor_number"),
                scan.person().as_("unmapped"),
                scan.timestamp().as_("time"),
                *(mask.copy() for mask in masks),
                dates=dates,
                where=[relevant.copy() if relevant else None, scan.recent_condition(view)],
            )
            return {**built, "recent": recent}
        if spec.count_by == "persons":
            number = scan.person_number()
            columns = [
                number.as_("actor_number"),
                # Distinct ids the map does not know are their own persons; they are numbered in Python.
                exp.If(this=exp.Is(this=number.copy(), expression=exp.null()), true=exp.column("distinct_id", "e")).as_(
                    "unmapped"
                ),
            ]
            if spec.persons is not None:
                columns.append(scan.person().as_("actor"))
            order = ["actor_number", "time"]
        else:
            columns, order = [scan.actor().as_("actor")], []
        columns += [scan.timestamp().as_("time"), *masks]
        if spec.breakdown:
            columns.append(scan.breakdown_value(spec.breakdown).as_("breakdown"))
        for index, key in enumerate(spec.hold_constant):
            columns.append(
                exp.Coalesce(this=scan.property("event", key), expressions=[exp.Literal.string(NONE)]).as_(
                    f"held_{index}"
                )
            )
        query = scan.select(*columns, dates=dates, where=[*base, relevant])
        # Sorting persons' numbers in the warehouse is cheaper than in Python; texts are sorted in Python.
        return {"events": query.order_by(*order) if order else query}

    def _follows_step_runs(self, view: TimelineView, scan: EventScan) -> bool:
        """Whether a plain ordered funnel can follow its steps' runs of timeline rows side by side
        (`funnel_runs`): each step is one stored event (or none the build holds), different from every other
        step's, and each person counts once."""
        spec = self.spec
        if spec.count != "uniques" or spec.order != "ordered" or spec.exclusions:
            return False
        codes = [scan.timeline_codes(view, step.event) for step in spec.steps]
        held = [code for found in codes for code in found]
        return all(len(found) <= 1 for found in codes) and len(set(held)) == len(held)

    def _reads_timeline(self) -> bool:
        """Whether person timelines hold all this funnel reads: event names and times of persons."""
        spec = self.spec
        selectors = [*spec.steps, *spec.exclusions]
        return not (
            spec.filters
            or any(selector.filters for selector in selectors)
            or spec.breakdown
            or spec.hold_constant
            or spec.persons is not None
        )

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        spec = self.spec
        # Persons are listed by their best attempt, whatever `count` says.
        uniques = spec.count == "uniques" or spec.persons is not None
        if self.reads_step_runs:  # each step's timeline rows on their own (see queries)
            counted = self._lanes_counted(results)
        elif "event_code" in results["events"].column_names:  # read from timelines (see queries)
            counted = self._timeline_counted(results, uniques=uniques)
        else:
            counted = self._counted(results["events"], uniques=uniques)
        if spec.persons is not None:
            return {"persons": self._persons(counted)}
        if spec.view == "over_time":
            return self._over_time(counted)
        if spec.breakdown is None:
            output = [self._steps(counted, None, None)]
        else:
            output = [self._steps(counted, counted.shown == code, label) for code, label in counted.labels]
            output = output or [self._steps(counted, None, None)]
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

    def _lanes_counted(self, results: dict[str, pa.Table]) -> Counted:
        """The counted attempts of the timeline build's persons, from each step's rows read on their own
        (`step_{k}`), and of the persons read from the events since the build (`recent`)."""
        lanes = [results[f"step_{index}"] for index in range(len(self.spec.steps))]
        with person_runs(lanes, "actor_number", "time") as joined:
            if joined.in_order:
                window = self.spec.window.seconds * 1_000_000
                found = funnel_runs.best_attempts(joined.starts, joined.times, self.entry_periods, window)
                parts = [Counted.plain(found.reached, found.entry_time, found.times)]
            else:  # the warehouse gave a step's rows out of person order: sort them all
                sizes = joined.runs[:, 1] - joined.runs[:, 0]
                masks = np.repeat(np.left_shift(1, np.arange(len(lanes), dtype=np.int64)), sizes)
                table = pa.table({"actor_number": joined.persons(), "time": joined.times, "steps": masks})
                parts = [self._counted(table, uniques=True)]
        if "recent" in results:
            parts.append(self._counted(results["recent"], uniques=True))
        return Counted.joined(parts)

    def _timeline_counted(self, results: dict[str, pa.Table], *, uniques: bool) -> Counted:
        """The counted attempts of the timeline build's persons (their rows carry event codes) and of the
        persons read from the events since the build (`recent`)."""
        table = results["events"]
        codes = table.column("event_code").to_numpy()
        table = table.drop_columns("event_code")
        for name, masks in self.code_masks.items():
            table = table.append_column(name, pa.array(masks[codes]))
        if "recent" in results:
            recent = results["recent"]
            table = table.append_column("unmapped", pa.nulls(table.num_rows, recent.schema.field("unmapped").type))
            schema = pa.schema([field.with_nullable(True) for field in recent.schema])
            table = pa.concat_tables([table.select(schema.names).cast(schema), recent.cast(schema)])
        return self._counted(table, uniques=uniques)

    def _counted(self, table: pa.Table, *, uniques: bool) -> Counted:
        """The attempts that count: each actor's best (uniques) or every one not excluded (totals)."""
        spec = self.spec
        times = _int64(table.column("time"))
        actor_codes, order = _actor_order(table, times)
        change = np.ones(len(actor_codes), np.bool_)
        change[1:] = actor_codes[1:] != actor_codes[:-1]
        starts = np.append(np.flatnonzero(change), len(actor_codes)).astype(np.int64)
        times, steps = _arranged(times, order), _arranged(_int64(table.column("steps")), order)
        window, periods = spec.window.seconds * 1_000_000, self.entry_periods
        dictionary: list[str] = []
        if uniques and spec.order == "ordered" and not (spec.exclusions or spec.hold_constant or spec.breakdown):
            found = funnel_kernel.best_ordered(starts, times, steps, periods, len(spec.steps), window)
        else:
            held = np.zeros(len(actor_codes), np.int64)
            if spec.hold_constant:  # one code per combination of held values
                columns = [_encoded(table.column(f"held_{i}"))[0] for i in range(len(spec.hold_constant))]
                held = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)[1].reshape(-1)
            dictionary, codes = _codes(table.column("breakdown") if spec.breakdown else None, table.num_rows)
            # Without exclusions, zeros in the passes' order already (no reordering to do).
            exclusions = (
                _arranged(_int64(table.column("exclusions")), order)
                if spec.exclusions
                else _arranged(np.zeros_like(times), None)
            )
            found = funnel_kernel.run(
                starts,
                times,
                steps,
                exclusions,
                _arranged(codes, order),
                _arranged(held, order),
                step_count=len(spec.steps),
                window=window,
                order=spec.order,
                exclusion_from=np.array([item.from_step for item in spec.exclusions], np.int64),
                exclusion_to=np.array([item.to_step for item in spec.exclusions], np.int64),
                periods=periods,
                attribution=funnel_kernel.Attribution(
                    spec.attribution, spec.attribution_step, dictionary.index(NONE) if spec.breakdown else -1
                ),
                best_only=uniques,
            )
        kept = found.best if uniques else np.flatnonzero((found.reached > 0) & ~found.excluded)
        # Usually every attempt counts, in order: then the arrays are used as they are, not copied.
        chosen: npt.NDArray[np.int64] | slice = slice(None) if len(kept) == len(found.reached) else kept
        shown, labels = self._shown(found.attributed[chosen], dictionary)
        names = _actor_names(table, order, actor_codes)
        return Counted(
            actors=None if names is None else names[actor_codes[starts[:-1]][found.partition[chosen]]],
            reached=found.reached[chosen],
            entry_time=found.entry_time[chosen],
            times=found.times[chosen],
            shown=shown,
            labels=labels,
        )

    def _shown(
        self, value: npt.NDArray[np.int64], dictionary: list[str]
    ) -> tuple[npt.NDArray[np.int64], list[tuple[int, str | None]]]:
        """Breakdown value codes as shown (the top values; OTHER_CODE for the rest), and the lines in order."""
        if self.spec.breakdown is None:
            return value, NO_BREAKDOWN[: len(value)]
        # -1: an attributed step that no event filled at its time (any order can reach a step by re-arranging
        # earlier events); it shows as no value.
        names: dict[int, str | None] = {
            code: dictionary[code] if code >= 0 else None for code in np.unique(value).tolist()
        }
        codes, counts = np.unique(value, return_counts=True)
        volume = dict(zip(codes.tolist(), counts.tolist(), strict=True))
        top = sorted(volume, key=lambda code: (-volume[code], names[code] or ""))[: self.spec.breakdown.limit]
        shown = np.where(np.isin(value, top), value, OTHER_CODE)
        other = int((shown == OTHER_CODE).sum())
        labels: list[tuple[int, str | None]] = [(code, names[code]) for code in top]
        return shown, labels + ([(OTHER_CODE, OTHER)] if other else [])

    def _steps(self, counted: Counted, members: npt.NDArray[np.bool_] | None, label: str | None) -> dict[str, Any]:
        """The steps of one line: the attempts of `members` (None: every attempt)."""
        reached = counted.reached if members is None else counted.reached[members]
        times = counted.times if members is None else counted.times[members]
        statistics = funnel_kernel.step_statistics(reached, times, len(self.spec.steps))
        first = int(statistics.counts[0])
        previous = first
        steps = []
        for index, step in enumerate(self.spec.steps):
            count = int(statistics.counts[index])
            entry: dict[str, Any] = {
                "step": index,
                "event": step.event,
                "count": count,
                "conversion_from_previous": _rate(count, previous),
                "conversion_from_first": _rate(count, first),
            }
            if index > 0:
                entry["time_to_convert"] = _seconds(statistics.since_previous[index])
                entry["time_from_first"] = _seconds(statistics.since_first[index])
            steps.append(entry)
            previous = count
        line: dict[str, Any] = {"steps": steps}
        if self.spec.breakdown is not None:
            line["breakdown_value"] = label
        return line

    @property
    def _over_time_interval(self) -> Literal["day", "week", "month"]:
        return "day" if self.spec.interval == "hour" else self.spec.interval

    @cached_property
    def entry_periods(self) -> npt.NDArray[np.int64]:
        """The bounds of the periods in which each actor's best attempt is found, in microseconds. The steps
        view has one, the date range. The over-time view has one per interval (the interval's part of the
        range), so that each interval's numbers are the steps view's for it: an actor who enters in two
        intervals counts in both, with their best attempt entered in each."""
        bounds = [micros(self.dates.start)]
        if self.spec.view == "over_time" and self.spec.persons is None:
            zone = zoneinfo.ZoneInfo(self.dates.timezone)
            for text in bucket_labels(self.dates, self._over_time_interval)[1:]:
                day = dt.date.fromisoformat(text)
                bounds.append(micros(dt.datetime(day.year, day.month, day.day, tzinfo=zone)))
        bounds.append(micros(self.dates.end))
        return np.array(bounds, np.int64)

    def _over_time(self, counted: Counted) -> dict[str, Any]:
        """Per interval, the counted attempts entered in it (with `uniques`, each actor's best there)."""
        interval = self._over_time_interval
        labels = bucket_labels(self.dates, interval)
        bucket = np.searchsorted(self.entry_periods, counted.entry_time, side="right") - 1
        entered = np.bincount(bucket, minlength=len(labels)).tolist()
        converted = np.bincount(bucket[counted.reached == len(self.spec.steps)], minlength=len(labels)).tolist()
        # An interval is over once its last entrants' conversion window has passed too.
        settled = self.context.now - dt.timedelta(seconds=self.spec.window.seconds)
        return {
            "interval": interval,
            "labels": labels,
            "incomplete": incomplete(labels, interval, self.context.timezone, settled, self.dates),
            "entered": entered,
            "converted": converted,
            "conversion": [_rate(done, base) for done, base in zip(converted, entered, strict=True)],
        }

    def _persons(self, counted: Counted) -> list[str]:
        request = self.spec.persons
        assert request is not None and counted.actors is not None
        converted = request.status == "converted"
        chosen = counted.reached > request.step if converted else counted.reached == request.step
        if request.breakdown_value is not None:
            codes = [code for code, label in counted.labels if label == request.breakdown_value]
            chosen &= np.isin(counted.shown, codes)
        return sorted(set(counted.actors[chosen].tolist()))[: request.limit]


@dataclass
class Counted:
    """The counted attempts, as arrays: actor, steps reached, entry time, step times and shown breakdown."""

    actors: npt.NDArray[Any] | None  # where the query returned them
    reached: npt.NDArray[np.int64]
    entry_time: npt.NDArray[np.int64]
    times: npt.NDArray[np.int64]
    shown: npt.NDArray[np.int64]  # breakdown value codes, OTHER_CODE for values outside the top
    labels: list[tuple[int, str | None]]  # (code, value) of each line, in the order shown

    @staticmethod
    def plain(
        reached: npt.NDArray[np.int64], entry_time: npt.NDArray[np.int64], times: npt.NDArray[np.int64]
    ) -> Counted:
        """Attempts without actors or breakdown values."""
        return Counted(
            None, reached, entry_time, times, np.full(len(reached), -1, np.int64), NO_BREAKDOWN[: len(reached)]
        )

    @staticmethod
    def joined(parts: list[Counted]) -> Counted:
        """The attempts of `parts`, which have no actors or breakdown values, together."""
        if len(parts) == 1:
            return parts[0]
        return Counted.plain(
            np.concatenate([part.reached for part in parts]),
            np.concatenate([part.entry_time for part in parts]),
            np.concatenate([part.times for part in parts]),
        )


def _code_masks(view: TimelineView, scan: EventScan, selectors: Sequence[EventSelector]) -> npt.NDArray[np.int64]:
    """For each event code of the timeline build, the bitmask of the `selectors` (without filters) it matches."""
    masks = np.zeros(max(view.event_codes.values(), default=0) + 1, np.int64)
    for index, selector in enumerate(selectors):
        masks[scan.timeline_codes(view, selector.event)] |= 1 << index
    return masks


def _actor_order(
    table: pa.Table, times: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None]:
    """Each row's actor code, in the order that groups rows by actor and sorts them by time, and that order
    (None: the rows are in it already)."""
    if "actor_number" not in table.column_names:
        return _sorted_codes(_encoded(table.column("actor"))[0], times)
    numbers = _int64(pc.fill_null(table.column("actor_number"), -1))
    # Numbered rows come first, as the timelines give them; persons without a number come after them.
    has_number = numbers >= 0
    numbered = len(numbers) if "unmapped" not in table.column_names else int(has_number.sum())
    if numbered < len(numbers):
        extra = _encoded(pc.fill_null(table.column("unmapped"), ""))[0]
        numbers = np.where(has_number, numbers, numbers.max(initial=0) + 1 + extra)
    if not has_number[:numbered].all():
        return _sorted_codes(numbers, times)
    head = person_order(numbers[:numbered], times[:numbered])
    if numbered == len(numbers):
        return (numbers, None) if head is None else (numbers[head], head)
    rest = numbered + np.lexsort((times[numbered:], numbers[numbered:]))
    order = np.concatenate([np.arange(numbered) if head is None else head, rest])
    return numbers[order], order


def _sorted_codes(
    codes: npt.NDArray[np.int64], times: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    order = np.lexsort((times, codes))
    return codes[order], order


def _actor_names(
    table: pa.Table, order: npt.NDArray[np.int64] | None, codes: npt.NDArray[np.int64]
) -> npt.NDArray[Any] | None:
    """Actor code -> actor text (person id or group key), where the query returned them."""
    if "actor" not in table.column_names:
        return None
    names = np.full(int(codes.max(initial=-1)) + 1, None, dtype=object)
    names[codes] = _arranged(np.asarray(table.column("actor").to_numpy(zero_copy_only=False), dtype=object), order)
    return names


def _arranged(values: npt.NDArray[Any], order: npt.NDArray[np.int64] | None) -> npt.NDArray[Any]:
    """The values in the passes' row order, read-only. numba compiles a pass once per combination of its
    arguments' types, and a read-only array (an Arrow buffer used as it is) is another type than a writable
    one (a copy): without this, a question whose rows needed reordering, or came in several chunks, would
    compile the pass again (seconds) after one whose rows did not."""
    view = (values if order is None else values[order]).view()
    view.flags.writeable = False
    return view


def _int64(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.int64]:
    return pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)


def _encoded(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], list[str]]:
    """A text column as integer codes (equal texts, equal codes) and the texts they stand for."""
    encoded = column.combine_chunks().dictionary_encode()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def _codes(column: pa.ChunkedArray | None, rows: int) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Breakdown values as codes that sort like the values (-1 for none)."""
    if column is None:
        return [], np.full(rows, -1, np.int64)
    dictionary = sorted({value for value in pc.unique(column).to_pylist() if value is not None} | {NONE})
    codes = pc.index_in(column, value_set=pa.array(dictionary, pa.string()))
    return dictionary, pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int64)


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


def _rate(count: int, base: int) -> float | None:
    return round(count / base, 6) if base else None


def _seconds(summary: npt.NDArray[np.float64]) -> dict[str, float | None]:
    """A step's (median, mean, p90) in microseconds (NaN: no attempt reached it) as seconds."""
    median, mean, p90 = (None if np.isnan(value) else float(value) / 1e6 for value in summary)
    return {"median": median, "mean": mean, "p90": p90}
