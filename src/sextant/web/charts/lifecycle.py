"""The lifecycle chart: stacked bars per interval, new, returning and resurrecting above zero, dormant below."""

from __future__ import annotations

from sextant.insights.lifecycle import STATUSES
from sextant.web.charts.base import Chart, KindCharts, Result, Spec, actor_noun, incomplete_buckets, instant, time_chart

COLOURS = {"new": "#2e7d32", "returning": "#1565c0", "resurrecting": "#f9a825", "dormant": "#c62828"}


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    return ("bar", "table")


def bars(spec: Spec, result: Result) -> Chart:
    """Stacked bars per interval: new, returning and resurrecting above zero, dormant below."""
    rows = [
        {"bucket": bucket, "time": instant(bucket), "status": status, "actors": result[status][index]}
        for status in STATUSES
        for index, bucket in enumerate(result["labels"])
    ]
    interval, incomplete = str(result["interval"]), incomplete_buckets(result)
    chart = time_chart("bar", rows, interval, "actors", actor_noun(spec), "status", "Status", ",d", incomplete)
    chart["encoding"]["color"]["scale"] = {
        "domain": list(COLOURS),
        "range": list(COLOURS.values()),
    }
    chart["encoding"]["order"] = {"field": "order", "type": "quantitative"}
    chart["encoding"]["y"]["stack"] = "zero"
    for row in rows:
        row["order"] = STATUSES.index(row["status"])
    return chart


def title(spec: Spec, result: Result) -> str:
    return "Lifecycle: new, returning, resurrecting and dormant"


CHARTS = KindCharts(types, {"bar": bars}, title)
