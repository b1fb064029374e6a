"""Stickiness charts: how many actors were active on 1, 2, ... days of a week or month, in all (bars) or per
period (lines)."""

from __future__ import annotations

from sextant.web.charts.base import COUNT_AXIS, Chart, KindCharts, Result, Spec, actor_noun


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    return ("bar", "line", "table")


def bars(spec: Spec, result: Result) -> Chart:
    rows = [{"days": days, "actors": actors} for days, actors in zip(result["days"], result["total"], strict=True)]
    return {
        "data": {"values": rows},
        "width": "container",
        "height": 260,
        "mark": {"type": "bar", "color": "#1565c0", "cornerRadiusEnd": 2},
        "encoding": {
            "x": {"field": "days", "type": "ordinal", "title": _days_title(result), "axis": {"labelAngle": 0}},
            "y": {"field": "actors", "type": "quantitative", "title": actor_noun(spec), "axis": COUNT_AXIS},
            "tooltip": [
                {"field": "days", "title": _days_title(result)},
                {"field": "actors", "title": actor_noun(spec), "format": ","},
            ],
        },
    }


def lines(spec: Spec, result: Result) -> Chart:
    rows = [
        {"period": period["period"], "days": days, "actors": actors}
        for period in result["periods"]
        for days, actors in zip(result["days"], period["actors"], strict=True)
    ]
    interval = str(result["interval"])
    return {
        "data": {"values": rows},
        "width": "container",
        "height": 260,
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "days", "type": "ordinal", "title": _days_title(result), "axis": {"labelAngle": 0}},
            "y": {"field": "actors", "type": "quantitative", "title": actor_noun(spec), "axis": COUNT_AXIS},
            "color": {"field": "period", "type": "nominal", "title": f"{interval.capitalize()} of"},
            "tooltip": [
                {"field": "period", "title": f"{interval.capitalize()} of"},
                {"field": "days", "title": _days_title(result)},
                {"field": "actors", "title": actor_noun(spec), "format": ","},
            ],
        },
    }


def _days_title(result: Result) -> str:
    prefix = "At least this many days" if result.get("cumulative") else "Days"
    return f"{prefix} active in the {result.get('interval', 'week')}"


def title(spec: Spec, result: Result) -> str:
    return f"Stickiness: days active per {result.get('interval', 'week')}"


CHARTS = KindCharts(types, {"bar": bars, "line": lines}, title)
