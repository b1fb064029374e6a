"""Lifecycle: per day, week or month, the actors who are new (first active ever), returning (also active
in the previous period), resurrecting (active before, but not in the previous period) and dormant (active
in the previous period but not in this one; shown as a negative count)."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from sqlglot import exp

from sextant.insights.activity import ActivitySpec, actor_days, neighbour
from sextant.insights.buckets import bucket_labels, end_of, label
from sextant.insights.runner import QueryRunner

STATUSES = ("new", "returning", "resurrecting", "dormant")


class LifecycleSpec(ActivitySpec):
    kind: Literal["lifecycle"] = "lifecycle"
    interval: Literal["day", "week", "month"] = "week"


class LifecycleRunner(QueryRunner):
    kind = "lifecycle"
    spec_model = LifecycleSpec
    spec: LifecycleSpec

    def queries(self) -> dict[str, exp.Expr]:
        engine = self.context.engine
        interval = self.spec.interval
        # Every active day ever: "new" and "resurrecting" depend on activity before the range.
        days = actor_days(
            self.scan(),
            None,
            # Whole periods: the last one counts its days after date_to too, as the first its days before.
            end_of(self.dates.last_day, self.spec.interval),
            events=self.spec.events,
            filters=self.spec.filters,
        )
        period = engine.truncate_date(exp.column("day"), interval)
        periods = (
            exp.select("actor", period.as_("period"))
            .from_(days.subquery("active"))
            .group_by(exp.column("actor"), period.copy())
        )

        first = exp.Window(this=exp.Min(this=exp.column("period")), partition_by=[exp.column("actor")])
        flagged = exp.select(
            "period",
            first.as_("first_period"),
            neighbour("LAG", "period", -4000).as_("previous_period"),
            neighbour("LEAD", "period", 4000).as_("next_period"),
        ).from_(periods.subquery("periods"))
        previous_start = engine.truncate_date(
            exp.Sub(this=exp.column("period"), expression=exp.Literal.number(1)), interval
        )
        following = {"day": 1, "week": 7, "month": 31}[interval]
        next_start = engine.truncate_date(
            exp.Add(this=exp.column("period"), expression=exp.Literal.number(following)), interval
        )
        status = exp.Case(
            ifs=[
                exp.If(this=exp.column("first_period").eq(exp.column("period")), true=exp.Literal.string("new")),
                exp.If(this=exp.column("previous_period").eq(previous_start), true=exp.Literal.string("returning")),
            ],
            default=exp.Literal.string("resurrecting"),
        )
        active = exp.select(exp.column("period"), status.as_("status"), exp.Count(this=exp.Star()).as_("actors"))
        dormant = (
            exp.select(
                next_start.as_("period"),
                exp.Literal.string("dormant").as_("status"),
                exp.Count(this=exp.Star()).as_("actors"),
            )
            .from_("flagged")
            .where(exp.NEQ(this=exp.column("next_period"), expression=next_start.copy()))
            .group_by(next_start.copy())
        )
        # One query, so that the flagged periods are computed once for both parts.
        both = exp.union(
            active.from_("flagged").group_by(exp.column("period"), status.copy()), dormant, distinct=False
        )
        return {"lifecycle": exp.select("*").from_(both.subquery("counted")).with_("flagged", as_=flagged)}

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        labels = bucket_labels(self.dates, self.spec.interval)
        counts = {status: dict.fromkeys(labels, 0) for status in STATUSES}
        for row in results["lifecycle"].to_pylist():
            period = label(row["period"])
            if period in counts[row["status"]]:
                counts[row["status"]][period] += row["actors"]
        return {
            "interval": self.spec.interval,
            "labels": labels,
            **{status: [(-1 if status == "dormant" else 1) * counts[status][p] for p in labels] for status in STATUSES},
        }

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"period": period, **{status: result[status][index] for status in STATUSES}}
            for index, period in enumerate(result["labels"])
        ]
