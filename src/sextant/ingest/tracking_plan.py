"""The tracking plan (`tracking_plan.yaml`, the seeds' "data map"), applied to every normalized batch.

It names events in object-action Proper Case (`SearchSubmitted` -> `Search Submitted`, keeping the original
in a property), drops denied events (counted per name), derives properties (a JSON path into another
property, a table keyed by event name, a regex), splits page URLs and referrers for web analytics, and
checks events and properties against the plan with a policy: accept, flag (a warning) or reject.
Query-time transformations (rename, merge, hide) are kept here and applied by queries, not to stored data.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlglot import exp

from sextant.errors import ConfigError
from sextant.ingest import scratch

DENIED = "denied_event"
Policy = Literal["accept", "flag", "reject"]
JSON_TYPES = {
    "string": ("VARCHAR",),
    "number": ("BIGINT", "UBIGINT", "DOUBLE"),
    "integer": ("BIGINT", "UBIGINT"),
    "boolean": ("BOOLEAN",),
    "object": ("OBJECT",),
    "array": ("ARRAY",),
}
URL_PROPERTIES = ("$current_url", "url")
REFERRER_PROPERTIES = ("$referrer", "referrer")
UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class PropertySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    type: Literal["string", "number", "integer", "boolean", "object", "array", "any"] = "any"
    required: bool = False
    allowed: list[str | int | float | bool] | None = None


class EventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    owner: str = ""
    category: str = ""
    status: Literal["active", "inactive"] = "active"
    properties: dict[str, PropertySpec] = {}


class DerivedProperty(BaseModel):
    """One of: `from` + `path` (JSON path into that property), `event_map` (event name -> value), or
    `from` + `regex` (the first group of a match)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    property: str
    source: str | None = Field(default=None, alias="from")
    path: str | None = None
    event_map: dict[str, str] | None = None
    regex: str | None = None
    events: list[str] | None = None  # limit to these events (as sent)

    @field_validator("path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$"):
            raise ValueError(f"path {value!r} must be a JSON path starting with $, e.g. $.code_search.results")
        return value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class Transformations(BaseModel):
    """Applied by queries, retroactively, without rewriting stored events."""

    model_config = ConfigDict(extra="forbid")
    rename_events: dict[str, str] = {}
    merge_events: dict[str, list[str]] = {}  # shown name -> stored names
    hide_events: list[str] = []
    rename_values: dict[str, dict[str, str]] = {}  # property -> {stored value: shown value}


class Naming(BaseModel):
    model_config = ConfigDict(extra="forbid")
    convention: Literal["proper_case", "off"] = "proper_case"
    original_property: str = "$original_event"


class TrackingPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    naming: Naming = Naming()
    unplanned: Policy = "accept"  # for events and properties that the plan does not list
    deny: list[str] = []  # event names (as sent or as stored); * and ? match anything
    events: dict[str, EventSpec] = {}
    derived: list[DerivedProperty] = []
    transformations: Transformations = Transformations()

    def stored_name(self, name: str) -> str:
        return proper_case(name) if self.naming.convention == "proper_case" else name

    def denies(self, name: str) -> bool:
        return any(
            fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(self.stored_name(name), pattern)
            for pattern in self.deny
        )


def shown_event(plan: TrackingPlan, column: exp.Expr) -> exp.Expr:
    """The event name queries show for a stored name column: renamed or merged by the plan's
    transformations (hidden events are filtered with `hidden_events`)."""
    transforms = plan.transformations
    mapping = {stored: shown for shown, names in transforms.merge_events.items() for stored in names}
    mapping.update({stored: shown for stored, shown in transforms.rename_events.items() if stored not in mapping})
    if not mapping:
        return column
    case = exp.Case()
    for stored, shown in mapping.items():
        case = case.when(column.copy().eq(exp.Literal.string(stored)), exp.Literal.string(shown))
    return case.else_(column)


def hidden_events(plan: TrackingPlan, column: exp.Expr) -> exp.Expr | None:
    """A condition that keeps hidden events out of query results (None when nothing is hidden)."""
    hidden = plan.transformations.hide_events
    if not hidden:
        return None
    return exp.not_(column.isin(*(exp.Literal.string(name) for name in hidden)))


def shown_value(plan: TrackingPlan, prop: str, value: exp.Expr) -> exp.Expr:
    """A property value as queries show it, after the plan's `rename_values` for that property."""
    renames = plan.transformations.rename_values.get(prop)
    if not renames:
        return value
    case = exp.Case()
    for stored, shown in renames.items():
        case = case.when(value.copy().eq(exp.Literal.string(stored)), exp.Literal.string(shown))
    return case.else_(value)


