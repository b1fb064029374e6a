"""Reading person timelines (warehouse/timelines.py) exactly: which persons' events the latest build holds
as they are now, and which persons must be read from `events` because of writes or identity changes after it.

A person is read from `events` when one of their distinct ids was written or re-mapped after the build, or
when the build grouped one of their distinct ids with a distinct id that changed (a merge or a split).
The build's rows of every such person are left out, so each person's events are read from one place.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlglot import exp

from sextant.insights import runs_kernel
from sextant.insights.runs_kernel import JoinedRuns
from sextant.warehouse import state, tables, timelines
from sextant.warehouse.engine import Engine


@dataclass(frozen=True)
class TimelineView:
    build: timelines.Build
    event_codes: dict[str, int]  # stored event name -> its code in the build
    stale_numbers: pa.Table  # person_number: the build's persons whose rows are out of date
    recent_ids: pa.Table  # distinct_id: the distinct ids whose events are read from `events` instead

    @property
    def fresh(self) -> bool:
        return self.recent_ids.num_rows == 0


class TimelineViews:
    """The timeline view of the warehouse as it is now, asked of it once per write generation and shared by
    the queries of a project: the view changes only when something is written (events, identity changes or
    a build)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: tuple[tuple[object, ...], TimelineView | None] | None = None

    def view(self, engine: Engine, project: str, timezone: str) -> TimelineView | None:
        key = (engine.url, engine.generation, project, timezone)
        with self._lock:
            if self._latest is not None and self._latest[0] == key:
                return self._latest[1]
        view = current_view(engine, project, timezone)
        with self._lock:
            self._latest = (key, view)
        return view


class TimelineLookup:
    """The timeline view of one query: every scan of the query reads the same view."""

    def __init__(self, views: TimelineViews, engine: Engine, project: str, timezone: str) -> None:
        self.views, self.engine, self.project, self.timezone = views, engine, project, timezone
        self._looked_up = False
        self._view: TimelineView | None = None

    def view(self) -> TimelineView | None:
        if not self._looked_up:
            self._view = self.views.view(self.engine, self.project, self.timezone)
            self._looked_up = True
        return self._view


def current_view(engine: Engine, project: str, timezone: str) -> TimelineView | None:
    """How to read the project's timelines now; None when there is no build for the project's timezone."""
    build = timelines.latest_build(engine, project)
    if build is None or build.timezone != timezone:
        return None
    remapped = _distinct_ids(
        tables.PERSON_DISTINCT_IDS, exp.GTE(this=exp.column("updated_at"), expression=exp.Placeholder(this="built_at"))
    )
    written = _distinct_ids(
        tables.EVENTS, exp.GT(this=exp.column("write_sequence"), expression=exp.Placeholder(this="covered"))
    )
    changed = engine.execute(
        exp.union(remapped, written, distinct=True),
        {"project": project, "built_at": build.built_at, "covered": build.covered_sequence},
    )
    codes = timelines.event_codes(engine, project, build)
    empty = pa.table({"distinct_id": pa.array([], pa.string())})
    if changed.num_rows == 0:
        return TimelineView(build, codes, pa.table({"person_number": pa.array([], pa.int64())}), empty)
    values = {"project": project, "build": build.number}
    recent_ids = engine.execute(_recent_ids(), values, {"changed_ids": changed.rename_columns(["distinct_id"])})
    stale = (
        exp.select(exp.column("person_number"))
        .distinct()
        .from_(tables.TIMELINE_PERSONS.name)
        .where(
            exp.and_(
                exp.column("project").eq(_project()),
                exp.column("build").eq(exp.Placeholder(this="build")),
                exp.column("distinct_id").isin(query=exp.select("distinct_id").from_("recent_ids")),
            )
        )
    )
    stale_numbers = engine.execute(stale, values, {"recent_ids": recent_ids})
    return TimelineView(build, codes, stale_numbers, recent_ids)


