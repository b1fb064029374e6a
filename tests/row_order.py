"""An engine that returns rows in another order than the warehouse did, but one their SQL allows, so that tests
catch code that relies on an order no ORDER BY states (DuckDB returned a 46,521-row projection with 5,491 rows
swapped): rows that a query's ORDER BY leaves tied, or all rows without one, are sorted by their other values,
before the query's LIMIT and OFFSET are applied."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any, cast

import pyarrow as pa
from sqlglot import exp

from sextant.warehouse.engine import ArrowTables, Engine, Parameters


def reordering(engine: Engine, descending: Iterable[bool] = (True,)) -> Engine:
    """`engine`, with its query results reordered. `descending` gives, for each query in turn, whether tied rows
    are put in descending order of their other values (else ascending): alternating makes two pages of one
    question disagree."""
    return cast(Engine, ReorderingEngine(engine, descending))  # the rest is forwarded to `engine`


class ReorderingEngine:
    """Forwards to an engine; the results of its queries are reordered as `reordering` says."""

    def __init__(self, engine: Engine, descending: Iterable[bool] = (True,)) -> None:
        self.engine = engine
        self._descending: Iterator[bool] = itertools.cycle(descending)

    def execute(
        self, statement: exp.Expr | str, parameters: Parameters | None = None, tables: ArrowTables | None = None
    ) -> pa.Table:
        order = _order_columns(statement)
        if order is None or not isinstance(statement, exp.Query):
            return self.engine.execute(statement, parameters, tables)
        offset, limit = _number(statement, "offset"), _number(statement, "limit")
        unlimited = statement.copy()
        unlimited.set("limit", None)
        unlimited.set("offset", None)
        result = self.engine.execute(unlimited, parameters, tables)
        if not set(order) <= set(result.column_names):
            return self.engine.execute(statement, parameters, tables)  # ordered by something it does not return
        reordered = result.take(pa.array(_reordered(result, order, next(self._descending)), pa.int64()))
        return reordered.slice(offset or 0, limit)

    def cursor(self) -> ReorderingEngine:
        handle = self.engine.cursor()
        # Engines that serialise their callers hand out themselves, and must not be closed by a cursor's user.
        return self if handle is self.engine else ReorderingEngine(handle, self._descending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def _order_columns(statement: exp.Expr | str) -> list[str] | None:
    """The result columns a query's top-level ORDER BY names (none without one; a column is taken for the
    result column of its name); None for a statement whose order this cannot follow (text, an ORDER BY on
    expressions, a LIMIT or OFFSET that is not a number)."""
    if not isinstance(statement, exp.Query):
        return None
    if any(statement.args.get(part) is not None and _number(statement, part) is None for part in ("limit", "offset")):
        return None
    order = statement.args.get("order")
    names = []
    for item in order.expressions if order is not None else []:
        column = item.this if isinstance(item, exp.Ordered) else item
        if not isinstance(column, exp.Column):
            return None
        names.append(column.name)
    return names


def _number(statement: exp.Expr, part: str) -> int | None:
    node = statement.args.get(part)
    value = node.expression if isinstance(node, exp.Limit | exp.Offset) else node
    return int(value.name) if isinstance(value, exp.Literal) and value.is_int else None


def _reordered(result: pa.Table, order: list[str], descending: bool) -> list[int]:
    """The rows in the engine's order of the ORDER BY columns, each run of tied rows sorted by its other values."""
    others = [name for name in result.column_names if name not in order]
    keys = list(zip(*(result.column(name).to_pylist() for name in order), strict=True)) if order else []
    values = list(zip(*(result.column(name).to_pylist() for name in others), strict=True)) if others else []
    rows: list[int] = []
    run: list[int] = []
    for row in range(result.num_rows):
        if run and (not order or keys[row] == keys[run[0]]):
            run.append(row)
            continue
        rows += sorted(run, key=lambda index: str(values[index]) if values else "", reverse=descending)
        run = [row]
    rows += sorted(run, key=lambda index: str(values[index]) if values else "", reverse=descending)
    return rows
