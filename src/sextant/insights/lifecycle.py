"""Lifecycle: per day, week or month, the actors who are new (first active ever), returning (also active
in the previous period), resurrecting (active before, but not in the previous period) and dormant (active
in the previous period but not in this one; shown as a negative count)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sextant.insights.activity import ActivitySpec, actor_days, actor_periods, period_start
from sextant.insights.buckets import bucket_labels, end_of, incomplete, label
from sextant.insights.runner import QueryRunner
from sextant.insights.spec import WithoutBreakdown

STATUSES = ("new", "returning", "resurrecting", "dormant")


class LifecycleSpec(WithoutBreakdown, ActivitySpec):
    kind: Literal["lifecycle"] = "lifecycle"
    interval: Literal["day", "week", "month"] = "week"


class LifecycleRunner(QueryRunner):
    kind = "lifecycle"
    spec_model = LifecycleSpec
    spec: LifecycleSpec

    def queries(self) -> dict[str, exp.Expr]:
        # Every active day ever: "new" and "resurrecting" depend on activity before the range. Whole periods:
        # the last one counts its days after date_to too.
        last_day = end_of(self.dates.last_day, self.spec.interval)
        days = actor_days(self.scan(), None, last_day, events=self.spec.events, filters=self.spec.filters)
        return {"days": days}

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        """Each actor's active periods in order: the first is new, one right after an active period is
        returning, one after a gap resurrecting, and the period after an active one that is not active
        counts the actor as dormant."""
        active = actor_periods(results["days"], self.spec.interval)
        actors, periods = active.actors, active.periods
        first = np.ones(len(actors), np.bool_)
        first[1:] = actors[1:] != actors[:-1]
        after = np.zeros(len(actors), np.int64)  # periods since the actor's previous active one
        after[1:] = periods[1:] - periods[:-1]
        followed = np.zeros(len(actors), np.bool_)  # the actor is active in the next period too
        followed[:-1] = ~first[1:] & (after[1:] == 1)
        counted = {
            "new": periods[first],
            "returning": periods[~first & (after == 1)],
            "resurrecting": periods[~first & (after > 1)],
            "dormant": periods[~followed] + 1,
        }
        labels = bucket_labels(self.dates, self.spec.interval)
        shown = {status: dict.fromkeys(labels, 0) for status in STATUSES}
        for status, numbers in counted.items():
            values, counts = np.unique(numbers, return_counts=True)
            for number, count in zip(values.tolist(), counts.tolist(), strict=True):
                period = label(period_start(number, self.spec.interval))
                if period in shown[status]:
                    shown[status][period] = count
        return {
            "interval": self.spec.interval,
            "labels": labels,
            "incomplete": incomplete(labels, self.spec.interval, self.context.timezone, self.context.now),
            **{status: [(-1 if status == "dormant" else 1) * shown[status][p] for p in labels] for status in STATUSES},
        }

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"period": period, **{status: result[status][index] for status in STATUSES}}
            for index, period in enumerate(result["labels"])
        ]
