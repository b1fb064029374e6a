"""Instances: the self-hosted copies of the product, counted by deployment type, version, versions behind
or telemetry status (the seeds' instance dashboards). Read from their latest state (`sextant.instances`),
not from events: an instance counts when it pinged in the date range, or never pinged but is known (from a
license), which is what the `none` telemetry status means."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator
from sqlglot import exp

from sextant import instances
from sextant.insights.runner import QueryRunner
from sextant.insights.scan import NONE
from sextant.insights.spec import WithoutBreakdown

ACTIVE_EVENTS_DAYS = 30  # events of an instance's users this recent make its status `full+events`


class InstancesSpec(WithoutBreakdown):
    kind: Literal["instances"] = "instances"
    by: Literal["deployment_type", "version", "versions_behind", "telemetry_status"] = Field(
        default="telemetry_status", description="what the instances are counted by"
    )

    @model_validator(mode="after")
    def _only_instance_fields(self) -> InstancesSpec:
        if self.filters or self.count_by != "persons":
            raise ValueError("instances are counted by `by` alone: filters, breakdown and count_by do not apply")
        return self


class InstancesRunner(QueryRunner):
    kind = "instances"
    spec_model = InstancesSpec
    spec: InstancesSpec

    def queries(self) -> dict[str, exp.Expr]:
        bind = self.parameters.bind
        since = self.context.now - dt.timedelta(days=ACTIVE_EVENTS_DAYS)
        bound = {"project": bind(self.context.project), "since": bind(since)}
        status = instances.status_query().transform(
            lambda node: bound[node.name].copy() if isinstance(node, exp.Placeholder) and node.name in bound else node
        )
        assert isinstance(status, exp.Select)
        seen = exp.and_(
            exp.GTE(this=exp.column("last_seen"), expression=bind(self.dates.start)),
            exp.LT(this=exp.column("first_seen"), expression=bind(self.dates.end)),
        )
        known = exp.or_(exp.Is(this=exp.column("last_seen"), expression=exp.null()), seen)
        value = exp.Coalesce(this=exp.cast(exp.column(self.spec.by), "text"), expressions=[exp.Literal.string(NONE)])
        return {
            "instances": exp.select(value.as_("value"), exp.Count(this=exp.Star()).as_("instances"))
            .from_(status.subquery("status"))
            .where(known)
            .group_by(value.copy())
        }

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        rows = results["instances"].to_pylist()
        ordered = sorted(rows, key=lambda row: (-row["instances"], _sort_key(self.spec.by, row["value"])))
        return {
            "by": self.spec.by,
            "results": [{"value": row["value"], "instances": row["instances"]} for row in ordered],
            "total": sum(row["instances"] for row in rows),
        }

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [{result["by"]: line["value"], "instances": line["instances"]} for line in result["results"]]


def _sort_key(by: str, value: str) -> tuple[int, float, str]:
    """Ties in count are shown in the value's own order: numbers (versions behind) as numbers."""
    if by == "versions_behind" and value.lstrip("-").isdigit():
        return (0, float(value), "")
    return (1, 0.0, value)
