"""ClickHouse: the warehouse for data that outgrows one machine.

Two transports share the dialect, the table layout and the parameter typing: a ClickHouse server reached
with clickhouse-connect (`clickhouse://host:port/db`), and chDB (`chdb:///dir`), ClickHouse's own engine
running in process, which the test suite uses.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import pyarrow as pa
from sqlglot import exp

from sextant.errors import WarehouseError
from sextant.warehouse.engine import ArrowTables, Engine, Parameters
from sextant.warehouse.tables import Column, ColumnType, Table, TableKind

_TYPES = {
    ColumnType.STRING: "String",
    ColumnType.UUID: "UUID",
    ColumnType.TIMESTAMP: "DateTime64(6, 'UTC')",
    ColumnType.DATE: "Date32",
    ColumnType.INT32: "Int32",
    ColumnType.INT64: "Int64",
    ColumnType.FLOAT64: "Float64",
    ColumnType.BOOLEAN: "Bool",
    ColumnType.JSON: "String",
}


# Standard SQL semantics: a column keeps its meaning where a SELECT alias has the same name, and outer joins
# give NULL (not a default value) for missing rows.
SESSION_SETTINGS = {"prefer_column_name_to_alias": 1, "join_use_nulls": 1}


def parameter_type(value: object) -> str:
    """The ClickHouse type a bound Python value is declared as."""
    if value is None:
        return "Nullable(String)"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, dt.datetime):
        return "DateTime64(6, 'UTC')"
    if isinstance(value, dt.date):
        return "Date32"
    if isinstance(value, list | tuple):
        return f"Array({parameter_type(value[0]) if value else 'String'})"
    return "String"


class ClickHouseEngine(Engine):
    """The ClickHouse dialect; subclasses supply the transport."""

    dialect = "clickhouse"
    # Writes to several tables are separate inserts; after a crash the writer replays its spool and skips
    # events already stored (by uuid), but a rollup row of that interrupted batch may be counted twice.
    transactional = False

    def execute(
        self,
        statement: exp.Expr | str,
        parameters: Parameters | None = None,
        tables: ArrowTables | None = None,
    ) -> pa.Table:
        if parameters and isinstance(statement, exp.Expr):
            statement = self.bind(statement, parameters)
        sql = self.render(statement)
        try:
            return self._run(sql, dict(parameters or {}), dict(tables or {}))
        except WarehouseError:
            raise
        except Exception as error:
            raise WarehouseError(f"ClickHouse could not run a statement: {error}\n{sql}") from error

    def _run(self, sql: str, parameters: dict[str, object], tables: dict[str, pa.Table]) -> pa.Table:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def column_type(self, column: Column) -> exp.DataType:
        name = _TYPES[column.type]
        return exp.DataType.build(f"Nullable({name})" if column.nullable else name, dialect=self.dialect)

    def table_properties(self, table: Table) -> list[exp.Expr]:
        engine: exp.Expr
        if table.kind is TableKind.LATEST:
            engine = exp.Anonymous(this="ReplacingMergeTree", expressions=[exp.column(table.version_column)])
        elif table.kind is TableKind.SUMMING:
            engine = exp.Anonymous(this="SummingMergeTree", expressions=[exp.column("count")])
        else:
            engine = exp.Anonymous(this="MergeTree", expressions=[])
        properties: list[exp.Expr] = [exp.EngineProperty(this=engine)]
        if table.partition_by_month:
            month = exp.Anonymous(this="toYYYYMM", expressions=[exp.column(table.partition_by_month)])
            properties.append(exp.PartitionedByProperty(this=month))
        key = exp.Tuple(expressions=[exp.column(name) for name in table.sort_key])
        properties.append(exp.Order(expressions=[exp.Ordered(this=key, nulls_first=False)]))
        return properties

    def list_tables_statement(self) -> exp.Expr:
        return exp.select("name").from_("system.tables").where("database = currentDatabase()")

    def bind(self, statement: exp.Expr, parameters: Parameters) -> exp.Expr:
        return _typed_placeholders(statement, parameters)

    def json_text(self, document: exp.Expr, path: Sequence[str]) -> exp.Expr:
        keys = [exp.Literal.string(key) for key in path]
        kind = exp.func("JSONType", document.copy(), *keys)
        return exp.Case(
            ifs=[
                exp.If(
                    this=kind.eq(exp.Literal.string("String")),
                    true=exp.func("JSONExtractString", document.copy(), *keys),
                ),
                exp.If(
                    this=kind.copy()
                    .eq(exp.Literal.string("Null"))
                    .or_(exp.func("JSONHas", document.copy(), *keys).eq(0)),
                    true=exp.null(),
                ),
            ],
            default=exp.func("JSONExtractRaw", document.copy(), *keys),
        )

    def to_number(self, text: exp.Expr) -> exp.Expr:
        return exp.func("toFloat64OrNull", text)

    def local_date(self, timestamp: exp.Expr, timezone: str) -> exp.Expr:
        return exp.func("toDate32", timestamp, exp.Literal.string(timezone))

    def local_hour(self, timestamp: exp.Expr, timezone: str) -> exp.Expr:
        return exp.func("toString", exp.func("toStartOfHour", timestamp, exp.Literal.string(timezone)))

    def truncate_date(self, date: exp.Expr, unit: str) -> exp.Expr:
        if unit == "day":
            return date
        if unit == "week":
            return exp.func("toMonday", date)
        return exp.func("toStartOfMonth", date)

    def quantile(self, value: exp.Expr, level: float) -> exp.Expr:
        return exp.Anonymous(
            this=exp.Anonymous(this="quantileExactInclusive", expressions=[exp.Literal.number(level)]),
            expressions=[value],
        )


def _typed_placeholders(statement: exp.Expr, parameters: Parameters) -> exp.Expr:
    """ClickHouse binds `{name: Type}`; declare each placeholder's type from its value."""

    def declare(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder) and node.name in parameters and not node.args.get("kind"):
            kind = exp.DataType.build(parameter_type(parameters[node.name]), dialect="clickhouse")
            return exp.Placeholder(this=node.name, kind=kind)
        return node

    return statement.transform(declare)


