"""Segmentation: event series over time (totals, unique actors, property aggregates), a per-actor
frequency distribution, and formulas over the series."""

from __future__ import annotations

import ast
import operator
import string
from collections.abc import Callable
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, field_validator, model_validator
from sqlglot import exp

from sextant.insights.buckets import bucket_labels, bucket_of_date, bucket_of_timestamp, incomplete, label
from sextant.insights.runner import QueryRunner
from sextant.insights.scan import OTHER, top_values
from sextant.insights.spec import EventSelector, InsightSpec
from sextant.insights.timeline import TimelineView, numbered_below_zero

Math = Literal["total", "unique", "unique_group", "sum", "avg", "min", "max", "median", "p90"]
PROPERTY_MATH = ("sum", "avg", "min", "max", "median", "p90")
LETTERS = string.ascii_uppercase


class Series(EventSelector):
    math: Math = "total"
    property: str | None = Field(default=None, description="the event property that sum ... p90 aggregate")
    group_type: str | None = Field(default=None, description="the group type that unique_group counts")

    @model_validator(mode="after")
    def _math_inputs(self) -> Series:
        if self.math in PROPERTY_MATH and not self.property:
            raise ValueError(f"math {self.math!r} needs `property`, the event property to aggregate")
        if self.math == "unique_group" and not self.group_type:
            raise ValueError("math 'unique_group' needs `group_type`, such as account")
        return self


class SegmentationSpec(InsightSpec):
    kind: Literal["segmentation"] = "segmentation"
    series: list[Series] = Field(min_length=1, max_length=len(LETTERS))
    formula: str | None = Field(default=None, description="over series letters, such as `A / B * 100`")
    frequency: bool = Field(default=False, description="also give how many actors did each series N times")

    @field_validator("formula")
    @classmethod
    def _formula(cls, value: str | None) -> str | None:
        if value is not None:
            compile_formula(value)
        return value

    @model_validator(mode="after")
    def _formula_letters(self) -> SegmentationSpec:
        if self.formula:
            known = set(LETTERS[: len(self.series)])
            unknown = sorted(_letters(self.formula) - known)
            if unknown:
                raise ValueError(
                    f"formula uses {', '.join(unknown)} but there are only series {', '.join(sorted(known))}"
                )
        return self


