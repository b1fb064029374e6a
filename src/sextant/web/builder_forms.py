"""The insight builder's form: what each kind's form shows, the form's fields filled from a spec, and the
spec built back from a submitted form. Parts of a spec that the form has no field for (step filters,
exclusions, cohort filters, ...) are carried in the form's `base` field and kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import MultiDict, QueryParams

from sextant.errors import QueryError
from sextant.insights.runner import parse_spec
from sextant.web.charts import instances as instance_charts

# Shown in this order on /insights; persons (a list of actors) has no builder page.
KINDS: dict[str, str] = {
    "segmentation": "Segmentation",
    "funnel": "Funnel",
    "retention": "Retention",
    "stickiness": "Stickiness",
    "lifecycle": "Lifecycle",
    "active_users": "Active users",
    "paths": "Paths",
    "instances": "Instances",
}
DESCRIPTIONS: dict[str, str] = {
    "segmentation": "Counts of events over time: totals, unique users, sums and averages of a property.",
    "funnel": "How many people go through a sequence of steps, and where they drop out.",
    "retention": "Of those who did a start event, how many came back to do a return event in later periods.",
    "stickiness": "How many days per week or month people are active.",
    "lifecycle": "New, returning, resurrecting and dormant users in each period.",
    "active_users": "Daily, weekly and monthly active users.",
    "paths": "What people do after (or before) an event, step by step.",
    "instances": "Self-hosted instances by deployment type, version, versions behind or telemetry status.",
}
INTERVALS: dict[str, tuple[str, ...]] = {
    "segmentation": ("hour", "day", "week", "month"),
    "funnel": ("hour", "day", "week", "month"),
    "retention": ("day", "week", "month"),
    "stickiness": ("week", "month"),
    "lifecycle": ("day", "week", "month"),
    "active_users": (),
    "paths": (),
    "instances": (),
}
BREAKDOWN_KINDS = frozenset({"segmentation", "funnel", "retention"})
KINDS_WITHOUT_FILTERS = frozenset({"instances"})  # counted from the instances' state, not from events
ACTIVITY_KINDS = frozenset({"stickiness", "lifecycle"})
DATE_PRESETS: dict[str, str] = {
    "-7d": "Last 7 days",
    "-30d": "Last 30 days",
    "-90d": "Last 90 days",
    "-180d": "Last 180 days",
    "-1y": "Last year",
    "custom": "Custom",
}
OPERATORS: dict[str, str] = {
    "eq": "equals",
    "neq": "does not equal",
    "contains": "contains",
    "regex": "matches regex",
    "gt": "greater than",
    "lt": "less than",
    "in": "is one of (comma-separated)",
    "is_set": "is set",
    "not_set": "is not set",
}
MATHS: dict[str, str] = {
    "total": "Total events",
    "unique": "Unique users",
    "sum": "Sum of property",
    "avg": "Average of property",
    "min": "Minimum of property",
    "max": "Maximum of property",
    "median": "Median of property",
    "p90": "90th percentile of property",
}
WINDOW_UNITS = ("minute", "hour", "day", "week")
INSTANCE_DIMENSIONS = instance_charts.DIMENSIONS  # what instances are counted by, named as their charts do
FUNNEL_ORDERS = {"ordered": "In order", "strict": "Strictly in order", "any": "Any order"}


@dataclass
class FilterRow:
    type: str = "event"  # event, person or group
    key: str = ""
    operator: str = "eq"
    value: str = ""
    group_type: str = ""  # for group properties: account, instance, ...


@dataclass
class SeriesRow:
    event: str = ""
    math: str = "total"
    property: str = ""


@dataclass
class BuilderForm:
    """The values a kind's form shows; rows are added and removed in the page (builder.js)."""

    kind: str
    date_range: str = "-30d"
    date_from: str = ""
    date_to: str = ""
    interval: str = "day"
    filters: list[FilterRow] = field(default_factory=list)
    breakdown_type: str = "event"
    breakdown_key: str = ""
    series: list[SeriesRow] = field(default_factory=list)
    formula: str = ""
    steps: list[str] = field(default_factory=list)
    window_value: int = 1
    window_unit: str = "day"
    order: str = "ordered"
    start_event: str = ""
    return_event: str = ""
    periods: int = 8
    cumulative: bool = False
    active_events: list[str] = field(default_factory=list)
    end_event: str = ""
    path_steps: int = 5
    by: str = "telemetry_status"
    kept: list[str] = field(default_factory=list)  # what the spec has beyond the form's fields, in words


