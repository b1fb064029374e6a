"""Reading the current state of versioned tables: the row with the highest version per key."""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from sextant.warehouse.engine import Engine
from sextant.warehouse.tables import ColumnType, Table, TableKind

ARROW_TYPES = {
    ColumnType.STRING: pa.string(),
    ColumnType.UUID: pa.string(),  # read as text, so that every engine gives the same values
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.DATE: pa.date32(),
    ColumnType.INT32: pa.int32(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.JSON: pa.string(),
}


def latest(engine: Engine, table: Table, project: str, keys: pa.Table, columns: list[str]) -> pa.Table:
    """For each key in `keys` (named like the table's key columns, as text), the latest version's `columns`
    and that version. Keys the table does not have are left out."""
    assert table.kind is TableKind.LATEST
    key_columns = keys.column_names
    version = table.version_column

    def as_text(name: str, source: str) -> exp.Expression:
        column = exp.column(name, source)
        return exp.cast(column, "text") if table.column(name).type is ColumnType.UUID else column

    join = exp.and_(*(as_text(name, "stored").eq(exp.column(name, "keys")) for name in key_columns))
    selected = [as_text(name, "stored").as_(name) for name in key_columns]
    for name in columns:
        value: exp.Expression = exp.ArgMax(this=exp.column(name, "stored"), expression=exp.column(version, "stored"))
        if table.column(name).type in (ColumnType.UUID, ColumnType.JSON):
            value = exp.cast(value, "text")
        selected.append(value.as_(name))
    selected.append(exp.Max(this=exp.column(version, "stored")).as_(version))
    query = (
        exp.select(*selected)
        .from_(exp.to_table(table.name).as_("stored"))
        .join(exp.to_table("keys"), on=join)
        .where(exp.column("project", "stored").eq(exp.Placeholder(this="project")))
        .group_by(*(as_text(name, "stored") for name in key_columns))
    )
    result = engine.execute(query, {"project": project}, tables={"keys": keys})
    schema = pa.schema(
        [(name, ARROW_TYPES[table.column(name).type]) for name in (*key_columns, *columns)] + [(version, pa.int64())]
    )
    return result.cast(schema)


def person_map(project: exp.Expr) -> exp.Select:
    """SELECT distinct_id, person_id: each distinct id's current person (identity is resolved at query time)."""
    latest = exp.ArgMax(this=exp.column("person_id"), expression=exp.column("version"))
    return (
        exp.select(exp.column("distinct_id"), latest.as_("person_id"))
        .from_("person_distinct_ids")
        .where(exp.column("project").eq(project))
        .group_by("distinct_id")
    )
