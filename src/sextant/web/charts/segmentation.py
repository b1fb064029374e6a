"""Segmentation charts: each series (or formula) as a line or bars over time, or one total as a number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sextant.web.charts.base import Chart, KindCharts, Result, Spec, actor_noun, big_number, instant, named, time_chart

MATH_TITLES = {"median": "Median", "p90": "90th percentile"}


def types(spec: Spec, result: Result | None) -> tuple[str, ...]:
    """A number only when the result has one line to total."""
    single = result is None or len(_lines(result)) == 1
    return ("line", "bar", "number", "table") if single else ("line", "bar", "table")


def lines_over_time(spec: Spec, result: Result) -> Chart:
    rows = _rows(result)
    return time_chart("line", rows, str(result["interval"]), "value", _value_title(spec), "series", "Series", ",.4~f")


def bars_over_time(spec: Spec, result: Result) -> Chart:
    rows = _rows(result)
    return time_chart("bar", rows, str(result["interval"]), "value", _value_title(spec), "series", "Series", ",.4~f")


def total(spec: Spec, result: Result) -> Chart:
    (name, line) = next(iter(_lines(result).items()))
    labels = result["labels"]
    return big_number(line["total"], name, f"{labels[0]} to {labels[-1]}" if labels else "", ",.4~f")


def _lines(result: Result) -> dict[str, Mapping[str, Any]]:
    """Each line of a segmentation result by the name it is shown under (formula lines replace the series)."""
    if result.get("formula"):
        return {named(f"formula: {line['formula']}", line): line for line in result["formula"]}
    return {named(f"{line['series']}: {line['label']} ({line['math']})", line): line for line in result["series"]}


def _rows(result: Result) -> list[dict[str, Any]]:
    return [
        {"bucket": bucket, "time": instant(bucket), "series": name, "value": value}
        for name, line in _lines(result).items()
        for bucket, value in zip(result["labels"], line["data"], strict=True)
    ]


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
