"""Building person timelines on every engine: what a build holds, and what it leaves to the next one."""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from sextant.ingest.store import EventStore
from sextant.warehouse import tables, timelines
from sextant.workspace import Workspace
from tests.conftest import T0, ingest, journeys_for

HOUR = dt.timedelta(hours=1)


def rows(workspace: Workspace, table: tables.Table, build: int) -> list[dict[str, object]]:
    query = (
        exp.select(*(name for name in table.column_names if name not in ("project", "build")))
        .from_(table.name)
        .where(exp.column("build").eq(exp.Literal.number(build)))
        .order_by(*table.sort_key[2:], *(name for name in table.column_names if name not in table.sort_key))
    )
    return workspace.warehouse.execute(query).to_pylist()


def test_a_build_orders_each_persons_events_and_numbers_persons(workspace: Workspace, store: EventStore) -> None:
    ingest(
        store,
        journeys_for(
            {
                "bob": [("Signed Up", T0 + HOUR), ("Search", T0 + 3 * HOUR)],
                "alice": [("Search", T0 + 2 * HOUR), ("Signed In", T0)],
                "backend": [("Search", T0)],
            }
        ),
    )
    project = workspace.project
    build = timelines.compact(workspace.warehouse, project.name, "Europe/Berlin")
    assert (build.number, build.events) == (1, 5)
    persons = {row["distinct_id"]: row["person_number"] for row in rows(workspace, tables.TIMELINE_PERSONS, 1)}
    assert sorted(persons.values()) == [1, 2, 3]
    names = {row["event_code"]: row["event"] for row in rows(workspace, tables.TIMELINE_EVENT_NAMES, 1)}
    assert sorted(names) == [1, 2, 3] and sorted(names.values()) == ["Search", "Signed In", "Signed Up"]
    assert timelines.event_codes(workspace.warehouse, project.name, build) == {v: k for k, v in names.items()}
    stored = rows(workspace, tables.TIMELINE_EVENTS, 1)
    by_person = sorted(stored, key=lambda row: (row["person_number"], row["timestamp"]))
    events = [(row["person_number"], names[row["event_code"]]) for row in by_person]
    assert [event for number, event in events if number == persons["alice"]] == ["Signed In", "Search"]
    assert [event for number, event in events if number == persons["bob"]] == ["Signed Up", "Search"]
    if workspace.warehouse.scans_in_insertion_order:  # readers rely on the build's order: by event, person, time
        scanned = workspace.warehouse.execute(
            exp.select("event_code", "person_number", "timestamp").from_(tables.TIMELINE_EVENTS.name)
        ).to_pylist()
        assert scanned == sorted(scanned, key=lambda row: (row["event_code"], row["person_number"], row["timestamp"]))
        assert [names[row["event_code"]] for row in scanned] == ["Search"] * 3 + ["Signed In", "Signed Up"]
    # Every person-day; active ones leave out signing in and the backend's events. T0 + 2h is 6 May in Berlin.
    days = {(row["person_number"], row["day"], row["active"]) for row in rows(workspace, tables.TIMELINE_DAYS, 1)}
    may_6 = dt.date(2024, 5, 6)
    assert days == {(persons["alice"], may_6, True), (persons["bob"], may_6, True), (persons["backend"], may_6, False)}
    assert timelines.pending_events(workspace.warehouse, project.name, build) == 0


def test_the_next_build_takes_later_events_and_drops_the_previous_build(
    workspace: Workspace, store: EventStore
) -> None:
    project = workspace.project
    ingest(store, journeys_for({"alice": [("Search", T0)]}))
    first = timelines.compact(workspace.warehouse, project.name, "UTC")
    ingest(store, journeys_for({"alice": [("Search", T0 + HOUR)], "bob": [("Search", T0)]}))
    assert timelines.pending_events(workspace.warehouse, project.name, first) == 2
    second = timelines.compact(workspace.warehouse, project.name, "UTC")
    assert (second.number, second.events, second.persons) == (2, 3, 2)
    assert timelines.latest_build(workspace.warehouse, project.name) == second
    for table in (tables.TIMELINE_EVENTS, tables.TIMELINE_EVENT_NAMES, tables.TIMELINE_PERSONS, tables.TIMELINE_DAYS):
        assert rows(workspace, table, 1) == []


def test_events_stored_before_write_numbers_existed_are_in_the_first_build(
    workspace: Workspace, store: EventStore
) -> None:
    ingest(store, journeys_for({"alice": [("Search", T0)], "bob": [("Search", T0)]}))
    # As a warehouse of schema version 2 left them after the upgrade added the column.
    workspace.warehouse.execute("ALTER TABLE events UPDATE write_sequence = NULL WHERE 1 = 1" if
                                workspace.warehouse.dialect == "clickhouse" else
                                "UPDATE events SET write_sequence = NULL")  # fmt: skip
    build = timelines.compact(workspace.warehouse, workspace.project.name, "UTC")
    assert build.events == 2
    assert timelines.pending_events(workspace.warehouse, workspace.project.name, build) == 0
