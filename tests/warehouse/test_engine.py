"""The engine contract, the same on every engine: bound values and Arrow tables go in and come back as they
were, every statement with a result returns its rows, and handles are safe to share between threads."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from sqlglot import exp

from sextant.errors import WarehouseError
from sextant.warehouse.engine import Engine, connect
from tests.conftest import warehouse_url

BOUND_VALUES = {
    "null": None,
    "true": True,
    "false": False,
    "integer": -(2**62),
    "float": 2.5,
    "text": "it's a\ttab, a\nline, a \\ backslash, ünïcode 🎉, {braces:String} and %s %(percent)s",
    "timestamp": dt.datetime(2024, 5, 6, 9, 1, 2, 345678, tzinfo=dt.UTC),
    "date": dt.date(2024, 2, 29),
    "texts": ["a", "b'c", "d\\e", ""],
    "timestamps": [dt.datetime(2024, 5, 6, 23, 59, 59, 999999, tzinfo=dt.UTC), dt.datetime(1999, 1, 1, tzinfo=dt.UTC)],
    "dates": [dt.date(2024, 1, 1)],
    "integers": [1, -2],
    "empty list": [],
}


@pytest.fixture
def engine(tmp_path: Path, engine_name: str) -> Iterator[Engine]:
    opened = connect(warehouse_url(engine_name, tmp_path))
    yield opened
    opened.close()


@pytest.mark.parametrize("name", BOUND_VALUES)
def test_bound_values_come_back_as_they_were_bound(engine: Engine, name: str) -> None:
    value = BOUND_VALUES[name]
    rows = engine.execute(exp.select(exp.Placeholder(this="value").as_("value")), {"value": value}).to_pylist()
    assert rows == [{"value": value}]


def test_many_long_bound_values_arrive_whole(engine: Engine) -> None:
    # Long parameters travel differently (clickhouse-connect moves them from the URL into a form body).
    ids = [f"person-{number:05}-{'x' * 20}" for number in range(2000)]
    ids_placeholder, id_placeholder = exp.Placeholder(this="ids"), exp.Placeholder(this="id")
    query = exp.select(
        exp.ArraySize(this=ids_placeholder).as_("count"),
        exp.ArrayContains(this=ids_placeholder.copy(), expression=id_placeholder).as_("found"),
    )
    assert engine.execute(query, {"ids": ids, "id": ids[-1]}).to_pylist() in (
        [{"count": 2000, "found": True}],
        [{"count": 2000, "found": 1}],  # ClickHouse's has() is a UInt8
    )


def test_arrow_tables_are_read_with_their_values(engine: Engine) -> None:
    moment = dt.datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)
    incoming = pa.table(
        {
            "nothing": pa.array([None, None], pa.null()),
            "text": ["a", None],
            "large_text": pa.array(["b", None], pa.large_string()),
            "small": pa.array([7, None], pa.int32()),
            "unsigned": pa.array([255, None], pa.uint8()),
            "big": pa.array([2**62, None], pa.int64()),
            "single": pa.array([0.5, None], pa.float32()),
            "double": [1.25, None],
            "flag": [True, None],
            "moment": pa.array([moment, None], pa.timestamp("us", tz="UTC")),
            "day": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
            "texts": pa.array([["x", "y"], []], pa.list_(pa.string())),
            "numbers": pa.array([[1, 2], []], pa.list_(pa.int64())),
            "category": pa.array(["p", "q"]).dictionary_encode(),
        }
    )
    rows = engine.execute("SELECT * FROM incoming", tables={"incoming": incoming}).to_pylist()
    assert rows == [
        {
            "nothing": None,
            "text": "a",
            "large_text": "b",
            "small": 7,
            "unsigned": 255,
            "big": 2**62,
            "single": 0.5,
            "double": 1.25,
            "flag": True,
            "moment": moment,
            "day": dt.date(2024, 2, 29),
            "texts": ["x", "y"],
            "numbers": [1, 2],
            "category": "p",
        },
        {
            "nothing": None,
            "text": None,
            "large_text": None,
            "small": None,
            "unsigned": None,
            "big": None,
            "single": None,
            "double": None,
            "flag": None,
            "moment": None,
            "day": None,
            "texts": [],
            "numbers": [],
            "category": "q",
        },
    ]
    empty = engine.execute("SELECT * FROM incoming", tables={"incoming": incoming.slice(0, 0)})
    assert empty.num_rows == 0 and empty.column_names == incoming.column_names


@pytest.mark.parametrize(
    "statement",
    [
        exp.union(
            exp.select(exp.Literal.number(1).as_("x")).subquery(),
            exp.select(exp.Literal.number(2).as_("x")).subquery(),
            distinct=False,
        ),
        "(SELECT 1 AS x) UNION ALL (SELECT 2 AS x)",
        "-- a comment first\nSELECT 1 AS x UNION ALL SELECT 2 AS x",
        "/* a comment first */ select 1 as x union all select 2 as x",
        "\n  WITH numbers AS (SELECT 1 AS x UNION ALL SELECT 2 AS x) SELECT x FROM numbers",
    ],
    ids=["union of subqueries", "text in parentheses", "line comment", "block comment", "with"],
)
def test_every_query_returns_its_rows(engine: Engine, statement: exp.Expr | str) -> None:
    assert sorted(row["x"] for row in engine.execute(statement).to_pylist()) == [1, 2]


def test_errors_are_warehouse_errors_that_show_the_statement(engine: Engine) -> None:
    with pytest.raises(WarehouseError, match="no_such_table") as raised:
        engine.execute("SELECT * FROM no_such_table")
    assert "SELECT * FROM no_such_table" in raised.value.message


def _read_back(engine: Engine, number: int, results: dict[int, list[int]], errors: list[BaseException]) -> None:
    try:
        for _ in range(5):
            incoming = pa.table({"n": [number] * (number + 1)})
            rows = engine.execute("SELECT n FROM incoming", tables={"incoming": incoming}).to_pylist()
            results.setdefault(number, []).extend(row["n"] for row in rows)
    except BaseException as error:  # reported by the test thread
        errors.append(error)


@pytest.mark.parametrize("handles", ["one handle", "a cursor each"])
def test_threads_read_their_own_tables_of_the_same_name(engine: Engine, handles: str) -> None:
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    cursors = [engine if handles == "one handle" else engine.cursor() for _ in range(4)]
    threads = [
        threading.Thread(target=_read_back, args=(cursor, number, results, errors))
        for number, cursor in enumerate(cursors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert results == {number: [number] * (number + 1) * 5 for number in range(4)}


def test_a_cursor_reads_instants_in_utc_whatever_the_machines_time_zone(
    tmp_path: Path, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        opened = connect(warehouse_url(engine_name, tmp_path))
        evening = exp.Cast(this=exp.Placeholder(this="at"), to=exp.DataType.build("timestamptz"))
        statement = exp.select(exp.Cast(this=evening, to=exp.DataType.build("date")).as_("day"))
        instant = {"at": dt.datetime(2024, 1, 1, 20, tzinfo=dt.UTC)}  # 05:00 on 2 January in Tokyo
        days = [handle.execute(statement, instant).to_pylist() for handle in (opened, opened.cursor())]
        opened.close()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert days == [[{"day": dt.date(2024, 1, 1)}]] * 2
