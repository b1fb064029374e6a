"""Stickiness: in each week or month of the range, how many actors were active on exactly (or, cumulative,
at least) 1, 2, ... days of it; with a breakdown, also per value, counting an actor's days with that value."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field
from sqlglot import exp

from sextant.insights.activity import ActivitySpec, actor_days, actor_periods, breakdown_lines, period_start
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
        first, last = self._whole_periods()
        spec = self.spec
        queries: dict[str, exp.Expr] = {
            "days": actor_days(self.scan(), first, last, events=spec.events, filters=spec.filters)
        }
        if spec.breakdown:
            queries["breakdown_days"] = actor_days(
                self.scan(), first, last, events=spec.events, filters=spec.filters, breakdown=spec.breakdown
            )
        return queries

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        labels = bucket_labels(self.dates, self.spec.interval)
        most = 7 if self.spec.interval == "week" else 31
        shaped: dict[str, Any] = {
            "interval": self.spec.interval,
            "days": list(range(1, most + 1)),
            "cumulative": self.spec.cumulative,
            **self._histograms(results["days"], labels, most),
        }
        if self.spec.breakdown:
            lines = breakdown_lines(results["breakdown_days"], self.spec.breakdown.limit, *self._whole_periods())
            shaped["breakdown"] = [
                {"breakdown_value": value, **self._histograms(days, labels, most)} for value, days in lines
            ]
        return shaped

    def _whole_periods(self) -> tuple[dt.date, dt.date]:
        """The first and last day read: the last period counts its days after date_to too, as the first its
        days before."""
        return start_of(self.dates.first_day, self.spec.interval), end_of(self.dates.last_day, self.spec.interval)

    def _histograms(self, days: pa.Table, labels: list[str], most: int) -> dict[str, Any]:
        """`periods` (actors per number of active days, in each period) and their `total`."""
        histogram: dict[str, list[int]] = {period: [0] * most for period in labels}
        active = actor_periods(days, self.spec.interval)
        if len(active.periods):
            first = int(active.periods.min())
            # Actors per (period, active days), counted at (period - first) * 32 + days.
            tally = np.bincount((active.periods - first) * 32 + active.active_days)
            for key in np.flatnonzero(tally).tolist():
                number, count = divmod(key, 32)
                histogram[label(period_start(first + number, self.spec.interval))][count - 1] += int(tally[key])
        if self.spec.cumulative:
            for counts in histogram.values():
                for index in range(most - 2, -1, -1):
                    counts[index] += counts[index + 1]
        return {
            "periods": [{"period": period, "actors": histogram[period]} for period in labels],
            "total": [sum(histogram[period][index] for period in labels) for index in range(most)],
        }

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        lines = [("", result), *((f" [{line['breakdown_value']}]", line) for line in result.get("breakdown", []))]
        return [
            {
                "period": period["period"],
                **{
                    f"{days} days{suffix}": count
                    for suffix, line in lines
                    for days, count in zip(result["days"], line["periods"][index]["actors"], strict=True)
                },
            }
            for index, period in enumerate(result["periods"])
        ]
