"""Stickiness: in each week or month of the range, how many actors were active on exactly (or, cumulative,
at least) 1, 2, ... days of it."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from pydantic import Field
from sqlglot import exp

from sextant.insights.activity import ActivitySpec, actor_days
from sextant.insights.buckets import bucket_labels, end_of, label, start_of
from sextant.insights.runner import QueryRunner


class StickinessSpec(ActivitySpec):
    kind: Literal["stickiness"] = "stickiness"
    interval: Literal["week", "month"] = "week"
    cumulative: bool = Field(default=False, description="count actors active on at least N days")


class StickinessRunner(QueryRunner):
    kind = "stickiness"
    spec_model = StickinessSpec
    spec: StickinessSpec

    def queries(self) -> dict[str, exp.Expr]:
        engine = self.context.engine
        days = actor_days(
            self.scan(),
            start_of(self.dates.first_day, self.spec.interval),
            # Whole periods: the last one counts its days after date_to too, as the first its days before.
            end_of(self.dates.last_day, self.spec.interval),
            events=self.spec.events,
            filters=self.spec.filters,
        )
        period = engine.truncate_date(exp.column("day"), self.spec.interval)
        per_actor = (
            exp.select(period.as_("period"), exp.Count(this=exp.Star()).as_("active_days"))
            .from_(days.subquery("active"))
            .group_by(exp.column("actor"), period.copy())
        )
        return {
            "stickiness": exp.select("period", "active_days", exp.Count(this=exp.Star()).as_("actors"))
            .from_(per_actor.subquery("per_actor"))
            .group_by("period", "active_days")
        }

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        labels = bucket_labels(self.dates, self.spec.interval)
        most = 7 if self.spec.interval == "week" else 31
        histogram: dict[str, list[int]] = {period: [0] * most for period in labels}
        for row in results["stickiness"].to_pylist():
            histogram[label(row["period"])][row["active_days"] - 1] += row["actors"]
        if self.spec.cumulative:
            for counts in histogram.values():
                for index in range(most - 2, -1, -1):
                    counts[index] += counts[index + 1]
        total = [sum(histogram[period][index] for period in labels) for index in range(most)]
        return {
            "interval": self.spec.interval,
            "days": list(range(1, most + 1)),
            "cumulative": self.spec.cumulative,
            "periods": [{"period": period, "actors": histogram[period]} for period in labels],
            "total": total,
        }

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "period": period["period"],
                **{f"{days} days": count for days, count in zip(result["days"], period["actors"], strict=True)},
            }
            for period in result["periods"]
        ]
