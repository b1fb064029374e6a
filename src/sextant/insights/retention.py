"""Retention: of the actors who did a start event in a period (their cohort), how many did a return event
k periods later.

- `first_time`: an actor's cohort is the period of their first start event ever (it must fall in the range);
  `recurring`: every period with a start event is a cohort the actor belongs to.
- Periods are calendar days, weeks (from Monday) or months in the project's time zone, or, with `rolling`,
  spans of 24 hours, 7 days or 30 days from the actor's first start event in the cohort.
- `return_on` counts returns in period k exactly; `return_on_or_after` in period k or any later one;
  `brackets` in a range of periods, such as days 1, 2-7 and 8-30.
- Period 0 is the cohort itself. Periods that have not ended by now are flagged incomplete.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import ConfigDict, Field, model_validator
from sqlglot import exp

from sextant.insights import retention_kernel
from sextant.insights.buckets import EPOCH, bucket_labels, bucket_of_timestamp, micros, next_start
from sextant.insights.runner import QueryRunner
from sextant.insights.scan import OTHER
from sextant.insights.spec import DateRange, EventSelector, InsightSpec
from sextant.insights.timeline import concatenated, person_order, person_runs

ROLLING_DAYS = {"day": 1, "week": 7, "month": 30}


class RetentionSpec(InsightSpec):
    kind: Literal["retention"] = "retention"
    interval: Literal["day", "week", "month"] = "week"
    start: EventSelector
    returning: EventSelector = Field(alias="return")
    start_type: Literal["first_time", "recurring"] = "recurring"
    measure: Literal["return_on", "return_on_or_after"] = "return_on"
    brackets: list[tuple[int, int]] | None = Field(default=None, description="period ranges, e.g. [[1,1],[2,7]]")
    periods: int = Field(default=8, ge=1, le=400)
    rolling: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _brackets(self) -> RetentionSpec:
        for low, high in self.brackets or []:
            if not 1 <= low <= high:
                raise ValueError(f"bracket [{low}, {high}] needs 1 <= first period <= last period")
        return self


class RetentionRunner(QueryRunner):
    kind = "retention"
    spec_model = RetentionSpec
    spec: RetentionSpec

    def _last_period(self) -> int:
        if self.spec.brackets:
            return max(high for _, high in self.spec.brackets)
        return self.spec.periods - 1

    def queries(self) -> dict[str, exp.Expr]:
        spec = self.spec
        engine = self.context.engine
        interval = spec.interval
        start_scan = self.scan()
        view = start_scan.timeline() if self._reads_timeline() else None
        recent = [start_scan.recent_condition(view)] if view is not None else []
        cohort = bucket_of_timestamp(engine, start_scan.timestamp(), interval, self.context.timezone)
        start_columns = [start_scan.actor().as_("actor"), cohort.as_("cohort"), start_scan.timestamp().as_("time")]
        if spec.breakdown:
            start_columns.append(start_scan.breakdown_value(spec.breakdown).as_("breakdown"))
        start_where = [
            start_scan.events_named(spec.start.event),
            start_scan.condition(spec.start.filters),
            start_scan.condition(spec.filters),
            *recent,
        ]
        # First-time cohorts need every start event ever, to know each actor's first one.
        start_rows = start_scan.select(
            *start_columns, dates=None if spec.start_type == "first_time" else self.dates, where=start_where
        )
        grouped = [exp.column("actor"), exp.column("cohort")]
        first_value: list[exp.Expr] = []
        if spec.breakdown:
            # The value of the cohort's first start event; of several at that time, the smallest.
            earliest = exp.Tuple(expressions=[exp.column("time"), exp.column("breakdown")])
            first_value.append(exp.ArgMin(this=exp.column("breakdown"), expression=earliest).as_("breakdown"))
        starts = (
            exp.select(*grouped, exp.Min(this=exp.column("time")).as_("started"), *first_value)
            .from_(start_rows.subquery("start_rows"))
            .group_by(*grouped)
        )
        if spec.start_type == "first_time":
            first = (
                exp.select(
                    "actor",
                    exp.ArgMin(this=exp.column("cohort"), expression=exp.column("started")).as_("cohort"),
                    exp.Min(this=exp.column("started")).as_("started"),
                    *(
                        [exp.ArgMin(this=exp.column("breakdown"), expression=exp.column("started")).as_("breakdown")]
                        if spec.breakdown
                        else []
                    ),
                )
                .from_(starts.subquery("every_start"))
                .group_by("actor")
            )
            in_range = exp.and_(
                exp.GTE(this=exp.column("started"), expression=self.parameters.bind(self.dates.start)),
                exp.LT(this=exp.column("started"), expression=self.parameters.bind(self.dates.end)),
            )
            starts = exp.select("*").from_(first.subquery("first_starts")).where(in_range)
        return_scan = self.scan()
        return_end = self._returns_until()
        returns = return_scan.select(
            return_scan.actor().as_("actor"),
            bucket_of_timestamp(engine, return_scan.timestamp(), interval, self.context.timezone).as_("returned"),
            return_scan.timestamp().as_("time"),
            dates=DateRange(self.dates.start, return_end, self.context.timezone),
            where=[
                return_scan.events_named(spec.returning.event),
                return_scan.condition(spec.returning.filters),
                return_scan.condition(spec.filters),
                *([return_scan.recent_condition(view)] if view is not None else []),
            ],
        )
        period = self._period()
        breakdown = [exp.column("breakdown", "s")] if spec.breakdown else []
        cohorts = (
            exp.select(exp.column("cohort"), *breakdown, exp.Count(this=exp.Star()).as_("actors"))
            .from_(exp.to_table("starts").as_("s"))
            .group_by(exp.column("cohort"), *breakdown)
        )
        returned = (
            exp.select(
                exp.column("actor", "s").as_("actor"),
                exp.column("cohort", "s").as_("cohort"),
                *(column.as_("breakdown") for column in breakdown),
                period.as_("period"),
            )
            .from_(exp.to_table("starts").as_("s"))
            .join(exp.to_table("returns").as_("r"), on=exp.column("actor", "r").eq(exp.column("actor", "s")))
            .where(exp.GT(this=exp.column("time", "r"), expression=exp.column("started", "s")))
            .distinct()
        )
        within = exp.and_(
            exp.GTE(this=exp.column("period"), expression=exp.Literal.number(1)),
            exp.LTE(this=exp.column("period"), expression=exp.Literal.number(self._last_period())),
        )
        keys = [exp.column("cohort"), *([exp.column("breakdown")] if spec.breakdown else [])]
        # Each column counts the actors who returned in its range of periods.
        counted = [
            exp.Count(
                this=exp.Distinct(
                    expressions=[
                        exp.Case(
                            ifs=[
                                exp.If(
                                    this=exp.Between(
                                        this=exp.column("period"),
                                        low=exp.Literal.number(low),
                                        high=exp.Literal.number(high),
                                    ),
                                    true=exp.column("actor"),
                                )
                            ]
                        )
                    ]
                )
            ).as_(f"returned_{index}")
            for index, (low, high) in enumerate(self._ranges())
        ]
        queries: dict[str, exp.Expr] = {
            "cohorts": cohorts.with_("starts", as_=starts),
            "returns": exp.select(*keys, *counted)
            .from_(exp.select("*").from_(returned.subquery("returned")).where(within).subquery("in_range"))
            .group_by(*keys)
            .with_("starts", as_=starts.copy())
            .with_("returns", as_=returns),
        }
        if view is None:
            return queries
        # The build's persons are counted in Python from their ordered events; the queries above count only
        # the persons written or merged since (none when the build is fresh).
        timeline_scan = self.scan()
        is_start = timeline_scan.events_named(spec.start.event) or exp.true()
        is_return = timeline_scan.events_named(spec.returning.event) or exp.true()
        since = self.dates.start if spec.start_type == "recurring" else EPOCH
        dates = DateRange(since, return_end, self.context.timezone)
        columns = [
            exp.column("person_number", "e").as_("person_number"),
            timeline_scan.timestamp().as_("time"),
            exp.column("day", "e").as_("day"),
        ]
        codes = [timeline_scan.timeline_codes(view, item.event) for item in (spec.start, spec.returning)]
        built: dict[str, exp.Expr]
        if all(len(found) <= 1 for found in codes):
            # One stored event each: their rows are read on their own and followed side by side.
            built = {
                "timeline_starts": timeline_scan.timeline_select(*columns, view=view, dates=dates, where=[is_start])
            }
            if codes[0] != codes[1]:
                # Returns count only after a start in the range.
                returns_dates = DateRange(self.dates.start, return_end, self.context.timezone)
                built["timeline_returns"] = timeline_scan.timeline_select(
                    *(column.copy() for column in columns), view=view, dates=returns_dates, where=[is_return]
                )
        else:
            built = {
                "timeline": timeline_scan.timeline_select(
                    *columns,
                    is_start.as_("is_start"),
                    is_return.as_("is_return"),
                    view=view,
                    dates=dates,
                    where=[exp.or_(is_start.copy(), is_return.copy())],
                )
            }
        return built if view.fresh else {**built, **queries}

    def _reads_timeline(self) -> bool:
        """Whether person timelines hold all this question reads: event names and times of persons, in
        calendar days, weeks or months of the project's time zone."""
        spec = self.spec
        return not (spec.filters or spec.start.filters or spec.returning.filters or spec.breakdown)

    def _ranges(self) -> list[tuple[int, int]]:
        """The periods each column counts returns in."""
        if self.spec.measure == "return_on_or_after" and not self.spec.brackets:
            return [(low, self._last_period()) for low, _ in self._columns()]
        return self._columns()

    def _period(self) -> exp.Expr:
        """The period of a return (alias r) after the start (alias s)."""
        if self.spec.rolling:
            elapsed = exp.DateDiff(
                this=exp.column("time", "r"), expression=exp.column("started", "s"), unit=exp.var("MICROSECOND")
            )
            length = ROLLING_DAYS[self.spec.interval] * 86_400_000_000
            return exp.IntDiv(this=elapsed, expression=exp.Literal.number(length))
        unit = "MONTH" if self.spec.interval == "month" else "DAY"
        days = exp.DateDiff(this=exp.column("returned", "r"), expression=exp.column("cohort", "s"), unit=exp.var(unit))
        return exp.IntDiv(this=days, expression=exp.Literal.number(7)) if self.spec.interval == "week" else days

    def _returns_until(self) -> dt.datetime:
        """Returns are read until the last period of the last cohort ends (or now)."""
        zone = zoneinfo.ZoneInfo(self.context.timezone)
        day = self.dates.last_day
        for _ in range(self._last_period() + 2):
            day = next_start(day, self.spec.interval)
        end = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
        return min(end, max(self.context.now, self.dates.end)) if end > self.dates.end else self.dates.end

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        spec = self.spec
        labels = bucket_labels(self.dates, spec.interval)
        columns = self._columns()
        cohort_rows = results["cohorts"].to_pylist() if "cohorts" in results else []
        return_rows = results["returns"].to_pylist() if "returns" in results else []
        if "timeline" in results or "timeline_starts" in results:
            counted_cohorts, counted_returns = self._timeline_counts(results, labels)
            cohort_rows += counted_cohorts
            return_rows += counted_returns
        sizes: dict[tuple[str, str | None], int] = defaultdict(int)
        volume: dict[str | None, int] = defaultdict(int)
        for row in cohort_rows:
            sizes[(_label(row["cohort"]), row.get("breakdown"))] += row["actors"]
            volume[row.get("breakdown")] += row["actors"]
        ranked = sorted(volume, key=lambda value: (-volume[value], value or ""))
        top = set(ranked[: spec.breakdown.limit]) if spec.breakdown else {None}

        def shown(value: str | None) -> str | None:
            return value if value in top else OTHER

        # Each actor of a cohort has one breakdown value, so the values outside the top add up exactly.
        merged_sizes: dict[tuple[str, str | None], int] = defaultdict(int)
        for (cohort, value), size in sizes.items():
            merged_sizes[(cohort, shown(value))] += size
        returned: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0] * len(columns))
        for row in return_rows:
            counts = returned[(_label(row["cohort"]), shown(row.get("breakdown")))]
            for index in range(len(columns)):
                counts[index] += row[f"returned_{index}"]
        lines = []
        values = sorted({value for _, value in merged_sizes}, key=lambda v: (v == OTHER, -volume.get(v, 0), v or ""))
        for value in values or [None]:
            cohorts = []
            for cohort in labels:
                size = merged_sizes.get((cohort, value), 0)
                counts = [size, *returned.get((cohort, value), [0] * len(columns))]
                cohorts.append(
                    {
                        "cohort": cohort,
                        "size": size,
                        "counts": counts,
                        "rates": [round(count / size, 6) if size else None for count in counts],
                        "complete": [self._complete(cohort, index) for index in range(len(counts))],
                    }
                )
            line: dict[str, Any] = {"cohorts": cohorts}
            if spec.breakdown:
                line["breakdown_value"] = value
            lines.append(line)
        return {
            "interval": spec.interval,
            "periods": ["0", *(_column_label(column) for column in columns)],
            "results": lines,
        }

    def _timeline_counts(
        self, results: dict[str, pa.Table], labels: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Rows like the `cohorts` and `returns` queries' from the build's persons' ordered events: the start
        and return events' rows read on their own (`timeline_starts`, and `timeline_returns` unless they are
        one event), or together with whether each row is a start and a return (`timeline`)."""
        spec = self.spec
        first_day = dt.date.fromisoformat(labels[0]) if labels else self.dates.first_day
        settings: dict[str, Any] = {
            "first_time": spec.start_type == "first_time",
            "first_cohort": int(_ordinals(np.array([(first_day - EPOCH.date()).days], np.int32), spec.interval)[0]),
            "cohorts": len(labels),
            "range_from": micros(self.dates.start),
            "range_to": micros(self.dates.end),
            "rolling_length": ROLLING_DAYS[spec.interval] * 86_400_000_000 if spec.rolling else 0,
            "columns": self._ranges(),
        }
        lanes = [results[name] for name in ("timeline_starts", "timeline_returns") if name in results]
        read = lanes or [results["timeline"]]
        buckets = _ordinals(concatenated(read, "day"), spec.interval)
        with person_runs(read, "person_number", "time") as joined:
            if lanes and joined.in_order:  # the start rows, and the return rows (the same ones for one event)
                counts = retention_kernel.count_runs(joined.starts[[0, -1]], buckets, joined.times, **settings)
            else:  # each person's rows merged in time order
                if lanes:
                    is_start = np.arange(len(joined.times)) < lanes[0].num_rows
                    is_return = ~is_start if len(lanes) == 2 else is_start
                else:
                    is_start = read[0].column("is_start").to_numpy(zero_copy_only=False).astype(np.bool_)
                    is_return = read[0].column("is_return").to_numpy(zero_copy_only=False).astype(np.bool_)
                numbers, times = joined.persons(), joined.times
                order = person_order(numbers, times)
                if order is not None:
                    numbers, times, buckets = numbers[order], times[order], buckets[order]
                    is_start, is_return = is_start[order], is_return[order]
                change = np.ones(len(numbers), np.bool_)
                change[1:] = numbers[1:] != numbers[:-1]
                starts_of = np.append(np.flatnonzero(change), len(numbers)).astype(np.int64)
                counts = retention_kernel.count(starts_of, buckets, times, is_start, is_return, **settings)
        cohorts = [{"cohort": label, "actors": int(size)} for label, size in zip(labels, counts.sizes, strict=True)]
        returns = [
            {"cohort": label, **{f"returned_{index}": int(value) for index, value in enumerate(row)}}
            for label, row in zip(labels, counts.returned.tolist(), strict=True)
        ]
        return cohorts, returns

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        output = []
        for line in result["results"]:
            for cohort in line["cohorts"]:
                row: dict[str, Any] = {}
                if "breakdown_value" in line:
                    row["breakdown"] = line["breakdown_value"]
                row |= {"cohort": cohort["cohort"], "size": cohort["size"]}
                periods = zip(result["periods"][1:], cohort["rates"][1:], cohort["complete"][1:], strict=False)
                for period, rate, complete in periods:
                    row[f"period {period}"] = rate if complete else None  # not over yet
                output.append(row)
        return output

    def _columns(self) -> list[tuple[int, int]]:
        if self.spec.brackets:
            return [tuple(bracket) for bracket in self.spec.brackets]  # type: ignore[misc]
        return [(period, period) for period in range(1, self.spec.periods)]

    def _complete(self, cohort: str, column_index: int) -> bool:
        """Whether every actor of the cohort has had the column's whole period by now."""
        if column_index == 0:
            return True
        high = self._columns()[column_index - 1][1]
        day = dt.date.fromisoformat(cohort)
        steps = high + 1 if not self.spec.rolling else high + 2  # rolling periods may start late in the cohort
        for _ in range(steps):
            day = next_start(day, self.spec.interval)
        zone = zoneinfo.ZoneInfo(self.context.timezone)
        return dt.datetime.combine(day, dt.time(), zone) <= self.context.now


def _ordinals(days: npt.NDArray[np.int32], interval: str) -> npt.NDArray[np.int64]:
    """Local days (since 1970-01-01) as period ordinals whose differences count calendar periods."""
    if interval == "week":
        return (days.astype(np.int64) + 3) // 7  # 1970-01-01 was a Thursday; weeks start on Monday
    if interval == "month":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return days.astype(np.int64)


def _label(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _column_label(column: tuple[int, int]) -> str:
    low, high = column
    return str(low) if low == high else f"{low}-{high}"
