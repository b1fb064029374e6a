"""The events an insight reads, as sqlglot: each event with its person resolved through the distinct-id map
(so merges apply retroactively), the tracking plan's query-time transformations, and the spec's filters.

Every user value is bound as a parameter. Access filters from the caller are applied to every scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa
from sqlglot import exp

from sextant.errors import QueryError
from sextant.ingest.tracking_plan import TrackingPlan, hidden_events, shown_event, shown_value
from sextant.insights.spec import Breakdown, CohortFilter, DateRange, Filter, FilterGroup, PropertyFilter
from sextant.insights.timeline import TimelineLookup, TimelineView, TimelineViews
from sextant.warehouse import state
from sextant.warehouse.engine import Engine

OTHER = "$other"  # the breakdown value that collects everything outside the top N
NONE = "$none"  # the breakdown value of events without the property


class CohortSource(Protocol):
    """Saved cohorts, as queries of their members' person ids."""

    def members(self, cohort: int, scan: EventScan) -> exp.Select: ...

    def name(self, cohort: int) -> str: ...

    def version(self) -> int:
        """Changes whenever a cohort changes, so that cached results that used it are not reused."""
        ...


@dataclass
class QueryContext:
    """What a query needs besides its spec."""

    engine: Engine
    project: str
    timezone: str
    plan: TrackingPlan
    now: dt.datetime
    # Row-level access filters of the caller; applied to every scan.
    access_filters: Sequence[Filter] = ()
    # Saved cohorts; None where there are none (a bare warehouse without a metadata database).
    cohorts: CohortSource | None = None
    # Shared by the queries of a project, so that timelines are looked up once per warehouse write.
    timelines: TimelineViews = field(default_factory=TimelineViews)


@dataclass
class Parameters:
    """Values bound to named placeholders, and Arrow tables the queries read by name (such as the members
    of a static cohort)."""

    values: dict[str, object] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(default_factory=dict)

    def bind(self, value: object) -> exp.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return exp.Placeholder(this=name)

    def attach(self, name: str, table: pa.Table) -> exp.Table:
        self.tables[name] = table
        return exp.to_table(name)


def stored_names(plan: TrackingPlan, shown: str) -> list[str]:
    """The stored event names that queries show as `shown`, after renames and merges."""
    transforms = plan.transformations
    names = set(transforms.merge_events.get(shown, []))
    names |= {stored for stored, name in transforms.rename_events.items() if name == shown}
    merged_away = {stored for group in transforms.merge_events.values() for stored in group}
    if shown not in transforms.rename_events and shown not in merged_away:
        names.add(shown)
    return sorted(names)