def _recent_ids() -> exp.Expr:
    """Every distinct id of the persons touched by the distinct ids in the table `changed_ids`."""
    changed_table = exp.to_table("changed_ids")
    mapping = state.person_map(_project()).subquery("m")
    in_build = (
        exp.select("distinct_id", "person_number")
        .from_(tables.TIMELINE_PERSONS.name)
        .where(
            exp.and_(
                exp.column("project").eq(_project()),
                exp.column("build").eq(exp.Placeholder(this="build")),
            )
        )
    )
    # Distinct ids that changed, and those the build grouped with them.
    grouped = (
        exp.select("distinct_id")
        .from_(in_build.subquery("grouped"))
        .where(
            exp.column("person_number").isin(
                query=exp.select("person_number")
                .from_(in_build.subquery("numbers"))
                .where(exp.column("distinct_id").isin(query=exp.select("distinct_id").from_(changed_table.copy())))
            )
        )
    )
    touched = exp.union(exp.select("distinct_id").from_(changed_table.copy()), grouped, distinct=True)
    person = exp.Coalesce(
        this=exp.cast(exp.column("person_id", "m"), "text"), expressions=[exp.column("distinct_id", "t")]
    )
    persons = (
        exp.select(person.as_("person"))
        .distinct()
        .from_(touched.subquery("t"))
        .join(mapping, on=exp.column("distinct_id", "m").eq(exp.column("distinct_id", "t")), join_type="left")
    )
    mapped_ids = (
        exp.select(exp.column("distinct_id"))
        .from_(state.person_map(_project()).subquery("current"))
        .where(exp.cast(exp.column("person_id"), "text").isin(query=exp.select("person").from_(persons.subquery("p1"))))
    )
    # A distinct id the map does not know is its own person.
    own = exp.select(exp.column("person").as_("distinct_id")).from_(persons.subquery("p2"))
    return exp.union(mapped_ids, own, distinct=True)


def _distinct_ids(table: tables.Table, condition: exp.Expr) -> exp.Select:
    where = exp.and_(exp.column("project").eq(_project()), condition)
    return exp.select("distinct_id").from_(table.name).where(where)


def _project() -> exp.Placeholder:
    return exp.Placeholder(this="project")


def concatenated(tables: Sequence[pa.Table], column: str) -> npt.NDArray[Any]:
    """A column of several tables as one array, copied once (timestamps as int64 microseconds)."""
    chunks = [chunk for table in tables for chunk in table.column(column).chunks]
    if not chunks:
        return np.zeros(0, np.int64)
    values = np.concatenate([chunk.to_numpy(zero_copy_only=False) for chunk in chunks])
    return values.view(np.int64) if values.dtype.kind == "M" else values


def person_runs(tables: Sequence[pa.Table], persons: str, times: str) -> contextlib.AbstractContextManager[JoinedRuns]:
    """The person and time columns of `tables` (one event's timeline rows each) joined, each table a run
    (`runs_kernel.joined_runs`: the arrays are lent for a `with` block)."""
    person_chunks = [chunk.to_numpy(zero_copy_only=False) for table in tables for chunk in table.column(persons).chunks]
    time_chunks = [
        chunk.to_numpy(zero_copy_only=False).view(np.int64) for table in tables for chunk in table.column(times).chunks
    ]
    chunk_runs = [index for index, table in enumerate(tables) for _ in table.column(persons).chunks]
    return runs_kernel.joined_runs(person_chunks, time_chunks, chunk_runs, len(tables))


def person_order(codes: npt.NDArray[np.integer], times: npt.NDArray[np.integer]) -> npt.NDArray[np.int64] | None:
    """The order that groups rows by ascending person code and sorts each person's rows by time; None when
    the rows are in it already. Rows read from timelines come as one sorted run per event: they are merged."""
    runs = runs_kernel.sorted_runs(codes, times)
    if len(runs) <= 2:
        return None
    if (len(runs) - 1) * runs_kernel.ROWS_PER_RUN > len(codes):
        return np.lexsort((times, codes))
    return runs_kernel.merged_order(codes, times, runs)


def numbered_below_zero(recent: exp.Select, *columns: str) -> exp.Select:
    """`recent` (rows of the persons read from the events, with their person as text in `actor`) with each
    actor numbered below zero, so that its rows can be put together with the build's, whose actors are
    person numbers above zero. `columns` are the other columns kept."""
    rank = exp.Window(
        this=exp.Anonymous(this="DENSE_RANK", expressions=[]), order=exp.Order(expressions=[exp.column("actor")])
    )
    kept = [exp.column(name) for name in columns]
    return exp.select(*kept, exp.Neg(this=rank).as_("actor")).from_(recent.subquery("recent"))
