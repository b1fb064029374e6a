"""Validation and normalization of incoming events: one pass of SQL over a batch, shared by every entry
point (the HTTP API, the vendor endpoints, `sextant import`).

Good events come out in `NORMALIZED_SCHEMA`, with a uuid, a skew-corrected UTC timestamp and their
warnings. Bad events come out as `Rejection`s that name the field and the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sextant.ingest import fields, scratch
from sextant.ingest.fields import JSON, FieldSource
from sextant.project import IngestSettings

EVENT_FIELDS = (
    "event",
    "timestamp",
    "sent_at",
    "distinct_id",
    "user_id",
    "device_id",
    "insert_id",
    "session_id",
    "uuid",
    "properties",
    "person_properties",
    "person_updates",
    "previous_id",
    "groups",
    "group_properties",
)
# Person property operations, applied in this order within an event (see persons.apply_updates).
PERSON_OPERATIONS = ("$set_once", "$set", "$add", "$append", "$prepend", "$remove", "$unset")
# Accepted inside event documents without a warning, but not stored.
ENVELOPE_FIELDS = ("api_key",)
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 200

WARNING_TYPE = pa.struct([("kind", pa.string()), ("field", pa.string()), ("message", pa.string())])
NORMALIZED_SCHEMA = pa.schema(
    [
        ("uuid", pa.string()),
        ("insert_id", pa.string()),
        ("event", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("distinct_id", pa.string()),
        ("user_id", pa.string()),
        ("device_id", pa.string()),
        ("session_id", pa.string()),
        ("properties", pa.string()),
        # Person property operations carried by the event, e.g. {"$set": {...}}; NULL when none.
        ("person_updates", pa.string()),
        # Another distinct id of the same person (an anonymous id before sign-up, or an alias).
        ("previous_id", pa.string()),
        ("groups", pa.string()),
        # Properties to set on the event's groups: {"organization": {"name": "Acme"}}; NULL when none.
        ("group_updates", pa.string()),
        ("source", pa.string()),
        ("warnings", pa.list_(WARNING_TYPE)),
    ]
)


@dataclass(frozen=True)
class Rejection:
    index: int
    field: str
    reason: str


# The reason `_document_stage` gives an event over `max_event_bytes`.
_OVER_EVENT_LIMIT = re.compile(r"the event is \d+ bytes; the limit is \d+ bytes")


def over_event_limit(rejections: Sequence[Rejection], events: int) -> bool:
    """Whether a request's `events` events were all refused, each only for being over the event size limit:
    such a request is too large (413) rather than invalid (400), since no field of it can be fixed."""
    return 0 < events == len(rejections) and all(
        rejection.field == "(event)" and _OVER_EVENT_LIMIT.fullmatch(rejection.reason) for rejection in rejections
    )


@dataclass
class NormalizedBatch:
    events: pa.Table
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What is known about a batch besides its events."""

    received_at: dt.datetime
    source: str
    settings: IngestSettings
    first_index: int = 0  # the position of the batch's first row in its request or file


@dataclass(frozen=True)
class Input:
    """Where a batch's fields come from: a relation named `input_rows` and an expression per field."""

    fields: Mapping[str, FieldSource]
    # When events arrive as JSON text in a `document` column: the key in the document of each field.
    # Adds the size, object and unknown-field checks.
    document_keys: Mapping[str, str] | None = None
    # Typed columns folded into `properties`: property name -> SQL.
    extra_properties: Mapping[str, str] = field(default_factory=dict)


def document_input(mapping: Mapping[str, str] | None = None) -> Input:
    """Events as JSON text in a `document` column; `mapping` renames fields (event -> key in the document).
    The document stage reads every field's JSON type (`types`), the text of the fields that are not objects
    (`texts`: strings unquoted, other values as JSON) and the JSON of the object fields (`fragments`), so that
    no field's value is parsed again."""
    mapping = mapping or {}
    fields = {}
    for number, name in enumerate(EVENT_FIELDS, 1):
        if name in _OBJECT_FIELDS:
            fragment = f"fragments[{_OBJECT_FIELDS.index(name) + 1}]"
            fields[name] = FieldSource(fragment, JSON, json_type=f"types[{number}]")
        else:
            # A JSON null's text is 'null', as the JSON's own text would be (json_extract_string gives NULL).
            text = f"CASE WHEN types[{number}] = 'NULL' THEN 'null' ELSE texts[{_SCALAR_FIELDS.index(name) + 1}] END"
            # Rules for fields that are not objects read only the type and the text, never the JSON itself.
            fields[name] = FieldSource("CAST(NULL AS JSON)", JSON, json_type=f"types[{number}]", json_text=text)
    return Input(fields=fields, document_keys={name: mapping.get(name, name) for name in EVENT_FIELDS})


