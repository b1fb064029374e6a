"""Active-user charts: DAU, WAU and MAU as lines, or the last day's DAU as a number."""

from __future__ import annotations

from sextant.insights.active_users import WINDOWS
from sextant.web.charts.base import (
    Chart,
    KindCharts,
    Result,
    Spec,
    actor_noun,
    big_number,
    incomplete_buckets,
    instant,
    time_chart,
)

COLOURS = {"DAU": "#1565c0", "WAU": "#6a1b9a", "MAU": "#ef6c00"}


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    return ("line", "number", "table")


def lines(spec: Spec, result: Result) -> Chart:
    rows = [
        {"bucket": day, "time": instant(day), "measure": name.upper(), "users": result[name][index]}
        for name in WINDOWS
        for index, day in enumerate(result["labels"])
    ]
    incomplete = incomplete_buckets(result)
    chart = time_chart("line", rows, "day", "users", actor_noun(spec), "measure", "Active", ",d", incomplete)
    chart["encoding"]["color"]["scale"] = {
        "domain": list(COLOURS),
        "range": list(COLOURS.values()),
    }
    return chart


def latest(spec: Spec, result: Result) -> Chart:
    if not result["labels"]:
        return big_number(None, "Daily active users", "", ",d")
    day = result["labels"][-1]
    caption = f"WAU {result['wau'][-1]:,} · MAU {result['mau'][-1]:,}"
    return big_number(result["dau"][-1], f"Daily active {actor_noun(spec).lower()} on {day}", caption, ",d")


def title(spec: Spec, result: Result) -> str:
    return "Active users: DAU, WAU and MAU"


CHARTS = KindCharts(types, {"line": lines, "number": latest}, title)
