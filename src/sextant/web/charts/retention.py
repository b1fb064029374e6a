"""Retention charts: the cohort x period heatmap (a triangle, since periods that have not ended are left out)
and the retention curve."""

from __future__ import annotations

from typing import Any

from sextant.web.charts.base import Chart, KindCharts, Result, Spec, actor_noun, breakdown_title, in_order, readable


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    return ("heatmap", "line", "table")


def heatmap(spec: Spec, result: Result) -> Chart:
    """Cohorts down, periods across, one cell per period that has ended (so the chart is a triangle),
    coloured and labelled by the share of the cohort that returned."""
    rows = _cells(result)
    broken_down = any("breakdown_value" in line for line in result["results"])
    interval = str(result["interval"])
    tooltip = [
        *([{"field": "breakdown", "title": breakdown_title(spec)}] if broken_down else []),
        {"field": "cohort", "title": f"Cohort ({interval} of)"},
        {"field": "size", "title": f"{actor_noun(spec)} in cohort", "format": ","},
        {"field": "period", "title": f"{interval.capitalize()}s later"},
        {"field": "count", "title": f"{actor_noun(spec)} returned", "format": ","},
        {"field": "rate", "title": "Retention", "format": ".1%"},
    ]
    layer: Chart = {
        "encoding": {
            "x": {
                "field": "period",
                "type": "ordinal",
                "sort": list(result["periods"]),
                "title": f"{interval.capitalize()}s later",
                "axis": {"orient": "top", "labelAngle": 0},
            },
            "y": {
                "field": "cohort_label",
                "type": "ordinal",
                "sort": in_order(rows, "cohort_label"),
                "title": f"Cohort ({interval} of), {actor_noun(spec).lower()}",
            },
            "tooltip": tooltip,
        },
        "layer": [
            {
                "mark": {"type": "rect", "stroke": "white", "strokeWidth": 1},
                "encoding": {
                    "color": {
                        "field": "rate",
                        "type": "quantitative",
                        "title": "Retention",
                        "scale": {"domain": [0, 1], "scheme": "blues"},
                        "legend": {"format": ".0%"},
                    }
                },
            },
            {
                "mark": {"type": "text", "fontSize": 11},
                "encoding": {
                    "text": {"field": "text"},
                    "color": {"condition": {"test": "datum.rate > 0.5", "value": "white"}, "value": "#222"},
                },
            },
        ],
        "width": {"step": 52},
        "height": {"step": 24},
    }
    if broken_down:
        return {
            "data": {"values": rows},
            "facet": {"row": {"field": "breakdown", "type": "nominal", "title": breakdown_title(spec)}},
            "spec": layer,
            "resolve": {"scale": {"y": "independent"}},
        }
    return {"data": {"values": rows}, **layer}


def curve(spec: Spec, result: Result) -> Chart:
    """The retention curve: per period, of every cohort whose period has ended, the share that returned."""
    rows = _curve(result)
    interval = str(result["interval"])
    broken_down = any("breakdown_value" in line for line in result["results"])
    encoding: Chart = {
        "x": {
            "field": "period",
            "type": "ordinal",
            "sort": list(result["periods"]),
            "title": f"{interval.capitalize()}s later",
            "axis": {"labelAngle": 0},
        },
        "y": {
            "field": "rate",
            "type": "quantitative",
            "title": "Retention",
            "axis": {"format": ".0%"},
            "scale": {"domain": [0, 1]},
        },
        "tooltip": [
            *([{"field": "breakdown", "title": breakdown_title(spec)}] if broken_down else []),
            {"field": "period", "title": f"{interval.capitalize()}s later"},
            {"field": "rate", "title": "Retention", "format": ".1%"},
            {"field": "count", "title": f"{actor_noun(spec)} returned", "format": ","},
            {"field": "size", "title": f"{actor_noun(spec)} in cohorts", "format": ","},
        ],
    }
    if broken_down:
        encoding["color"] = {"field": "breakdown", "type": "nominal", "title": breakdown_title(spec)}
    return {
        "data": {"values": rows},
        "width": "container",
        "height": 260,
        "mark": {"type": "line", "point": True},
        "encoding": encoding,
    }


def _cells(result: Result) -> list[dict[str, Any]]:
    rows = []
    for line in result["results"]:
        for cohort in line["cohorts"]:
            if not cohort["size"]:
                continue
            for index, period in enumerate(result["periods"]):
                if not cohort["complete"][index]:
                    continue
                rate = cohort["rates"][index]
                rows.append(
                    {
                        "breakdown": readable(line.get("breakdown_value")),
                        "cohort": cohort["cohort"],
                        "cohort_label": f"{cohort['cohort']} ({cohort['size']:,})",
                        "size": cohort["size"],
                        "period": period,
                        "count": cohort["counts"][index],
                        "rate": rate,
                        "text": f"{rate:.0%}",
                    }
                )
    return rows


def _curve(result: Result) -> list[dict[str, Any]]:
    rows = []
    for line in result["results"]:
        for index, period in enumerate(result["periods"]):
            ended = [cohort for cohort in line["cohorts"] if cohort["complete"][index] and cohort["size"]]
            size = sum(cohort["size"] for cohort in ended)
            if size:
                count = sum(cohort["counts"][index] for cohort in ended)
                breakdown = readable(line.get("breakdown_value"))
                rows.append(
                    {"breakdown": breakdown, "period": period, "count": count, "size": size, "rate": count / size}
                )
    return rows


def title(spec: Spec, result: Result) -> str:
    start = (spec.get("start") or {}).get("event") or "any event"
    back = (spec.get("return") or {}).get("event") or "any event"
    return f"Retention: {start}, then {back}"


CHARTS = KindCharts(types, {"heatmap": heatmap, "line": curve}, title)