class SegmentationRunner(QueryRunner):
    kind = "segmentation"
    spec_model = SegmentationSpec
    spec: SegmentationSpec

    def queries(self) -> dict[str, exp.Expr]:
        queries: dict[str, exp.Expr] = {}
        for letter, series in zip(LETTERS, self.spec.series, strict=False):
            queries[letter] = self._aggregate(series, by_bucket=True)
            queries[f"{letter}_total"] = self._aggregate(series, by_bucket=False)
            if self.spec.frequency:
                queries[f"{letter}_frequency"] = self._frequency(series)
        return queries

    def _rows(self, series: Series, *, with_actor: bool) -> exp.Query:
        scan = self.scan()
        engine = self.context.engine
        plain = not (series.property or series.group_type or series.filters or self.spec.filters or self.spec.breakdown)
        view = scan.timeline() if plain and series.math in ("total", "unique") else None
        if view is not None:
            return self._timeline_rows(series, view, with_actor=with_actor)
        columns = [
            bucket_of_timestamp(engine, scan.timestamp(), self.spec.interval, self.context.timezone).as_("bucket")
        ]
        if with_actor:  # only then do the events need their persons, the costly join
            columns.append(scan.actor().as_("actor"))
        if series.property:
            columns.append(engine.to_number(scan.property("event", series.property)).as_("value"))
        if series.group_type:
            columns.append(engine.json_text(exp.column("groups", "e"), [series.group_type]).as_("series_group"))
        if self.spec.breakdown:
            columns.append(scan.breakdown_value(self.spec.breakdown).as_("breakdown"))
        where = [scan.events_named(series.event), scan.condition(series.filters), scan.condition(self.spec.filters)]
        return scan.select(*columns, dates=self.dates, where=where)

    def _timeline_rows(self, series: Series, view: TimelineView, *, with_actor: bool) -> exp.Query:
        """(bucket, actor) rows from person timelines: the build's persons by number, and below zero the
        persons written or merged since, read from the events. Without `actor`, only buckets."""
        scan = self.scan()
        engine = self.context.engine
        bucket = bucket_of_timestamp(engine, scan.timestamp(), self.spec.interval, self.context.timezone)
        # Timelines hold each event's local day, which spares converting every timestamp to the time zone.
        local = (
            bucket
            if self.spec.interval == "hour"
            else bucket_of_date(engine, exp.column("day", "e"), self.spec.interval)
        )
        actor = [exp.column("person_number", "e").as_("actor")] if with_actor else []
        built = scan.timeline_select(
            local.as_("bucket"), *actor, view=view, dates=self.dates, where=[scan.events_named(series.event)]
        )
        if view.fresh:
            return built
        recent = scan.select(
            bucket.copy().as_("bucket"),
            *([scan.person().as_("actor")] if with_actor else []),
            dates=self.dates,
            where=[scan.events_named(series.event), scan.recent_condition(view)],
        )
        return exp.union(built, numbered_below_zero(recent, "bucket") if with_actor else recent, distinct=False)

    def _measure(self, series: Series) -> exp.Expr:
        engine = self.context.engine
        value = exp.column("value")
        measures: dict[str, Callable[[], exp.Expr]] = {
            "total": lambda: exp.Count(this=exp.Star()),
            "unique": lambda: exp.Count(this=exp.Distinct(expressions=[exp.column("actor")])),
            "unique_group": lambda: exp.Count(this=exp.Distinct(expressions=[exp.column("series_group")])),
            "sum": lambda: exp.Sum(this=value),
            "avg": lambda: exp.Avg(this=value),
            "min": lambda: exp.Min(this=value),
            "max": lambda: exp.Max(this=value),
            "median": lambda: engine.quantile(value, 0.5),
            "p90": lambda: engine.quantile(value, 0.9),
        }
        return measures[series.math]()

    def _aggregate(self, series: Series, *, by_bucket: bool) -> exp.Select:
        keys: list[exp.Expr] = [exp.column("bucket")] if by_bucket else []
        query = exp.select().with_("series_rows", as_=self._rows(series, with_actor=series.math == "unique"))
        source, shown = self._labelled(series)
        query = query.select(*keys, *shown, self._measure(series).as_("measure")).from_(source)
        keys += shown
        return query.group_by(*keys) if keys else query

    def _labelled(self, series: Series) -> tuple[exp.Expr, list[exp.Expr]]:
        """The rows of the `series_rows` table with their breakdown line (the top values, the rest as
        `$other`) as `shown_breakdown`, and the columns that key a line: none without a breakdown."""
        source: exp.Expr = exp.to_table("series_rows")
        if not self.spec.breakdown:
            return source, []
        ranking = exp.Count(this=exp.Star()) if series.math in PROPERTY_MATH else self._measure(series)
        ranked = exp.select("*").from_("series_rows")
        top = top_values(ranked, "breakdown", ranking, self.spec.breakdown.limit)
        shown = exp.If(
            this=exp.column("breakdown").isin(query=top),
            true=exp.column("breakdown"),
            false=exp.Literal.string(OTHER),
        )
        labelled = exp.select(exp.Star(), shown.as_("shown_breakdown")).from_(source).subquery("labelled")
        return labelled, [exp.column("shown_breakdown")]

    def _frequency(self, series: Series) -> exp.Select:
        """How many actors did the series how many times, per breakdown line: an actor counts under a line
        for their events on it only."""
        source, shown = self._labelled(series)
        per_actor = (
            exp.select(*shown, exp.column("actor"), exp.Count(this=exp.Star()).as_("times"))
            .from_(source)
            .group_by(*shown, exp.column("actor"))
        )
        keys = [*(column.copy() for column in shown), exp.column("times")]
        return (
            exp.select(*keys, exp.Count(this=exp.Star()).as_("actors"))
            .from_(per_actor.subquery("per_actor"))
            .group_by(*keys)
            .order_by(*keys)
            .with_("series_rows", as_=self._rows(series, with_actor=True))
        )

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        labels = bucket_labels(self.dates, self.spec.interval)
        position = {text: index for index, text in enumerate(labels)}
        output: list[dict[str, Any]] = []
        by_letter: dict[str, dict[str, dict[str, Any]]] = {}
        for letter, series in zip(LETTERS, self.spec.series, strict=False):
            empty = 0 if series.math in ("total", "unique", "unique_group") else None
            lines: dict[str, dict[str, Any]] = {}
            for row in results[f"{letter}_total"].to_pylist():
                value = row.get("shown_breakdown")
                lines[value or ""] = self._line(letter, series, value, [empty] * len(labels), row["measure"])
            for row in results[letter].to_pylist():
                line = lines[row.get("shown_breakdown") or ""]
                line["data"][position[label(row["bucket"])]] = row["measure"]
            if not lines:
                lines[""] = self._line(letter, series, None, [empty] * len(labels), empty)
            if self.spec.frequency:
                for line in lines.values():
                    line["frequency"] = []
                for row in results[f"{letter}_frequency"].to_pylist():
                    lines[row.get("shown_breakdown") or ""]["frequency"].append(
                        {"times": row["times"], "actors": row["actors"]}
                    )
            by_letter[letter] = lines
            output.extend(sorted(lines.values(), key=_line_order))
        shaped: dict[str, Any] = {
            "interval": self.spec.interval,
            "labels": labels,
            "incomplete": incomplete(labels, self.spec.interval, self.context.timezone, self.context.now, self.dates),
            "series": output,
        }
        if self.spec.formula:
            shaped["formula"] = self._formula(by_letter, len(labels))
        return shaped

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        lines = [
            (line.get("breakdown_value"), f"{line['series']}: {line['label']} ({line['math']})", line["data"])
            for line in result["series"]
        ]
        lines += [
            (line.get("breakdown_value"), f"formula: {line['formula']}", line["data"])
            for line in result.get("formula", [])
        ]
        output = []
        for index, bucket in enumerate(result["labels"]):
            row: dict[str, Any] = {"bucket": bucket}
            for breakdown, name, data in lines:
                row[name if breakdown is None else f"{name} [{breakdown}]"] = data[index]
            output.append(row)
        return output

    def _line(self, letter: str, series: Series, breakdown: str | None, data: list[Any], total: Any) -> dict[str, Any]:
        line: dict[str, Any] = {
            "series": letter,
            "event": series.event,
            "math": series.math,
            "label": series.event or "All events",
            "data": data,
            "total": total,
        }
        if breakdown is not None:
            line["breakdown_value"] = breakdown
        return line

    def _formula(self, by_letter: dict[str, dict[str, dict[str, Any]]], buckets: int) -> list[dict[str, Any]]:
        assert self.spec.formula is not None
        evaluate = compile_formula(self.spec.formula)
        breakdowns = sorted({key for lines in by_letter.values() for key in lines})
        output = []
        for breakdown in breakdowns:

            def values(index: int | None, breakdown: str = breakdown) -> dict[str, float]:
                found = {}
                for letter, lines in by_letter.items():
                    line = lines.get(breakdown)
                    value = None if line is None else (line["total"] if index is None else line["data"][index])
                    found[letter] = float(value or 0)
                return found

            line: dict[str, Any] = {
                "formula": self.spec.formula,
                "data": [evaluate(values(index)) for index in range(buckets)],
                "total": evaluate(values(None)),
            }
            if breakdown:
                line["breakdown_value"] = breakdown
            output.append(line)
        return output


