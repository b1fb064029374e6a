"""Stickiness: in each week or month of the range, how many actors were active on exactly (or, cumulative,
at least) 1, 2, ... days of it."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field
from sqlglot import exp

from sextant.insights.activity import ActivitySpec, actor_days, actor_periods, period_start
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
        days = actor_days(
            self.scan(),
            start_of(self.dates.first_day, self.spec.interval),
            # Whole periods: the last one counts its days after date_to too, as the first its days before.
            end_of(self.dates.last_day, self.spec.interval),
            events=self.spec.events,
            filters=self.spec.filters,
        )
        return {"days": days}

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        labels = bucket_labels(self.dates, self.spec.interval)
        most = 7 if self.spec.interval == "week" else 31
        histogram: dict[str, list[int]] = {period: [0] * most for period in labels}
        active = actor_periods(results["days"], self.spec.interval)
        if len(active.periods):
            first = int(active.periods.min())
            # Actors per (period, active days), counted at (period - first) * 32 + days.
            tally = np.bincount((active.periods - first) * 32 + active.active_days)
            for key in np.flatnonzero(tally).tolist():
                number, days = divmod(key, 32)
                histogram[label(period_start(first + number, self.spec.interval))][days - 1] += int(tally[key])
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
