"""The warehouse engine interface, and how a warehouse URL picks its engine.

An engine runs sqlglot expressions in its own dialect, takes Arrow tables in and gives Arrow tables back.
Adding an engine is one module with an `Engine` subclass plus one line in `ENGINES`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import ClassVar

import pyarrow as pa
from sqlglot import exp

from sextant.errors import WarehouseError
from sextant.warehouse.tables import Column, Table

# URL scheme -> "module:Class". Modules are imported on first use, so optional drivers stay optional.
ENGINES: dict[str, str] = {
    "duckdb": "sextant.warehouse.duckdb_engine:DuckDBEngine",
    "chdb": "sextant.warehouse.clickhouse_engine:ChDBEngine",
    "clickhouse": "sextant.warehouse.clickhouse_engine:ClickHouseServerEngine",
}

Parameters = Mapping[str, object]
ArrowTables = Mapping[str, pa.Table]

# Warehouse URL -> number of writes made by this process; query caches key their results on it.
_generations: Counter[str] = Counter()


class Engine(ABC):
    """One connection to a warehouse."""

    dialect: ClassVar[str]
    # Features this engine lacks, with the reason. Tests mark them as strict expected failures.
    unsupported: ClassVar[Mapping[str, str]] = {}
    # Whether `transaction()` makes a group of writes atomic.
    transactional: ClassVar[bool]
    # Whether a scan without ORDER BY returns rows in the order they were inserted.
    scans_in_insertion_order: ClassVar[bool] = False

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def execute(
        self,
        statement: exp.Expr | str,
        parameters: Parameters | None = None,
        tables: ArrowTables | None = None,
    ) -> pa.Table:
        """Run one statement. `parameters` bind `exp.Placeholder`s by name; `tables` are Arrow tables
        the statement can read by name. Returns the result (empty for statements without one)."""

    def insert(self, table: Table, rows: pa.Table) -> None:
        """Append Arrow rows (columns named as in `table`) to a warehouse table."""
        self.insert_select(table, exp.select("*").from_("incoming_rows"), {"incoming_rows": rows})

    def insert_select(self, table: Table, select: exp.Select, tables: ArrowTables) -> None:
        """Append the rows of `select` (over the Arrow `tables`), whose columns are named as in `table`."""
        columns = [exp.to_identifier(name) for name in table.column_names]
        cast = exp.select(
            *(exp.cast(exp.column(column.name), self.column_type(column)) for column in table.columns)
        ).from_(select.subquery("incoming"))
        target = exp.Schema(this=exp.to_table(table.name), expressions=columns)
        self.execute(exp.Insert(this=target, expression=cast), tables=tables)
        self._advance_generation()

    @property
    def generation(self) -> int:
        """Changes whenever this process writes to the warehouse (on any cursor)."""
        return _generations[self.url]

    def _advance_generation(self) -> None:
        _generations[self.url] += 1

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group writes; atomic when `transactional`."""

    @abstractmethod
    def column_type(self, column: Column) -> exp.DataType:
        """The engine's type for a column."""

    @abstractmethod
    def table_properties(self, table: Table) -> list[exp.Expr]:
        """Engine-specific properties of a CREATE TABLE (storage engine, ordering, partitioning)."""

    def limit_memory(self, limit_bytes: int) -> None:  # noqa: B027 - doing nothing is the right default
        """Cap the memory this process gives the warehouse (its cache of stored data and its query work).
        Engines whose memory is not this process's to cap (a ClickHouse server, chDB's own pools) ignore it."""

    @abstractmethod
    def cursor(self) -> Engine:
        """Another handle on the same warehouse, for use on another thread."""

    def interrupt(self) -> None:  # noqa: B027 - engines that cannot stop a statement let it finish
        """Stop the statement this handle is running on another thread, which then fails."""

    @abstractmethod
    def close(self) -> None: ...

    # SQL building blocks whose spelling differs between dialects. Queries compose them, so that every engine
    # gives the same answer for the same question.

    @abstractmethod
    def json_text(self, document: exp.Expr, path: Sequence[str]) -> exp.Expr:
        """The value at `path` (object keys) in a JSON text as text: strings unquoted, numbers and booleans
        as written, NULL when the key is missing or null."""

    @abstractmethod
    def to_number(self, text: exp.Expr) -> exp.Expr:
        """A text as a double; NULL when it is not a number."""

    @abstractmethod
    def local_date(self, timestamp: exp.Expr, timezone: str) -> exp.Expr:
        """The calendar date of a UTC timestamp in a time zone."""

    @abstractmethod
    def local_hour(self, timestamp: exp.Expr, timezone: str) -> exp.Expr:
        """The local start of the hour of a UTC timestamp in a time zone, as text `YYYY-MM-DD HH:00:00`."""

    @abstractmethod
    def truncate_date(self, date: exp.Expr, unit: str) -> exp.Expr:
        """The first day of the `day`, `week` (Monday) or `month` containing a date."""

    @abstractmethod
    def quantile(self, value: exp.Expr, level: float) -> exp.Expr:
        """The exact quantile of an aggregated value, interpolated linearly between neighbours."""

    def bind(self, statement: exp.Expr, parameters: Parameters) -> exp.Expr:
        """The statement as this engine receives it with `parameters` (for showing generated SQL)."""
        return statement

    def render(self, statement: exp.Expr | str) -> str:
        return statement if isinstance(statement, str) else statement.sql(dialect=self.dialect)

    def create_table_statement(self, table: Table) -> exp.Create:
        columns = [self.column_definition(column) for column in table.columns]
        properties = self.table_properties(table)
        return exp.Create(
            this=exp.Schema(this=exp.to_table(table.name), expressions=columns),
            kind="TABLE",
            exists=True,
            properties=exp.Properties(expressions=properties) if properties else None,
        )

    def add_column_statement(self, table: Table, column: Column) -> exp.Alter:
        definition = self.column_definition(column)
        definition.set("exists", True)
        return exp.Alter(this=exp.to_table(table.name), kind="TABLE", actions=[definition])

    def column_definition(self, column: Column) -> exp.ColumnDef:
        return exp.ColumnDef(this=exp.to_identifier(column.name), kind=self.column_type(column))

    def table_names(self) -> set[str]:
        return set(self.execute(self.list_tables_statement()).column(0).to_pylist())

    @abstractmethod
    def list_tables_statement(self) -> exp.Expr: ...

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def engine_class(url: str) -> type[Engine]:
    scheme = url.partition(":")[0]
    if scheme not in ENGINES:
        known = ", ".join(f"{name}://" for name in ENGINES)
        raise WarehouseError(f"unknown warehouse URL {url!r}; use one of {known}")
    module_name, _, class_name = ENGINES[scheme].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise WarehouseError(
            f"the {scheme} engine needs a driver that is not installed ({error.name}); "
            f"install it with `pip install 'sextant[{scheme}]'`"
        ) from None
    engine: type[Engine] = getattr(module, class_name)
    return engine


def connect(url: str) -> Engine:
    """Open the warehouse at `url` (duckdb:///file, chdb:///dir, clickhouse://host:port/db)."""
    return engine_class(url)(url)