def proper_case(name: str) -> str:
    """`SearchSubmitted`, `search_submitted` and `search-submitted` -> `Search Submitted`. Names that have
    spaces or start with `$` (vendor events such as `$pageview`) are kept; a `:suffix` is kept as it is."""
    if not name or name.startswith("$") or " " in name:
        return name
    head, colon, tail = name.partition(":")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\-]+", " ", head).split()
    return " ".join(word[:1].upper() + word[1:] for word in words) + colon + tail


class PlanFile:
    """The project's tracking plan, reloaded when the file changes (it is meant to live in git)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._plan = TrackingPlan()

    @property
    def plan(self) -> TrackingPlan:
        stamp = self.path.stat().st_mtime if self.path.exists() else None
        if stamp != self._stamp:
            self._plan = load(self.path)
            self._stamp = stamp
        return self._plan


def load(path: Path) -> TrackingPlan:
    if not path.exists():
        return TrackingPlan()
    try:
        return TrackingPlan.model_validate(yaml.safe_load(path.read_text()) or {})
    except (yaml.YAMLError, ValidationError, re.error) as error:
        raise ConfigError(f"{path} is invalid: {error}") from None


def _literal(value: str) -> str:
    return exp.Literal.string(value).sql("duckdb")


def _property_path(name: str) -> str:
    return _literal('$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"')


def apply(batch: pa.Table, plan: TrackingPlan, *, every_row: bool = False) -> tuple[pa.Table, pa.Table]:
    """Apply the plan to normalized events (with `request` and `row_index`). Returns the events, renamed
    and enriched, with plan warnings (denied events carry a `denied_event` warning; the store drops and
    counts them), and the rows the plan rejects (request, row_index, error_field, error_reason).

    Only the rows the plan can change go through its query, and only their event names, properties and
    warnings are replaced; the other rows and columns are passed on as they are. `every_row` sends every
    row through the query: the reference that tests compare this with."""
    names = sorted(set(pc.unique(batch.column("event")).to_pylist()))
    specs = {name: plan.events.get(plan.stored_name(name)) for name in names}
    has_plan = bool(plan.events)
    table = pa.table(
        {
            "original": pa.array(names, pa.string()),
            "stored": pa.array([plan.stored_name(name) for name in names], pa.string()),
            "denied": pa.array([plan.denies(name) for name in names], pa.bool_()),
            "planned": pa.array([spec is not None or not has_plan for spec in specs.values()], pa.bool_()),
            "inactive": pa.array(
                [spec is not None and spec.status == "inactive" for spec in specs.values()], pa.bool_()
            ),
        }
    )
    changeable = pa.chunked_array([np.ones(batch.num_rows, bool)]) if every_row else _changeable(batch, plan, specs)
    if not pc.any(changeable).as_py():
        return batch, _REJECTED.empty_table()
    positions = pa.array(np.arange(batch.num_rows, dtype=np.int64))
    rows = pa.table(
        {"position": positions, **{name: batch.column(name) for name in ("event", "properties", "warnings")}}
    ).filter(changeable)
    changed = scratch.run(_query(plan, specs), {"batch": rows, "names": table})
    # Each column is replaced only where the plan changed it: most changeable rows change one of them.
    columns = {
        name: _replaced(batch.column(name), changed.filter(changed.column(f"{name}_changed")), name)
        for name in _CHANGED
    }
    events = pa.table(
        [columns.get(name, column) for name, column in zip(batch.column_names, batch.columns, strict=True)],
        schema=batch.schema,
    )
    bad = pc.is_valid(changed.column("error_reason"))
    if not pc.any(bad).as_py():
        return events, _REJECTED.empty_table()
    refused = changed.filter(bad)
    refused_positions = refused.column("position")
    rejected = pa.table(
        {
            "request": batch.column("request").take(refused_positions),
            "row_index": batch.column("row_index").take(refused_positions),
            "error_field": refused.column("error_field"),
            "error_reason": refused.column("error_reason"),
        },
        _REJECTED,
    )
    return events.filter(pc.invert(pc.is_in(positions, value_set=refused_positions))), rejected


def denied_mask(warnings: pa.ChunkedArray) -> np.ndarray:
    """Which events carry the deny list's warning (`apply` adds it; the store drops and counts them)."""
    lists = warnings.combine_chunks()
    denied = np.zeros(len(lists), dtype=bool)
    kinds = pc.struct_field(pc.list_flatten(lists), "kind")
    if len(kinds):
        hits = pc.equal(kinds, DENIED).to_numpy(zero_copy_only=False)
        denied[pc.list_parent_indices(lists).to_numpy()[hits]] = True
    return denied