def _document_stage(keys: Mapping[str, str], settings: IngestSettings) -> str:
    """The first stage for JSON documents: each is read five times by DuckDB's JSON parser (validity, the
    object fields, the types, the other fields' texts, the keys) and never again; the document itself goes
    no further. Reading the types and texts from the document costs less than parsing each field again."""
    paths = ", ".join(_json_path(keys[name]) for name in EVENT_FIELDS)
    objects = ", ".join(_json_path(keys[name]) for name in _OBJECT_FIELDS)
    scalars = ", ".join(_json_path(keys[name]) for name in _SCALAR_FIELDS)
    known = ", ".join(f"'{name}'" for name in (*EVENT_FIELDS, *ENVELOPE_FIELDS))
    limit = settings.max_event_bytes
    return f"""
    SELECT row_index, request, received_at, source, document_error,
        CASE WHEN document_error IS NULL THEN json_extract(document, [{objects}]) END AS fragments,
        CASE WHEN document_error IS NULL THEN json_type(document, [{paths}]) END AS types,
        CASE WHEN document_error IS NULL THEN json_extract_string(document, [{scalars}]) END AS texts,
        CASE WHEN document_error IS NULL
            THEN list_filter(json_keys(document), lambda key: NOT list_contains([{known}], key)) ELSE [] END
            AS unknown_fields
    FROM (
        SELECT *, CASE WHEN NOT json_valid(document) THEN 'the event is not valid JSON'
            WHEN left(ltrim(document), 1) <> '{{' THEN 'the event must be a JSON object, not '
                || json_type_name(json_type(document))
            WHEN strlen(document) > {limit}
                THEN 'the event is ' || strlen(document) || ' bytes; the limit is {limit} bytes'
            END AS document_error
        FROM input_rows
    )
"""


def column_input(schema: pa.Schema, mapping: Mapping[str, str] | None = None) -> Input:
    """Events as rows of typed columns. Columns that are not mapped to a field become properties."""
    mapping = {name: column for name, column in (mapping or {}).items()}
    for name in EVENT_FIELDS:
        if name not in mapping and name in schema.names:
            mapping[name] = name
    kinds = duckdb_kinds(schema)
    sources = {
        name: FieldSource(
            _identifier(column),
            kinds[column],
            column=column if pa.types.is_string(schema.field(column).type) else None,
        )
        for name, column in mapping.items()
    }
    used = set(mapping.values())
    extra = {column: _identifier(column) for column in schema.names if column not in used}
    return Input(fields=sources, extra_properties=extra)


