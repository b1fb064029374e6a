"""A per-thread in-memory DuckDB that ingestion uses to process batches, whatever the warehouse engine.

DuckDB releases the GIL while it runs, so batch work here does not stall the server's other threads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import duckdb
import pyarrow as pa

from sextant.ingest.fields import MACROS

_local = threading.local()


def open_connection() -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with Sextant's settings: UTC, no progress bars, the ingestion macros."""
    opened = duckdb.connect()
    opened.execute("SET TimeZone = 'UTC'")
    opened.execute("SET enable_progress_bar = false")
    for macro in MACROS:
        opened.execute(macro)
    return opened


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's scratch connection."""
    existing: duckdb.DuckDBPyConnection | None = getattr(_local, "connection", None)
    if existing is None:
        existing = _local.connection = open_connection()
    return existing


def run(sql: str, tables: Mapping[str, pa.Table], parameters: Mapping[str, object] | None = None) -> pa.Table:
    """Run `sql` over Arrow tables registered under their names."""
    scratch = connection()
    for name, table in tables.items():
        scratch.register(name, table)
    try:
        return scratch.execute(sql, dict(parameters) if parameters else None).to_arrow_table()
    finally:
        for name in tables:
            scratch.unregister(name)