def form_from_spec(kind: str, spec: dict[str, Any] | None) -> BuilderForm:
    """The form's values for `spec` (with the engine's defaults filled in when the spec is valid); a blank
    form with empty event rows to fill when there is no spec."""
    if spec is None:
        return _with_blank_rows(BuilderForm(kind=kind, interval=_default_interval(kind)))
    try:
        full: dict[str, Any] = parse_spec(spec).model_dump(mode="json", by_alias=True)
    except QueryError:  # an invalid spec still fills what it can, so the person can fix it
        full = spec
    form = BuilderForm(kind=kind, interval=str(full.get("interval") or _default_interval(kind)))
    date_from, date_to = full.get("date_from") or "-30d", full.get("date_to")
    if date_to is None and date_from in DATE_PRESETS:
        form.date_range = str(date_from)
    else:
        form.date_range, form.date_from, form.date_to = "custom", str(date_from), str(date_to or "")
    for item in _list(full.get("filters")):
        if _is_flat_property_filter(item):
            form.filters.append(
                FilterRow(
                    item.get("type", "event"),
                    item["key"],
                    item.get("operator", "eq"),
                    _text(item.get("value")),
                    str(item.get("group_type") or ""),
                )
            )
        else:
            form.kept.append("a filter group or cohort filter")
    breakdown = full.get("breakdown")
    if isinstance(breakdown, dict):
        if breakdown.get("type", "event") in ("event", "person"):
            form.breakdown_type, form.breakdown_key = breakdown.get("type", "event"), str(breakdown.get("key") or "")
        else:
            form.kept.append(f"a breakdown by {breakdown.get('type')}")
    if kind == "segmentation":
        form.series = [
            SeriesRow(str(item.get("event") or ""), str(item.get("math") or "total"), str(item.get("property") or ""))
            for item in _list(full.get("series"))
            if isinstance(item, dict)
        ]
        form.formula = str(full.get("formula") or "")
    elif kind == "funnel":
        form.steps = [str(item.get("event") or "") for item in _list(full.get("steps")) if isinstance(item, dict)]
        window = full["window"] if isinstance(full.get("window"), dict) else {}
        form.window_value = _int(window.get("value"), 1)
        form.window_unit = str(window.get("unit") or "day")
        form.order = str(full.get("order") or "ordered")
    elif kind == "retention":
        form.start_event = _event_of(full.get("start"))
        form.return_event = _event_of(full.get("return", full.get("returning")))
        form.periods = _int(full.get("periods"), 8)
    elif kind in ACTIVITY_KINDS:
        form.active_events = [str(event) for event in _list(full.get("events"))]
        form.cumulative = bool(full.get("cumulative"))
    elif kind == "paths":
        form.start_event = str(full.get("start_event") or "")
        form.end_event = str(full.get("end_event") or "")
        form.path_steps = _int(full.get("steps"), 5)
    elif kind == "instances":
        form.by = str(full.get("by") or "telemetry_status")
    return _with_blank_rows(form)


