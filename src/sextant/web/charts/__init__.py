"""Vega-Lite charts of insight results: which chart types suit a result, and each chart's spec with the result's
data inlined. Pure functions of a query spec and its result; pages embed these specs with vega-embed, and
scheduled deliveries render the same specs to images (`sextant.web.chart_images`). As in `sextant.insights`,
each kind is one module here plus its line in `KINDS`."""

from __future__ import annotations

from dataclasses import dataclass

from sextant.errors import QueryError
from sextant.web.charts import (
    active_users,
    funnel,
    instances,
    lifecycle,
    paths,
    retention,
    segmentation,
    stickiness,
)
from sextant.web.charts.base import CONFIG, SCHEMA, Chart, KindCharts, Result, Spec

__all__ = ["CHART_TYPES", "KINDS", "ChartChoice", "chart_spec", "chart_types"]

CHART_TYPES = ("line", "bar", "table", "number", "funnel", "heatmap", "path_flow")

KINDS: dict[str, KindCharts] = {
    "segmentation": segmentation.CHARTS,
    "funnel": funnel.CHARTS,
    "retention": retention.CHARTS,
    "stickiness": stickiness.CHARTS,
    "lifecycle": lifecycle.CHARTS,
    "active_users": active_users.CHARTS,
    "paths": paths.CHARTS,
    "instances": instances.CHARTS,
}


@dataclass(frozen=True)
class ChartChoice:
    """The chart types that suit a result, the first being the default."""

    types: tuple[str, ...]

    @property
    def default(self) -> str:
        return self.types[0]


def chart_types(spec: Spec, result: Result | None = None) -> ChartChoice:
    """The chart types that suit a spec's kind (and, when given, the shape of its result), default first.
    Kinds without a chart (persons) are shown as a table."""
    charts = KINDS.get(str(spec.get("kind")))
    return ChartChoice(charts.types(spec, result) if charts else ("table",))


def chart_spec(spec: Spec, result: Result, chart: str | None = None, *, title: str | None = None) -> Chart | None:
    """The Vega-Lite spec of `result` (the answer to `spec`) drawn as `chart` (default: the kind's default),
    or None for a table, which the page shows without a chart."""
    choice = chart_types(spec, result)
    chart = chart or choice.default
    if chart not in choice.types:
        raise QueryError(
            f"a {spec.get('kind')} result cannot be drawn as {chart!r}; use one of {', '.join(choice.types)}"
        )
    if chart == "table":
        return None
    charts = KINDS[str(spec["kind"])]
    drawn = charts.builders[chart](spec, result)
    drawn["title"] = {"text": title or charts.title(spec, result), **drawn.get("title", {})}
    return {"$schema": SCHEMA, **drawn, "config": CONFIG}
