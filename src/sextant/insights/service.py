"""Insight queries for one opened project: the query context (a warehouse cursor, the time zone, the
tracking plan's transformations) and the results cache, shared by the HTTP API, the CLI and Python."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import QueryResult, ResultCache, run_query
from sextant.insights.scan import QueryContext
from sextant.insights.spec import Filter, InsightSpec
from sextant.project import Project
from sextant.warehouse.engine import Engine


class Insights:
    def __init__(self, project: Project, warehouse: Engine, plan: Callable[[], TrackingPlan]) -> None:
        self.project = project
        self.warehouse = warehouse
        self.plan = plan
        self.cache = ResultCache()

    def query(
        self,
        spec: dict[str, Any] | InsightSpec,
        *,
        refresh: bool = False,
        access_filters: Sequence[Filter] = (),
        now: dt.datetime | None = None,
    ) -> QueryResult:
        context = QueryContext(
            engine=self.warehouse.cursor(),
            project=self.project.name,
            timezone=self.project.config.timezone,
            plan=self.plan(),
            now=now or dt.datetime.now(dt.UTC),
            access_filters=access_filters,
        )
        return run_query(spec, context, self.cache, refresh=refresh)