class ChDBEngine(ClickHouseEngine):
    """ClickHouse's engine in process, on a directory (`chdb:///path/to/dir`)."""

    unsupported: ClassVar[Mapping[str, str]] = {
        "interrupt": "chDB runs one statement of the process at a time and cannot stop it"
    }

    def __init__(self, url: str, session: Any = None) -> None:
        super().__init__(url)
        if session is None:
            import chdb

            path = url.removeprefix("chdb://")
            session = chdb.connect(":memory:" if path in {":memory:", "/:memory:"} else path)
            for name, value in SESSION_SETTINGS.items():
                session.query(f"SET {name} = {value}")
        self.session = session
        # chDB's connection is process-wide; temporary tables are named per call, under one lock.
        self._lock = threading.RLock()

    def _run(self, sql: str, parameters: dict[str, object], tables: dict[str, pa.Table]) -> pa.Table:
        with self._lock:
            for name, arrow in tables.items():
                self._load_temporary(name, arrow)
            try:
                text_parameters = {name: _parameter_text(value) for name, value in parameters.items()}
                result = self.session.query(sql, "ArrowTable", params=text_parameters or None)
            finally:
                for name in tables:
                    self.session.query(f"DROP TEMPORARY TABLE IF EXISTS {exp.to_identifier(name).sql()}")
        return result if isinstance(result, pa.Table) else pa.table({})

    def _load_temporary(self, name: str, arrow: pa.Table) -> None:
        # An all-NULL column has Arrow's null type, which ClickHouse cannot store; give it a type.
        arrow_rows = pa.table(  # noqa: F841 - chDB's Python() below reads it by name
            [column.cast(pa.string()) if pa.types.is_null(column.type) else column for column in arrow.columns],
            names=arrow.column_names,
        )
        # chDB's Python() table function reads the local variable `arrow_rows` of this frame.
        identifier = exp.to_identifier(name).sql("clickhouse")
        self.session.query(f"CREATE TEMPORARY TABLE {identifier} ENGINE = Memory AS SELECT * FROM Python(arrow_rows)")

    def cursor(self) -> ChDBEngine:
        return self

    def close(self) -> None:
        self.session.close()


