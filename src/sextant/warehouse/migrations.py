"""Versioned warehouse migrations, so that a project made by an older Sextant opens after an upgrade.

Each migration is a numbered list of steps. Steps are idempotent (IF NOT EXISTS; a rebuilt table of derived
data is simply emptied again), and the applied versions are recorded in `schema_migrations`, so a migration
interrupted half-way is simply applied again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from sextant.errors import WarehouseError
from sextant.warehouse import tables
from sextant.warehouse.engine import Engine
from sextant.warehouse.tables import Column, ColumnType, Table


@dataclass(frozen=True)
class CreateTable:
    table: Table

    def statements(self, engine: Engine) -> list[exp.Expression]:
        return [engine.create_table_statement(self.table)]


@dataclass(frozen=True)
class AddColumn:
    table: Table
    column: Column

    def statements(self, engine: Engine) -> list[exp.Expression]:
        return [engine.add_column_statement(self.table, self.column)]


@dataclass(frozen=True)
class RebuildTable:
    """Drop a table of derived data and create it in its current shape; whatever made its rows makes them again."""

    table: Table

    def statements(self, engine: Engine) -> list[exp.Expression]:
        drop = exp.Drop(tables=[exp.to_table(self.table.name)], kind="TABLE", exists=True)
        return [drop, engine.create_table_statement(self.table)]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    steps: tuple[CreateTable | AddColumn | RebuildTable, ...]


SCHEMA_MIGRATIONS = Table(
    "schema_migrations",
    (
        Column("version", ColumnType.INT64),
        Column("description", ColumnType.STRING),
        Column("applied_at", ColumnType.TIMESTAMP),
    ),
    sort_key=("version",),
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "core tables", tuple(CreateTable(table) for table in tables.CORE_TABLES)),
    Migration(2, "instance telemetry", tuple(CreateTable(table) for table in tables.TELEMETRY_TABLES)),
    Migration(
        3,
        "person timelines",
        (
            AddColumn(tables.EVENTS, tables.EVENTS.column("write_sequence")),
            *(CreateTable(table) for table in tables.TIMELINE_TABLES),
        ),
    ),
    # Timelines hold event codes instead of names. Builds are derived data: the next compaction makes them
    # again, and until then queries read `events`.
    Migration(4, "timeline event codes", tuple(RebuildTable(table) for table in tables.TIMELINE_TABLES)),
    # Timeline events are kept by event, then person and time (they were by person and time), and person
    # numbers and event codes are 32-bit: scans read half the bytes.
    Migration(5, "timeline events by event", tuple(RebuildTable(table) for table in tables.TIMELINE_TABLES)),
)


def applied_versions(engine: Engine) -> set[int]:
    if SCHEMA_MIGRATIONS.name not in engine.table_names():
        return set()
    result = engine.execute(exp.select("version").from_(SCHEMA_MIGRATIONS.name))
    return set(result.column(0).to_pylist())


def migrate(engine: Engine) -> list[int]:
    """Bring the warehouse to the newest schema; returns the versions applied now."""
    engine.execute(engine.create_table_statement(SCHEMA_MIGRATIONS))
    done = applied_versions(engine)
    newest = MIGRATIONS[-1].version
    if done and max(done) > newest:
        raise WarehouseError(
            f"this warehouse has schema version {max(done)}, newer than this Sextant knows ({newest}); "
            "upgrade Sextant to open it"
        )
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for step in migration.steps:
            for statement in step.statements(engine):
                engine.execute(statement)
        record = pa.table(
            {
                "version": [migration.version],
                "description": [migration.description],
                "applied_at": pa.array([dt.datetime.now(dt.UTC)], pa.timestamp("us", tz="UTC")),
            }
        )
        engine.insert(SCHEMA_MIGRATIONS, record)
        applied.append(migration.version)
    return applied