class EventScan:
    """Builds SELECTs over `events AS e`, joined on demand to the person map, current persons and groups."""

    def __init__(
        self,
        context: QueryContext,
        parameters: Parameters,
        *,
        count_by: str,
        person_properties: str,
        timelines: TimelineLookup | None = None,
    ):
        self.context = context
        self.engine = context.engine
        self.parameters = parameters
        # Shared by the scans of one query, so that the warehouse is asked about timelines once.
        self.timelines = timelines or TimelineLookup(
            context.timelines, context.engine, context.project, context.timezone
        )
        self.count_by = count_by
        self.person_properties = person_properties
        self._group_joins: set[str] = set()
        self._current_persons = False
        self._numbered = False

    # Columns

    def person(self) -> exp.Expr:
        return exp.Coalesce(
            this=exp.cast(exp.column("person_id", "m"), "text"), expressions=[exp.column("distinct_id", "e")]
        )

    def person_number(self) -> exp.Expr:
        """A dense integer per person (NULL for a distinct id the map does not know): grouping and sorting
        on it is much cheaper than on the person id's text."""
        self._numbered = True
        return exp.column("person_number", "m")

    def actor(self) -> exp.Expr:
        """Who is counted: the person, or the group of the `count_by` type."""
        if self.count_by == "persons":
            return self.person()
        return self.engine.json_text(exp.column("groups", "e"), [self.count_by])

    def event(self) -> exp.Expr:
        return shown_event(self.context.plan, exp.column("event", "e"))

    def timestamp(self) -> exp.Expr:
        return exp.column("timestamp", "e")

    def property(
        self, kind: str, key: str, group_type: str | None = None, *, person_properties: str | None = None
    ) -> exp.Expr:
        """A property as text; person properties as the query asks, unless `person_properties` says."""
        if kind == "event":
            value = self.engine.json_text(exp.column("properties", "e"), [key])
            return shown_value(self.context.plan, key, value)
        if kind == "person":
            if (person_properties or self.person_properties) == "current":
                self._current_persons = True
                return self.engine.json_text(exp.column("properties", "cp"), [key])
            return self.engine.json_text(exp.column("person_properties", "e"), [key])
        assert group_type is not None
        self._group_joins.add(group_type)
        return self.engine.json_text(exp.column("properties", _group_alias(group_type)), [key])

    def breakdown_value(self, breakdown: Breakdown) -> exp.Expr:
        if breakdown.type == "cohort":
            # A person in several of the cohorts shows under the first one listed.
            cohorts = self._cohorts()
            case = exp.Case()
            for cohort in breakdown.cohorts:
                member = self.person().isin(query=cohorts.members(cohort, self))
                case = case.when(member, exp.Literal.string(cohorts.name(cohort)))
            return case.else_(exp.Literal.string(NONE))
        assert breakdown.key is not None
        value = self.property(breakdown.type, breakdown.key, breakdown.group_type)
        return exp.Coalesce(this=value, expressions=[exp.Literal.string(NONE)])

    def _cohorts(self) -> CohortSource:
        if self.context.cohorts is None:
            raise QueryError("cohorts are saved in the project's metadata, which this query cannot reach")
        return self.context.cohorts

    # Conditions

    def timeline_codes(self, view: TimelineView, name: str | None) -> list[int]:
        """The build's codes of the events shown under `name` (None: every event)."""
        if name is None:
            return sorted(view.event_codes.values())
        stored = stored_names(self.context.plan, name)
        return sorted(view.event_codes[item] for item in stored if item in view.event_codes)

    def events_named(self, name: str | None) -> exp.Expr | None:
        """Events shown under `name` (None: every event)."""
        if name is None:
            return None
        names = stored_names(self.context.plan, name)
        if not names:
            return exp.false()
        return exp.column("event", "e").isin(*(self.parameters.bind(stored) for stored in names))

    def condition(
        self, filters: Sequence[Filter], operator: str = "and", *, person_properties: str | None = None
    ) -> exp.Expr | None:
        parts = [self._filter(item, person_properties) for item in filters]
        if not parts:
            return None
        return exp.and_(*parts) if operator == "and" else exp.or_(*parts)

    def _filter(self, item: Filter, person_properties: str | None) -> exp.Expr:
        if isinstance(item, FilterGroup):
            grouped = self.condition(item.filters, item.operator, person_properties=person_properties)
            return exp.paren(grouped or exp.true())
        if isinstance(item, CohortFilter):
            member = self.person().isin(query=self._cohorts().members(item.cohort, self))
            return exp.not_(member) if item.negate else member
        return self._property_condition(item, person_properties)

    def _property_condition(self, item: PropertyFilter, person_properties: str | None) -> exp.Expr:
        text = self.property(item.type, item.key, item.group_type, person_properties=person_properties)
        bind = self.parameters.bind
        value = item.value
        if item.operator == "is_set":
            return exp.Not(this=exp.Is(this=text, expression=exp.null()))
        if item.operator == "not_set":
            return exp.Is(this=text, expression=exp.null())
        if item.operator in ("gt", "lt"):
            number = self.engine.to_number(text)
            bound = bind(float(str(value)))
            return (
                exp.GT(this=number, expression=bound)
                if item.operator == "gt"
                else exp.LT(this=number, expression=bound)
            )
        if item.operator == "in":
            assert isinstance(value, list)
            return text.isin(*(bind(_as_text(each)) for each in value))
        if item.operator == "contains":
            position = exp.StrPosition(this=exp.Lower(this=text), substr=exp.Lower(this=bind(_as_text(value))))
            return exp.GT(
                this=exp.Coalesce(this=position, expressions=[exp.Literal.number(0)]), expression=exp.Literal.number(0)
            )
        if item.operator == "regex":
            return exp.Coalesce(this=exp.RegexpLike(this=text, expression=bind(str(value))), expressions=[exp.false()])
        equal = self._equals(text, value)
        if item.operator == "eq":
            return equal
        return exp.or_(exp.Is(this=text.copy(), expression=exp.null()), exp.not_(equal))

    def _equals(self, text: exp.Expr, value: object) -> exp.Expr:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return exp.EQ(this=self.engine.to_number(text), expression=self.parameters.bind(float(value)))
        return exp.EQ(this=text, expression=self.parameters.bind(_as_text(value)))

    # The query

    def select(
        self,
        *columns: exp.Expr,
        dates: DateRange | None,
        where: Sequence[exp.Expr | None] = (),
    ) -> exp.Select:
        """SELECT `columns` FROM the events of the project in `dates`, with the access filters, the plan's
        hidden events and `where`; joins are added for whatever the columns and conditions read."""
        conditions: list[exp.Expr] = [exp.column("project", "e").eq(self.parameters.bind(self.context.project))]
        if dates is not None:
            conditions.append(exp.GTE(this=self.timestamp(), expression=self.parameters.bind(dates.start)))
            conditions.append(exp.LT(this=self.timestamp(), expression=self.parameters.bind(dates.end)))
        hidden = hidden_events(self.context.plan, exp.column("event", "e"))
        conditions.extend(part for part in (hidden, *where) if part is not None)
        # Person properties as they were at each event, whatever the query asks for: otherwise a restricted
        # caller could choose which rows pass.
        access = self.condition(self.context.access_filters, person_properties="as_of_event")
        if access is not None:
            conditions.append(access)
        if self.count_by != "persons":
            conditions.append(exp.Not(this=exp.Is(this=self.actor(), expression=exp.null())))
        # Joins last: building the columns and conditions above decides which joins are needed.
        query = exp.select(*columns).from_(exp.to_table("events").as_("e"))
        # The distinct-id map is the costly join: only questions about persons need it.
        reads_map = self._current_persons or any(
            column.table == "m" for part in (*columns, *conditions) for column in part.find_all(exp.Column)
        )
        if reads_map:
            on = exp.column("distinct_id", "m").eq(exp.column("distinct_id", "e"))
            query = query.join(self.person_map(), on=on, join_type="left")
        if self._current_persons:
            on = exp.column("person_id", "cp").eq(self.person())
            query = query.join(self.current_persons(), on=on, join_type="left")
        for group_type in sorted(self._group_joins):
            alias = _group_alias(group_type)
            key = self.engine.json_text(exp.column("groups", "e"), [group_type])
            query = query.join(
                self._group_rows(group_type, alias), on=exp.column("group_key", alias).eq(key), join_type="left"
            )
        return query.where(exp.and_(*conditions))

    def timeline(self) -> TimelineView | None:
        """How to read person timelines for this query; None when it cannot (no build, or the caller's access
        filters or the actor need more than timelines hold)."""
        if self.count_by != "persons" or self.context.access_filters:
            return None
        return self.timelines.view()

    def timeline_select(
        self, *columns: exp.Expr, view: TimelineView, dates: DateRange, where: Sequence[exp.Expr | None] = ()
    ) -> exp.Select:
        """SELECT `columns` FROM the latest timeline build `AS e`, in the build's order (each event's rows by
        person and time, one event after another), leaving out the persons the build no longer describes.
        Only person numbers, times, local days and conditions on event names (`events_named`) can be read;
        the conditions are turned into conditions on the build's codes."""
        bind = self.parameters.bind
        conditions: list[exp.Expr] = [
            exp.column("project", "e").eq(bind(self.context.project)),
            exp.column("build", "e").eq(bind(view.build.number)),
            exp.GTE(this=self.timestamp(), expression=bind(dates.start)),
            exp.LT(this=self.timestamp(), expression=bind(dates.end)),
        ]
        hidden = hidden_events(self.context.plan, exp.column("event", "e"))
        conditions.extend(part for part in (hidden, *where) if part is not None)
        if (stale := self.stale_condition(view, "e")) is not None:
            conditions.append(stale)

        def by_code(node: exp.Expr) -> exp.Expr:
            return self._by_event_code(node, view.event_codes)

        # `and_` copied the conditions, so they are rewritten in place; the columns are the caller's.
        condition = exp.and_(*conditions).transform(by_code, copy=False)
        selected = [column.transform(by_code) for column in columns]
        read = [condition, *selected]
        if any(column.name == "event" and column.table == "e" for part in read for column in part.find_all(exp.Column)):
            raise ValueError("timelines hold event codes: only `events_named` and hidden events can be read")
        query = exp.select(*selected).from_(exp.to_table("timeline_events").as_("e")).where(condition, copy=False)
        if not self.engine.scans_in_insertion_order:
            query = query.order_by(
                exp.column("event_code", "e"), exp.column("person_number", "e"), exp.column("timestamp", "e")
            )
        return query

    def _by_event_code(self, node: exp.Expr, codes: dict[str, int]) -> exp.Expr:
        """A condition on stored event names (`e.event IN (...)`) as one on the build's event codes."""
        column = node.this if isinstance(node, exp.In) else None
        if not (isinstance(column, exp.Column) and column.name == "event" and column.table == "e"):
            return node
        names = [
            self.parameters.values[item.name] if isinstance(item, exp.Placeholder) else item.name
            for item in node.expressions
        ]
        found = sorted({codes[name] for name in names if name in codes})
        if not found:
            return exp.false()
        return exp.column("event_code", "e").isin(*(exp.Literal.number(code) for code in found))

    def timeline_days(
        self, view: TimelineView, first_day: dt.date | None, last_day: dt.date, *, active_only: bool
    ) -> exp.Select:
        """SELECT person_number, day: the days on which the build's persons did anything (`active_only`: were
        active by the timelines' definition), in person and day order, leaving out the persons the build no
        longer describes. `first_day` None means since the beginning."""
        bind = self.parameters.bind
        conditions: list[exp.Expr] = [
            exp.column("project", "d").eq(bind(self.context.project)),
            exp.column("build", "d").eq(bind(view.build.number)),
            exp.LTE(this=exp.column("day", "d"), expression=bind(last_day)),
        ]
        if first_day is not None:
            conditions.append(exp.GTE(this=exp.column("day", "d"), expression=bind(first_day)))
        if active_only:
            conditions.append(exp.column("active", "d"))
        if (stale := self.stale_condition(view, "d")) is not None:
            conditions.append(stale)
        query = (
            exp.select(exp.column("person_number", "d"), exp.column("day", "d"))
            .from_(exp.to_table("timeline_days").as_("d"))
            .where(exp.and_(*conditions))
        )
        if not self.engine.scans_in_insertion_order:
            query = query.order_by(exp.column("person_number", "d"), exp.column("day", "d"))
        return query

    def recent_condition(self, view: TimelineView, table: str = "e") -> exp.Expr:
        """Rows (of events, or of the rollup) of the persons that timelines leave out."""
        recent = exp.select("distinct_id").from_(self.parameters.attach("timeline_recent", view.recent_ids))
        return exp.column("distinct_id", table).isin(query=recent)

    def stale_condition(self, view: TimelineView, table: str) -> exp.Expr | None:
        """Rows of a timeline table whose persons the build no longer describes are left out."""
        if not view.stale_numbers.num_rows:
            return None
        stale = exp.select("person_number").from_(self.parameters.attach("timeline_stale", view.stale_numbers))
        return exp.not_(exp.column("person_number", table).isin(query=stale))

    def person_map(self) -> exp.Subquery:
        mapping = state.person_map(self.parameters.bind(self.context.project))
        if not self._numbered:
            return mapping.subquery("m")
        order = exp.Order(expressions=[exp.column("person_id")])
        number = exp.Window(this=exp.Anonymous(this="DENSE_RANK", expressions=[]), order=order)
        return (
            exp.select("distinct_id", "person_id", exp.cast(number, "BIGINT").as_("person_number"))
            .from_(mapping.subquery("latest"))
            .subquery("m")
        )

    def current_persons(self) -> exp.Subquery:
        """Each person's current properties, first creation time and whether they are identified (alias cp)."""
        latest = exp.ArgMax(this=exp.column("properties"), expression=exp.column("version"))
        identified = exp.ArgMax(this=exp.column("is_identified"), expression=exp.column("version"))
        person = exp.cast(exp.column("person_id"), "text")
        return (
            exp.select(
                person.as_("person_id"),
                exp.cast(latest, "text").as_("properties"),
                exp.Min(this=exp.column("created_at")).as_("created_at"),
                identified.as_("is_identified"),
            )
            .from_("persons")
            .where(exp.column("project").eq(self.parameters.bind(self.context.project)))
            .group_by(person.copy())
            .subquery("cp")
        )

    def _group_rows(self, group_type: str, alias: str) -> exp.Subquery:
        latest = exp.ArgMax(this=exp.column("properties"), expression=exp.column("version"))
        return (
            exp.select(exp.column("group_key"), exp.cast(latest, "text").as_("properties"))
            .from_("groups")
            .where(
                exp.and_(
                    exp.column("project").eq(self.parameters.bind(self.context.project)),
                    exp.column("group_type").eq(self.parameters.bind(group_type)),
                )
            )
            .group_by("group_key")
            .subquery(alias)
        )


def top_values(scan: exp.Select, value: str, weight: exp.Expr, limit: int) -> exp.Select:
    """The `limit` most common values of column `value` of `scan` (by `weight`, then by value)."""
    return (
        exp.select(exp.column(value))
        .from_(scan.subquery("ranked"))
        .group_by(exp.column(value))
        .order_by(exp.Ordered(this=weight, desc=True), exp.column(value))
        .limit(limit)
    )


def _group_alias(group_type: str) -> str:
    return "g_" + "".join(character if character.isalnum() else "_" for character in group_type)


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
