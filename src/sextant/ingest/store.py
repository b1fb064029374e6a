"""Writing normalized batches to the warehouse: dedup, person snapshots, the user_days rollup,
ingestion warnings and the spool checkpoint, in one transaction where the engine has them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sextant.ingest import dedup, groups, persons, pings, scratch, tracking_plan
from sextant.project import Project
from sextant.warehouse import tables
from sextant.warehouse.engine import Engine


@dataclass(frozen=True)
class WriteCounts:
    """What became of the rows of a write: stored (as events or as pings), skipped because their insert_id
    was already stored, or refused by the tracking plan's deny list. The three add up to the rows written."""

    stored: int
    duplicates: int
    denied: int


@dataclass(frozen=True)
class WriteResult:
    """What became of each row of a written batch, by position (the row's number in the batch)."""

    rows: int
    stored_positions: np.ndarray  # events and pings
    denied_positions: np.ndarray
    pings: int  # of the stored rows, those stored as pings rather than events

    @property
    def stored(self) -> int:
        return len(self.stored_positions)

    @property
    def denied(self) -> int:
        return len(self.denied_positions)

    @property
    def duplicates(self) -> int:
        return self.rows - self.stored - self.denied

    def part(self, start: int, end: int) -> WriteCounts:
        """What happened to rows [start, end) of the batch."""
        stored = _count_between(self.stored_positions, start, end)
        denied = _count_between(self.denied_positions, start, end)
        return WriteCounts(stored, end - start - stored - denied, denied)


# The columns of a batch that the writer reads besides the events insert (properties and session ids are
# only stored).
_WRITER_COLUMNS = [
    "uuid",
    "event",
    "timestamp",
    "distinct_id",
    "user_id",
    "device_id",
    "previous_id",
    "person_updates",
    "groups",
    "group_updates",
    "warnings",
]


def _count_between(positions: np.ndarray, start: int, end: int) -> int:
    return int(np.count_nonzero((positions >= start) & (positions < end)))


