"""Insight queries for one opened project: the query context (a warehouse cursor, the time zone, the
tracking plan's transformations) and the results cache, shared by the HTTP API, the CLI and Python."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from sqlglot import exp

from sextant.errors import QueryError
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.cohorts import CohortMembers, CohortRequest, CohortStore, SavedCohort, persons_of
from sextant.insights.persons import visible_persons
from sextant.insights.runner import QueryResult, ResultCache, cache_key, execute, parse_spec, run_query
from sextant.insights.scan import EventScan, Parameters, QueryContext
from sextant.insights.spec import Filter, InsightSpec, problems, resolve_dates
from sextant.insights.timeline import TimelineViews
from sextant.project import Project
from sextant.warehouse.engine import Engine


class Insights:
    def __init__(
        self,
        project: Project,
        warehouse: Engine,
        plan: Callable[[], TrackingPlan],
        metadata: sessionmaker[Session] | None = None,
    ) -> None:
        self.project = project
        self.warehouse = warehouse
        self.plan = plan
        self.cache = ResultCache()
        self.timelines = TimelineViews()
        self.cohorts = CohortStore(metadata) if metadata is not None else None

    def query(
        self,
        spec: dict[str, Any] | InsightSpec,
        *,
        refresh: bool = False,
        access_filters: Sequence[Filter] = (),
        now: dt.datetime | None = None,
    ) -> QueryResult:
        parsed = parse_spec(spec)
        if parsed.kind == "instances":
            check_instances_readable(access_filters)
        return run_query(parsed, self._context(access_filters, now), self.cache, refresh=refresh)

    def cached(
        self, spec: dict[str, Any] | InsightSpec, *, access_filters: Sequence[Filter] = ()
    ) -> QueryResult | None:
        """The cached result of `query` with these arguments, if there is one; nothing is run."""
        parsed = parse_spec(spec)
        context = self._context(access_filters, None)
        dates = resolve_dates(parsed.date_from, parsed.date_to, context.timezone, context.now)
        hit = self.cache.get(cache_key(parsed, context, dates))
        return None if hit is None else replace(hit, cached=True)

    def create_cohort(self, body: dict[str, Any], *, access_filters: Sequence[Filter] = ()) -> SavedCohort:
        """Save a cohort from a definition, a list of persons, or the persons of a query."""
        request = _parse(CohortRequest, body)
        members = request.persons
        if request.from_query is not None:
            members = persons_of(self.query(request.from_query, access_filters=access_filters).result)
        return self.cohort_store().create(request.name, request.definition, members)

    def cohort_persons(
        self,
        cohort: int,
        *,
        limit: int = 1000,
        now: dt.datetime | None = None,
        access_filters: Sequence[Filter] = (),
    ) -> list[str]:
        """The ids of the persons in a cohort now (for a dynamic one, as its definition evaluates now). With
        access filters, only persons with an event that passes them: a static cohort lists persons that the
        caller may not otherwise see."""
        self.cohort_store()  # says what is missing when there are no cohorts
        context = self._context(access_filters, now)
        assert context.cohorts is not None
        parameters = Parameters()
        scan = EventScan(context, parameters, count_by="persons", person_properties="as_of_event")
        members = context.cohorts.members(cohort, scan)
        query = exp.select("person_id").distinct().from_(members.subquery("members")).order_by("person_id").limit(limit)
        if (visible := visible_persons(context, parameters)) is not None:
            query = query.where(exp.column("person_id").isin(query=visible))
        return [str(row["person_id"]) for row in execute(context, query, parameters).to_pylist()]

    def cohort_store(self) -> CohortStore:
        if self.cohorts is None:
            raise QueryError("cohorts need the project's metadata database")
        return self.cohorts

    def _context(self, access_filters: Sequence[Filter], now: dt.datetime | None) -> QueryContext:
        return QueryContext(
            engine=self.warehouse.cursor(),
            project=self.project.name,
            timezone=self.project.config.timezone,
            plan=self.plan(),
            now=now or dt.datetime.now(dt.UTC),
            access_filters=access_filters,
            cohorts=CohortMembers(self.cohorts) if self.cohorts is not None else None,
            timelines=self.timelines,
        )


def check_instances_readable(access_filters: Sequence[Filter]) -> None:
    """Refuse instance telemetry to a caller with access filters: pings are no person's, event's or group's
    rows, so the filters cannot say which of them the caller may see."""
    if access_filters:
        raise QueryError(
            "instances are counted from their telemetry, which your row-level access filters cannot restrict; "
            "ask an admin for these figures"
        )


def _parse(model: type[CohortRequest], body: dict[str, Any]) -> CohortRequest:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise QueryError(f"invalid cohort: {problems(error, 'body')}") from None
