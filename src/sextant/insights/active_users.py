"""Active users: DAU, WAU and MAU for every day of the range (trailing 1, 7 and 30 local days), and per
calendar month the seeds' DAU/MAU: the month's average DAU divided by the month's MAU.

An actor covers the days [d, d + w) after each active day d; counting covered days from the starts and
ends of those spans gives the rolling counts from one pass over the active days."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field
from sqlglot import exp

from sextant.insights.activity import active_days
from sextant.insights.runner import QueryRunner
from sextant.insights.spec import InsightSpec

WINDOWS = {"dau": 1, "wau": 7, "mau": 30}
# Events that say someone signed in, up or out or handled a password are not use of the product.
DEFAULT_EXCLUDED_EVENTS = [
    "%sign in%",
    "%signed in%",
    "%sign up%",
    "%signed up%",
    "%sign out%",
    "%signed out%",
    "%password%",
]


class ActiveUsersSpec(InsightSpec):
    kind: Literal["active_users"] = "active_users"
    interval: Literal["day"] = "day"
    events: list[str] | None = Field(default=None, description="events that count as active; default all")
    excluded_events: list[str] = Field(
        default=DEFAULT_EXCLUDED_EVENTS,
        description="SQL LIKE patterns of event names (case-insensitive) that never count as active",
    )
    excluded_distinct_ids: list[str] = Field(
        default=["backend"], description="ids of non-human senders, such as the seeds' `backend` anonymous id"
    )


class ActiveUsersRunner(QueryRunner):
    kind = "active_users"
    spec_model = ActiveUsersSpec
    spec: ActiveUsersSpec

    def queries(self) -> dict[str, exp.Expr]:
        first = self.dates.first_day - dt.timedelta(days=max(WINDOWS.values()) - 1)
        month_start = self.dates.first_day.replace(day=1)
        days = active_days(
            self.scan(),
            min(first, month_start),
            self.dates.last_day,
            events=self._counts_as_active,
            filters=self.spec.filters,
            excluded_distinct_ids=self.spec.excluded_distinct_ids,
        )
        previous = exp.Anonymous(
            this="LAG",
            # An actor's first active day has no previous one: a day long before stands in for it.
            expressions=[
                exp.column("day"),
                exp.Literal.number(1),
                exp.Sub(this=exp.column("day"), expression=exp.Literal.number(1000)),
            ],
        )
        spans = exp.select(
            "day",
            exp.Window(
                this=previous, partition_by=[exp.column("actor")], order=exp.Order(expressions=[exp.column("day")])
            ).as_("previous"),
        ).from_("active")
        queries: dict[str, exp.Expr] = {}
        for name, width in WINDOWS.items():
            start = exp.Greatest(
                this=exp.column("day"),
                expressions=[exp.Add(this=exp.column("previous"), expression=exp.Literal.number(width))],
            )
            for edge, value in (
                ("start", start),
                ("stop", exp.Add(this=exp.column("day"), expression=exp.Literal.number(width))),
            ):
                queries[f"{name}_{edge}"] = (
                    exp.select(value.as_("changed_on"), exp.Count(this=exp.Star()).as_("actors"))
                    .with_("active", as_=days)
                    .with_("spans", as_=spans)
                    .from_("spans")
                    .group_by(value.copy())
                )
        month = self.context.engine.truncate_date(exp.column("day"), "month")
        queries["months"] = (
            exp.select(
                month.as_("month"), exp.Count(this=exp.Distinct(expressions=[exp.column("actor")])).as_("actors")
            )
            .with_("active", as_=days.copy())
            .from_("active")
            .where(exp.GTE(this=exp.column("day"), expression=self.parameters.bind(month_start)))
            .group_by(month.copy())
        )
        return queries

    def _counts_as_active(self, name: exp.Expr) -> exp.Expr:
        bind = self.parameters.bind
        conditions: list[exp.Expr] = [
            exp.not_(exp.Like(this=exp.Lower(this=name.copy()), expression=bind(pattern.lower())))
            for pattern in self.spec.excluded_events
        ]
        if self.spec.events is not None:
            conditions.append(name.copy().isin(*(bind(event) for event in self.spec.events)))
        return exp.and_(*conditions) if conditions else exp.true()

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        first, last = self.dates.first_day, self.dates.last_day
        calendar = _days(first, last)
        month_days = _days(first.replace(day=1), last)
        counts: dict[str, dict[dt.date, int]] = {}
        for name in WINDOWS:
            change: dict[dt.date, int] = defaultdict(int)
            for row in results[f"{name}_start"].to_pylist():
                change[row["changed_on"]] += row["actors"]
            for row in results[f"{name}_stop"].to_pylist():
                change[row["changed_on"]] -= row["actors"]
            counts[name] = _running(change, month_days)
        months = {row["month"]: row["actors"] for row in results["months"].to_pylist()}
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
        return {"labels": [day.isoformat() for day in calendar], **series, "dau_mau_by_month": ratios}

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"day": day, **{name: result[name][index] for name in WINDOWS}}
            for index, day in enumerate(result["labels"])
        ]


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
