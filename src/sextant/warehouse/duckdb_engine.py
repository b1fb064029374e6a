"""DuckDB: the embedded default warehouse, one file and no server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa
from sqlglot import exp

from sextant.errors import WarehouseError
from sextant.warehouse.engine import ArrowTables, Engine, Parameters
from sextant.warehouse.tables import Column, ColumnType, Table

_TYPES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.UUID: "UUID",
    ColumnType.TIMESTAMP: "TIMESTAMPTZ",
    ColumnType.DATE: "DATE",
    ColumnType.INT32: "INTEGER",
    ColumnType.INT64: "BIGINT",
    ColumnType.FLOAT64: "DOUBLE",
    ColumnType.BOOLEAN: "BOOLEAN",
    ColumnType.JSON: "JSON",
}


class DuckDBEngine(Engine):
    dialect = "duckdb"
    transactional = True
    scans_in_insertion_order = True  # DuckDB's preserve_insertion_order, on by default

    def __init__(self, url: str, connection: duckdb.DuckDBPyConnection | None = None) -> None:
        super().__init__(url)
        if connection is None:
            path = url.removeprefix("duckdb://")
            path = ":memory:" if path in {":memory:", "/:memory:"} else path
            try:
                connection = duckdb.connect(path)
            except duckdb.IOException as error:
                raise WarehouseError(
                    f"cannot open the DuckDB warehouse {path}: {error}. Only one process may write a DuckDB "
                    "file; if a Sextant server owns it, send writes through the server's API"
                ) from None
        # Session settings, which a cursor does not inherit: without them a cursor reads instants in the
        # machine's time zone.
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET enable_progress_bar = false")
        self.connection = connection
        # Registered Arrow tables are per connection; one lock keeps concurrent callers apart.
        self._lock = threading.RLock()

    def execute(
        self,
        statement: exp.Expr | str,
        parameters: Parameters | None = None,
        tables: ArrowTables | None = None,
    ) -> pa.Table:
        sql = self.render(statement)
        with self._lock:
            for name, arrow in (tables or {}).items():
                self.connection.register(name, arrow)
            try:
                # `sql` hands its result to Arrow without the extra copy that `execute` makes.
                result = self.connection.sql(sql, params=dict(parameters) if parameters else None)
                return pa.table({}) if result is None else result.to_arrow_table()
            except duckdb.Error as error:
                raise WarehouseError(f"DuckDB could not run a statement: {error}\n{sql}") from error
            finally:
                for name in tables or {}:
                    # In an aborted transaction this fails too; the next registration replaces the name.
                    with contextlib.suppress(duckdb.TransactionException):
                        self.connection.unregister(name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self.connection.begin()
            try:
                yield
            except BaseException:
                self.connection.rollback()
                raise
            self.connection.commit()
            # Caches keyed on the generation while the transaction ran saw none of its writes.
            self._advance_generation()

    def limit_memory(self, limit_bytes: int) -> None:
        # Past the limit DuckDB evicts cached blocks and spills query work to disk instead of growing.
        with self._lock:
            self.connection.execute(f"SET memory_limit = '{int(limit_bytes)}B'")

    def column_type(self, column: Column) -> exp.DataType:
        return exp.DataType.build(_TYPES[column.type], dialect=self.dialect)

    def column_definition(self, column: Column) -> exp.ColumnDef:
        definition = super().column_definition(column)
        if not column.nullable:
            definition.set("constraints", [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())])
        return definition

    def table_properties(self, table: Table) -> list[exp.Expr]:
        return []

    def json_text(self, document: exp.Expr, path: Sequence[str]) -> exp.Expr:
        json_path = "$" + "".join("." + '"' + key.replace('"', '\\"') + '"' for key in path)
        return exp.func("json_extract_string", document, exp.Literal.string(json_path))

    def to_number(self, text: exp.Expr) -> exp.Expr:
        return exp.TryCast(this=text, to=exp.DataType.build("DOUBLE"))

    def local_date(self, timestamp: exp.Expr, timezone: str) -> exp.Expr:
        return exp.cast(exp.func("timezone", exp.Literal.string(timezone), timestamp), "DATE")

    def local_hour(self, timestamp: exp.Expr, timezone: str) -> exp.Expr:
        local = exp.func("timezone", exp.Literal.string(timezone), timestamp)
        return exp.func("strftime", local, exp.Literal.string("%Y-%m-%d %H:00:00"))

    def truncate_date(self, date: exp.Expr, unit: str) -> exp.Expr:
        return exp.cast(exp.func("date_trunc", exp.Literal.string(unit), date), "DATE")

    def quantile(self, value: exp.Expr, level: float) -> exp.Expr:
        return exp.func("quantile_cont", value, exp.Literal.number(level))

    def list_tables_statement(self) -> exp.Expr:
        return exp.select("table_name").from_("information_schema.tables").where("table_schema = 'main'")

    def cursor(self) -> DuckDBEngine:
        return DuckDBEngine(self.url, self.connection.cursor())

    def interrupt(self) -> None:
        # Not under the lock: the statement to stop holds it. A handle closed meanwhile has nothing to stop.
        with contextlib.suppress(duckdb.ConnectionException):
            self.connection.interrupt()

    def close(self) -> None:
        self.connection.close()
