"""Segmentation charts: each series (or formula) as a line or bars over time, or one total as a number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sextant.web.charts.base import (
    Chart,
    KindCharts,
    Result,
    Spec,
    actor_noun,
    big_number,
    breakdown_title,
    incomplete_buckets,
    instant,
    named,
    readable,
    time_chart,
)

MATH_TITLES = {"median": "Median", "p90": "90th percentile"}


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    """A number only when the result has one line to total."""
    single = result is None or len(_lines(result)) == 1
    return ("line", "bar", "number", "table") if single else ("line", "bar", "table")


def lines_over_time(spec: Spec, result: Result) -> Chart:
    return _over_time("line", spec, result)


def bars_over_time(spec: Spec, result: Result) -> Chart:
    return _over_time("bar", spec, result)


def _over_time(mark: str, spec: Spec, result: Result) -> Chart:
    lines, legend = _legend(spec, result)
    rows = [
        {"bucket": bucket, "time": instant(bucket), "series": name, "value": value}
        for name, line in lines.items()
        for bucket, value in zip(result["labels"], line["data"], strict=True)
    ]
    interval, title = str(result["interval"]), _value_title(spec)
    return time_chart(
        mark, rows, interval, "value", title, "series", legend, ",.4~f", incomplete=incomplete_buckets(result)
    )


def total(spec: Spec, result: Result) -> Chart:
    (name, line) = next(iter(_lines(result).items()))
    labels = result["labels"]
    return big_number(line["total"], name, f"{labels[0]} to {labels[-1]}" if labels else "", ",.4~f")


def _lines(result: Result) -> dict[str, Mapping[str, Any]]:
    """Each line of a segmentation result by the name it is shown under (formula lines replace the series)."""
    if result.get("formula"):
        return {named(f"formula: {line['formula']}", line): line for line in result["formula"]}
    return {named(f"{line['series']}: {line['label']} ({line['math']})", line): line for line in result["series"]}


def _legend(spec: Spec, result: Result) -> tuple[dict[str, Mapping[str, Any]], str]:
    """The lines as the legend names them, and its title. The lines of one series (or formula) split by a
    breakdown are named by their breakdown values under the breakdown's title: their full names differ only
    at the end, where a legend cuts long labels off."""
    lines = _lines(result)
    whole = {line.get("series", line.get("formula")) for line in lines.values()}
    by_value = {readable(line["breakdown_value"]): line for line in lines.values() if "breakdown_value" in line}
    if len(lines) > 1 and len(whole) == 1 and len(by_value) == len(lines):
        return by_value, breakdown_title(spec)
    return lines, "Series"


def _value_title(spec: Spec) -> str:
    if spec.get("formula"):
        return "Formula value"
    titles = set()
    for series in spec.get("series") or [{}]:
        math_name = series.get("math", "total")
        if math_name == "unique":
            titles.add(actor_noun(spec))
        elif math_name == "unique_group":
            titles.add(f"{str(series.get('group_type', 'group')).capitalize()}s")
        elif math_name == "total":
            titles.add("Events")
        else:
            titles.add(f"{MATH_TITLES.get(math_name, math_name.capitalize())} of {series.get('property')}")
    return titles.pop() if len(titles) == 1 else "Value"


def title(spec: Spec, result: Result) -> str:
    return ", ".join(str(series.get("event") or "All events") for series in spec.get("series", [])) or "Events"


CHARTS = KindCharts(types, {"line": lines_over_time, "bar": bars_over_time, "number": total}, title)
