"""Groups at ingest time (accounts, organizations, instances): a row for each new group an event names,
and property updates from `group_properties`, applied in timestamp order like person updates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pyarrow as pa

from sextant.ingest import scratch
from sextant.ingest.persons import apply_updates
from sextant.warehouse import state, tables
from sextant.warehouse.engine import Engine


def resolve(
    batch: pa.Table, engine: Engine, project: str, now: dt.datetime
) -> tuple[pa.Table, list[tuple[str, str, str]]]:
    """New rows for the groups table, and warnings. `batch` holds timestamp, position, groups, group_updates."""
    named = scratch.run(
        """
        SELECT DISTINCT key AS group_type, CAST(groups AS JSON)->>key AS group_key
        FROM (SELECT groups, unnest(json_keys(groups)) AS key FROM batch WHERE groups <> '{}')
        WHERE group_key IS NOT NULL AND group_key <> ''
        """,
        {"batch": batch.select(["groups"])},
    )
    if named.num_rows == 0 and batch.column("group_updates").null_count == batch.num_rows:
        return _empty(), []
    current = _current_groups(engine, project, named)
    states = {(row["group_type"], row["group_key"]): row for row in current.to_pylist()}
    updated: dict[tuple[str, str], dict[str, Any]] = {}
    warnings = []
    changes = scratch.run(
        "SELECT groups, group_updates FROM batch WHERE group_updates IS NOT NULL ORDER BY timestamp, position",
        {"batch": batch.select(["timestamp", "position", "groups", "group_updates"])},
    )
    for groups_text, updates_text in zip(
        *(changes.column(name).to_pylist() for name in changes.column_names), strict=True
    ):
        groups, updates = orjson.loads(groups_text), orjson.loads(updates_text)
        for group_type, properties in updates.items():
            key = groups.get(group_type)
            if key in (None, "") or not isinstance(properties, dict):
                warnings.append(
                    (
                        "group_properties_ignored",
                        "group_properties",
                        f"group_properties for {group_type!r} need the event's groups to name a "
                        f"{group_type!r} and the properties to be an object",
                    )
                )
                continue
            identity = (group_type, str(key))
            if identity not in updated:
                known = states.get(identity)
                updated[identity] = orjson.loads(known["properties"]) if known else {}
            operations = properties if any(name.startswith("$") for name in properties) else {"$set": properties}
            updated[identity] = apply_updates(updated[identity], operations)
    for group_type, group_key in zip(
        named.column("group_type").to_pylist(), named.column("group_key").to_pylist(), strict=True
    ):
        updated.setdefault(
            (group_type, group_key),
            {}
            if (group_type, group_key) not in states
            else orjson.loads(states[(group_type, group_key)]["properties"]),
        )
    rows = []
    for (group_type, group_key), properties in updated.items():
        known = states.get((group_type, group_key))
        text = orjson.dumps(properties).decode()
        if known and known["properties"] == text:
            continue
        rows.append(
            {
                "project": project,
                "group_type": group_type,
                "group_key": group_key,
                "properties": text,
                "created_at": now,
                "version": known["version"] + 1 if known else 0,
            }
        )
    return pa.Table.from_pylist(rows, schema=_ROW_SCHEMA) if rows else _empty(), warnings


_ROW_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("group_type", pa.string()),
        ("group_key", pa.string()),
        ("properties", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("version", pa.int64()),
    ]
)


def _empty() -> pa.Table:
    return _ROW_SCHEMA.empty_table()


def _current_groups(engine: Engine, project: str, named: pa.Table) -> pa.Table:
    return state.latest(engine, tables.GROUPS, project, named, ["properties"])