class ClickHouseServerEngine(ClickHouseEngine):
    """A ClickHouse server over HTTP (`clickhouse://user:password@host:8123/database`)."""

    unsupported: ClassVar[Mapping[str, str]] = {
        "interrupt": "a statement sent to the server runs to its end: nothing here asks the server to kill it"
    }

    def __init__(self, url: str, clients: _Clients | None = None) -> None:
        super().__init__(url)
        # Cursors borrow their client from the engine they came from: opening one costs round trips (the
        # server's version and settings), and a question may take a cursor for each of its queries.
        self._owns_clients = clients is None
        self._clients = _Clients(url) if clients is None else clients
        self.client = self._clients.take()
        # The client's session holds the temporary tables of a statement and takes one request at a time.
        self._lock = threading.RLock()

    def _run(self, sql: str, parameters: dict[str, object], tables: dict[str, pa.Table]) -> pa.Table:
        with self._lock:
            try:
                for name, arrow in tables.items():
                    self._load_temporary(name, arrow)
                if _returns_rows(sql):
                    return self.client.query_arrow(sql, parameters=parameters)
                self.client.command(sql, parameters=parameters)
                return pa.table({})
            finally:
                for name in tables:
                    self.client.command(f"DROP TEMPORARY TABLE IF EXISTS {exp.to_identifier(name).sql('clickhouse')}")

    def _load_temporary(self, name: str, arrow: pa.Table) -> None:
        # Temporary tables live in the client's session, so concurrent cursors do not see each other's.
        identifier = exp.to_identifier(name).sql("clickhouse")
        columns = ", ".join(
            f"{exp.to_identifier(field.name).sql('clickhouse')} {_column_type_for(field.type)}"
            for field in arrow.schema
        )
        self.client.command(f"CREATE TEMPORARY TABLE {identifier} ({columns}) ENGINE = Memory")
        self.client.insert_arrow(name, arrow)

    def cursor(self) -> ClickHouseServerEngine:
        return ClickHouseServerEngine(self.url, self._clients)

    def close(self) -> None:
        if self._owns_clients:
            self._clients.close()
            self.client.close()
        else:
            self._clients.give(self.client)


class _Clients:
    """The idle clients of a server engine and its cursors. A cursor's statements drop their temporary
    tables when they end, so a returned client's session holds nothing of the cursor that used it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._idle: list[Any] = []
        self._closed = False
        self._lock = threading.Lock()

    def take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _connect(self.url)

    def give(self, client: Any) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(client)
                return
        client.close()  # the engine the cursor came from is closed

    def close(self) -> None:
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for client in idle:
            client.close()


def _connect(url: str) -> Any:
    import clickhouse_connect

    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or 8123
    database = parts.path.strip("/") or "default"
    try:
        return clickhouse_connect.get_client(
            host=host,
            port=port,
            username=urllib.parse.unquote(parts.username or "default"),
            password=urllib.parse.unquote(parts.password or ""),
            database=database,
            settings=SESSION_SETTINGS,
        )
    except Exception as error:
        raise WarehouseError(
            f"cannot open the ClickHouse warehouse {database} at {host}:{port}: {error}. Check that the server "
            "is running, that the database exists and the user and password in the warehouse URL"
        ) from None


# Statements that answer with rows; the rest run as commands. Queries may start with comments or parentheses
# (a union of subqueries).
_ROW_STATEMENTS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"}
_LEADING_NOISE = re.compile(r"\A(?:\s+|\(|--[^\n]*(?:\n|\Z)|/\*.*?\*/)+", re.DOTALL)


def _returns_rows(sql: str) -> bool:
    words = _LEADING_NOISE.sub("", sql).split(None, 1)
    return bool(words) and words[0].upper() in _ROW_STATEMENTS


_TIMESTAMP_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _column_type_for(arrow_type: pa.DataType) -> str:
    """The ClickHouse type of a temporary table's column that takes an Arrow column of `arrow_type`."""
    if pa.types.is_dictionary(arrow_type):
        return _column_type_for(arrow_type.value_type)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        return f"Array({_column_type_for(arrow_type.value_type)})"  # an array cannot be NULL; a null list is []
    return f"Nullable({_scalar_type_for(arrow_type)})"


def _scalar_type_for(arrow_type: pa.DataType) -> str:
    if pa.types.is_null(arrow_type) or pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "String"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "String"
    if pa.types.is_boolean(arrow_type):
        return "Bool"
    if pa.types.is_integer(arrow_type):
        return f"{'U' if pa.types.is_unsigned_integer(arrow_type) else ''}Int{arrow_type.bit_width}"
    if pa.types.is_floating(arrow_type):
        return "Float64" if arrow_type.bit_width == 64 else "Float32"
    if pa.types.is_timestamp(arrow_type):
        timezone = exp.Literal.string(arrow_type.tz or "UTC").sql("clickhouse")
        return f"DateTime64({_TIMESTAMP_DIGITS[arrow_type.unit]}, {timezone})"
    if pa.types.is_date32(arrow_type):
        return "Date32"
    if pa.types.is_decimal(arrow_type):
        return f"Decimal({arrow_type.precision}, {arrow_type.scale})"
    raise WarehouseError(f"the ClickHouse server engine cannot take an Arrow column of type {arrow_type}")


def _parameter_text(value: object) -> str:
    """A bound value in the text form ClickHouse parses query parameters from."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, list | tuple):
        return "[" + ",".join(_quoted(item) for item in value) + "]"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _quoted(value: object) -> str:
    """An item of a list parameter: texts, dates and instants are quoted inside ClickHouse's array text."""
    if isinstance(value, str | dt.date):
        text = value if isinstance(value, str) else _parameter_text(value)
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return _parameter_text(value)
