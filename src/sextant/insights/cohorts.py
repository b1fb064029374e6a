"""Cohorts: saved groups of persons that every insight can filter (`{"type": "cohort", "cohort": id}`) or
break down by (`{"type": "cohort", "cohorts": [ids]}`).

A dynamic cohort is a definition evaluated when a query uses it: persons who did an event at least N times
in the last D days, persons whose current properties match filters, or persons who converted at (or dropped
before) a funnel step. A static cohort is a fixed list of persons, such as a funnel's drop-offs saved from a
result. Definitions and lists live in the metadata database.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
import pyarrow as pa
from pydantic import Field, TypeAdapter, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlglot import exp

from sextant.errors import QueryError
from sextant.insights.runner import run_query
from sextant.insights.scan import EventScan
from sextant.insights.spec import Filter, StrictModel
from sextant.metadata.models import Cohort


class DidEvent(StrictModel):
    type: Literal["did_event"]
    event: str
    filters: list[Filter] = Field(default=[])
    min_times: int = Field(default=1, ge=1)
    days: int = Field(default=30, ge=1, le=3660, description="the last N days, up to the query's now")


class PersonProperties(StrictModel):
    type: Literal["person_property"]
    filters: list[Filter] = Field(min_length=1, description="filters on current person properties")


class FunnelStep(StrictModel):
    type: Literal["funnel_step"]
    funnel: dict[str, Any] = Field(description="a funnel spec, as for POST /api/v1/query")
    step: int = Field(ge=0, description="0-based step")
    status: Literal["converted", "dropped"] = "converted"


Definition = Annotated[DidEvent | PersonProperties | FunnelStep, Field(discriminator="type")]
MAX_STATIC_MEMBERS = 1_000_000


class CohortRequest(StrictModel):
    """The body of `POST /api/v1/cohorts`: a definition, a list of persons, or a query whose persons to keep."""

    name: str = Field(min_length=1, max_length=200)
    definition: Definition | None = None
    persons: list[str] | None = Field(default=None, max_length=MAX_STATIC_MEMBERS)
    from_query: dict[str, Any] | None = Field(
        default=None, description="a funnel spec with `persons`, or a persons search: its persons are saved"
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> CohortRequest:
        given = [self.definition is not None, self.persons is not None, self.from_query is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of `definition`, `persons` or `from_query`")
        return self


@dataclass(frozen=True)
class SavedCohort:
    id: int
    name: str
    definition: DidEvent | PersonProperties | FunnelStep | None
    members: list[str] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": "static" if self.members is not None else "dynamic",
            "definition": self.definition.model_dump(mode="json") if self.definition else None,
            "size": len(self.members) if self.members is not None else None,
        }


_DEFINITION: TypeAdapter[DidEvent | PersonProperties | FunnelStep] = TypeAdapter(Definition)


class CohortStore:
    """Cohorts in the metadata database; `version` changes with every change made through this store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.version = 0
        self._lock = threading.Lock()

    def create(
        self, name: str, definition: DidEvent | PersonProperties | FunnelStep | None, members: list[str] | None
    ) -> SavedCohort:
        row = Cohort(
            name=name,
            definition=orjson.dumps(definition.model_dump(mode="json")).decode() if definition else None,
            members=orjson.dumps(sorted(set(members))).decode() if members is not None else None,
            created_at=dt.datetime.now(dt.UTC),
        )
        try:
            with self.sessions.begin() as session:
                session.add(row)
                session.flush()
                saved = _saved(row)
        except IntegrityError:
            raise QueryError(f"a cohort named {name!r} exists already; choose another name") from None
        self._changed()
        return saved

    def get(self, cohort: int) -> SavedCohort:
        with self.sessions() as session:
            row = session.get(Cohort, cohort)
            if row is None:
                raise QueryError(f"there is no cohort {cohort}; list cohorts with GET /api/v1/cohorts")
            return _saved(row)

    def all(self) -> list[SavedCohort]:
        with self.sessions() as session:
            return [_saved(row) for row in session.scalars(select(Cohort).order_by(Cohort.id))]

    def delete(self, cohort: int) -> None:
        with self.sessions.begin() as session:
            row = session.get(Cohort, cohort)
            if row is None:
                raise QueryError(f"there is no cohort {cohort}; list cohorts with GET /api/v1/cohorts")
            session.delete(row)
        self._changed()

    def _changed(self) -> None:
        with self._lock:
            self.version += 1


def _saved(row: Cohort) -> SavedCohort:
    definition = _DEFINITION.validate_json(row.definition) if row.definition else None
    members = orjson.loads(row.members) if row.members is not None else None
    return SavedCohort(row.id, row.name, definition, members)


class CohortMembers:
    """Turns a saved cohort into a query of its members' person ids, within one insight query."""

    def __init__(self, store: CohortStore) -> None:
        self.store = store
        self._resolving: set[int] = set()

    def name(self, cohort: int) -> str:
        return self.store.get(cohort).name

    def version(self) -> int:
        return self.store.version

    def members(self, cohort: int, scan: EventScan) -> exp.Select:
        if cohort in self._resolving:
            raise QueryError(f"cohort {cohort} is defined in terms of itself")
        self._resolving.add(cohort)
        try:
            return self._members(self.store.get(cohort), scan)
        finally:
            self._resolving.discard(cohort)

    def _members(self, cohort: SavedCohort, scan: EventScan) -> exp.Select:
        definition = cohort.definition
        if cohort.members is not None:
            return self._listed(cohort.id, cohort.members, scan)
        if isinstance(definition, DidEvent):
            inner = EventScan(scan.context, scan.parameters, count_by="persons", person_properties="as_of_event")
            since = scan.context.now - dt.timedelta(days=definition.days)
            rows = inner.select(
                inner.person().as_("person_id"),
                dates=None,
                where=[
                    inner.events_named(definition.event),
                    inner.condition(definition.filters),
                    exp.GTE(this=inner.timestamp(), expression=scan.parameters.bind(since)),
                    exp.LTE(this=inner.timestamp(), expression=scan.parameters.bind(scan.context.now)),
                ],
            )
            return (
                exp.select("person_id")
                .from_(rows.subquery("did_event"))
                .group_by("person_id")
                .having(exp.GTE(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(definition.min_times)))
            )
        if isinstance(definition, PersonProperties):
            inner = EventScan(scan.context, scan.parameters, count_by="persons", person_properties="current")
            condition = inner.condition(definition.filters)
            assert condition is not None
            return exp.select(exp.column("person_id", "cp")).from_(inner.current_persons()).where(condition)
        assert isinstance(definition, FunnelStep)
        spec = {
            **definition.funnel,
            "persons": {"step": definition.step, "status": definition.status, "limit": MAX_STATIC_MEMBERS},
        }
        persons = run_query(spec, scan.context).result["persons"]
        return self._listed(cohort.id, persons, scan)

    def _listed(self, cohort: int, persons: list[str], scan: EventScan) -> exp.Select:
        table = scan.parameters.attach(f"cohort_{cohort}", pa.table({"person_id": pa.array(persons, pa.string())}))
        return exp.select("person_id").from_(table)


def persons_of(result: dict[str, Any]) -> list[str]:
    """The persons of a query result that can become a static cohort: a funnel's `persons` or a persons search."""
    found = result.get("persons")
    if not isinstance(found, list):
        raise QueryError("`from_query` must be a funnel spec with `persons`, or a `persons` search")
    return [entry["person_id"] if isinstance(entry, dict) else entry for entry in found]