class EventStore:
    """Appends normalized events to the warehouse. Only one EventStore may write a warehouse at a time."""

    def __init__(self, project: Project, engine: Engine) -> None:
        self.project = project
        self.engine = engine
        self._last_sequence: int | None = None

    def _next_sequence(self) -> int:
        """The number of the next write: one more than any stored (this store is the only writer)."""
        if self._last_sequence is None:
            result = self.engine.execute(
                exp.select(exp.Max(this=exp.column("write_sequence")))
                .from_(tables.EVENTS.name)
                .where(exp.column("project").eq(exp.Placeholder(this="project"))),
                {"project": self.project.name},
            )
            self._last_sequence = int(result.column(0)[0].as_py() or 0)
        self._last_sequence += 1
        return self._last_sequence

    def checkpoint(self) -> int:
        """The number of the last spool record whose events are stored (0 if none)."""
        result = self.engine.execute(
            exp.select(exp.Max(this=exp.column("spool_sequence")))
            .from_(tables.INGEST_CHECKPOINTS.name)
            .where(exp.column("project").eq(exp.Placeholder(this="project"))),
            {"project": self.project.name},
        )
        value = result.column(0)[0].as_py() if result.num_rows else None
        return int(value or 0)

    def write(self, batch: pa.Table, *, checkpoint: int | None = None, replayed: bool = False) -> WriteResult:
        """Store a batch in `normalize.NORMALIZED_SCHEMA`. `checkpoint` records the spool record it ends;
        `replayed` marks a batch replayed from the spool, whose events may already be stored."""
        now = dt.datetime.now(dt.UTC)
        project = self.project.name
        settings = self.project.config.ingest
        # The writer's own work reads the narrow columns of the rows it needs; the batch itself goes to the
        # warehouse once, in the events insert, which leaves out the rows not stored.
        positions = pa.array(np.arange(batch.num_rows, dtype=np.int64))
        # Events on the tracking plan's deny list are counted (with their warning) and not stored; they are
        # set aside first, so that they never count as duplicates nor hide a stored event's insert_id.
        denied = tracking_plan.denied_mask(batch.column("warnings"))
        allowed = np.flatnonzero(~denied)
        keys = batch.select(["insert_id", "timestamp", "uuid", "received_at"]).append_column("position", positions)
        allowed_keys = keys.take(allowed) if len(allowed) < batch.num_rows else keys
        dropped = dedup.duplicate_positions(allowed_keys, self.engine, project, settings.dedup_window)
        if replayed and not self.engine.transactional:
            dropped = pa.concat_tables([dropped, dedup.stored_uuid_positions(allowed_keys, self.engine, project)])
        stored = ~denied
        stored[dropped.column("position").to_numpy()] = False
        stored_positions = np.flatnonzero(stored)
        # Instance pings travel as events but are stored as pings and instance states.
        is_ping = pc.equal(batch.column("source"), pings.SOURCE).to_numpy(zero_copy_only=False)
        ping_positions = np.flatnonzero(stored & is_ping)
        ping_rows, instance_rows = (
            pings.rows(
                batch.select(["timestamp", "received_at", "properties"]).take(ping_positions),
                self.engine,
                project,
                self.project.config.telemetry.releases,
            )
            if len(ping_positions)
            else (None, None)
        )
        stored_events = stored & ~is_ping
        event_positions = np.flatnonzero(stored_events)
        kept = batch.select(_WRITER_COLUMNS).append_column("position", positions)
        if len(event_positions) < batch.num_rows:
            kept = kept.take(event_positions)
        people = persons.resolve(
            kept.select(
                ["position", "distinct_id", "user_id", "device_id", "previous_id", "timestamp", "person_updates"]
            ),
            self.engine,
            project,
            now,
        )
        # The stored events' person snapshots, placed at their events' positions in the batch.
        snapshot_of_position = np.zeros(batch.num_rows, dtype=np.int64)
        snapshot_of_position[event_positions] = np.arange(len(event_positions))
        person_properties = people.snapshots.take(
            pa.array(snapshot_of_position, mask=~stored_events)
        ).dictionary_decode()
        added = ("project", "person_properties", "write_sequence")
        passed_on = [name for name in tables.EVENTS.column_names if name not in added]
        events = (
            exp.select(
                exp.Literal.string(project).as_("project"),
                *(exp.column(name) for name in passed_on),
                exp.column("person_properties"),
                exp.Literal.number(self._next_sequence()).as_("write_sequence"),
            )
            .from_("batch")
            .where(exp.column("stored"))
        )
        event_tables = {
            "batch": batch.select(passed_on)
            .append_column("person_properties", person_properties)
            .append_column("stored", pa.array(stored_events))
        }
        rollup = scratch.run(
            """
            SELECT $project AS project, CAST(timezone($timezone, timestamp) AS DATE) AS day, event, distinct_id,
                count(*) AS count
            FROM kept GROUP BY ALL
            """,
            {"kept": kept.select(["timestamp", "event", "distinct_id"])},
            {"project": project, "timezone": self.project.config.timezone},
        )
        group_rows, group_warnings = groups.resolve(
            kept.select(["timestamp", "position", "groups", "group_updates"]), self.engine, project, now
        )
        # Warnings found by validation travel with their events; those of identity and groups are added here.
        later = pa.table(
            {
                "kind": [kind for kind, _, _ in people.warnings + group_warnings],
                "field": [field for _, field, _ in people.warnings + group_warnings],
                "message": [message for _, _, message in people.warnings + group_warnings],
            },
            schema=pa.schema([("kind", pa.string()), ("field", pa.string()), ("message", pa.string())]),
        )
        warned = ["uuid", "event", "warnings"]
        warned_rows = pa.concat_tables([kept.select(warned), batch.select(warned).filter(denied)])
        warnings = None
        # Most batches have no warning at all.
        if later.num_rows or pc.sum(pc.list_value_length(warned_rows.column("warnings"))).as_py():
            warnings = scratch.run(
                """
                SELECT $project AS project, $now AS timestamp, kind, event, field, any_value(message) AS message,
                    count(*) AS count, any_value(uuid) AS example_uuid
                FROM (
                    SELECT uuid, event, warning.kind AS kind, warning.field AS field, warning.message AS message
                    FROM (SELECT uuid, event, unnest(warnings) AS warning FROM kept WHERE len(warnings) > 0)
                    UNION ALL
                    SELECT NULL, NULL, kind, field, message FROM later
                )
                GROUP BY kind, event, field
                """,
                {"kept": warned_rows, "later": later},
                {"project": project, "now": now},
            )
        with self.engine.transaction():
            self.engine.insert_select(tables.EVENTS, events, event_tables)
            if people.distinct_ids.num_rows:
                self.engine.insert(tables.PERSON_DISTINCT_IDS, people.distinct_ids)
            if people.persons.num_rows:
                self.engine.insert(tables.PERSONS, people.persons)
            if group_rows.num_rows:
                self.engine.insert(tables.GROUPS, group_rows)
            if ping_rows is not None and instance_rows is not None:
                self.engine.insert(tables.PINGS, ping_rows)
                self.engine.insert(tables.INSTANCES, instance_rows)
            self.engine.insert(tables.USER_DAYS, rollup)
            if warnings is not None and warnings.num_rows:
                self.engine.insert(tables.INGESTION_WARNINGS, warnings)
            if checkpoint is not None:
                self.engine.insert(
                    tables.INGEST_CHECKPOINTS,
                    pa.table(
                        {
                            "project": [project],
                            "spool_sequence": [checkpoint],
                            "written_at": pa.array([now], pa.timestamp("us", tz="UTC")),
                        }
                    ),
                )
        return WriteResult(
            rows=batch.num_rows,
            stored_positions=stored_positions,
            denied_positions=np.flatnonzero(denied),
            pings=0 if ping_rows is None else ping_rows.num_rows,
        )
