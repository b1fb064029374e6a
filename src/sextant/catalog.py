"""The event catalog: every event seen (and every planned one), its volume over the last 30 days, when it
was first and last seen, whether the tracking plan lists it, and its properties with the types observed
in a sample of recent events. Names are shown after the plan's query-time transformations. Also the group
types (account, instance, ...) with the properties their groups have. For a caller with row-level access
filters, both are worked out from only the events that pass them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pyarrow as pa
from sqlglot import exp

from sextant.ingest import scratch
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.scan import EventScan, Parameters, QueryContext
from sextant.insights.spec import Filter
from sextant.warehouse.engine import Engine

SAMPLE_ROWS = 200_000


@dataclass
class EventEntry:
    event: str
    stored_as: list[str]
    volume_30d: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    planned: bool
    status: str  # active or inactive (from the plan), "unplanned" otherwise
    description: str = ""
    owner: str = ""
    category: str = ""
    properties: dict[str, list[str]] = field(default_factory=dict)  # property -> observed types

    def as_json(self) -> dict[str, object]:
        entry = asdict(self)
        for key in ("first_seen", "last_seen"):
            entry[key] = entry[key].isoformat() if entry[key] else None
        return entry


def shown_name(plan: TrackingPlan, stored: str) -> str | None:
    """The name queries show for a stored event name (None when the plan hides it): the Python twin of
    `tracking_plan.shown_event`, which the tests hold to the same answers."""
    transforms = plan.transformations
    if stored in transforms.hide_events:
        return None
    for shown, names in transforms.merge_events.items():
        if stored in names:
            return shown
    return transforms.rename_events.get(stored, stored)


def build(
    engine: Engine,
    project: str,
    plan: TrackingPlan,
    now: dt.datetime | None = None,
    *,
    access_filters: Sequence[Filter] = (),
) -> list[EventEntry]:
    now = now or dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=30)
    events, allowed = _events(engine, project, plan, access_filters)
    recent = (
        exp.Case()
        .when(exp.column("timestamp") >= exp.Placeholder(this="since"), exp.Literal.number(1))
        .else_(exp.Literal.number(0))
    )
    volumes = engine.execute(
        exp.select(
            "event",
            exp.Sum(this=recent).as_("volume_30d"),
            exp.Min(this=exp.column("timestamp")).as_("first_seen"),
            exp.Max(this=exp.column("timestamp")).as_("last_seen"),
        )
        .from_(events)
        .where(exp.column("project").eq(exp.Placeholder(this="project")))
        .group_by("event")
        .order_by("event"),  # the stored names of a merged event are listed in this order
        {"project": project, "since": since, **allowed},
    ).to_pylist()
    sample = engine.execute(
        exp.select("event", "properties")
        .from_(events)
        .where(
            exp.and_(
                exp.column("project").eq(exp.Placeholder(this="project")),
                exp.column("timestamp") >= exp.Placeholder(this="recent"),
            )
        )
        .limit(SAMPLE_ROWS),
        {"project": project, "recent": now - dt.timedelta(days=7), **allowed},
    )
    observed = scratch.run(
        """
        SELECT event, key, list(DISTINCT json_type_name(json_type(
            CAST(properties AS JSON), '$."' || replace(replace(key, '\\', '\\\\'), '"', '\\"') || '"')) ORDER BY 1)
            AS types
        FROM (SELECT event, properties, unnest(json_keys(CAST(properties AS JSON))) AS key FROM sample)
        GROUP BY event, key ORDER BY event, key
        """,
        {"sample": sample.cast(pa.schema([("event", pa.string()), ("properties", pa.string())]))},
    ).to_pylist()
    entries: dict[str, EventEntry] = {}
    for row in volumes:
        name = shown_name(plan, row["event"])
        if name is None:
            continue
        entry = entries.get(name)
        if entry is None:
            entry = entries[name] = _entry(plan, name)
        entry.stored_as.append(row["event"])
        entry.volume_30d += int(row["volume_30d"] or 0)
        entry.first_seen = min(filter(None, (entry.first_seen, row["first_seen"])), default=None)
        entry.last_seen = max(filter(None, (entry.last_seen, row["last_seen"])), default=None)
    for name in plan.events:
        if shown_name(plan, name) is not None and shown_name(plan, name) not in entries:
            entries[str(shown_name(plan, name))] = _entry(plan, str(shown_name(plan, name)))
    for row in observed:
        name = shown_name(plan, row["event"])
        if name in entries:
            types = entries[name].properties.setdefault(row["key"], [])
            types.extend(kind for kind in row["types"] if kind not in types)
    return sorted(entries.values(), key=lambda entry: (-entry.volume_30d, entry.event))


def group_properties(
    engine: Engine, project: str, plan: TrackingPlan, *, access_filters: Sequence[Filter] = ()
) -> dict[str, list[str]]:
    """Each group type seen, with the names of the properties of its groups (from up to SAMPLE_ROWS rows). With
    access filters, only the groups of events that pass them."""
    query = (
        exp.select("group_type", "properties")
        .from_("groups")
        .where(exp.column("project").eq(exp.Placeholder(this="project")))
        .limit(SAMPLE_ROWS)
    )
    parameters: dict[str, object] = {"project": project}
    if access_filters:
        query, parameters = _groups_of_allowed_events(engine, project, plan, access_filters, query)
    groups = engine.execute(query, parameters)
    named = scratch.run(
        """
        SELECT group_type, list_sort(list_distinct(flatten(list(
            coalesce(json_keys(CAST(properties AS JSON)), []::VARCHAR[]))))) AS keys
        FROM groups GROUP BY group_type ORDER BY group_type
        """,
        {"groups": groups.cast(pa.schema([("group_type", pa.string()), ("properties", pa.string())]))},
    ).to_pylist()
    return {row["group_type"]: row["keys"] for row in named}


def _events(
    engine: Engine, project: str, plan: TrackingPlan, access_filters: Sequence[Filter]
) -> tuple[exp.Expr, dict[str, object]]:
    """What the catalog reads as `events`, with the parameters that reading binds: the table itself, or for a
    caller with access filters only the rows that pass them, through the scan every insight reads."""
    if not access_filters:
        return exp.to_table("events"), {}
    scan, parameters = _scan(engine, project, plan, access_filters)
    columns = [exp.column(name, "e").as_(name) for name in ("project", "event", "timestamp", "properties")]
    return scan.select(*columns, dates=None).subquery("events"), parameters.values


def _groups_of_allowed_events(
    engine: Engine, project: str, plan: TrackingPlan, access_filters: Sequence[Filter], query: exp.Select
) -> tuple[exp.Select, dict[str, object]]:
    """`query` over groups, narrowed to the groups that events passing the access filters belong to."""
    in_project = exp.column("project").eq(exp.Placeholder(this="project"))
    found = engine.execute(exp.select("group_type").distinct().from_("groups").where(in_project), {"project": project})
    keys = {group_type: f"key{index}" for index, group_type in enumerate(found.column("group_type").to_pylist())}
    if not keys:
        return query, {"project": project}
    scan, parameters = _scan(engine, project, plan, access_filters)
    columns = [engine.json_text(exp.column("groups", "e"), [kind]).as_(key) for kind, key in keys.items()]
    seen = [
        exp.and_(
            exp.column("group_type").eq(parameters.bind(kind)),
            exp.column("group_key").isin(query=exp.select(key).from_("allowed")),
        )
        for kind, key in keys.items()
    ]
    narrowed = query.where(exp.or_(*seen)).with_("allowed", as_=scan.select(*columns, dates=None))
    return narrowed, {"project": project, **parameters.values}


def _scan(
    engine: Engine, project: str, plan: TrackingPlan, access_filters: Sequence[Filter]
) -> tuple[EventScan, Parameters]:
    # The catalog reads no date range, so neither the time zone nor `now` is ever used.
    context = QueryContext(
        engine=engine,
        project=project,
        timezone="UTC",
        plan=plan,
        now=dt.datetime.now(dt.UTC),
        access_filters=access_filters,
    )
    parameters = Parameters()
    return EventScan(context, parameters, count_by="persons", person_properties="as_of_event"), parameters


def _entry(plan: TrackingPlan, name: str) -> EventEntry:
    spec = plan.events.get(name)
    return EventEntry(
        event=name,
        stored_as=[],
        volume_30d=0,
        first_seen=None,
        last_seen=None,
        planned=spec is not None,
        status=spec.status if spec else "unplanned",
        description=spec.description if spec else "",
        owner=spec.owner if spec else "",
        category=spec.category if spec else "",
    )
