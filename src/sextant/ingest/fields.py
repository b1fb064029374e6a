"""How each field of an incoming event is read, checked and converted, whatever it arrives as.

A field comes either from a JSON document (the HTTP API, NDJSON files) or from a typed column (CSV,
Parquet). The check runs in three SQL stages over a batch, so that no expression is repeated:
`extract` reads the source once into `<field>_raw`, `_type` and `_text`; `convert` makes `<field>_value`;
`check` makes `<field>_error`, a reason or NULL. `MACROS` are installed once per connection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

JSON = "JSON"

NUMBER_KINDS = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
    }
)

# Epoch seconds, milliseconds or microseconds, told apart by magnitude, converted through integer
# microseconds so that milliseconds stay exact. Out-of-range numbers give NULL, which `check` reports.
MACROS = (
    """CREATE OR REPLACE MACRO epoch_micros(x) AS
        CASE WHEN abs(x) >= 1e14 THEN x WHEN abs(x) >= 1e11 THEN x * 1e3 ELSE x * 1e6 END""",
    """CREATE OR REPLACE MACRO epoch_timestamp(x) AS
        CASE WHEN epoch_micros(x) BETWEEN 0 AND 253402300799e6
        THEN CAST(make_timestamp(CAST(round(epoch_micros(x)) AS BIGINT)) AS TIMESTAMPTZ) END""",
    # The JSON type of a value, as the reason for a type error names it.
    """CREATE OR REPLACE MACRO json_type_name(t) AS
        CASE t WHEN 'VARCHAR' THEN 'string' WHEN 'BIGINT' THEN 'number' WHEN 'UBIGINT' THEN 'number'
        WHEN 'DOUBLE' THEN 'number' ELSE lower(t) END""",
)


class Rule(enum.Enum):
    TEXT = "text"  # strings; integers kept as their decimal text; empty means missing
    NAME = "name"  # strings only
    TIMESTAMP = "timestamp"  # ISO 8601 (UTC unless it has an offset) or epoch s / ms / us
    OBJECT = "object"  # a JSON object; missing or null becomes {}
    UUID = "uuid"  # a client-chosen uuid; a time-ordered one is made when missing


@dataclass(frozen=True)
class FieldSource:
    """A SQL expression over the input relation and its DuckDB type (JSON for documents)."""

    sql: str
    kind: str
    # For a JSON value: its type and text when they are already known (read from the whole document at once,
    # which is cheaper than parsing each field's JSON again).
    json_type: str | None = None
    json_text: str | None = None
    # The input's Arrow text column that `sql` reads as it is: where the normalized value is that text, the
    # column itself is passed on instead of DuckDB exporting the same strings again.
    column: str | None = None


def extract(name: str, source: FieldSource) -> list[str]:
    """SELECT items for stage one: the raw value, its type name and its text."""
    s = source.sql
    if source.kind == JSON:
        parsed_type = f"json_type({name}_raw)"
        parsed_text = f"CASE WHEN {name}_type = 'VARCHAR' THEN ({name}_raw->>'$') ELSE CAST({name}_raw AS VARCHAR) END"
        return [
            f"{s} AS {name}_raw",
            f"{source.json_type or parsed_type} AS {name}_type",
            f"{source.json_text or parsed_text} AS {name}_text",
        ]
    kind = "VARCHAR" if source.kind == "VARCHAR" else ("NUMBER" if source.kind in NUMBER_KINDS else source.kind)
    return [
        f"{s} AS {name}_raw",
        f"CASE WHEN {s} IS NOT NULL THEN '{kind}' END AS {name}_type",
        f"CAST({s} AS VARCHAR) AS {name}_text",
    ]


def convert(name: str, rule: Rule, kind: str) -> str:
    """The SELECT item for stage two: `<name>_value`."""
    raw, typ, txt = f"{name}_raw", f"{name}_type", f"{name}_text"
    if rule in (Rule.TEXT, Rule.NAME):
        allowed = "('VARCHAR')" if rule is Rule.NAME else "('VARCHAR', 'BIGINT', 'UBIGINT', 'NUMBER')"
        return f"NULLIF(CASE WHEN {typ} IN {allowed} THEN {txt} END, '') AS {name}_value"
    if rule is Rule.TIMESTAMP:
        if kind not in (JSON, "VARCHAR") and kind not in NUMBER_KINDS:
            return f"CAST({raw} AS TIMESTAMPTZ) AS {name}_value"  # TIMESTAMP (read as UTC), TIMESTAMPTZ, DATE
        return (
            f"CASE WHEN {typ} = 'VARCHAR' THEN COALESCE(TRY_CAST({txt} AS TIMESTAMPTZ), "
            f"epoch_timestamp(TRY_CAST({txt} AS DOUBLE))) "
            f"WHEN {typ} IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'NUMBER') THEN epoch_timestamp(CAST({txt} AS DOUBLE)) "
            f"END AS {name}_value"
        )
    if rule is Rule.OBJECT:
        if kind == JSON:
            parsed = raw
        elif kind == "VARCHAR":
            parsed = f"TRY_CAST(NULLIF({raw}, '') AS JSON)"
        else:  # STRUCT and MAP columns from Parquet
            parsed = f"to_json({raw})"
        kind_of = f"{typ}" if kind == JSON else f"json_type({parsed})"
        return (
            f"CASE WHEN {kind_of} = 'OBJECT' THEN CAST({parsed} AS JSON) "
            f"WHEN {parsed} IS NULL OR {kind_of} = 'NULL' THEN JSON '{{}}' END AS {name}_value"
        )
    return f"COALESCE(TRY_CAST(NULLIF({txt}, '') AS UUID), uuidv7()) AS {name}_value"


def check(name: str, rule: Rule, kind: str, max_length: int = 0) -> str:
    """The SELECT item for stage three: `<name>_error`, a reason or NULL."""
    value, typ, txt = f"{name}_value", f"{name}_type", f"{name}_text"
    given = f"{typ} IS NOT NULL AND {typ} <> 'NULL'"
    if rule in (Rule.TEXT, Rule.NAME):
        what = "a string" if rule is Rule.NAME else "a string or an integer"
        return (
            f"CASE WHEN {given} AND {value} IS NULL AND {txt} <> '' "
            f"THEN '{name} must be {what}, not ' || json_type_name({typ}) "
            f"WHEN length({value}) > {max_length} "
            f"THEN '{name} is ' || length({value}) || ' characters long; the limit is {max_length}' END AS {name}_error"
        )
    if rule is Rule.TIMESTAMP:
        return (
            f"CASE WHEN {given} AND {value} IS NULL AND {txt} <> '' THEN '{name} ' || "
            f"CASE WHEN {typ} = 'VARCHAR' THEN '\"' || {txt} || '\"' ELSE {txt} END || ' is not a timestamp; use "
            "ISO 8601 such as 2024-05-01T12:00:00Z, or epoch seconds or milliseconds' "
            f"WHEN {value} < TIMESTAMPTZ '2000-01-01 00:00:00+00' THEN '{name} ' || CAST({value} AS VARCHAR) || "
            "' is before 2000-01-01, which usually means an unset clock or seconds sent as milliseconds' "
            f"END AS {name}_error"
        )
    if rule is Rule.OBJECT:
        # A text column holds JSON text: name the type of the JSON it holds, or say it is not JSON.
        actual = (
            f"COALESCE(json_type_name(json_type(TRY_CAST({txt} AS JSON))), 'text that is not JSON')"
            if kind == "VARCHAR"
            else f"json_type_name({typ})"
        )
        return f"CASE WHEN {value} IS NULL THEN '{name} must be a JSON object, not ' || {actual} END AS {name}_error"
    return (
        f"CASE WHEN NULLIF({txt}, '') IS NOT NULL AND TRY_CAST({txt} AS UUID) IS NULL "
        f"THEN '{name} \"' || {txt} || '\" is not a UUID' END AS {name}_error"
    )