def denied_reasons(warnings: pa.ChunkedArray) -> pa.Table:
    """The deny list's warnings among events' warnings, counted: columns `reason` and `events`."""
    return scratch.run(
        f"""
        SELECT warning.message AS reason, count(*) AS events
        FROM (SELECT unnest(warnings) AS warning FROM events) WHERE warning.kind = '{DENIED}'
        GROUP BY ALL ORDER BY reason
        """,
        {"events": pa.table({"warnings": warnings})},
    )


_CHANGED = ("event", "properties", "warnings")
_REJECTED = pa.schema(
    [("request", pa.int64()), ("row_index", pa.int64()), ("error_field", pa.string()), ("error_reason", pa.string())]
)


def _changeable(batch: pa.Table, plan: TrackingPlan, specs: dict[str, EventSpec | None]) -> pa.ChunkedArray:
    """The rows the plan can change: those of events it renames, denies, marks inactive, maps to a derived
    value or (under a flag or reject policy) checks, and those whose properties hold a key it derives from."""
    checked = bool(plan.events) and plan.unplanned != "accept"
    mapped = {name for rule in plan.derived for name in rule.event_map or {}}
    changed_names = [
        name
        for name, spec in specs.items()
        if checked
        or name in mapped
        or plan.stored_name(name) != name
        or plan.denies(name)
        or (spec is not None and spec.status == "inactive")
    ]
    # Arrow compute, not a query: DuckDB may return a projection's rows in another order than its input's, and
    # a mask must line up with the batch (a 46,521-row demo chunk had 5,491 rows' masks swapped).
    changeable = pc.is_in(batch.column("event"), value_set=pa.array(changed_names, pa.string()))
    # One regular expression for all the keys: a pass of Arrow's substring match per key took three times
    # as long (104 against 34 ms per 245,760 demo rows for the two URL keys).
    keys = "|".join(re.escape(_quoted(key)) for key in sorted(_source_keys(plan)))
    changeable = pc.or_kleene(changeable, pc.match_substring_regex(batch.column("properties"), keys))
    return pc.fill_null(changeable, False)


def _replaced(column: pa.ChunkedArray, changed: pa.Table, name: str) -> pa.ChunkedArray:
    """`column` with the rows at `changed`'s positions replaced by its column `name`."""
    if changed.num_rows == 0:
        return column
    values = changed.column(name).cast(column.type)
    positions = changed.column("position").to_numpy()
    if not pa.types.is_list(column.type):
        mask = np.zeros(len(column), dtype=bool)
        mask[positions] = True
        return pc.replace_with_mask(column, pa.array(mask), values.combine_chunks())
    # replace_with_mask has no kernel for lists; the warnings lists are small, so a take is cheap.
    index = np.arange(len(column), dtype=np.int64)
    index[positions] = len(column) + np.arange(len(positions), dtype=np.int64)
    return pa.chunked_array([*column.chunks, *values.chunks], column.type).take(index)