_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def compile_formula(formula: str) -> Callable[[dict[str, float]], float | None]:
    """A formula of series letters, numbers, + - * / and parentheses, as a function of the letters' values.
    Division by zero gives None."""
    try:
        tree = ast.parse(formula, mode="eval").body
    except SyntaxError:
        raise ValueError(f"formula {formula!r} is not an expression like `A / B * 100`") from None

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            check(node.operand)
        elif isinstance(node, ast.Name) and node.id in LETTERS:
            pass
        elif not (isinstance(node, ast.Constant) and isinstance(node.value, int | float)):
            raise ValueError(f"formula {formula!r} may only use series letters A-Z, numbers, + - * / and ( )")

    check(tree)

    def evaluate(values: dict[str, float], node: ast.AST = tree) -> float | None:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = evaluate(values, node.operand)
            return None if operand is None else -operand
        assert isinstance(node, ast.BinOp)
        left, right = evaluate(values, node.left), evaluate(values, node.right)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return _OPERATORS[type(node.op)](left, right)

    return evaluate


def _letters(formula: str) -> set[str]:
    return {node.id for node in ast.walk(ast.parse(formula, mode="eval")) if isinstance(node, ast.Name)}


def _line_order(line: dict[str, Any]) -> tuple[bool, float, str]:
    """Biggest first, `$other` last; equal totals by value, so every engine gives the same order."""
    return (line.get("breakdown_value") == OTHER, -(line["total"] or 0), line.get("breakdown_value") or "")
