"""Insight tests share one warehouse per engine and module; each test (and each hypothesis example) gets a
project of its own in it, which is much faster than a new warehouse each time. Also: random event logs."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import strategies as st
from sqlglot import exp

from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import QueryResult, run_query
from sextant.insights.scan import QueryContext
from sextant.insights.timeline import TimelineViews
from sextant.project import Project
from sextant.warehouse import timelines
from sextant.workspace import Workspace
from tests.conftest import ENGINES, T0, Journey, ingest, journeys_for, warehouse_url

TIMEZONE = "Europe/Berlin"
NOW = T0 + dt.timedelta(days=30)
_project_numbers = itertools.count()


@pytest.fixture(scope="module", params=ENGINES)
def shared_workspace(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One warehouse per engine for a whole test module (chDB allows one open warehouse per process, so
    tests of a module that use this must not also use the `workspace` fixture)."""
    directory: Path = tmp_path_factory.mktemp(str(request.param))
    opened, _ = Workspace.initialize(
        directory / "project", name="acme", timezone=TIMEZONE, warehouse=warehouse_url(str(request.param), directory)
    )
    yield opened
    opened.close()


class InsightProject:
    """A fresh project in a shared warehouse: ingest journeys, run insight queries."""

    def __init__(self, workspace: Workspace, *, timelines: bool = False, timezone: str = TIMEZONE) -> None:
        name = f"insights-{next(_project_numbers)}"
        config = workspace.project.config.model_copy(update={"name": name, "timezone": timezone})
        self.project = Project(workspace.project.directory, config)
        self.engine = workspace.warehouse
        self.store = EventStore(self.project, workspace.warehouse)
        # Whether queries read person timelines, built from everything stored just before each query.
        self.timelines = timelines
        # Shared by the queries, as the server shares it: a view kept past a write would give wrong answers.
        self.views = TimelineViews()

    def track(self, journeys: dict[str, Journey]) -> None:
        ingest(self.store, journeys_for(journeys))

    def ingest(self, documents: list[dict[str, Any]]) -> None:
        ingest(self.store, [orjson.dumps(document).decode() for document in documents])

    def query(self, spec: dict[str, Any], now: dt.datetime = NOW) -> dict[str, Any]:
        return self.run(spec, now).result

    def run(self, spec: dict[str, Any], now: dt.datetime = NOW) -> QueryResult:
        if self.timelines:
            self.compact()
        context = QueryContext(
            self.engine, self.project.name, self.project.config.timezone, TrackingPlan(), now, timelines=self.views
        )
        return run_query(spec, context)

    def compact(self) -> None:
        """Build the person timelines from what is stored now."""
        timelines.compact(self.engine, self.project.name, self.project.config.timezone)

    def person_ids(self) -> dict[str, str]:
        """distinct id -> the id of its person, as stored (the actor ids queries return)."""
        latest = exp.ArgMax(this=exp.column("person_id"), expression=exp.column("version"))
        query = (
            exp.select(exp.column("distinct_id"), exp.cast(latest, "text").as_("person_id"))
            .from_("person_distinct_ids")
            .where(exp.column("project").eq(exp.Placeholder(this="project")))
            .group_by("distinct_id")
        )
        rows = self.engine.execute(query, {"project": self.project.name}).to_pylist()
        return {str(row["distinct_id"]): str(row["person_id"]) for row in rows}

    def person(self, distinct_id: str) -> str:
        return self.person_ids()[distinct_id]


@pytest.fixture
def project(shared_workspace: Workspace) -> InsightProject:
    return InsightProject(shared_workspace)


@pytest.fixture(params=["events", "timelines"])
def either_project(request: pytest.FixtureRequest, shared_workspace: Workspace) -> InsightProject:
    """A project whose queries read the events, or person timelines built just before each query."""
    return InsightProject(shared_workspace, timelines=request.param == "timelines")


def reads_timelines(run: QueryResult) -> bool:
    """Whether a query read person timelines (its SQL shows which tables it read)."""
    return any("timeline_events" in sql for sql in run.sql.values())


def approximately(value: Any) -> Any:
    """`value` with every float replaced by pytest.approx, for comparing whole results."""
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9, abs=1e-9)
    if isinstance(value, dict):
        return {key: approximately(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(approximately(item) for item in value)
    return value


# Random event logs: a few persons, each active in one or two short bursts on an hourly grid (so that ties
# and conversions happen), by default around the query range 2024-05-06 .. 2024-05-07 in Berlin, that is
# [2024-05-05 22:00, 2024-05-07 22:00) UTC.

RANDOM_RANGE = {"date_from": "2024-05-06", "date_to": "2024-05-07"}
GRID_START = dt.datetime(2024, 5, 5, 19, 0, tzinfo=dt.UTC)  # 3 hours before the range starts
GRID_STEP = dt.timedelta(hours=1)
GRID_SLOTS = 57  # up to 6 hours after the range ends
BURST_SLOTS = 4
EVENT_NAMES = ("A", "B", "C", "X")
PLANS = ("free", "pro", "team")
amounts = st.one_of(st.integers(0, 20), st.just(2.5), st.just("n/a"), st.just("7"))


@st.composite
def event_logs(
    draw: st.DrawFn, grid_start: dt.datetime = GRID_START, grid_slots: int = GRID_SLOTS
) -> list[list[dict[str, Any]]]:
    """Batches of event documents on an hourly grid of `grid_slots` hours from `grid_start`. Person i sends
    events as `user<i>`; some also send anonymous events as `device<i>`, and some of those link the device to
    the user with an event that has both ids. Each person mostly uses one plan, so that counting events and
    counting persons rank plans differently."""
    documents: list[dict[str, Any]] = []
    for person in range(draw(st.integers(3, 6))):
        user = f"user{person}"
        device = f"device{person}" if draw(st.booleans()) else None
        usual_plan = draw(st.sampled_from(PLANS))
        for _ in range(draw(st.integers(1, 2))):
            burst = draw(st.integers(0, grid_slots - BURST_SLOTS))
            for _ in range(draw(st.integers(2, 7))):
                properties: dict[str, Any] = {}
                plan = usual_plan if draw(st.booleans()) else draw(st.sampled_from([*PLANS, None]))
                if plan is not None:
                    properties["plan"] = plan
                if draw(st.booleans()):
                    properties["amount"] = draw(amounts)
                document: dict[str, Any] = {
                    "event": draw(st.sampled_from(EVENT_NAMES)),
                    "distinct_id": user,
                    "timestamp": (grid_start + (burst + draw(st.integers(0, BURST_SLOTS - 1))) * GRID_STEP).isoformat(),
                    "properties": properties,
                }
                if device is not None:
                    how = draw(st.sampled_from(["user", "device", "link"]))
                    if how == "device":
                        document["distinct_id"] = device
                    elif how == "link":
                        document.update(user_id=user, device_id=device)
                documents.append(document)
    documents = draw(st.permutations(documents))
    # A third of the logs come in two batches, so that some links arrive after the events they merge.
    split = draw(st.integers(0, len(documents))) if draw(st.integers(0, 2)) == 0 else len(documents)
    return [batch for batch in (documents[:split], documents[split:]) if batch]


def ingest_log(project: InsightProject, batches: list[list[dict[str, Any]]]) -> None:
    for batch in batches:
        project.ingest(batch)
