"""A small hand-checked world shared by the activity-based insight tests (times in UTC; the project's time
zone is Europe/Berlin, two hours ahead in May).

- alice: Signed Up Mon 6 May 09:00, Search 11:00, Search Tue 7 May 09:00, Search Wed 15 May 09:00
- bob: Signed Up Tue 7 May 09:00, Search Wed 8 May 09:00, Search Thu 9 May 23:00 (Fri 10 May, 01:00 local)
- backend: Search Mon 6 May 09:00 (the seeds' server-side sender, not a user)
"""

from __future__ import annotations

import datetime as dt

from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import run_query
from sextant.insights.scan import QueryContext
from sextant.warehouse import timelines as timelines_module
from sextant.warehouse.engine import Engine
from sextant.workspace import Workspace
from tests.conftest import T0, Journey, ingest, journeys_for

__all__ = ["DAY", "HOUR", "NOW", "PLAN_WORLD", "T0", "WORLD", "load_world", "query"]

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
NOW = T0 + 12 * DAY  # Sat 18 May 09:00 UTC

WORLD: dict[str, Journey] = {
    "alice": [("Signed Up", T0), ("Search", T0 + 2 * HOUR), ("Search", T0 + DAY), ("Search", T0 + 9 * DAY)],
    "bob": [("Signed Up", T0 + DAY), ("Search", T0 + 2 * DAY), ("Search", T0 + 3 * DAY + 14 * HOUR)],
    "backend": [("Search", T0)],
}


def search_on(plan: str, day: int) -> tuple[str, dt.datetime, dict[str, object]]:
    return ("Search", T0 + day * DAY, {"properties": {"plan": plan}})


# Searches with a plan, for breakdowns; days count from Monday 6 May. free has the most actors (alice, bob,
# dave); alice searches on pro and on team on Tuesday.
PLAN_WORLD: dict[str, Journey] = {
    "alice": [search_on("pro", 0), search_on("pro", 1), search_on("team", 1), search_on("free", 2)],
    "bob": [search_on("free", 0), search_on("free", 3)],
    "carol": [search_on("team", 1)],
    "dave": [search_on("free", 4)],
}


def load_world(store: EventStore, *, timelines: bool = False, world: dict[str, Journey] = WORLD) -> None:
    """Store the world's journeys (or another world's); with `timelines`, also build person timelines, which
    queries then read."""
    ingest(store, journeys_for(world))
    if timelines:
        timelines_module.compact(store.engine, store.project.name, store.project.config.timezone)


def query(
    workspace: Workspace, spec: dict[str, object], now: dt.datetime = NOW, *, engine: Engine | None = None
) -> dict[str, object]:
    """Run an insight query on the workspace's warehouse, or on `engine` (such as one that reorders results)."""
    context = QueryContext(
        engine or workspace.warehouse, workspace.project.name, workspace.project.config.timezone, TrackingPlan(), now
    )
    result: dict[str, object] = run_query(spec, context).result
    return result
