"""Persons at ingest time: the distinct-id map (with identity merges), person property operations, and
each event's snapshot of its person's properties as of that event.

Identity is resolved at query time through `person_distinct_ids`, so a merge here only remaps distinct
ids: a person's earlier anonymous events then count for the identified person in every query. An event
links two ids when it carries a `user_id` and a `device_id` (Amplitude's rule, also Segment's identify) or a
`previous_id` (an alias, PostHog's $identify and $create_alias). Two identified persons are never merged,
and placeholder ids are never linked; a refused merge becomes an ingestion warning.

Within a batch, events are taken in timestamp order (then arrival order). Merges are applied first; then
property operations, which only the events of persons with updates go through Python for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sextant.ingest import scratch
from sextant.warehouse import state, tables
from sextant.warehouse.engine import Engine

# Ids that clients send when they have no real id; linking on them would merge unrelated people.
PLACEHOLDER_IDS = frozenset(
    {
        "",
        "0",
        "anonymous",
        "null",
        "undefined",
        "none",
        "nil",
        "guest",
        "[object object]",
        "nan",
        "-1",
        "00000000-0000-0000-0000-000000000000",
    }
)
# Operations that give the same result when applied twice in a row.
IDEMPOTENT_OPERATIONS = frozenset({"$set", "$set_once", "$unset", "$remove"})

_STATE_SCHEMA = pa.schema([("person_id", pa.string()), ("seq", pa.int64()), ("properties", pa.string())])
_CURRENT_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("properties", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("is_identified", pa.bool_()),
        ("version", pa.int64()),
    ]
)
_MAPPING_SCHEMA = pa.schema([("distinct_id", pa.string()), ("person_id", pa.string()), ("version", pa.int64())])


@dataclass
class PersonWrites:
    """Snapshots for the batch's events, the state rows to append, and warnings about refused merges."""

    # each row's person properties as of its event, in the order of the batch's rows
    snapshots: pa.DictionaryArray
    distinct_ids: pa.Table  # new rows for person_distinct_ids
    persons: pa.Table  # new rows for persons
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, field, message)


