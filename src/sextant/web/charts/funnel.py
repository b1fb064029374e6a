"""Funnel charts: horizontal bars per step (a group per breakdown value) or the overall conversion as a number;
the conversion-over-time view as a line or as bars of who entered and who converted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sextant.web.charts.base import (
    COUNT_AXIS,
    Chart,
    KindCharts,
    Result,
    Spec,
    actor_noun,
    big_number,
    breakdown_title,
    duration,
    in_order,
    incomplete_buckets,
    instant,
    readable,
    time_chart,
)


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    if spec.get("persons") is not None or (result is not None and "persons" in result):
        return ("table",)
    if spec.get("view") == "over_time" or (result is not None and "labels" in result):
        return ("line", "bar", "table")
    return ("funnel", "number", "table")


def bars(spec: Spec, result: Result) -> Chart:
    """Horizontal bars, one per step (one group of bars per breakdown value), labelled with the count and
    the conversion from the first step."""
    rows = _rows(result)
    broken_down = any("breakdown_value" in line for line in result["results"])
    order = in_order(rows, "step_label")
    tooltip = [
        {"field": "step_label", "title": "Step"},
        *([{"field": "breakdown", "title": breakdown_title(spec)}] if broken_down else []),
        {"field": "count", "title": actor_noun(spec), "format": ","},
        {"field": "conversion_from_first", "title": "From first step", "format": ".1%"},
        {"field": "conversion_from_previous", "title": "From previous step", "format": ".1%"},
        {"field": "median_time", "title": "Median time from previous step"},
    ]
    encoding: Chart = {
        "y": {
            "field": "step_label",
            "type": "nominal",
            "sort": order,
            "title": "Step",
            "axis": {"labelLimit": 220, "title": None},
        },
        "x": {
            "field": "count",
            "type": "quantitative",
            "title": actor_noun(spec),
            "axis": COUNT_AXIS,
            # room for the labels at the ends of the longest bars
            "scale": {"domainMax": max((row["count"] for row in rows), default=0) * 1.2 or 1},
        },
        "tooltip": tooltip,
    }
    if broken_down:
        encoding["yOffset"] = {"field": "breakdown", "type": "nominal", "sort": in_order(rows, "breakdown")}
        encoding["color"] = {
            "field": "breakdown",
            "type": "nominal",
            "title": breakdown_title(spec),
            "sort": in_order(rows, "breakdown"),
        }
    return {
        "data": {"values": rows},
        "width": "container",
        # With a breakdown the step is each value's bar within a step's group.
        "height": {"step": 16, "for": "offset"} if broken_down else {"step": 36},
        "encoding": encoding,
        "layer": [
            {"mark": {"type": "bar", "cornerRadiusEnd": 2, **({} if broken_down else {"color": "#1565c0"})}},
            {
                "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 11, "color": "#333"},
                "encoding": {"text": {"field": "bar_label"}},
            },
        ],
    }


def conversion(spec: Spec, result: Result) -> Chart:
    steps = result["results"][0]["steps"]
    rate = steps[-1]["conversion_from_first"]
    caption = f"{steps[-1]['count']:,} of {steps[0]['count']:,} {actor_noun(spec).lower()} converted"
    return big_number(rate, caption, f"{_step_name(steps[0])} → {_step_name(steps[-1])}", ".1%")


def over_time_line(spec: Spec, result: Result) -> Chart:
    rows = [
        {"bucket": bucket, "time": instant(bucket), "series": "Conversion", "value": rate}
        for bucket, rate in zip(result["labels"], result["conversion"], strict=True)
    ]
    interval, incomplete = str(result["interval"]), incomplete_buckets(result)
    chart = time_chart("line", rows, interval, "value", "Conversion", "series", None, ".1%", incomplete)
    chart["encoding"]["y"]["axis"] = {"format": ".0%"}
    chart["encoding"]["y"]["scale"] = {"domain": [0, 1]}
    return chart


def over_time_bars(spec: Spec, result: Result) -> Chart:
    rows = [
        {"bucket": bucket, "time": instant(bucket), "series": series, "value": value}
        for series, values in (("Entered", result["entered"]), ("Converted", result["converted"]))
        for bucket, value in zip(result["labels"], values, strict=True)
    ]
    interval, incomplete = str(result["interval"]), incomplete_buckets(result)
    return time_chart("bar", rows, interval, "value", actor_noun(spec), "series", None, ",d", incomplete)


def _rows(result: Result) -> list[dict[str, Any]]:
    rows = []
    for line in result["results"]:
        for step in line["steps"]:
            rate = step["conversion_from_first"]
            rows.append(
                {
                    "step": step["step"],
                    "step_label": f"{step['step'] + 1}. {_step_name(step)}",
                    "breakdown": readable(line.get("breakdown_value")),
                    "count": step["count"],
                    "conversion_from_first": rate,
                    "conversion_from_previous": step["conversion_from_previous"],
                    "median_time": duration((step.get("time_to_convert") or {}).get("median")),
                    "bar_label": f"{step['count']:,}" + ("" if rate is None else f" · {rate:.1%}"),
                }
            )
    return rows


def _step_name(step: Mapping[str, Any]) -> str:
    return str(step.get("event") or "Any event")


def title(spec: Spec, result: Result) -> str:
    steps = " → ".join(str(step.get("event") or "Any event") for step in spec.get("steps", []))
    return f"Funnel conversion over time: {steps}" if "labels" in result else f"Funnel: {steps}"


CHARTS = KindCharts(types, {"funnel": bars, "number": conversion, "line": over_time_line, "bar": over_time_bars}, title)
