"""Instance charts: self-hosted instances counted by deployment type, version, versions behind or telemetry
status, as bars (largest first) or one big number."""

from __future__ import annotations

from sextant.web.charts.base import COUNT_AXIS, Chart, KindCharts, Result, Spec, big_number, readable

DIMENSIONS = {
    "deployment_type": "Deployment type",
    "version": "Version",
    "versions_behind": "Versions behind",
    "telemetry_status": "Telemetry status",
}


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    return ("bar", "number", "table")


def bars(spec: Spec, result: Result) -> Chart:
    dimension = DIMENSIONS[str(result["by"])]
    rows = [{"value": readable(line["value"]), "instances": line["instances"]} for line in result["results"]]
    return {
        "data": {"values": rows},
        "width": "container",
        "height": 260,
        "mark": {"type": "bar", "color": "#1565c0", "cornerRadiusEnd": 2},
        "encoding": {
            "y": {"field": "value", "type": "nominal", "title": dimension, "sort": None},
            "x": {"field": "instances", "type": "quantitative", "title": "Instances", "axis": COUNT_AXIS},
            "tooltip": [
                {"field": "value", "title": dimension},
                {"field": "instances", "title": "Instances", "format": ","},
            ],
        },
    }


def number(spec: Spec, result: Result) -> Chart:
    return big_number(result["total"], "instances", f"by {DIMENSIONS[str(result['by'])].lower()}", ",")


def title(spec: Spec, result: Result) -> str:
    return f"Instances by {DIMENSIONS[str(result['by'])].lower()}"


CHARTS = KindCharts(types, {"bar": bars, "number": number}, title)
