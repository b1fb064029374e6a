"""What every chart shares: the look (config, colours, number formats), lines and bars over time buckets, one
big number, and how actors, breakdown values and durations are named."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sextant.insights.scan import NONE, OTHER

Spec = Mapping[str, Any]
Result = Mapping[str, Any]
Chart = dict[str, Any]
Builder = Callable[[Spec, Result], Chart]

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an identifier for vega-embed; never fetched

CONFIG: Chart = {
    "view": {"stroke": None},
    "font": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal", "labelColor": "#444"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "bottom"},
    "title": {"fontSize": 15, "anchor": "start", "subtitleColor": "#666"},
    "range": {"category": {"scheme": "tableau10"}},
}

TIME_FORMATS = {"hour": "%b %d %H:00", "day": "%b %d", "week": "%b %d", "month": "%b %Y"}

COUNT_AXIS: Chart = {"format": ",d", "tickMinStep": 1}  # counts: no 0.5 ticks, no repeated labels
MORE = "$more"  # the node that collects a step's smaller events in a path flow


@dataclass(frozen=True)
class KindCharts:
    """How one insight kind is drawn: the chart types that suit a result (default first; the result may be
    None when only the spec is known), a builder per type except `table`, and a default title."""

    types: Callable[[Spec, Result | None], tuple[str, ...]]
    builders: dict[str, Builder]
    title: Callable[[Spec, Result], str]


def time_chart(
    mark: str,
    rows: list[dict[str, Any]],
    interval: str,
    value: str,
    value_title: str,
    series: str,
    series_title: str | None,
    value_format: str,
    incomplete: Collection[str] = (),
) -> Chart:
    """Lines or bars over time buckets. Buckets are local wall-clock times: lines read them on a UTC time
    scale and bars label them in UTC, so that the viewer's own time zone never shifts them. Lines are dashed
    into the `incomplete` buckets (cut short by the range or by now), and their bars are pale, so that a
    partial period does not read as a drop."""
    several = len({row[series] for row in rows}) > 1
    title = {"hour": "Hour", "day": "Day", "week": "Week of", "month": "Month"}.get(interval, interval)
    label_format = TIME_FORMATS.get(interval, "%b %d")
    if mark == "line":
        x: Chart = {
            "field": "time",
            "type": "temporal",
            "scale": {"type": "utc"},
            "title": title,
            "axis": {"format": label_format, "labelOverlap": True},
        }
    else:
        parse = "%Y-%m-%d %H:%M:%S" if interval == "hour" else "%Y-%m-%d"
        x = {
            "field": "bucket",
            "type": "ordinal",
            "sort": in_order(rows, "bucket"),
            "title": title,
            "axis": {
                "labelExpr": f"utcFormat(utcParse(datum.value, '{parse}'), '{label_format}')",
                "labelOverlap": True,
                "labelAngle": 0,
            },
        }
    encoding: Chart = {
        "x": x,
        "y": {
            "field": value,
            "type": "quantitative",
            "title": value_title,
            "axis": COUNT_AXIS if value_format == ",d" else {"format": value_format},
        },
        "tooltip": [
            {"field": "bucket", "title": bucket_title(interval)},
            {"field": series, "title": series_title or "Series"},
            {"field": value, "title": value_title, "format": value_format},
        ],
    }
    if several or series_title:
        encoding["color"] = {
            "field": series,
            "type": "nominal",
            "title": series_title,
            "sort": in_order(rows, series),
        }
        if mark == "bar" and series != "status":
            encoding["xOffset"] = {"field": series, "type": "nominal", "sort": in_order(rows, series)}
    line_mark: Chart = {"type": "line", "point": {"size": 30}, "strokeWidth": 2}
    drawn: Chart = {
        "mark": line_mark if mark == "line" else {"type": "bar", **({} if several else {"color": "#1565c0"})}
    }
    for row in rows:
        row["incomplete"] = row["bucket"] in incomplete
    if any(row["incomplete"] for row in rows):
        for row in rows:
            row["period"] = "incomplete" if row["incomplete"] else "complete"
        encoding["tooltip"].append({"field": "period", "title": "Period"})
        if mark == "line":
            # The whole line dashed, with hollow points, under the complete buckets' solid line.
            dashed = {**line_mark, "strokeDash": [4, 4], "point": {"size": 30, "filled": False}}
            complete = {"transform": [{"filter": "!datum.incomplete"}], "mark": line_mark}
            drawn = {"layer": [{"mark": dashed}, complete]}
        else:
            encoding["opacity"] = {"condition": {"test": "datum.incomplete", "value": 0.4}, "value": 1}
    return {"data": {"values": rows}, "width": "container", "height": 260, **drawn, "encoding": encoding}


def incomplete_buckets(result: Result) -> set[str]:
    """The labels of a result's buckets that are cut short (its `incomplete` flags)."""
    return {label for label, cut_short in zip(result["labels"], result["incomplete"], strict=True) if cut_short}


def big_number(value: float | None, caption: str, subtitle: str, value_format: str) -> Chart:
    """One big number with a caption under it."""
    text = "—" if value is None else format_number(value, value_format)
    return {
        "data": {"values": [{"value": value, "text": text, "caption": caption}]},
        "width": 320,
        "height": 130,
        "title": {"subtitle": subtitle} if subtitle else {},
        "layer": [
            {
                "mark": {"type": "text", "fontSize": 56, "fontWeight": "bold", "color": "#1565c0", "dy": -14},
                "encoding": {"text": {"field": "text"}, "tooltip": {"field": "caption"}},
            },
            {
                "mark": {"type": "text", "fontSize": 13, "color": "#555", "dy": 34},
                "encoding": {"text": {"field": "caption"}},
            },
        ],
    }


def format_number(value: float, value_format: str) -> str:
    if value_format.endswith("%"):
        return f"{value:.1%}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def actor_noun(spec: Spec) -> str:
    """What the counted actors are called: users, or a group type such as accounts."""
    count_by = str(spec.get("count_by") or "persons")
    return "Users" if count_by == "persons" else f"{count_by.capitalize()}s"


def breakdown_title(spec: Spec) -> str:
    breakdown = spec.get("breakdown") or {}
    if breakdown.get("type") == "cohort":
        return "Cohort"
    return str(breakdown.get("key") or "Breakdown")


def bucket_title(interval: str) -> str:
    return {"week": "Week of", "month": "Month"}.get(interval, "Time" if interval == "hour" else "Day")


def instant(bucket: str) -> str:
    """A bucket label (a local date or `YYYY-MM-DD HH:00:00`) as an ISO instant read on a UTC scale."""
    return f"{bucket.replace(' ', 'T')}Z" if " " in bucket else f"{bucket}T00:00:00Z"


def readable(value: str | None) -> str:
    """A breakdown or event value as people read it."""
    if value is None:
        return "(none)"
    return {OTHER: "Other", NONE: "(none)", MORE: "Other events"}.get(value, value)


def named(name: str, line: Mapping[str, Any]) -> str:
    return name if "breakdown_value" not in line else f"{name} [{readable(line['breakdown_value'])}]"


def in_order(rows: list[dict[str, Any]], field: str) -> list[Any]:
    return list(dict.fromkeys(row[field] for row in rows))


def duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m {seconds % 60:.0f}s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h {seconds % 3600 // 60:.0f}m"
    return f"{seconds // 86400:.0f}d {seconds % 86400 // 3600:.0f}h"