def _query(plan: TrackingPlan, specs: dict[str, EventSpec | None]) -> str:
    """The plan's SQL over `batch` (position, event, properties, warnings) joined to `names` (the batch's
    event names with what the plan says of each): per row, its new event, properties and warnings (each with
    whether it changed), and why the plan rejects it (NULL when it does not); in position order."""
    has_plan = bool(plan.events)
    derived = _derived(plan)
    values, keys, checks = _checks(specs) if has_plan else ("NULL", "NULL", [])
    reject = str(plan.unplanned == "reject").lower()
    problems = " || ".join(checks) if checks else "''"
    original = _literal(plan.naming.original_property)
    flag = str(plan.unplanned == "flag").lower()
    return f"""
        WITH renamed AS (
            SELECT batch.*, names.stored, names.denied, names.planned, names.inactive, batch.properties AS props
            FROM batch JOIN names ON batch.event = names.original
        ), gaining AS MATERIALIZED (
            -- Only events that may gain a property pay for re-writing their properties.
            SELECT position, event, stored, props, {_page_columns()} FROM renamed
            WHERE stored <> event OR {_may_gain(plan)}
        ), enriched AS MATERIALIZED (
            -- Values the event already has win over derived ones; patching {{}} first drops NULL ones.
            SELECT position, CAST(json_merge_patch(CAST(props AS JSON), json_merge_patch(JSON '{{}}',
                json_object({original}, CASE WHEN stored <> event THEN event END, {derived}))) AS VARCHAR)
                AS enriched_props
            FROM gaining
        ), checked AS (
            SELECT *,
                CASE WHEN NOT planned THEN 'event ' || stored || ' is not in the tracking plan' END AS unplanned,
                NULLIF({problems}, '') AS problems
            FROM (SELECT *, {values} AS planned_values, {keys} AS property_keys FROM renamed)
        )
        SELECT checked.position, stored AS event, stored <> checked.event AS event_changed,
            COALESCE(enriched_props, properties) AS properties, enriched_props IS NOT NULL AS properties_changed,
            denied OR inactive OR unplanned IS NOT NULL OR problems IS NOT NULL AS warnings_changed,
            CASE WHEN NOT (denied OR inactive OR unplanned IS NOT NULL OR problems IS NOT NULL) THEN warnings
            ELSE list_concat(warnings, list_filter([
                CASE WHEN denied THEN {{'kind': '{DENIED}', 'field': 'event',
                    'message': 'event ' || event || ' is on the deny list'}} END,
                CASE WHEN inactive THEN {{'kind': 'inactive_event', 'field': 'event',
                    'message': 'event ' || stored || ' is marked inactive in the tracking plan'}} END,
                CASE WHEN {flag} AND unplanned IS NOT NULL
                    THEN {{'kind': 'unplanned_event', 'field': 'event', 'message': unplanned}} END,
                CASE WHEN {flag} AND problems IS NOT NULL
                    THEN {{'kind': 'tracking_plan', 'field': 'properties', 'message': rtrim(problems, '; ')}} END
            ], lambda w: w IS NOT NULL)) END AS warnings,
            CASE WHEN {reject} AND NOT denied AND unplanned IS NOT NULL THEN 'event'
                 WHEN {reject} AND NOT denied AND problems IS NOT NULL THEN 'properties'
                 END AS error_field,
            CASE WHEN {reject} AND NOT denied THEN COALESCE(unplanned, rtrim(problems, '; ')) END AS error_reason
        FROM checked LEFT JOIN enriched ON checked.position = enriched.position
        ORDER BY checked.position
        """


def _source_keys(plan: TrackingPlan) -> set[str]:
    """Properties whose presence lets an event gain a derived or web analytics property."""
    return {*URL_PROPERTIES, *(rule.source for rule in plan.derived if rule.source)}


def _may_gain(plan: TrackingPlan) -> str:
    """A cheap test on the properties' text: could this event gain a derived or web analytics property?"""
    tests = [f"contains(properties, {_literal(_quoted(key))})" for key in sorted(_source_keys(plan))]
    mapped = [name for rule in plan.derived if rule.event_map for name in rule.event_map]
    if mapped:
        tests.append(f"event IN ({', '.join(_literal(name) for name in mapped)})")
    return "(" + " OR ".join(tests) + ")"


def _derived(plan: TrackingPlan) -> str:
    """json_object arguments: derived properties, then the web analytics ones. Values already present in the
    event are kept."""
    items: list[tuple[str, str]] = []
    for rule in plan.derived:
        if rule.event_map:
            cases = " ".join(
                f"WHEN event = {_literal(name)} THEN {_literal(value)}" for name, value in rule.event_map.items()
            )
            value = f"CASE {cases} END"
        elif rule.source and rule.path:
            value = f"json_extract(props, {_literal(rule.path.replace('$', '$.' + _quoted(rule.source), 1))})"
        elif rule.source and rule.regex:
            value = (
                f"NULLIF(regexp_extract(json_extract_string(props, {_property_path(rule.source)}), "
                f"{_literal(rule.regex)}, 1), '')"
            )
        else:
            raise ConfigError(f"derived property {rule.property!r} needs from+path, event_map, or from+regex")
        if rule.events:
            value = f"CASE WHEN event IN ({', '.join(_literal(name) for name in rule.events)}) THEN {value} END"
        items.append((rule.property, value))
    url, referrer = "page_url", "page_referrer"  # columns of the query's `located` stage
    items.append(("$host", f"NULLIF(regexp_extract({url}, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]+)', 1), '')"))
    items.append(("$pathname", f"NULLIF(regexp_extract({url}, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+([^?#]*)', 1), '')"))
    for parameter in UTM_PARAMETERS:
        # Most URLs carry no UTM parameters; a substring test spares them the regex.
        items.append(
            (
                parameter,
                f"CASE WHEN contains({url}, '{parameter}=') THEN "
                f"url_decode(NULLIF(regexp_extract({url}, '[?&]{parameter}=([^&#]*)', 1), '')) END",
            )
        )
    items.append(
        (
            "$referring_domain",
            f"CASE WHEN {url} IS NULL THEN NULL WHEN COALESCE({referrer}, '') = '' "
            f"THEN '$direct' ELSE NULLIF(regexp_extract({referrer}, "
            f"'^[A-Za-z][A-Za-z0-9+.-]*://(?:www\\.)?([^/?#:]+)', 1), '') END",
        )
    )
    absent = "CASE WHEN NOT json_exists(props, {path}) THEN CAST(to_json({value}) AS JSON) END"
    return ", ".join(
        f"{_literal(name)}, {absent.format(path=_property_path(name), value=value)}" for name, value in items
    )