def apply_updates(properties: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """Apply one event's person updates ({"$set": {...}, "$add": {"logins": 1}, ...}) in a fixed order:
    $set_once, $set, $add, $append, $prepend, $remove, $unset."""
    for key, value in (updates.get("$set_once") or {}).items():
        properties.setdefault(key, value)
    properties.update(updates.get("$set") or {})
    for key, value in (updates.get("$add") or {}).items():
        current = properties.get(key, 0)
        if _is_number(value) and _is_number(current):
            properties[key] = current + value
    for key, value in (updates.get("$append") or {}).items():
        properties[key] = _as_list(properties.get(key)) + _as_list(value)
    for key, value in (updates.get("$prepend") or {}).items():
        properties[key] = _as_list(value) + _as_list(properties.get(key))
    for key, value in (updates.get("$remove") or {}).items():
        if isinstance(properties.get(key), list):
            removed = _as_list(value)
            properties[key] = [item for item in properties[key] if item not in removed]
    unset = updates.get("$unset") or []
    for key in unset if isinstance(unset, list) else list(unset):
        properties.pop(key, None)
    return properties


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _new_person_id(project: str, distinct_id: str) -> str:
    """The person made for a distinct id seen for the first time: derived from it, so replays agree."""
    digest = hashlib.md5(f"{project}:{distinct_id}".encode()).hexdigest()
    # str(uuid.UUID(digest)), formatted directly: a third of the time, for every new person of a batch.
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def resolve(batch: pa.Table, engine: Engine, project: str, now: dt.datetime) -> PersonWrites:
    """`batch` holds the stored rows' position, distinct_id, user_id, device_id, previous_id, timestamp and
    person_updates."""
    ids = scratch.run(
        """
        SELECT distinct_id, min(timestamp) AS first_seen, bool_or(user_id IS NOT NULL) AS identified
        FROM batch GROUP BY distinct_id
        """,
        {"batch": batch.select(["distinct_id", "timestamp", "user_id"])},
    )
    # Each pair of ids is linked once, at its first event: most events repeat a pair already linked. An alias
    # whose target is first used at (or after) the alias may rename it (see _Identity.link).
    links = scratch.run(
        """
        SELECT from_id, to_id, bool_or(identified) AS identified,
            bool_or(explicit) AND min(ids.first_seen) >= min(timestamp) AS first_use,
            min(timestamp) AS timestamp, min(position) AS position
        FROM (
            SELECT device_id AS from_id, distinct_id AS to_id, true AS identified, false AS explicit, timestamp,
                position FROM batch
            WHERE user_id IS NOT NULL AND device_id IS NOT NULL AND device_id <> distinct_id
            UNION ALL
            SELECT previous_id, distinct_id, user_id IS NOT NULL, true, timestamp, position FROM batch
            WHERE previous_id IS NOT NULL AND previous_id <> distinct_id
        ) JOIN ids ON ids.distinct_id = to_id
        GROUP BY from_id, to_id
        ORDER BY timestamp, position
        """,
        {"batch": batch, "ids": ids.select(["distinct_id", "first_seen"])},
    )
    looked_up = pc.unique(
        pa.chunked_array([*ids.column("distinct_id").chunks, *links.column("from_id").chunks], pa.string())
    )
    known = _mapping(engine, project, "distinct_id", pa.table({"distinct_id": looked_up}))
    current = _current_persons(engine, project, pa.table({"person_id": pc.unique(known.column("person_id"))}))
    identity = _Identity(project, known, current)
    # Ids sent as user ids belong to identified persons; the guards below must know that up front.
    for distinct_id in ids.filter(ids.column("identified")).column("distinct_id").to_pylist():
        identity.identified.add(identity.person_of(distinct_id))
    warnings = identity.link(
        zip(*(links.column(name).to_pylist() for name in ("from_id", "to_id", "identified", "first_use")), strict=True)
    )
    if identity.absorbed:
        # Every distinct id of a merged person moves with it, including ids this batch never saw.
        person_ids = pa.table({"person_id": pa.array(sorted(identity.absorbed), pa.string())})
        identity.add_known(_mapping(engine, project, "person_id", person_ids))
        identity.move_absorbed()
    ids = ids.append_column("person_id", identity.persons_of(ids.column("distinct_id").to_pylist()))
    current = identity.merge_properties(current)
    # Persons are numbered through the batch's distinct ids (fewer than its rows): `persons[codes[row]]` is
    # the person of each row.
    encoded = pc.dictionary_encode(ids.column("person_id")).combine_chunks()
    persons = encoded.dictionary
    codes = encoded.indices.to_numpy()[pc.index_in(batch.column("distinct_id"), ids.column("distinct_id")).to_numpy()]
    updated = pc.is_valid(batch.column("person_updates")).to_numpy(zero_copy_only=False)
    sequence = _event_order(batch.column("timestamp"))
    ordered = pa.table(
        {
            "person_id": persons.take(pa.array(codes[updated])),
            "seq": pa.array(sequence[updated]),
            "person_updates": batch.column("person_updates").filter(pa.array(updated)),
        }
    )
    states = _property_states(ordered, current)
    snapshots = _snapshots(persons, codes, sequence, current, states)
    changes = identity.changed_rows()
    distinct_ids = changes.add_column(0, "project", pa.repeat(project, changes.num_rows)).append_column(
        "updated_at", pa.repeat(pa.scalar(now, pa.timestamp("us", tz="UTC")), changes.num_rows)
    )
    person_rows = scratch.run(
        """
        WITH batch_persons AS (
            SELECT person_id, min(first_seen) AS first_seen, bool_or(identified) AS identified
            FROM ids GROUP BY person_id
        ), final_states AS (
            SELECT person_id, arg_max(properties, seq) AS properties FROM states GROUP BY person_id
        )
        SELECT $project AS project, batch_persons.person_id,
            COALESCE(final_states.properties, current.properties, '{}') AS properties,
            COALESCE(current.created_at, batch_persons.first_seen) AS created_at,
            COALESCE(current.is_identified, false) OR batch_persons.identified OR identified.person_id IS NOT NULL
                AS is_identified,
            COALESCE(current.version + 1, 0) AS version
        FROM batch_persons
        LEFT JOIN final_states USING (person_id)
        LEFT JOIN current USING (person_id)
        LEFT JOIN identified USING (person_id)
        WHERE current.person_id IS NULL OR current.changed
           OR (final_states.person_id IS NOT NULL AND final_states.properties <> current.properties)
           OR ((batch_persons.identified OR identified.person_id IS NOT NULL) AND NOT current.is_identified)
        """,
        {
            "ids": ids,
            "states": states,
            "current": current,
            "identified": pa.table({"person_id": pa.array(list(identity.identified), pa.string())}),
        },
        {"project": project},
    )
    return PersonWrites(snapshots, distinct_ids, person_rows, warnings)


def _event_order(timestamps: pa.ChunkedArray) -> np.ndarray:
    """Each row's number when the batch is ordered by timestamp, then arrival (its position)."""
    order = np.argsort(timestamps.cast(pa.int64()).to_numpy(), kind="stable")
    numbers = np.empty(len(order), dtype=np.int64)
    numbers[order] = np.arange(len(order), dtype=np.int64)
    return numbers


def _snapshots(
    persons: pa.Array, codes: np.ndarray, sequence: np.ndarray, current: pa.Table, states: pa.Table
) -> pa.DictionaryArray:
    """Each row's person properties as of its event (its person is `persons[codes[row]]`): the person's
    latest state at or before it in event order, else the person's properties before the batch, else {}.
    The texts are shared, not repeated."""
    before = current.column("properties").take(pc.index_in(persons, current.column("person_id")))
    texts = pa.concat_arrays(
        [pc.fill_null(before, "{}").combine_chunks(), states.column("properties").combine_chunks()]
    )
    snapshot = codes.astype(np.int32)
    if states.num_rows:
        # An as-of lookup on (person, event number): the last state at or before each row, if it is the row's
        # person's.
        state_codes = pc.index_in(states.column("person_id"), persons).to_numpy()
        state_keys = state_codes * (len(sequence) + 1) + states.column("seq").to_numpy()
        by_key = np.argsort(state_keys, kind="stable")
        found = np.searchsorted(state_keys[by_key], codes * (len(sequence) + 1) + sequence, side="right") - 1
        found_state = by_key[np.maximum(found, 0)]
        has_state = (found >= 0) & (state_codes[found_state] == codes)
        snapshot[has_state] = len(persons) + found_state[has_state]
    return pa.DictionaryArray.from_arrays(pa.array(snapshot, pa.int32()), texts)


class _Identity:
    """The distinct-id map of the ids a batch touches, with the batch's links applied in order."""

    def __init__(self, project: str, known: pa.Table, current: pa.Table) -> None:
        self.project = project
        self.known_ids = set(known.column("distinct_id").to_pylist())
        self.person: dict[str, str] = {}
        self.version: dict[str, int] = {}
        # person ids known to be identified
        self.identified = set(current.filter(current.column("is_identified")).column("person_id").to_pylist())
        self.changed: set[str] = set()  # distinct ids whose mapping is new or moved
        self.absorbed: dict[str, str] = {}  # person merged away -> the person it merged into
        self.add_known(known)

    def add_known(self, known: pa.Table) -> None:
        for distinct_id, person_id, version in zip(
            *(known.column(name).to_pylist() for name in ("distinct_id", "person_id", "version")), strict=True
        ):
            self.person.setdefault(distinct_id, person_id)
            self.version.setdefault(distinct_id, version)

    def person_of(self, distinct_id: str) -> str:
        if distinct_id not in self.person:
            self.person[distinct_id] = _new_person_id(self.project, distinct_id)
            self.changed.add(distinct_id)
        return self.person[distinct_id]

    def link(self, links: Iterable[tuple[str, str, bool, bool]]) -> list[tuple[str, str, str]]:
        """Apply links (from_id, to_id, identified, first_use) in order; `first_use` marks an alias whose
        target is first used in this batch at or after the alias."""
        warnings = []
        for source, target, identified, first_use in links:
            if source.strip().lower() in PLACEHOLDER_IDS or target.strip().lower() in PLACEHOLDER_IDS:
                warnings.append(
                    (
                        "merge_refused",
                        "distinct_id",
                        f"did not link {source!r} and {target!r}: placeholder ids are never merged",
                    )
                )
                continue
            if first_use and target not in self.known_ids:
                # An alias to an id first used right here (a rename, or identify with a new user id): the id
                # joins the existing person, which stays identified if it was.
                source_person = self.person_of(source)
                created = self.person.get(target)
                self.person[target] = source_person
                self.changed.add(target)
                if created is not None and created != source_person:
                    self._absorb(created, source_person)
                if identified:
                    self.identified.add(source_person)
                continue
            target_person = self.person_of(target)
            if identified:
                self.identified.add(target_person)
            if source not in self.person:
                self.person[source] = target_person
                self.changed.add(source)
                continue
            source_person = self.person[source]
            if source_person == target_person:
                continue
            if source_person in self.identified and target_person in self.identified:
                warnings.append(
                    (
                        "merge_refused",
                        "distinct_id",
                        f"did not merge {source!r} into {target!r}: both are identified persons",
                    )
                )
                continue
            if target_person in self.identified or source_person not in self.identified:
                self._absorb(source_person, target_person)
            else:
                self._absorb(target_person, source_person)
        return warnings

    def _absorb(self, merged: str, into: str) -> None:
        for person in [key for key, value in self.absorbed.items() if value == merged]:
            self.absorbed[person] = into
        self.absorbed[merged] = into
        self.move_absorbed()

    def move_absorbed(self) -> None:
        for distinct_id, person in self.person.items():
            if person in self.absorbed:
                self.person[distinct_id] = self.absorbed[person]
                self.changed.add(distinct_id)

    def persons_of(self, distinct_ids: list[str]) -> pa.Array:
        return pa.array([self.person_of(distinct_id) for distinct_id in distinct_ids], pa.string())

    def changed_rows(self) -> pa.Table:
        changed = sorted(self.changed)
        return pa.table(
            {
                "distinct_id": pa.array(changed, pa.string()),
                "person_id": pa.array([self.person[i] for i in changed], pa.string()),
                "version": pa.array([self.version[i] + 1 if i in self.version else 0 for i in changed], pa.int64()),
            }
        )

    def merge_properties(self, current: pa.Table) -> pa.Table:
        """Fold merged persons' properties into the persons they merged into (the latter's values win),
        and mark those persons as changed."""
        if not self.absorbed:  # the usual batch: no merges, and no person goes through Python
            return current.append_column("changed", pa.array(np.zeros(current.num_rows, dtype=bool)))
        # Only the persons of the merges go through Python; the others are passed on as they are.
        involved = pc.is_in(
            current.column("person_id"), pa.array([*self.absorbed, *self.absorbed.values()], pa.string())
        )
        untouched = current.filter(pc.invert(involved))
        untouched = untouched.append_column("changed", pa.array(np.zeros(untouched.num_rows, dtype=bool)))
        rows = {row["person_id"]: row for row in current.filter(involved).to_pylist()}
        changed = set()
        for merged, into in self.absorbed.items():
            source = orjson.loads(rows[merged]["properties"]) if merged in rows else {}
            target_row = rows.get(into)
            target = orjson.loads(target_row["properties"]) if target_row else {}
            combined = {**source, **target}
            if target_row is None:
                created = rows[merged]["created_at"] if merged in rows else None
                rows[into] = {
                    "person_id": into,
                    "properties": orjson.dumps(combined).decode(),
                    "created_at": created,
                    "is_identified": into in self.identified,
                    "version": -1,
                }
            else:
                target_row["properties"] = orjson.dumps(combined).decode()
                if (
                    merged in rows
                    and rows[merged]["created_at"]
                    and (target_row["created_at"] is None or rows[merged]["created_at"] < target_row["created_at"])
                ):
                    target_row["created_at"] = rows[merged]["created_at"]
            changed.add(into)
        table = pa.Table.from_pylist(list(rows.values()), schema=_CURRENT_SCHEMA)
        merged = table.append_column("changed", pa.array([row in changed for row in rows], pa.bool_()))
        return pa.concat_tables([untouched, merged])


def _mapping(engine: Engine, project: str, key: str, keys: pa.Table) -> pa.Table:
    """The latest person and version of each distinct id selected by `key` (distinct_id or person_id)."""
    if key == "distinct_id":
        return state.latest(engine, tables.PERSON_DISTINCT_IDS, project, keys, ["person_id"])
    # Every distinct id that ever mapped to these persons, counted only if its latest mapping still does.
    ever = engine.execute(
        exp.select("distinct_id")
        .distinct()
        .from_("person_distinct_ids")
        .where(
            exp.and_(
                exp.column("project").eq(exp.Placeholder(this="project")),
                exp.column("person_id").isin(query=exp.select(exp.cast(exp.column("person_id"), "uuid")).from_("keys")),
            )
        ),
        {"project": project},
        tables={"keys": keys},
    )
    latest_of_ids = _mapping(engine, project, "distinct_id", ever.cast(pa.schema([("distinct_id", pa.string())])))
    return latest_of_ids.filter(pc.is_in(latest_of_ids.column("person_id"), keys.column("person_id")))


def _current_persons(engine: Engine, project: str, person_ids: pa.Table) -> pa.Table:
    columns = ["properties", "created_at", "is_identified"]
    return state.latest(engine, tables.PERSONS, project, person_ids, columns).select(_CURRENT_SCHEMA.names)


def _property_states(ordered: pa.Table, current: pa.Table) -> pa.Table:
    """The person's properties after each event that changes them: (person_id, seq, properties)."""
    if ordered.num_rows == 0:
        return _STATE_SCHEMA.empty_table()
    changes = scratch.run(
        """
        SELECT ordered.person_id, seq, person_updates, current.properties AS current_properties
        FROM ordered LEFT JOIN current USING (person_id)
        WHERE person_updates IS NOT NULL
        ORDER BY ordered.person_id, seq
        """,
        {"ordered": ordered, "current": current.select(["person_id", "properties"])},
    )
    person_ids, seqs, states = [], [], []
    person: str | None = None
    properties: dict[str, Any] = {}
    previous_updates: str | None = None
    for person_id, seq, updates, current_properties in zip(
        *(changes.column(name).to_pylist() for name in changes.column_names), strict=True
    ):
        if person_id != person:
            person, previous_updates = person_id, None
            properties = orjson.loads(current_properties) if current_properties else {}
        operations = orjson.loads(updates)
        if updates == previous_updates and set(operations) <= IDEMPOTENT_OPERATIONS:
            continue  # the same idempotent update again changes nothing
        previous_updates = updates
        properties = apply_updates(properties, operations)
        person_ids.append(person_id)
        seqs.append(seq)
        states.append(orjson.dumps(properties).decode())
    return pa.table([person_ids, seqs, states], schema=_STATE_SCHEMA)
