"""The core warehouse tables, described once and rendered by each engine.

Every table is append-only. Tables that hold a current state (persons, the distinct-id map, groups) carry a
`version` column and readers take the latest version per key; `user_days` holds partial counts that readers
sum. This is how ClickHouse's Replacing and Summing MergeTrees work, and DuckDB follows the same rules so
that one query runs on both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ColumnType(enum.Enum):
    STRING = "string"
    UUID = "uuid"
    TIMESTAMP = "timestamp"  # an instant, microsecond precision, stored in UTC
    DATE = "date"
    INT32 = "int32"  # small numbers that scans read by the million (person numbers and event codes of timelines)
    INT64 = "int64"
    FLOAT64 = "float64"
    BOOLEAN = "boolean"
    JSON = "json"  # a JSON document; a String in ClickHouse


class TableKind(enum.Enum):
    APPEND = "append"  # plain facts
    LATEST = "latest"  # state: the row with the highest `version` per sort key wins
    SUMMING = "summing"  # partial aggregates: readers sum `count` per sort key


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    sort_key: tuple[str, ...]
    kind: TableKind = TableKind.APPEND
    # A timestamp or date column to partition by month on engines that partition.
    partition_by_month: str | None = None
    # For LATEST tables: the column whose highest value wins.
    version_column: str = "version"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


EVENTS = Table(
    "events",
    (
        Column("project", ColumnType.STRING),
        Column("uuid", ColumnType.UUID),
        Column("insert_id", ColumnType.STRING, nullable=True),
        Column("event", ColumnType.STRING),
        Column("timestamp", ColumnType.TIMESTAMP),
        Column("received_at", ColumnType.TIMESTAMP),
        Column("distinct_id", ColumnType.STRING),
        Column("user_id", ColumnType.STRING, nullable=True),
        Column("device_id", ColumnType.STRING, nullable=True),
        Column("session_id", ColumnType.STRING, nullable=True),
        Column("properties", ColumnType.JSON),
        Column("person_properties", ColumnType.JSON),  # the person's properties as of this event
        Column("groups", ColumnType.JSON),  # {"account": "acme", "instance": "..."}
        Column("source", ColumnType.STRING),  # which API or import brought the event in
        # The number of the write that stored the event (NULL before schema version 3): person timelines
        # know which events they hold by it.
        Column("write_sequence", ColumnType.INT64, nullable=True),
    ),
    sort_key=("project", "event", "timestamp"),
    partition_by_month="timestamp",
)

PERSON_DISTINCT_IDS = Table(
    "person_distinct_ids",
    (
        Column("project", ColumnType.STRING),
        Column("distinct_id", ColumnType.STRING),
        Column("person_id", ColumnType.UUID),
        Column("version", ColumnType.INT64),
        Column("updated_at", ColumnType.TIMESTAMP),
    ),
    sort_key=("project", "distinct_id"),
    kind=TableKind.LATEST,
)

PERSONS = Table(
    "persons",
    (
        Column("project", ColumnType.STRING),
        Column("person_id", ColumnType.UUID),
        Column("properties", ColumnType.JSON),
        Column("created_at", ColumnType.TIMESTAMP),
        Column("is_identified", ColumnType.BOOLEAN),
        Column("version", ColumnType.INT64),
    ),
    sort_key=("project", "person_id"),
    kind=TableKind.LATEST,
)

GROUPS = Table(
    "groups",
    (
        Column("project", ColumnType.STRING),
        Column("group_type", ColumnType.STRING),
        Column("group_key", ColumnType.STRING),
        Column("properties", ColumnType.JSON),
        Column("created_at", ColumnType.TIMESTAMP),
        Column("version", ColumnType.INT64),
    ),
    sort_key=("project", "group_type", "group_key"),
    kind=TableKind.LATEST,
)

USER_DAYS = Table(
    "user_days",
    (
        Column("project", ColumnType.STRING),
        Column("day", ColumnType.DATE),  # in the project's timezone
        Column("event", ColumnType.STRING),
        Column("distinct_id", ColumnType.STRING),
        Column("count", ColumnType.INT64),
    ),
    sort_key=("project", "day", "event", "distinct_id"),
    kind=TableKind.SUMMING,
    partition_by_month="day",
)

INGESTION_WARNINGS = Table(
    "ingestion_warnings",
    (
        Column("project", ColumnType.STRING),
        Column("timestamp", ColumnType.TIMESTAMP),
        Column("kind", ColumnType.STRING),
        Column("event", ColumnType.STRING, nullable=True),
        Column("field", ColumnType.STRING, nullable=True),
        Column("message", ColumnType.STRING),
        Column("count", ColumnType.INT64),
        Column("example_uuid", ColumnType.UUID, nullable=True),
    ),
    sort_key=("project", "timestamp"),
)

# The last spool record whose events are in the warehouse; the server replays the spool after it.
INGEST_CHECKPOINTS = Table(
    "ingest_checkpoints",
    (
        Column("project", ColumnType.STRING),
        Column("spool_sequence", ColumnType.INT64),
        Column("written_at", ColumnType.TIMESTAMP),
    ),
    sort_key=("project",),
    kind=TableKind.LATEST,
    version_column="spool_sequence",
)

CORE_TABLES = (
    EVENTS,
    PERSON_DISTINCT_IDS,
    PERSONS,
    GROUPS,
    USER_DAYS,
    INGESTION_WARNINGS,
    INGEST_CHECKPOINTS,
)

# Self-hosted instances' telemetry. Raw pings keep only the fields the instance's telemetry level allows.
PINGS = Table(
    "pings",
    (
        Column("project", ColumnType.STRING),
        Column("site_id", ColumnType.STRING),
        Column("timestamp", ColumnType.TIMESTAMP),
        Column("received_at", ColumnType.TIMESTAMP),
        Column("version", ColumnType.STRING),
        Column("telemetry_level", ColumnType.STRING),  # critical or full
        Column("payload", ColumnType.JSON),
    ),
    sort_key=("project", "site_id", "timestamp"),
    partition_by_month="timestamp",
)

# The latest state of each instance, one version per ping that changed it.
INSTANCES = Table(
    "instances",
    (
        Column("project", ColumnType.STRING),
        Column("site_id", ColumnType.STRING),
        Column("version", ColumnType.STRING),
        Column("deployment_type", ColumnType.STRING, nullable=True),
        Column("installer_email", ColumnType.STRING, nullable=True),
        Column("total_users", ColumnType.INT64, nullable=True),
        Column("repos", ColumnType.INT64, nullable=True),
        Column("code_hosts", ColumnType.JSON, nullable=True),
        Column("dau", ColumnType.INT64, nullable=True),
        Column("wau", ColumnType.INT64, nullable=True),
        Column("mau", ColumnType.INT64, nullable=True),
        Column("telemetry_level", ColumnType.STRING),
        Column("versions_behind", ColumnType.INT64, nullable=True),
        Column("first_seen", ColumnType.TIMESTAMP),
        Column("last_seen", ColumnType.TIMESTAMP),
        Column("state_version", ColumnType.INT64),
    ),
    sort_key=("project", "site_id"),
    kind=TableKind.LATEST,
    version_column="state_version",
)

# Which account an instance belongs to (from licenses, or set by hand), and its agreed telemetry level.
INSTANCE_ACCOUNTS = Table(
    "instance_accounts",
    (
        Column("project", ColumnType.STRING),
        Column("site_id", ColumnType.STRING),
        Column("account_id", ColumnType.STRING, nullable=True),
        Column("telemetry_level", ColumnType.STRING, nullable=True),  # agreed: none, critical, full
        Column("source", ColumnType.STRING),  # "license", "manual"
        Column("updated_at", ColumnType.TIMESTAMP),
        Column("version", ColumnType.INT64),
    ),
    sort_key=("project", "site_id"),
    kind=TableKind.LATEST,
)

TELEMETRY_TABLES = (PINGS, INSTANCES, INSTANCE_ACCOUNTS)

# Person timelines (see warehouse/timelines.py): the events in person and time order, rebuilt by compaction,
# so that funnels, retention and active users read each person's events in order without the person map.
# Each build's rows carry its number; readers use the latest build, and a build deletes the ones before it.
TIMELINE_EVENTS = Table(
    "timeline_events",
    (
        Column("project", ColumnType.STRING),
        Column("build", ColumnType.INT64),
        Column("person_number", ColumnType.INT32),
        Column("timestamp", ColumnType.TIMESTAMP),
        Column("day", ColumnType.DATE),  # in the project's timezone at the build
        Column("event_code", ColumnType.INT32),  # the event's name in timeline_event_names
    ),
    # Each event's rows in person and time order, one event after another: a scan of a few events reads only
    # their rows, in a few sorted runs that are merged per person (insights/runs_kernel.py) or followed side
    # by side (a funnel's steps).
    sort_key=("project", "build", "event_code", "person_number", "timestamp"),
)

# The stored event names of a build, numbered in name order: scans of timelines compare small numbers, not texts.
TIMELINE_EVENT_NAMES = Table(
    "timeline_event_names",
    (
        Column("project", ColumnType.STRING),
        Column("build", ColumnType.INT64),
        Column("event_code", ColumnType.INT32),
        Column("event", ColumnType.STRING),
    ),
    sort_key=("project", "build", "event_code"),
)

# Which person number each distinct id had in a build, and that person (a person id, or the distinct id itself).
TIMELINE_PERSONS = Table(
    "timeline_persons",
    (
        Column("project", ColumnType.STRING),
        Column("build", ColumnType.INT64),
        Column("distinct_id", ColumnType.STRING),
        Column("person_number", ColumnType.INT32),
        Column("person", ColumnType.STRING),
    ),
    sort_key=("project", "build", "distinct_id"),
)

# The days on which each person did anything, in person and day order, and whether they were active by
# timelines.ACTIVE_DAYS on that day: active users, stickiness and lifecycle read them.
TIMELINE_DAYS = Table(
    "timeline_days",
    (
        Column("project", ColumnType.STRING),
        Column("build", ColumnType.INT64),
        Column("person_number", ColumnType.INT32),
        Column("day", ColumnType.DATE),
        Column("active", ColumnType.BOOLEAN),
    ),
    sort_key=("project", "build", "person_number", "day"),
)

TIMELINE_BUILDS = Table(
    "timeline_builds",
    (
        Column("project", ColumnType.STRING),
        Column("build", ColumnType.INT64),
        Column("covered_sequence", ColumnType.INT64),  # the build holds the events of writes up to this one
        Column("built_at", ColumnType.TIMESTAMP),  # identity changes from this instant on are not in it
        Column("timezone", ColumnType.STRING),
        Column("events", ColumnType.INT64),
        Column("persons", ColumnType.INT64),
    ),
    sort_key=("project",),
    kind=TableKind.LATEST,
    version_column="build",
)

TIMELINE_TABLES = (TIMELINE_EVENTS, TIMELINE_EVENT_NAMES, TIMELINE_PERSONS, TIMELINE_DAYS, TIMELINE_BUILDS)
