"""Active users: DAU, WAU and MAU for every day of the range (trailing 1, 7 and 30 local days), and per
calendar month the seeds' DAU/MAU: the month's average DAU divided by the month's MAU. With a breakdown,
the same per value, from the actors' active days with that value.

An actor covers the days [d, d + w) after each active day d. One query counts active days by day and by
the gap to the actor's previous active day; from that small table, the starts and ends of coverage give
every rolling count, and a day whose gap reaches back past the first of its month counts for that month."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field
from sqlglot import exp

from sextant.insights.activity import ActivitySpec, active_days, any_of, breakdown_lines, neighbour
from sextant.insights.buckets import incomplete
from sextant.insights.runner import QueryRunner
from sextant.insights.scan import EventScan
from sextant.insights.spec import Breakdown
from sextant.insights.timeline import TimelineView, person_order
from sextant.warehouse import timelines

WINDOWS = {"dau": 1, "wau": 7, "mau": 30}
MAX_GAP = 31  # gaps longer than every window and every day of a month behave alike
DEFAULT_EXCLUDED_EVENTS = list(timelines.ACTIVE_DAYS.excluded_events)


class ActiveUsersSpec(ActivitySpec):
    kind: Literal["active_users"] = "active_users"
    interval: Literal["day"] = "day"
    excluded_events: list[str] = Field(
        default=DEFAULT_EXCLUDED_EVENTS,
        description="SQL LIKE patterns of event names (case-insensitive) that never count as active",
    )
    excluded_distinct_ids: list[str] = Field(
        default=list(timelines.ACTIVE_DAYS.excluded_distinct_ids),
        description="ids of non-human senders, such as the seeds' `backend` anonymous id",
    )


class ActiveUsersRunner(QueryRunner):
    kind = "active_users"
    spec_model = ActiveUsersSpec
    spec: ActiveUsersSpec

    def queries(self) -> dict[str, exp.Expr]:
        scan = self.scan()
        view = scan.timeline() if self._reads_timeline() else None
        days = self._active_days(scan, only_recent=view)
        # With a breakdown, each value's active days too; their gaps are counted in Python.
        breakdown = self.spec.breakdown
        by_value = {"breakdown_days": self._active_days(self.scan(), breakdown=breakdown)} if breakdown else {}
        if view is not None:
            # The build's persons' active days come in order; the gaps are counted in Python.
            ordered = scan.timeline_days(view, self._since(), self.dates.last_day, active_only=True)
            return {"days": ordered, **by_value} if view.fresh else {"days": ordered, "recent_days": days, **by_value}
        spans = exp.select("day", neighbour("LAG", "day", -1000).as_("previous")).from_(days.subquery("active"))
        days_since = exp.DateDiff(this=exp.column("day"), expression=exp.column("previous"), unit=exp.var("DAY"))
        gap = exp.Least(this=days_since, expressions=[exp.Literal.number(MAX_GAP)])
        # One row per day and gap to the actor's previous active day (capped): enough for every window and month.
        return {
            "gaps": exp.select("day", gap.as_("gap"), exp.Count(this=exp.Star()).as_("actors"))
            .from_(spans.subquery("spans"))
            .group_by(exp.column("day"), gap.copy()),
            **by_value,
        }

    def _since(self) -> dt.date:
        """The first day read: MAU looks 29 days back, DAU/MAU to the first of the month."""
        first = self.dates.first_day - dt.timedelta(days=max(WINDOWS.values()) - 1)
        return min(first, self.dates.first_day.replace(day=1))

    def _active_days(
        self, scan: EventScan, *, only_recent: TimelineView | None = None, breakdown: Breakdown | None = None
    ) -> exp.Select:
        return active_days(
            scan,
            self._since(),
            self.dates.last_day,
            events=self._counts_as_active,
            filters=self.spec.filters,
            excluded_distinct_ids=self.spec.excluded_distinct_ids,
            only_recent=only_recent,
            breakdown=breakdown,
        )

    def _reads_timeline(self) -> bool:
        """Whether the timelines' active days are this query's: the same definition, no filters, and event
        names shown as stored (timelines hold stored names)."""
        spec = self.spec
        definition = timelines.ACTIVE_DAYS
        transforms = self.context.plan.transformations
        return (
            tuple(spec.excluded_events) == definition.excluded_events
            and tuple(spec.excluded_distinct_ids) == definition.excluded_distinct_ids
            and spec.events is None
            and not spec.filters
            and not (transforms.rename_events or transforms.merge_events or transforms.hide_events)
        )

    def _counts_as_active(self, name: exp.Expr) -> exp.Expr:
        bind = self.parameters.bind
        conditions: list[exp.Expr] = [
            exp.not_(exp.Like(this=exp.Lower(this=name.copy()), expression=bind(pattern.lower())))
            for pattern in self.spec.excluded_events
        ]
        if (listed := any_of(self.spec.events, self.parameters)) is not None:
            conditions.append(listed(name.copy()))
        return exp.and_(*conditions) if conditions else exp.true()

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        first, last = self.dates.first_day, self.dates.last_day
        gaps = _gaps_of_days(results) if "days" in results else results["gaps"]
        labels = [day.isoformat() for day in _days(first, last)]
        shaped = {
            "labels": labels,
            "incomplete": incomplete(labels, "day", self.context.timezone, self.context.now),
            **_counts(gaps.to_pylist(), first, last),
        }
        if self.spec.breakdown:
            lines = breakdown_lines(results["breakdown_days"], self.spec.breakdown.limit, first, last)
            shaped["breakdown"] = [
                {"breakdown_value": value, **_counts(_gaps(*_actor_days(days)).to_pylist(), first, last)}
                for value, days in lines
            ]
        return shaped

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        lines = [("", result), *((f" [{line['breakdown_value']}]", line) for line in result.get("breakdown", []))]
        return [
            {"day": day, **{f"{name}{suffix}": line[name][index] for suffix, line in lines for name in WINDOWS}}
            for index, day in enumerate(result["labels"])
        ]


def _counts(gaps: list[dict[str, Any]], first: dt.date, last: dt.date) -> dict[str, Any]:
    """DAU, WAU and MAU of each day from `first` to `last`, and the DAU/MAU of their months, from rows of
    (day, gap to the actor's previous active day, actors)."""
    calendar = _days(first, last)
    month_days = _days(first.replace(day=1), last)
    counts: dict[str, dict[dt.date, int]] = {}
    for name, width in WINDOWS.items():
        # An active day d covers [d, d + width); where the previous active day already covered part of
        # that, the new coverage starts later.
        change: dict[dt.date, int] = defaultdict(int)
        for row in gaps:
            day, gap = row["day"], row["gap"]
            change[day if gap >= width else day + dt.timedelta(days=width - gap)] += row["actors"]
            change[day + dt.timedelta(days=width)] -= row["actors"]
        counts[name] = _running(change, month_days)
    months: dict[dt.date, int] = defaultdict(int)
    for row in gaps:
        day = row["day"]
        if day >= first.replace(day=1) and row["gap"] > day.day - 1:  # first active day of its month
            months[day.replace(day=1)] += row["actors"]
    ratios = []
    for month, days_of_month in itertools.groupby(month_days, key=lambda day: day.replace(day=1)):
        days = list(days_of_month)
        average_dau = sum(counts["dau"][day] for day in days) / len(days)
        mau = months.get(month, 0)
        ratios.append(
            {
                "month": month.isoformat(),
                "average_dau": round(average_dau, 6),
                "mau": mau,
                "dau_mau": round(average_dau / mau, 6) if mau else None,
                "complete": _month_end(month) <= last,
            }
        )
    series = {name: [counts[name][day] for day in calendar] for name in WINDOWS}
    return {**series, "dau_mau_by_month": ratios}


def _gaps_of_days(results: dict[str, pa.Table]) -> pa.Table:
    """The `gaps` query's answer from actors' active days: the build's persons' days in order, and the days
    of the persons read from the events (`recent_days`)."""
    days = results["days"]
    codes = pc.cast(days.column("person_number"), pa.int64()).to_numpy(zero_copy_only=False)
    dates = pc.cast(days.column("day"), pa.int32()).to_numpy(zero_copy_only=False)
    if "recent_days" in results:
        actors, recent_dates = _actor_days(results["recent_days"])
        codes = np.concatenate([codes, actors + codes.max(initial=0) + 1])
        dates = np.concatenate([dates, recent_dates])
    return _gaps(codes, dates)


def _actor_days(days: pa.Table) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Rows of (actor, day) as actor codes and days since 1970-01-01."""
    actors = days.column("actor").combine_chunks().dictionary_encode().indices
    return (
        pc.cast(actors, pa.int64()).to_numpy(zero_copy_only=False),
        pc.cast(days.column("day"), pa.int32()).to_numpy(zero_copy_only=False),
    )


def _gaps(codes: npt.NDArray[np.int64], dates: npt.NDArray[np.int32]) -> pa.Table:
    """The `gaps` query's answer from actors' active days, in any order (actor codes and days since 1970)."""
    order = person_order(codes, dates)
    if order is not None:
        codes, dates = codes[order], dates[order]
    # One row per actor and day; the gap to the actor's previous active day, capped.
    new_actor = np.ones(len(codes), np.bool_)
    new_actor[1:] = codes[1:] != codes[:-1]
    distinct = new_actor.copy()
    distinct[1:] |= dates[1:] != dates[:-1]
    codes, dates, new_actor = codes[distinct], dates[distinct], new_actor[distinct]
    gaps = np.full(len(dates), MAX_GAP, np.int64)
    gaps[1:] = np.minimum(dates[1:] - dates[:-1], MAX_GAP)
    gaps[new_actor] = MAX_GAP
    first = int(dates.min(initial=0))
    counts = np.bincount((dates - first).astype(np.int64) * (MAX_GAP + 1) + gaps)
    present = np.flatnonzero(counts)
    return pa.table(
        {
            "day": pa.array((present // (MAX_GAP + 1) + first).astype(np.int32), pa.int32()).cast(pa.date32()),
            "gap": pa.array(present % (MAX_GAP + 1), pa.int64()),
            "actors": pa.array(counts[present], pa.int64()),
        }
    )


def _running(change: dict[dt.date, int], days: list[dt.date]) -> dict[dt.date, int]:
    """The running total of `change` on each of `days` (ascending)."""
    ordered = sorted(change.items())
    position = running = 0
    totals = {}
    for day in days:
        while position < len(ordered) and ordered[position][0] <= day:
            running += ordered[position][1]
            position += 1
        totals[day] = running
    return totals


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]