def _page_columns() -> str:
    """The page URL (absolute ones only: a relative URL names no host) and referrer, found once per event."""
    first_url = (
        "COALESCE(" + ", ".join(f"json_extract_string(props, {_property_path(name)})" for name in URL_PROPERTIES) + ")"
    )
    referrer = (
        "COALESCE("
        + ", ".join(f"json_extract_string(props, {_property_path(name)})" for name in REFERRER_PROPERTIES)
        + ")"
    )
    has_url = " OR ".join(f"contains(props, {_literal(chr(34) + name + chr(34))})" for name in URL_PROPERTIES)
    return (
        f"CASE WHEN ({has_url}) AND regexp_matches({first_url}, '^[A-Za-z][A-Za-z0-9+.-]*://') THEN {first_url} END "
        f"AS page_url, CASE WHEN {has_url} THEN {referrer} END AS page_referrer"
    )


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _checks(specs: dict[str, EventSpec | None]) -> tuple[str, str, list[str]]:
    """SQL for the plan's property checks: the planned properties' values of each event (one JSON parse),
    its property names (another), and per planned event a string naming its problems ('' when none)."""
    values, checks = [], []
    for original, spec in specs.items():
        if spec is None:
            continue
        names = list(spec.properties)
        paths = ", ".join(_property_path(name) for name in names)
        if names:
            values.append(f"WHEN event = {_literal(original)} THEN json_extract(props, [{paths}])")
        parts = []
        for number, (name, prop) in enumerate(spec.properties.items(), 1):
            value = f"planned_values[{number}]"
            if prop.required:
                parts.append(f"CASE WHEN {value} IS NULL THEN 'property {name} is required; ' ELSE '' END")
            if prop.type != "any":
                types = ", ".join(f"'{kind}'" for kind in JSON_TYPES[prop.type])
                parts.append(
                    f"CASE WHEN {value} IS NOT NULL AND json_type({value}) NOT IN ({types}, 'NULL') "
                    f"THEN 'property {name} should be a {prop.type}; ' ELSE '' END"
                )
            if prop.allowed is not None:
                allowed = ", ".join(_literal(str(item)) for item in prop.allowed)
                parts.append(
                    f"CASE WHEN {value} IS NOT NULL AND ({value}->>'$') NOT IN ({allowed}) "
                    f"THEN 'property {name} is not one of the allowed values; ' ELSE '' END"
                )
        planned = ", ".join(_literal(name) for name in names) or "''"
        # Properties starting with $ come from SDKs and Sextant itself, not from the plan's authors.
        unplanned = f"list_filter(property_keys, lambda key: NOT key LIKE '$%' AND NOT list_contains([{planned}], key))"
        parts.append(
            f"CASE WHEN len({unplanned}) > 0 THEN 'unplanned properties ' || array_to_string({unplanned}, ', ') "
            "|| '; ' ELSE '' END"
        )
        checks.append(f"CASE WHEN event = {_literal(original)} THEN {' || '.join(parts)} ELSE '' END")
    planned_events = ", ".join(_literal(original) for original, spec in specs.items() if spec is not None) or "''"
    keys = f"CASE WHEN event IN ({planned_events}) THEN json_keys(props) END"
    return (f"CASE {' '.join(values)} END" if values else "NULL"), keys, checks
