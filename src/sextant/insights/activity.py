"""Active days per actor, the input of active users, stickiness and lifecycle: read from the `user_days`
rollup when the question allows it (persons, no filters), and from the events otherwise."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field
from sqlglot import exp

from sextant.ingest.tracking_plan import hidden_events, shown_event
from sextant.insights.scan import OTHER, EventScan, Parameters
from sextant.insights.spec import Breakdown, DateRange, Filter, InsightSpec
from sextant.insights.timeline import TimelineView, numbered_below_zero, person_order


class ActivitySpec(InsightSpec):
    """Fields of the kinds that count active days."""

    events: list[str] | None = Field(default=None, description="events that count as active; default all")


def neighbour(function: str, date: str, offset: int) -> exp.Window:
    """The actor's previous (`LAG`) or next (`LEAD`) value of the date column `date`. Where there is none, the
    date `offset` days away stands in, so that comparisons stay non-null on every engine."""
    far = exp.Add(this=exp.column(date), expression=exp.Literal.number(offset))
    call = exp.Anonymous(this=function, expressions=[exp.column(date), exp.Literal.number(1), far])
    order = exp.Order(expressions=[exp.column(date)])
    return exp.Window(this=call, partition_by=[exp.column("actor")], order=order)


def active_days(
    scan: EventScan,
    first_day: dt.date | None,
    last_day: dt.date,
    *,
    events: Callable[[exp.Expr], exp.Expr] | None,
    filters: Sequence[Filter],
    excluded_distinct_ids: Sequence[str] = (),
    only_recent: TimelineView | None = None,
    breakdown: Breakdown | None = None,
) -> exp.Select:
    """SELECT actor, day: each local day on which an actor did a matching event, once. `events` makes the
    condition on the shown event name (None: any event); `first_day` None means since the beginning.
    With `only_recent`, only the persons that the timeline view leaves out. With `breakdown`, also the
    `breakdown` value: once per actor, day and value (the rollup holds no properties, so events are read)."""
    context = scan.context
    bind = scan.parameters.bind
    if scan.count_by == "persons" and not filters and not context.access_filters and breakdown is None:
        conditions: list[exp.Expr] = [
            exp.column("project", "u").eq(bind(context.project)),
            exp.LTE(this=exp.column("day", "u"), expression=bind(last_day)),
        ]
        if first_day is not None:
            conditions.append(exp.GTE(this=exp.column("day", "u"), expression=bind(first_day)))
        name = shown_event(context.plan, exp.column("event", "u"))
        if events is not None:
            conditions.append(events(name))
        hidden = hidden_events(context.plan, exp.column("event", "u"))
        if hidden is not None:
            conditions.append(hidden)
        if excluded_distinct_ids:
            ids = [bind(value) for value in excluded_distinct_ids]
            conditions.append(exp.not_(exp.column("distinct_id", "u").isin(*ids)))
        if only_recent is not None:
            conditions.append(scan.recent_condition(only_recent, "u"))
        person = exp.Coalesce(
            this=exp.cast(exp.column("person_id", "m"), "text"), expressions=[exp.column("distinct_id", "u")]
        )
        return (
            exp.select(person.as_("actor"), exp.column("day", "u").as_("day"))
            .from_(exp.to_table("user_days").as_("u"))
            .join(
                scan.person_map(),
                on=exp.column("distinct_id", "m").eq(exp.column("distinct_id", "u")),
                join_type="left",
            )
            .where(exp.and_(*conditions))
            .group_by(person.copy(), exp.column("day", "u"))
        )
    day = context.engine.local_date(scan.timestamp(), context.timezone)
    where: list[exp.Expr | None] = [scan.condition(filters)]
    if events is not None:
        where.append(events(scan.event()))
    if excluded_distinct_ids:
        where.append(exp.not_(exp.column("distinct_id", "e").isin(*(bind(value) for value in excluded_distinct_ids))))
    if only_recent is not None:
        where.append(scan.recent_condition(only_recent))
    dates = None
    if first_day is not None:
        end = last_day + dt.timedelta(days=1)
        dates = DateRange(_midnight(first_day, context.timezone), _midnight(end, context.timezone), context.timezone)
    columns = [scan.actor().as_("actor"), day.as_("day")]
    keys = ["actor", "day"]
    if breakdown is not None:
        columns.append(scan.breakdown_value(breakdown).as_("breakdown"))
        keys.append("breakdown")
    rows = scan.select(*columns, dates=dates, where=where)
    return exp.select(*keys).from_(rows.subquery("event_days")).group_by(*keys)


def actor_days(
    scan: EventScan,
    first_day: dt.date | None,
    last_day: dt.date,
    *,
    events: Sequence[str] | None,
    filters: Sequence[Filter],
    breakdown: Breakdown | None = None,
) -> exp.Query:
    """What `active_days` selects for a list of events (None: any event), read from person timelines where
    they hold the answer. Actors are then numbers: the build's person numbers, and below zero the persons
    read from the events; only grouping by them is meaningful."""
    hides = bool(scan.context.plan.transformations.hide_events)
    view = scan.timeline() if events is None and not filters and not hides and breakdown is None else None
    if view is None:
        return active_days(
            scan, first_day, last_day, events=any_of(events, scan.parameters), filters=filters, breakdown=breakdown
        )
    ordered = scan.timeline_days(view, first_day, last_day, active_only=False)
    days = exp.select(exp.column("person_number").as_("actor"), exp.column("day")).from_(ordered.subquery("built"))
    if view.fresh:
        return days
    recent = active_days(scan, first_day, last_day, events=None, filters=(), only_recent=view)
    numbered = numbered_below_zero(recent, "day")
    return exp.union(exp.select("day", "actor").from_(days.subquery("days")), numbered, distinct=False)


def breakdown_lines(days: pa.Table, limit: int, first_day: dt.date, last_day: dt.date) -> list[tuple[str, pa.Table]]:
    """The (actor, day) rows of each breakdown line, from `active_days` rows with a `breakdown`: the `limit`
    values with the most actors active from `first_day` to `last_day` (ties by value), biggest first, then
    the rest as `$other`, where an actor active on several of its values counts once a day. Ranking here
    rather than in SQL gives every engine the same order of ties."""
    counted = pc.and_(pc.greater_equal(days["day"], first_day), pc.less_equal(days["day"], last_day))
    volumes = days.filter(counted).group_by("breakdown").aggregate([("actor", "count_distinct")])
    ranked = sorted(
        zip(volumes["breakdown"].to_pylist(), volumes["actor_count_distinct"].to_pylist(), strict=True),
        key=lambda item: (-item[1], item[0]),
    )
    top = [value for value, _ in ranked[:limit]]
    lines = [(value, days.filter(pc.equal(days["breakdown"], value)).select(["actor", "day"])) for value in top]
    rest = days.filter(pc.invert(pc.is_in(days["breakdown"], pa.array(top, pa.string()))))
    if rest.num_rows:
        lines.append((OTHER, rest.group_by(["actor", "day"]).aggregate([])))
    return lines


@dataclass(frozen=True)
class ActorPeriods:
    """One row per actor and period (day, week or month) in which the actor was active, in actor and period
    order: the actor's code, the period's number (`period_numbers`) and on how many days of it they were active."""

    actors: npt.NDArray[np.int64]
    periods: npt.NDArray[np.int64]
    active_days: npt.NDArray[np.int64]


def actor_periods(days: pa.Table, interval: str) -> ActorPeriods:
    """The active periods of the (actor, day) rows that `actor_days` selects, in whatever order they come
    (timelines give them in order, so nothing is sorted then)."""
    actor = days.column("actor")
    if not pa.types.is_integer(actor.type):  # persons read from the events are texts
        actor = actor.combine_chunks().dictionary_encode().indices
    actors = pc.cast(actor, pa.int64()).to_numpy(zero_copy_only=False)
    numbers = pc.cast(days.column("day"), pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
    order = person_order(actors, numbers)
    if order is not None:
        actors, numbers = actors[order], numbers[order]
    periods = period_numbers(numbers, interval)
    starts = np.ones(len(actors), np.bool_)  # the first day of each actor's period (days are distinct)
    starts[1:] = (actors[1:] != actors[:-1]) | (periods[1:] != periods[:-1])
    first_rows = np.flatnonzero(starts)
    return ActorPeriods(actors[first_rows], periods[first_rows], np.diff(np.append(first_rows, len(actors))))


# Periods as consecutive numbers: days since 1970-01-01, weeks since the Monday before it (1970-01-01 was a
# Thursday), or months since January 1970.
EPOCH_DAY = dt.date(1970, 1, 1)


def period_numbers(days: npt.NDArray[np.int64], interval: str) -> npt.NDArray[np.int64]:
    """The period of each day (days since 1970-01-01)."""
    if interval == "week":
        return (days + 3) // 7
    if interval == "month":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return days


def period_start(number: int, interval: str) -> dt.date:
    if interval == "week":
        return EPOCH_DAY + dt.timedelta(days=number * 7 - 3)
    if interval == "month":
        return dt.date(1970 + number // 12, number % 12 + 1, 1)
    return EPOCH_DAY + dt.timedelta(days=number)


def any_of(events: Sequence[str] | None, parameters: Parameters) -> Callable[[exp.Expr], exp.Expr] | None:
    """The `events` condition of `active_days` for a list of event names (None: any event)."""
    if events is None:
        return None
    return lambda name: name.isin(*(parameters.bind(event) for event in events))


def _midnight(day: dt.date, timezone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(timezone)).astimezone(dt.UTC)