def spec_from_form(kind: str, fields: QueryParams | MultiDict, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec a submitted form asks for. Fields of `base` (the spec the form was filled from) that the
    form does not show are kept, so that editing a spec with advanced fields does not lose them."""
    base = base if isinstance(base, dict) and base.get("kind") == kind else {}
    spec: dict[str, Any] = {key: value for key, value in base.items() if key not in _MANAGED[kind]}
    spec["kind"] = kind
    preset = fields.get("date_range") or "-30d"
    if preset == "custom":
        spec["date_from"] = (fields.get("date_from") or "").strip() or "-30d"
        if date_to := (fields.get("date_to") or "").strip():
            spec["date_to"] = date_to
    else:
        spec["date_from"] = preset
    if INTERVALS[kind] and fields.get("interval") in INTERVALS[kind]:
        spec["interval"] = fields["interval"]
    filters = _filters_from(fields) + [
        item for item in _list(base.get("filters")) if not _is_flat_property_filter(item)
    ]
    if filters:
        spec["filters"] = filters
    if kind in BREAKDOWN_KINDS:
        key = (fields.get("breakdown_key") or "").strip()
        if key:
            spec["breakdown"] = {"type": fields.get("breakdown_type") or "event", "key": key}
        elif isinstance(base.get("breakdown"), dict) and base["breakdown"].get("type") not in ("event", "person"):
            spec["breakdown"] = base["breakdown"]
    spec |= _KIND_FIELDS[kind](fields, base)
    return spec


def _segmentation(fields: Any, base: dict[str, Any]) -> dict[str, Any]:
    series = []
    rows = zip(
        fields.getlist("series_event"), fields.getlist("series_math"), fields.getlist("series_property"), strict=False
    )
    for event, math, prop in rows:
        if not event.strip():
            continue
        item: dict[str, Any] = {"event": event.strip(), "math": math or "total"}
        if prop.strip():
            item["property"] = prop.strip()
        series.append(item)
    spec: dict[str, Any] = {"series": _keep_extras(series, base.get("series"))}
    if formula := (fields.get("formula") or "").strip():
        spec["formula"] = formula
    return spec


def _funnel(fields: Any, base: dict[str, Any]) -> dict[str, Any]:
    steps = [{"event": event.strip()} for event in fields.getlist("step_event") if event.strip()]
    return {
        "steps": _keep_extras(steps, base.get("steps")),
        "window": {"value": _int(fields.get("window_value"), 1), "unit": fields.get("window_unit") or "day"},
        "order": fields.get("order") or "ordered",
    }


def _retention(fields: Any, base: dict[str, Any]) -> dict[str, Any]:
    return {
        "start": _keep_selector({"event": (fields.get("start_event") or "").strip()}, base.get("start")),
        "return": _keep_selector({"event": (fields.get("return_event") or "").strip()}, base.get("return")),
        "periods": _int(fields.get("periods"), 8),
    }


def _activity(fields: Any, base: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    events = [event.strip() for event in fields.getlist("active_event") if event.strip()]
    if events:
        spec["events"] = events
    if fields.get("cumulative"):
        spec["cumulative"] = True
    return spec


def _active_users(fields: Any, base: dict[str, Any]) -> dict[str, Any]:
    return {}


def _paths(fields: Any, base: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"steps": _int(fields.get("path_steps"), 5)}
    for name in ("start_event", "end_event"):
        if value := (fields.get(name) or "").strip():
            spec[name] = value
    return spec


def _instances(fields: Any, base: dict[str, Any]) -> dict[str, Any]:
    return {"by": fields.get("by") or "telemetry_status"}


_KIND_FIELDS = {
    "segmentation": _segmentation,
    "funnel": _funnel,
    "retention": _retention,
    "stickiness": _activity,
    "lifecycle": _activity,
    "active_users": _active_users,
    "paths": _paths,
    "instances": _instances,
}
_COMMON = {"kind", "date_from", "date_to", "interval", "filters", "breakdown"}
_MANAGED: dict[str, set[str]] = {
    "segmentation": _COMMON | {"series", "formula"},
    "funnel": _COMMON | {"steps", "window", "order"},
    "retention": _COMMON | {"start", "return", "returning", "periods"},
    "stickiness": _COMMON | {"events", "cumulative"},
    "lifecycle": _COMMON | {"events", "cumulative"},
    "active_users": _COMMON,
    "paths": _COMMON | {"steps", "start_event", "end_event"},
    "instances": _COMMON | {"by"},
}


def _filters_from(fields: Any) -> list[dict[str, Any]]:
    filters = []
    rows = zip(
        fields.getlist("filter_type"),
        fields.getlist("filter_key"),
        fields.getlist("filter_operator"),
        fields.getlist("filter_value"),
        strict=False,
    )
    group_types = fields.getlist("filter_group_type")  # every row has one; a link made by hand may not
    for index, (kind, key, operator, value) in enumerate(rows):
        if not key.strip():
            continue
        item: dict[str, Any] = {"type": kind or "event", "key": key.strip(), "operator": operator or "eq"}
        if kind == "group":
            item["group_type"] = group_types[index].strip() if index < len(group_types) else ""
        if operator not in ("is_set", "not_set"):
            item["value"] = _value(operator, value.strip())
        filters.append(item)
    return filters


def _value(operator: str, text: str) -> Any:
    if operator == "in":
        return [part.strip() for part in text.split(",") if part.strip()]
    if operator in ("gt", "lt"):
        try:
            number = float(text)
        except ValueError:
            return text  # the engine says what is wrong with it
        return int(number) if number.is_integer() else number
    return text


def _keep_extras(items: list[dict[str, Any]], previous: Any) -> list[dict[str, Any]]:
    """Each row keeps the fields the form does not show (its filters, ...) from the row at the same place in
    the previous spec, when that row was for the same event."""
    previous_items = _list(previous)
    return [
        _keep_selector(item, previous_items[index] if index < len(previous_items) else None)
        for index, item in enumerate(items)
    ]


def _keep_selector(item: dict[str, Any], previous: Any) -> dict[str, Any]:
    if isinstance(previous, dict) and previous.get("event") == item.get("event"):
        return {**previous, **item}
    return item


def _is_flat_property_filter(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type", "event") in ("event", "person", "group") and "key" in item


def _event_of(selector: Any) -> str:
    return str(selector.get("event") or "") if isinstance(selector, dict) else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _default_interval(kind: str) -> str:
    return {"retention": "week", "stickiness": "week", "lifecycle": "week"}.get(kind, "day")


def _with_blank_rows(form: BuilderForm) -> BuilderForm:
    if form.kind == "segmentation" and not form.series:
        form.series.append(SeriesRow())
    if form.kind == "funnel":
        form.steps += [""] * max(0, 2 - len(form.steps))
    if form.kind in ACTIVITY_KINDS and not form.active_events:
        form.active_events.append("")
    return form
