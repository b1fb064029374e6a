"""Person timelines: every event by person and time, so that funnels, retention and active users read each
person's events in sequence, with no join to the person map and no sort when they ask.

A build numbers the persons of the current person map densely and writes the events stored so far, sorted
by (event, person number, time), with each event name as a small number (`timeline_event_names`): a
question about a few events reads only their rows, as one sorted run per event. Events written
after a build, and persons whose identity changed after it, are read from `events` by the queries
(insights/timeline.py) until the next build: compaction keeps that part small.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from sextant.warehouse import state, tables
from sextant.warehouse.engine import Engine


@dataclass(frozen=True)
class ActiveDays:
    """What makes a day active in `timeline_days`: any event except those whose stored name matches one of
    `excluded_events` (SQL LIKE patterns, case-insensitive) or that came from one of `excluded_distinct_ids`."""

    excluded_events: tuple[str, ...]
    excluded_distinct_ids: tuple[str, ...]


# Events that say someone signed in, up or out or handled a password are not use of the product, and the seeds'
# `backend` anonymous id is not a person. Active users uses this definition unless a query sets its own.
ACTIVE_DAYS = ActiveDays(
    excluded_events=(
        "%sign in%",
        "%signed in%",
        "%sign up%",
        "%signed up%",
        "%sign out%",
        "%signed out%",
        "%password%",
    ),
    excluded_distinct_ids=("backend",),
)


@dataclass(frozen=True)
class Build:
    number: int
    covered_sequence: int  # the build holds the events of the writes up to this one
    built_at: dt.datetime  # identity changes from this instant on are not in it
    timezone: str  # the timezone of its `day` column
    events: int
    persons: int


def latest_build(engine: Engine, project: str) -> Build | None:
    columns = [column.name for column in tables.TIMELINE_BUILDS.columns if column.name != "project"]
    query = (
        exp.select(*columns)
        .from_(tables.TIMELINE_BUILDS.name)
        .where(exp.column("project").eq(exp.Placeholder(this="project")))
        .order_by(exp.Ordered(this=exp.column("build"), desc=True))
        .limit(1)
    )
    rows = engine.execute(query, {"project": project}).to_pylist()
    if not rows:
        return None
    row = rows[0]
    return Build(
        number=row["build"],
        covered_sequence=row["covered_sequence"],
        built_at=row["built_at"],
        timezone=row["timezone"],
        events=row["events"],
        persons=row["persons"],
    )


def event_codes(engine: Engine, project: str, build: Build) -> dict[str, int]:
    """The code of each stored event name in `build`."""
    query = (
        exp.select("event", "event_code")
        .from_(tables.TIMELINE_EVENT_NAMES.name)
        .where(
            exp.and_(
                exp.column("project").eq(exp.Placeholder(this="project")),
                exp.column("build").eq(exp.Placeholder(this="build")),
            )
        )
    )
    names = engine.execute(query, {"project": project, "build": build.number})
    return dict(zip(names.column("event").to_pylist(), names.column("event_code").to_pylist(), strict=True))


def pending_events(engine: Engine, project: str, build: Build | None) -> int:
    """How many events were stored after `build` (all of them when there is none)."""
    query = (
        exp.select(exp.Count(this=exp.Star()))
        .from_(tables.EVENTS.name)
        .where(
            exp.and_(
                exp.column("project").eq(exp.Placeholder(this="project")),
                exp.GT(this=_sequence(exp.column("write_sequence")), expression=exp.Placeholder(this="covered")),
            )
        )
    )
    covered = build.covered_sequence if build else -1
    return int(engine.execute(query, {"project": project, "covered": covered}).column(0)[0].as_py())


def compact(engine: Engine, project: str, timezone: str, started: Callable[[], None] | None = None) -> Build:
    """Build the project's timelines anew from the events stored so far, and drop the previous build.

    The build holds the events and identities stored when it starts. On an engine with transactions it reads
    them from one snapshot, and on any engine it leaves out events written after its start; identity changes
    made after `built_at` are read from `events` by the queries. So the writer may go on once `started` has
    been called, if it called `compact` between two writes; without `started`, nothing may be written until
    the build is done."""
    with engine.transaction():
        return _build(engine, project, timezone, started or (lambda: None))


def _build(engine: Engine, project: str, timezone: str, started: Callable[[], None]) -> Build:
    previous = latest_build(engine, project)
    project_literal = exp.Literal.string(project)
    covered_query = (
        exp.select(exp.Max(this=exp.column("write_sequence")))
        .from_(tables.EVENTS.name)
        .where(exp.column("project").eq(project_literal))
    )
    covered = int(engine.execute(covered_query).column(0)[0].as_py() or 0)
    # Every identity change not in the build is made after this instant: the caller writes nothing until
    # `started` is called.
    built_at = dt.datetime.now(dt.UTC)
    started()
    number = previous.number + 1 if previous else 1
    build = exp.Literal.number(number)
    covered_events = exp.and_(
        exp.column("project", "e").eq(project_literal.copy()),
        exp.LTE(this=_sequence(exp.column("write_sequence", "e")), expression=exp.Literal.number(covered)),
    )
    distinct_ids = (
        exp.select(exp.column("distinct_id", "e"))
        .distinct()
        .from_(exp.to_table(tables.EVENTS.name).as_("e"))
        .where(covered_events)
    )
    person = exp.Coalesce(
        this=exp.cast(exp.column("person_id", "m"), "text"), expressions=[exp.column("distinct_id", "ids")]
    )
    people = (
        exp.select(exp.column("distinct_id", "ids").as_("distinct_id"), person.as_("person"))
        .from_(distinct_ids.subquery("ids"))
        .join(
            state.person_map(project_literal.copy()).subquery("m"),
            on=exp.column("distinct_id", "m").eq(exp.column("distinct_id", "ids")),
            join_type="left",
        )
    )
    rank = exp.Window(
        this=exp.Anonymous(this="DENSE_RANK", expressions=[]), order=exp.Order(expressions=[exp.column("person")])
    )
    numbered = exp.select(
        project_literal.copy().as_("project"),
        build.copy().as_("build"),
        exp.column("distinct_id"),
        rank.as_("person_number"),
        exp.column("person"),
    ).from_(people.subquery("people"))
    person_of_event = exp.and_(
        exp.column("project", "p").eq(project_literal.copy()),
        exp.column("build", "p").eq(build.copy()),
        exp.column("distinct_id", "p").eq(exp.column("distinct_id", "e")),
    )
    names = exp.select(exp.column("event", "e")).distinct().from_(exp.to_table(tables.EVENTS.name).as_("e"))
    name_rank = exp.Window(
        this=exp.Anonymous(this="ROW_NUMBER", expressions=[]), order=exp.Order(expressions=[exp.column("event")])
    )
    event_names = exp.select(
        project_literal.copy().as_("project"),
        build.copy().as_("build"),
        name_rank.as_("event_code"),
        exp.column("event"),
    ).from_(names.where(covered_events.copy()).subquery("names"))
    code_of_event = exp.and_(
        exp.column("project", "c").eq(project_literal.copy()),
        exp.column("build", "c").eq(build.copy()),
        exp.column("event", "c").eq(exp.column("event", "e")),
    )
    day = engine.local_date(exp.column("timestamp", "e"), timezone)
    timeline = (
        exp.select(
            project_literal.copy().as_("project"),
            build.copy().as_("build"),
            exp.column("person_number", "p").as_("person_number"),
            exp.column("timestamp", "e").as_("timestamp"),
            day.as_("day"),
            exp.column("event_code", "c").as_("event_code"),
        )
        .from_(exp.to_table(tables.EVENTS.name).as_("e"))
        .join(exp.to_table(tables.TIMELINE_PERSONS.name).as_("p"), on=person_of_event)
        .join(exp.to_table(tables.TIMELINE_EVENT_NAMES.name).as_("c"), on=code_of_event)
        .where(covered_events.copy())
        .order_by(exp.column("event_code", "c"), exp.column("person_number", "p"), exp.column("timestamp", "e"))
    )
    active = [
        exp.not_(exp.Like(this=exp.Lower(this=exp.column("event", "e")), expression=exp.Literal.string(pattern)))
        for pattern in ACTIVE_DAYS.excluded_events
    ]
    excluded_ids = [exp.Literal.string(value) for value in ACTIVE_DAYS.excluded_distinct_ids]
    active.append(exp.not_(exp.column("distinct_id", "e").isin(*excluded_ids)))
    counted = exp.If(this=exp.and_(*active), true=exp.Literal.number(1), false=exp.Literal.number(0))
    active_days = (
        exp.select(
            project_literal.copy().as_("project"),
            build.copy().as_("build"),
            exp.column("person_number", "p").as_("person_number"),
            day.copy().as_("day"),
            exp.GT(this=exp.Max(this=counted), expression=exp.Literal.number(0)).as_("active"),
        )
        .from_(exp.to_table(tables.EVENTS.name).as_("e"))
        .join(exp.to_table(tables.TIMELINE_PERSONS.name).as_("p"), on=person_of_event.copy())
        .where(covered_events.copy())
        .group_by(exp.column("person_number", "p"), day.copy())
        .order_by(exp.column("person_number", "p"), day.copy())
    )
    built = (tables.TIMELINE_EVENTS, tables.TIMELINE_EVENT_NAMES, tables.TIMELINE_PERSONS, tables.TIMELINE_DAYS)
    # Rows of an interrupted build (on engines without transactions) would mix with this one's.
    for table in built:
        unfinished = exp.and_(
            exp.column("project").eq(project_literal.copy()),
            exp.GTE(this=exp.column("build"), expression=build.copy()),
        )
        engine.execute(exp.delete(table.name, where=unfinished))
    engine.insert_select(tables.TIMELINE_PERSONS, numbered, {})
    engine.insert_select(tables.TIMELINE_EVENT_NAMES, event_names, {})
    engine.insert_select(tables.TIMELINE_EVENTS, timeline, {})
    engine.insert_select(tables.TIMELINE_DAYS, active_days, {})
    counts = engine.execute(
        exp.select(
            exp.Count(this=exp.Star()).as_("events"),
            exp.Max(this=exp.column("person_number")).as_("persons"),
        )
        .from_(tables.TIMELINE_EVENTS.name)
        .where(exp.and_(exp.column("project").eq(project_literal.copy()), exp.column("build").eq(build.copy())))
    ).to_pylist()[0]
    result = Build(number, covered, built_at, timezone, counts["events"], counts["persons"] or 0)
    engine.insert(
        tables.TIMELINE_BUILDS,
        pa.table(
            {
                "project": [project],
                "build": [number],
                "covered_sequence": [covered],
                "built_at": pa.array([built_at], pa.timestamp("us", tz="UTC")),
                "timezone": [timezone],
                "events": [result.events],
                "persons": [result.persons],
            }
        ),
    )
    for table in built:
        older = exp.and_(
            exp.column("project").eq(project_literal.copy()), exp.LT(this=exp.column("build"), expression=build)
        )
        engine.execute(exp.delete(table.name, where=older))
    return result


def _sequence(column: exp.Expr) -> exp.Expr:
    """Events stored before write numbers existed count as written first."""
    return exp.Coalesce(this=column, expressions=[exp.Literal.number(0)])