def _identifier(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _json_path(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return exp.Literal.string(f'$."{escaped}"').sql("duckdb")


def duckdb_kinds(schema: pa.Schema) -> dict[str, str]:
    described = scratch.run("DESCRIBE SELECT * FROM empty", {"empty": schema.empty_table()})
    return dict(zip(described.column(0).to_pylist(), map(str, described.column(1).to_pylist()), strict=True))


# Each field's rule and length limit; the order is the order in which errors are reported.
RULES: dict[str, tuple[fields.Rule, int]] = {
    "event": (fields.Rule.NAME, MAX_NAME_LENGTH),
    "timestamp": (fields.Rule.TIMESTAMP, 0),
    "sent_at": (fields.Rule.TIMESTAMP, 0),
    "distinct_id": (fields.Rule.TEXT, MAX_ID_LENGTH),
    "user_id": (fields.Rule.TEXT, MAX_ID_LENGTH),
    "device_id": (fields.Rule.TEXT, MAX_ID_LENGTH),
    "insert_id": (fields.Rule.TEXT, MAX_ID_LENGTH),
    "session_id": (fields.Rule.TEXT, MAX_ID_LENGTH),
    "uuid": (fields.Rule.UUID, 0),
    "properties": (fields.Rule.OBJECT, 0),
    "person_properties": (fields.Rule.OBJECT, 0),
    "person_updates": (fields.Rule.OBJECT, 0),
    "previous_id": (fields.Rule.TEXT, MAX_ID_LENGTH),
    "groups": (fields.Rule.OBJECT, 0),
    "group_properties": (fields.Rule.OBJECT, 0),
}
# The fields that hold JSON objects; the document stage keeps their JSON, and only the text of the others.
_OBJECT_FIELDS = tuple(name for name, (rule, _) in RULES.items() if rule is fields.Rule.OBJECT)
_SCALAR_FIELDS = tuple(name for name in EVENT_FIELDS if name not in _OBJECT_FIELDS)


# The normalized text fields: each one's value in the query's last stage. An event without an insert_id
# is deduplicated on its uuid if the client chose one (design decision 4), never on one Sextant makes.
_TEXT_OUTPUTS = {
    "insert_id": "COALESCE(insert_id_value, CAST(TRY_CAST(NULLIF(uuid_text, '') AS UUID) AS VARCHAR))",
    "event": "event_value",
    "distinct_id": "identity_value",
    "user_id": "user_id_value",
    "device_id": "device_id_value",
    "session_id": "session_id_value",
    "properties": "properties",
    "previous_id": "previous_id_value",
    "groups": "CAST(groups_value AS VARCHAR)",
}


def _passed_through(source: Input) -> dict[str, str]:
    """The text fields read from an input text column as they are (field -> column): where the normalized
    value is the column's text, `normalize` takes the column instead of DuckDB's export of the same strings
    (about a tenth of the query's CPU on Parquet demo events)."""
    return {
        name: field_source.column
        for name, field_source in source.fields.items()
        if name in _TEXT_OUTPUTS and field_source.column is not None and field_source.kind == "VARCHAR"
    }


def _text_output(name: str, passed_through: bool) -> str:
    """The SELECT item of a text field; a passed-through field is exported only where it differs from the
    input, and `<name>_replaced` says where."""
    value = _TEXT_OUTPUTS[name]
    if not passed_through:
        return f"{value} AS {name}"
    differs = f"{value} IS DISTINCT FROM {name}_raw"
    return f"CASE WHEN {differs} THEN {value} END AS {name}, {differs} AS {name}_replaced"


def build_query(source: Input, settings: IngestSettings) -> str:
    """The normalization query over `input_rows`, which holds the columns `source` reads and `REQUEST_COLUMNS`."""
    missing = FieldSource("CAST(NULL AS JSON)", JSON)
    sources = {name: source.fields.get(name, missing) for name in RULES}
    extracted = [item for name, field_source in sources.items() for item in fields.extract(name, field_source)]
    converted = [fields.convert(name, rule, sources[name].kind) for name, (rule, _) in RULES.items()]
    checked = [fields.check(name, rule, sources[name].kind, limit) for name, (rule, limit) in RULES.items()]

    extra = ", ".join(f"{exp.Literal.string(k).sql('duckdb')}, {v}" for k, v in source.extra_properties.items())
    extra_properties = f"json_object({extra})" if extra else "CAST(NULL AS JSON)"
    properties = "json_merge_patch(extra_properties, properties_value)" if extra else "properties_value"

    operations = ", ".join(f"'{operation}'" for operation in PERSON_OPERATIONS)
    unknown_operations = (
        f"list_filter(json_keys(person_updates_value), lambda key: NOT list_contains([{operations}], key))"
    )
    operations_error = (
        f"CASE WHEN len({unknown_operations}) > 0 THEN 'person_updates has unknown operation(s) ' || "
        f"array_to_string({unknown_operations}, ', ') || '; use {', '.join(PERSON_OPERATIONS)}' END"
    )
    errors = ["document_error", *(f"{name}_error" for name in RULES), "operations_error"]
    labels = ["(event)", *RULES, "person_updates"]
    error_field = (
        "CASE "
        + " ".join(f"WHEN {error} IS NOT NULL THEN '{label}'" for error, label in zip(errors, labels, strict=True))
        + " WHEN identity_value IS NULL THEN 'distinct_id' WHEN event_value IS NULL THEN 'event' END"
    )
    error_reason = (
        f"COALESCE({', '.join(errors)}, "
        "CASE WHEN identity_value IS NULL THEN 'one of distinct_id, user_id or device_id is required' END, "
        "CASE WHEN event_value IS NULL THEN 'event is required' END)"
    )
    tolerance = f"INTERVAL {settings.future_tolerance} SECOND"
    large = settings.large_properties_bytes
    in_future = f"corrected > received_at + {tolerance}"
    large_properties = f"strlen(properties) > {large}"
    warning_list = (
        "list_filter(["
        f"CASE WHEN {in_future} THEN {{'kind': 'timestamp_in_future', "
        "'field': 'timestamp', 'message': 'timestamp ' || CAST(corrected AS VARCHAR) || ' is ahead of the "
        "server clock; the event was stored at its receive time'} END, "
        f"CASE WHEN {large_properties} THEN {{'kind': 'large_properties', 'field': 'properties', "
        f"'message': 'properties are ' || strlen(properties) || ' bytes, over the {large} byte warning size'}} END, "
        "CASE WHEN len(unknown_fields) > 0 THEN {'kind': 'unknown_field', 'field': array_to_string(unknown_fields, "
        "', '), 'message': 'unknown field(s) ' || array_to_string(unknown_fields, ', ') || ' were ignored; put "
        "custom data in properties'} END"
        "], lambda w: w IS NOT NULL)"
    )
    # Most events have no warning: the list is built only for those that do.
    warnings = (
        f"CASE WHEN {in_future} OR {large_properties} OR len(unknown_fields) > 0 THEN {warning_list} "
        "ELSE CAST([] AS STRUCT(kind VARCHAR, field VARCHAR, message VARCHAR)[]) END"
    )
    passed = _passed_through(source)
    text = {name: _text_output(name, name in passed) for name in _TEXT_OUTPUTS}
    first_stage = "SELECT * FROM input_rows"
    document_checks = "CAST(NULL AS VARCHAR) AS document_error, CAST([] AS VARCHAR[]) AS unknown_fields"
    if source.document_keys:
        first_stage, document_checks = _document_stage(source.document_keys, settings), "document_error, unknown_fields"
    # The stages are inlined, not materialized: DuckDB keeps each as its own projection, so no expression is
    # evaluated twice, and materializing copied every wide row four more times (7x the intermediate bytes).
    return f"""
WITH prepared AS ({first_stage}
), extracted AS (
    SELECT row_index, request, received_at, source, {document_checks},
        {extra_properties} AS extra_properties, {", ".join(extracted)}
    FROM prepared
), converted AS (
    SELECT *, {", ".join(converted)} FROM extracted
), checked AS (
    SELECT *, {", ".join(checked)}, {operations_error} AS operations_error,
        COALESCE(distinct_id_value, user_id_value, device_id_value) AS identity_value,
        CASE WHEN timestamp_value IS NOT NULL AND sent_at_value IS NOT NULL
            THEN received_at - (sent_at_value - timestamp_value)
            ELSE COALESCE(timestamp_value, received_at) END AS corrected,
        CAST({properties} AS VARCHAR) AS properties
    FROM converted
)
SELECT
    request,
    row_index,
    CAST(uuid_value AS VARCHAR) AS uuid,
    {text["insert_id"]},
    {text["event"]},
    CASE WHEN {in_future} THEN received_at ELSE corrected END AS timestamp,
    received_at,
    {text["distinct_id"]},
    {text["user_id"]},
    {text["device_id"]},
    {text["session_id"]},
    {text["properties"]},
    CAST(CASE
        WHEN person_properties_value = JSON '{{}}' THEN NULLIF(person_updates_value, JSON '{{}}')
        ELSE json_merge_patch(person_updates_value, json_object('$set', json_merge_patch(
            COALESCE(json_extract(person_updates_value, '$."$set"'), JSON '{{}}'), person_properties_value)))
        END AS VARCHAR) AS person_updates,
    {text["previous_id"]},
    {text["groups"]},
    CAST(NULLIF(group_properties_value, JSON '{{}}') AS VARCHAR) AS group_updates,
    source,
    {warnings} AS warnings,
    {error_field} AS error_field,
    {error_reason} AS error_reason
FROM checked
"""


REQUEST_COLUMNS = ("request", "row_index", "received_at", "source")


def conform(batch: pa.Table) -> pa.Table:
    """A batch from an older spool, with the columns this version added filled with NULLs."""
    for field_ in NORMALIZED_SCHEMA:
        if field_.name not in batch.column_names:
            batch = batch.append_column(field_, pa.nulls(batch.num_rows, field_.type))
    return batch.select(NORMALIZED_SCHEMA.names).cast(NORMALIZED_SCHEMA)


def with_context(rows: pa.Table, context: Context, request: int = 0) -> pa.Table:
    """Add the columns that tell `normalize` which request each row came from, and when."""
    count = rows.num_rows
    positions = np.arange(context.first_index, context.first_index + count, dtype=np.int64)
    micros = int(context.received_at.timestamp() * 1_000_000)
    timestamp_type = pa.timestamp("us", tz="UTC")
    columns = {
        "request": pa.array(np.full(count, request, dtype=np.int64)),
        "row_index": pa.array(positions),
        "received_at": pa.array(np.full(count, micros, dtype=np.int64)).cast(timestamp_type),
        "source": pa.DictionaryArray.from_arrays(pa.array(np.zeros(count, dtype=np.int32)), [context.source]),
    }
    for name, column in columns.items():
        rows = rows.append_column(name, column)
    return rows


def normalize(input_rows: pa.Table, source: Input, settings: IngestSettings) -> tuple[pa.Table, pa.Table]:
    """Check and convert a batch. `input_rows` holds the columns `source` reads plus `REQUEST_COLUMNS`
    (see `with_context`). Returns the good events (`NORMALIZED_SCHEMA` after `request` and `row_index`)
    and the rejected rows (request, row_index, error_field, error_reason)."""
    result = scratch.run(build_query(source, settings), {"input_rows": input_rows})
    passed = _passed_through(source)
    if passed:
        result = _with_input_columns(result, input_rows, passed)
    result = _in_input_order(result, input_rows)
    bad = pc.is_valid(result.column("error_reason"))
    rejected = result.filter(bad).select(["request", "row_index", "error_field", "error_reason"])
    good = result.filter(pc.invert(bad)) if rejected.num_rows else result  # filtering copies every column
    return good.select(["request", "row_index", *NORMALIZED_SCHEMA.names]).cast(
        pa.schema([("request", pa.int64()), ("row_index", pa.int64()), *NORMALIZED_SCHEMA])
    ), rejected


def _with_input_columns(result: pa.Table, input_rows: pa.Table, passed: Mapping[str, str]) -> pa.Table:
    """`result` with each passed-through field (field -> input column) taken from the input where the query
    did not replace it. DuckDB may return a projection's rows in another order than its Arrow input's (it did
    for a 46,521-row demo chunk), so the input rows are matched to the result's by `row_index`."""
    inputs = input_rows.select(list(dict.fromkeys(passed.values())))
    if not result.column("row_index").equals(input_rows.column("row_index")):
        inputs = inputs.take(pc.index_in(result.column("row_index"), value_set=input_rows.column("row_index")))
    for name, column in passed.items():
        replaced = result.column(f"{name}_replaced")
        given = inputs.column(column)
        value = pc.if_else(replaced, result.column(name), given) if pc.any(replaced).as_py() else given
        result = result.set_column(result.schema.get_field_index(name), name, value)
    return result


def _in_input_order(result: pa.Table, input_rows: pa.Table) -> pa.Table:
    """`result` in the order of its input rows, which `with_context` numbers by request and position as they
    arrived. The store takes a batch's events that share a timestamp in the order of its rows (person and
    group updates, which copy of a duplicate is kept), and DuckDB may return a projection's rows in another
    order than its Arrow input's."""
    if result.column("row_index").equals(input_rows.column("row_index")) and result.column("request").equals(
        input_rows.column("request")
    ):
        return result
    return result.take(pc.sort_indices(result, [("request", "ascending"), ("row_index", "ascending")]))


def rejections(rejected: pa.Table) -> list[Rejection]:
    return [Rejection(row["row_index"], row["error_field"], row["error_reason"]) for row in rejected.to_pylist()]


def normalize_documents(documents: list[str], context: Context) -> NormalizedBatch:
    """Events that arrived as JSON documents (one string per event), as one request."""
    rows = with_context(pa.table({"document": pa.array(documents, pa.string())}), context)
    good, rejected = normalize(rows, document_input(), context.settings)
    return NormalizedBatch(good.drop_columns(["request", "row_index"]), rejections(rejected))
