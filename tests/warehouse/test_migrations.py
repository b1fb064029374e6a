"""Creating and migrating the core tables on every engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from sextant.errors import WarehouseError
from sextant.warehouse import migrations, tables
from sextant.warehouse.engine import connect
from sextant.warehouse.migrations import AddColumn, Migration
from sextant.warehouse.tables import Column, ColumnType
from tests.conftest import warehouse_url

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_core_tables_are_created_once(tmp_path: Path, engine_name: str) -> None:
    engine = connect(warehouse_url(engine_name, tmp_path))
    assert migrations.migrate(engine) == [migration.version for migration in migrations.MIGRATIONS]
    assert migrations.migrate(engine) == []
    assert {table.name for table in tables.CORE_TABLES} <= engine.table_names()
    engine.close()


def test_an_existing_warehouse_opens_after_an_upgrade(
    tmp_path: Path, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = warehouse_url(engine_name, tmp_path)
    engine = connect(url)
    migrations.migrate(engine)
    row = pa.table(
        {
            "project": ["p"],
            "timestamp": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC")),
            "kind": ["k"],
            "event": [None],
            "field": [None],
            "message": ["m"],
            "count": [1],
            "example_uuid": pa.array([None], pa.string()),
        }
    )
    engine.insert(tables.INGESTION_WARNINGS, row)
    engine.close()

    # A newer Sextant adds a column; opening the old warehouse applies only the new migration.
    next_version = migrations.MIGRATIONS[-1].version + 1
    newer = (
        *migrations.MIGRATIONS,
        Migration(
            next_version,
            "warning severity",
            (AddColumn(tables.INGESTION_WARNINGS, Column("severity", ColumnType.STRING, nullable=True)),),
        ),
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", newer)
    engine = connect(url)
    assert migrations.migrate(engine) == [next_version]
    kept = engine.execute("SELECT message, severity FROM ingestion_warnings").to_pylist()
    assert kept == [{"message": "m", "severity": None}]
    assert migrations.applied_versions(engine) == {migration.version for migration in newer}
    engine.close()

    # An older Sextant refuses a warehouse it does not understand, rather than damaging it.
    monkeypatch.setattr(migrations, "MIGRATIONS", newer[:-1])
    engine = connect(url)
    with pytest.raises(WarehouseError, match="newer than this Sextant knows"):
        migrations.migrate(engine)
    engine.close()


@pytest.mark.parametrize(
    "table", tables.CORE_TABLES + tables.TELEMETRY_TABLES + tables.TIMELINE_TABLES, ids=lambda table: table.name
)
def test_table_definitions_match_their_snapshots(tmp_path: Path, engine_name: str, table: tables.Table) -> None:
    """The DDL each engine generates is kept in tests/warehouse/snapshots, so changes show up in review.
    Run with SEXTANT_UPDATE_SNAPSHOTS=1 to rewrite them."""
    import os

    engine = connect(warehouse_url(engine_name, tmp_path))
    sql = engine.render(engine.create_table_statement(table)) + "\n"
    engine.close()
    # The ClickHouse server transport renders chDB's DDL (one dialect), so the two share their snapshots.
    path = SNAPSHOTS / {"clickhouse": "chdb"}.get(engine_name, engine_name) / f"{table.name}.sql"
    if os.environ.get("SEXTANT_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    assert path.read_text() == sql


def test_unknown_warehouse_urls_are_explained() -> None:
    with pytest.raises(WarehouseError, match="use one of duckdb://, chdb://, clickhouse://"):
        connect("postgres://localhost/db")
