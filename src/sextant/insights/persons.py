"""Persons: search persons by their current properties or ids, or show one person's event timeline (every
event of every distinct id merged into them, newest first). A caller with access filters finds only persons
with an event that passes them, and sees only those events."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
import pyarrow as pa
from pydantic import Field, model_validator
from sqlglot import exp

from sextant.insights.runner import QueryRunner
from sextant.insights.scan import EventScan, Parameters, QueryContext
from sextant.insights.spec import CohortFilter, FilterGroup, PropertyFilter, WithoutBreakdown


class PersonsSpec(WithoutBreakdown):
    kind: Literal["persons"] = "persons"
    date_from: str = "-90d"
    search: str | None = Field(default=None, description="a distinct id, or text found in property values")
    person: str | None = Field(default=None, description="a person id or distinct id: show their timeline")
    limit: int = Field(default=100, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _person_filters_only(self) -> PersonsSpec:
        def check(filters: list[Any]) -> None:
            for item in filters:
                if isinstance(item, FilterGroup):
                    check(item.filters)
                elif isinstance(item, PropertyFilter) and item.type != "person" and self.person is None:
                    raise ValueError("a person search filters on person properties; use type `person`")
                elif isinstance(item, CohortFilter) and self.person is not None:
                    raise ValueError("a timeline is one person's; drop the cohort filter")

        check(self.filters)
        return self


class PersonsRunner(QueryRunner):
    kind = "persons"
    spec_model = PersonsSpec
    spec: PersonsSpec

    def queries(self) -> dict[str, exp.Expr]:
        return {"events": self._timeline()} if self.spec.person is not None else self._search()

    def _search(self) -> dict[str, exp.Expr]:
        # Person filters read current properties: the persons table is the source, aliased like the scan's join.
        scan = EventScan(self.context, self.parameters, count_by="persons", person_properties="current")
        bind = self.parameters.bind
        conditions: list[exp.Expr] = []
        condition = scan.condition(self.spec.filters)
        if condition is not None:
            conditions.append(condition)
        if (visible := visible_persons(self.context, self.parameters)) is not None:
            conditions.append(exp.column("person_id", "cp").isin(query=visible))
        if self.spec.search:
            by_id = (
                exp.select("person_id")
                .from_(scan.person_map())
                .where(exp.column("distinct_id").eq(bind(self.spec.search)))
            )
            found = exp.StrPosition(
                this=exp.Lower(this=exp.column("properties", "cp")), substr=bind(self.spec.search.lower())
            )
            conditions.append(
                exp.or_(
                    exp.column("person_id", "cp").isin(
                        query=exp.select(exp.cast(exp.column("person_id"), "text")).from_(by_id.subquery("by_id"))
                    ),
                    exp.GT(this=found, expression=exp.Literal.number(0)),
                )
            )
        page = (
            exp.select(
                exp.column("person_id", "cp"),
                exp.column("properties", "cp"),
                exp.column("created_at", "cp"),
                exp.column("is_identified", "cp"),
            )
            .from_(scan.current_persons())
            .order_by(exp.Ordered(this=exp.column("created_at", "cp"), desc=True), exp.column("person_id", "cp"))
            .limit(self.spec.limit)
            .offset(self.spec.offset)
        )
        if conditions:
            page = page.where(exp.and_(*conditions))
        ids = (
            exp.select(exp.cast(exp.column("person_id"), "text").as_("person_id"), exp.column("distinct_id"))
            .from_(scan.person_map())
            .where(exp.cast(exp.column("person_id"), "text").isin(query=exp.select("person_id").from_("page")))
            .order_by(exp.column("distinct_id"))
        )
        return {"persons": page, "distinct_ids": ids.with_("page", as_=page.copy())}

    def _timeline(self) -> exp.Select:
        scan = self.scan()
        bind = self.parameters.bind
        assert self.spec.person is not None
        mapped = (
            exp.select("person_id")
            .from_(scan.person_map())
            .where(
                exp.or_(
                    exp.column("distinct_id").eq(bind(self.spec.person)),
                    exp.cast(exp.column("person_id"), "text").eq(bind(self.spec.person)),
                )
            )
        )
        person_ids = exp.select(exp.cast(exp.column("person_id"), "text")).from_(mapped.subquery("wanted"))
        columns = [
            exp.column("timestamp", "e").as_("timestamp"),
            scan.event().as_("event"),
            exp.column("distinct_id", "e").as_("distinct_id"),
            exp.column("session_id", "e").as_("session_id"),
            exp.cast(exp.column("properties", "e"), "text").as_("properties"),
        ]
        where = [
            exp.or_(scan.person().isin(query=person_ids), exp.column("distinct_id", "e").eq(bind(self.spec.person))),
            scan.condition(self.spec.filters),
        ]
        query = scan.select(*columns, dates=self.dates, where=where)
        # The uuid breaks ties, so that pages (LIMIT and OFFSET) of events at one time neither overlap nor miss one.
        newest_first = exp.Ordered(this=exp.column("timestamp", "e"), desc=True)
        return (
            query.order_by(newest_first, exp.column("event", "e"), exp.column("uuid", "e"))
            .limit(self.spec.limit)
            .offset(self.spec.offset)
        )

    def shape(self, results: dict[str, pa.Table]) -> dict[str, Any]:
        if "events" in results:
            return {
                "person": self.spec.person,
                "events": [
                    {**row, "timestamp": _instant(row["timestamp"]), "properties": orjson.loads(row["properties"])}
                    for row in results["events"].to_pylist()
                ],
            }
        distinct_ids: dict[str, list[str]] = {}
        for row in results["distinct_ids"].to_pylist():
            distinct_ids.setdefault(row["person_id"], []).append(row["distinct_id"])
        return {
            "persons": [
                {
                    "person_id": row["person_id"],
                    "distinct_ids": distinct_ids.get(row["person_id"], []),
                    "properties": orjson.loads(row["properties"]),
                    "created_at": _instant(row["created_at"]),
                    "is_identified": bool(row["is_identified"]),
                }
                for row in results["persons"].to_pylist()
            ]
        }

    @staticmethod
    def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        if "events" in result:
            return [{key: row[key] for key in ("timestamp", "event", "distinct_id")} for row in result["events"]]
        return [
            {
                "person_id": person["person_id"],
                "distinct_ids": " ".join(person["distinct_ids"]),
                "created_at": person["created_at"],
            }
            for person in result["persons"]
        ]


def visible_persons(context: QueryContext, parameters: Parameters) -> exp.Select | None:
    """The ids of the persons with at least one event, at any time, that passes the caller's access filters
    (person properties as of the event); None when the caller has none and sees every person. The persons
    table holds no rows the filters describe, so whom a restricted caller may see follows from their events."""
    if not context.access_filters:
        return None
    scan = EventScan(context, parameters, count_by="persons", person_properties="as_of_event")
    return scan.select(scan.person(), dates=None)


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()
