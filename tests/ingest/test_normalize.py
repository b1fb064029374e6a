"""Validation and normalization, checked against hand-written expectations and a pure-Python reference."""

from __future__ import annotations

import datetime as dt
import json

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.ingest import normalize, scratch
from sextant.ingest.normalize import Context, normalize_documents
from sextant.project import IngestSettings

RECEIVED = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
SETTINGS = IngestSettings()


def run(*events: object, settings: IngestSettings = SETTINGS) -> normalize.NormalizedBatch:
    documents = [event if isinstance(event, str) else orjson.dumps(event).decode() for event in events]
    return normalize_documents(documents, Context(received_at=RECEIVED, source="api", settings=settings))


def only(batch: normalize.NormalizedBatch) -> dict[str, object]:
    assert batch.rejections == []
    rows = batch.events.to_pylist()
    assert len(rows) == 1
    return rows[0]


def rejection(event: object) -> tuple[str, str]:
    batch = run(event)
    assert batch.events.num_rows == 0
    assert len(batch.rejections) == 1
    return batch.rejections[0].field, batch.rejections[0].reason


@pytest.mark.parametrize(
    ("event", "field", "reason_part"),
    [
        ({"distinct_id": "a"}, "event", "event is required"),
        ({"event": 5, "distinct_id": "a"}, "event", "must be a string, not number"),
        ({"event": "", "distinct_id": "a"}, "event", "event is required"),
        ({"event": "x" * 201, "distinct_id": "a"}, "event", "201 characters long; the limit is 200"),
        ({"event": "e"}, "distinct_id", "one of distinct_id, user_id or device_id is required"),
        ({"event": "e", "distinct_id": {"a": 1}}, "distinct_id", "not object"),
        ({"event": "e", "user_id": [1]}, "user_id", "not array"),
        (
            {"event": "e", "distinct_id": "a", "timestamp": "yesterday"},
            "timestamp",
            '"yesterday" is not a timestamp',
        ),
        ({"event": "e", "distinct_id": "a", "timestamp": 0}, "timestamp", "before 2000-01-01"),
        ({"event": "e", "distinct_id": "a", "timestamp": True}, "timestamp", "true is not a timestamp"),
        ({"event": "e", "distinct_id": "a", "timestamp": 1e30}, "timestamp", "is not a timestamp"),
        ({"event": "e", "distinct_id": "a", "sent_at": "soon"}, "sent_at", '"soon" is not a timestamp'),
        (
            {"event": "e", "distinct_id": "a", "properties": "x"},
            "properties",
            "must be a JSON object, not string",
        ),
        ({"event": "e", "distinct_id": "a", "properties": [1]}, "properties", "not array"),
        ({"event": "e", "distinct_id": "a", "groups": 3}, "groups", "not number"),
        ({"event": "e", "distinct_id": "a", "person_properties": True}, "person_properties", "not boolean"),
        ({"event": "e", "distinct_id": "a", "uuid": "nope"}, "uuid", '"nope" is not a UUID'),
        ({"event": "e", "distinct_id": "a", "insert_id": {"x": 1}}, "insert_id", "not object"),
        ("[1, 2]", "(event)", "must be a JSON object, not array"),
        ('{"event": "e", "distinct_id": ', "(event)", "not valid JSON"),
        ("42", "(event)", "not number"),
    ],
)
def test_rejections_name_the_field_and_reason(event: object, field: str, reason_part: str) -> None:
    got_field, reason = rejection(event)
    assert got_field == field
    assert reason_part in reason


def test_good_events_in_a_batch_are_kept_and_rejections_keep_their_index() -> None:
    batch = run(
        {"event": "a", "distinct_id": "u1"},
        {"event": 1, "distinct_id": "u1"},
        "not json",
        {"event": "b", "distinct_id": "u2"},
    )
    assert batch.events.column("event").to_pylist() == ["a", "b"]
    assert [(r.index, r.field) for r in batch.rejections] == [(1, "event"), (2, "(event)")]


def test_event_size_limit() -> None:
    small = IngestSettings(max_event_bytes=200)
    batch = run(
        {"event": "e", "distinct_id": "a", "properties": {"x": "y" * 300}},
        {"event": "e", "distinct_id": "a"},
        settings=small,
    )
    assert batch.events.num_rows == 1
    assert batch.rejections[0].field == "(event)"
    assert "bytes; the limit is 200 bytes" in batch.rejections[0].reason
    # A request whose only event this was is too large; one with another, accepted event is not.
    assert normalize.over_event_limit(batch.rejections, 1)
    assert not normalize.over_event_limit(batch.rejections, 2)
    assert not normalize.over_event_limit(run({"event": "e"}).rejections, 1)  # refused for another reason


def test_fields_are_converted() -> None:
    row = only(
        run(
            {
                "event": "Signed Up",
                "user_id": 42,
                "device_id": "dev-1",
                "timestamp": "2024-05-01T14:00:00.123+02:00",
                "insert_id": 9,
                "session_id": 1234,
                "properties": {"plan": "pro", "nested": {"a": [1, 2]}},
                "person_properties": {"email": "a@example.com"},
                "groups": {"organization": "org_1"},
            }
        )
    )
    assert row["distinct_id"] == "42"  # user_id wins over device_id when no distinct_id is given
    assert row["user_id"] == "42"
    assert row["device_id"] == "dev-1"
    assert row["insert_id"] == "9"
    assert row["session_id"] == "1234"
    assert row["timestamp"] == dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
    assert json.loads(row["properties"]) == {"plan": "pro", "nested": {"a": [1, 2]}}
    assert json.loads(row["person_updates"]) == {"$set": {"email": "a@example.com"}}
    assert json.loads(row["groups"]) == {"organization": "org_1"}
    assert row["received_at"] == RECEIVED
    assert row["source"] == "api"
    assert row["warnings"] == []


def test_missing_timestamp_is_the_receive_time_and_each_event_gets_a_uuid() -> None:
    batch = run({"event": "a", "distinct_id": "u"}, {"event": "a", "distinct_id": "u"})
    rows = batch.events.to_pylist()
    assert [row["timestamp"] for row in rows] == [RECEIVED, RECEIVED]
    assert len({row["uuid"] for row in rows}) == 2
    given_uuid = "0190d5f4-5b7e-7c3a-9f00-0123456789ab"
    assert only(run({"event": "a", "distinct_id": "u", "uuid": given_uuid}))["uuid"] == given_uuid


def test_clock_skew_is_corrected_from_sent_at() -> None:
    # The client's clock is 1 hour fast: it stamped the event at 13:00 and sent it at 13:05 (its time).
    row = only(
        run(
            {
                "event": "a",
                "distinct_id": "u",
                "timestamp": "2024-06-01T13:00:00Z",
                "sent_at": "2024-06-01T13:05:00Z",
            }
        )
    )
    assert row["timestamp"] == RECEIVED - dt.timedelta(minutes=5)


def test_envelope_sent_at_applies_to_events_without_their_own() -> None:
    from sextant.ingest.payload import parse

    body = orjson.dumps(
        {
            "api_key": "k",
            "sent_at": 1717243500000,  # 12:05 on the client's clock, epoch milliseconds
            "batch": [
                {"event": "a", "distinct_id": "u", "timestamp": "2024-06-01T12:00:00Z"},
                {
                    "event": "b",
                    "distinct_id": "u",
                    "timestamp": "2024-06-01T12:00:00Z",
                    "sent_at": "2024-06-01T12:01:00Z",
                },
            ],
        }
    )
    payload = parse(body)
    assert payload.api_key == "k"
    batch = normalize_documents(payload.documents, Context(RECEIVED, "api", SETTINGS))
    assert batch.events.column("timestamp").to_pylist() == [
        RECEIVED - dt.timedelta(minutes=5),
        RECEIVED - dt.timedelta(minutes=1),
    ]


def test_future_timestamps_are_clamped_with_a_warning() -> None:
    row = only(run({"event": "a", "distinct_id": "u", "timestamp": "2024-06-03T00:00:00Z"}))
    assert row["timestamp"] == RECEIVED
    assert [warning["kind"] for warning in row["warnings"]] == ["timestamp_in_future"]
    # Within the tolerance (default one hour) the timestamp stands.
    row = only(run({"event": "a", "distinct_id": "u", "timestamp": "2024-06-01T12:30:00Z"}))
    assert row["timestamp"] == RECEIVED + dt.timedelta(minutes=30)
    assert row["warnings"] == []


def test_unknown_fields_and_large_properties_are_warnings() -> None:
    settings = IngestSettings(large_properties_bytes=50)
    row = only(
        run(
            {
                "event": "a",
                "distinct_id": "u",
                "colour": 1,
                "size": 2,
                "api_key": "k",
                "properties": {"text": "x" * 60},
            },
            settings=settings,
        )
    )
    kinds = {warning["kind"]: warning for warning in row["warnings"]}
    assert set(kinds) == {"unknown_field", "large_properties"}
    assert kinds["unknown_field"]["field"] == "colour, size"  # api_key is an accepted envelope field
    assert "colour, size" in kinds["unknown_field"]["message"]


def reference_timestamp(value: object) -> dt.datetime | None:
    """What a timestamp value means: an independent Python reading of the documented rules."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        magnitude = abs(value)
        micros = value if magnitude >= 1e14 else value * 1e3 if magnitude >= 1e11 else value * 1e6
        if not 0 <= micros <= 253402300799e6:
            return None
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=round(micros))
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return None


instants = st.datetimes(min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2100, 1, 1))


@settings(max_examples=60, deadline=None)
@given(
    instant=instants,
    form=st.sampled_from(["seconds", "float_seconds", "milliseconds", "microseconds", "iso_utc", "iso_offset"]),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_timestamp_forms_agree_with_the_reference(instant: dt.datetime, form: str, offset_minutes: int) -> None:
    aware = instant.replace(tzinfo=dt.UTC)
    epoch = aware.timestamp()
    value: object = {
        "seconds": int(epoch),
        "float_seconds": round(epoch, 3),
        "milliseconds": int(epoch * 1000),
        "microseconds": int(epoch * 1_000_000),
        "iso_utc": aware.isoformat().replace("+00:00", "Z"),
        "iso_offset": aware.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes))).isoformat(),
    }[form]
    expected = reference_timestamp(value if form != "iso_utc" else str(value).replace("Z", "+00:00"))
    settings = IngestSettings(future_tolerance=200 * 365 * 86400)  # no clamping in this test
    row = only(run({"event": "e", "distinct_id": "u", "timestamp": value}, settings=settings))
    assert row["timestamp"] == expected


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(normalize.EVENT_FIELDS)),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-10, 10**12),
            st.text(max_size=5),
            st.lists(st.integers(-1000, 1000), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(-1000, 1000), max_size=2),
        ),
        max_size=6,
    )
)
def test_every_event_is_either_stored_or_rejected_with_a_reason(event: dict[str, object]) -> None:
    batch = run(event)
    assert batch.events.num_rows + len(batch.rejections) == 1
    for rejected in batch.rejections:
        assert rejected.field in (*normalize.EVENT_FIELDS, "(event)")
        assert rejected.reason
    for row in batch.events.to_pylist():
        assert row["event"] and row["distinct_id"]
        assert isinstance(json.loads(row["properties"]), dict)


def test_typed_columns_from_files_and_unmapped_columns_become_properties() -> None:
    table = pa.table(
        {
            "action": ["Signed Up", "Search", None],
            "ts": pa.array([1714564800, 1714564801, 1714564802], pa.int64()),
            "who": ["alice", "bob", "carol"],
            "plan": ["pro", None, "free"],
            "results": pa.array([None, 12, 3], pa.int64()),
        }
    )
    source = normalize.column_input(table.schema, {"event": "action", "timestamp": "ts", "distinct_id": "who"})
    context = Context(received_at=RECEIVED, source="import", settings=SETTINGS)
    good, bad = normalize.normalize(normalize.with_context(table, context), source, SETTINGS)
    assert good.column("event").to_pylist() == ["Signed Up", "Search"]
    assert good.column("timestamp").to_pylist()[0] == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert [json.loads(p) for p in good.column("properties").to_pylist()] == [
        {"plan": "pro", "results": None},
        {"plan": None, "results": 12},
    ]
    assert bad.column("row_index").to_pylist() == [2]
    assert bad.column("error_field").to_pylist() == ["event"]


def test_text_columns_are_passed_on_as_they_are_only_where_normalization_keeps_them() -> None:
    """Typed text columns (Parquet, CSV) are passed on instead of exported again where the normalized value
    is the column's text; every value that normalization changes must still come out changed."""
    table = pa.table(
        {
            "event": ["Search", "Search", "Search", "Search", "Search", ""],
            "distinct_id": ["alice", None, "", "dave", "erin", "frank"],
            "user_id": ["u-1", "u-2", "u-3", "", None, None],
            "device_id": [None, None, "d-3", None, "", None],
            "properties": ['{"q":  "a b"}', None, "", "null", "{}", "{}"],
            "groups": [None, '{"account": "acme"}', "{}", "", '{ "account" : "beta" }', "{}"],
            "session_id": ["", "s-2", None, "s-4", "s-5", None],
        }
    )
    context = Context(received_at=RECEIVED, source="import", settings=SETTINGS, first_index=10)
    source = normalize.column_input(table.schema)
    good, bad = normalize.normalize(normalize.with_context(table, context), source, SETTINGS)
    columns = ["row_index", "distinct_id", "user_id", "device_id", "properties", "groups", "session_id"]
    assert good.select(columns).to_pylist() == [
        {
            "row_index": 10,
            "distinct_id": "alice",
            "user_id": "u-1",
            "device_id": None,
            "properties": '{"q":  "a b"}',  # kept as written, whitespace and all
            "groups": "{}",
            "session_id": None,
        },
        {
            "row_index": 11,
            "distinct_id": "u-2",
            "user_id": "u-2",
            "device_id": None,
            "properties": "{}",
            "groups": '{"account": "acme"}',
            "session_id": "s-2",
        },
        {
            "row_index": 12,
            "distinct_id": "u-3",
            "user_id": "u-3",
            "device_id": "d-3",
            "properties": "{}",
            "groups": "{}",
            "session_id": None,
        },
        {
            "row_index": 13,
            "distinct_id": "dave",
            "user_id": None,
            "device_id": None,
            "properties": "{}",
            "groups": "{}",
            "session_id": "s-4",
        },
        {
            "row_index": 14,
            "distinct_id": "erin",
            "user_id": None,
            "device_id": None,
            "properties": "{}",
            "groups": '{ "account" : "beta" }',
            "session_id": "s-5",
        },
    ]
    assert good.schema == pa.schema([("request", pa.int64()), ("row_index", pa.int64()), *normalize.NORMALIZED_SCHEMA])
    assert bad.select(["row_index", "error_field"]).to_pylist() == [{"row_index": 15, "error_field": "event"}]


def test_passed_on_columns_stay_with_their_rows_in_large_batches() -> None:
    """DuckDB scans a large batch on several threads; the columns passed on must still line up with the
    rows normalization exported (each row's ids are derived from its position here)."""
    count = 300_000
    table = pa.table(
        {
            "event": [f"e{number % 7}" for number in range(count)],
            "timestamp": pa.array(range(1714564800, 1714564800 + count), pa.int64()),
            "distinct_id": [f"d{number}" if number % 5 else "" for number in range(count)],
            "user_id": [f"u{number}" for number in range(count)],
            "properties": [f'{{"n": {number}}}' for number in range(count)],
        }
    )
    context = Context(received_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), source="import", settings=SETTINGS)
    good, bad = normalize.normalize(
        normalize.with_context(table, context), normalize.column_input(table.schema), SETTINGS
    )
    assert bad.num_rows == 0
    rows = good.select(["row_index", "event", "distinct_id", "properties", "timestamp"]).to_pydict()
    assert rows["row_index"] == list(range(count))
    assert rows["event"] == [f"e{number % 7}" for number in range(count)]
    assert rows["distinct_id"] == [f"d{number}" if number % 5 else f"u{number}" for number in range(count)]
    assert rows["properties"] == [f'{{"n": {number}}}' for number in range(count)]
    assert [moment.timestamp() for moment in rows["timestamp"]] == list(range(1714564800, 1714564800 + count))


def test_passed_on_columns_follow_row_index_when_the_query_reorders_rows() -> None:
    """DuckDB may return a projection's rows in another order than its input's; the input's text columns
    must then be matched to the result rows by row_index, not by position."""
    table = pa.table({"event": ["A", "B", "C"], "distinct_id": ["a", "b", "c"]})
    context = Context(received_at=RECEIVED, source="import", settings=SETTINGS, first_index=5)
    rows = normalize.with_context(table, context)
    result = pa.table(
        {
            "row_index": pa.array([7, 5, 6], pa.int64()),
            "event": pa.array([None, None, None], pa.string()),
            "event_replaced": [False, False, False],
            "distinct_id": pa.array([None, "B!", None], pa.string()),
            "distinct_id_replaced": [False, True, False],
        }
    )
    merged = normalize._with_input_columns(result, rows, {"event": "event", "distinct_id": "distinct_id"})
    assert merged.select(["row_index", "event", "distinct_id"]).to_pylist() == [
        {"row_index": 7, "event": "C", "distinct_id": "c"},
        {"row_index": 5, "event": "A", "distinct_id": "B!"},
        {"row_index": 6, "event": "B", "distinct_id": "b"},
    ]


def test_rows_come_in_arrival_order_when_the_query_reorders_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store applies events that share a timestamp in the order of the batch's rows (here all take the
    receive time, and the last $set must win), so normalized rows keep the order in which they arrived, by
    request and position, however DuckDB returns the query's rows."""
    query = scratch.run
    monkeypatch.setattr(scratch, "run", lambda *arguments: query(*arguments)[::-1])
    documents = [
        {"event": "Plan Chosen", "distinct_id": "u", "person_updates": {"$set": {"plan": plan}}}
        for plan in ("free", "pro", "team")
    ]
    context = Context(received_at=RECEIVED, source="api", settings=SETTINGS)
    requests = [
        normalize.with_context(
            pa.table({"document": [orjson.dumps(document).decode() for document in part]}), context, number
        )
        for number, part in enumerate([documents[:2], documents[2:]])
    ]
    good, _ = normalize.normalize(pa.concat_tables(requests), normalize.document_input(), SETTINGS)
    assert good.select(["request", "row_index"]).to_pylist() == [
        {"request": 0, "row_index": 0},
        {"request": 0, "row_index": 1},
        {"request": 1, "row_index": 0},
    ]
    assert [json.loads(updates)["$set"]["plan"] for updates in good.column("person_updates").to_pylist()] == [
        "free",
        "pro",
        "team",
    ]
    table = pa.table({"event": ["A", "B", "C"], "distinct_id": ["a", "b", "c"]})
    rows = normalize.with_context(table, Context(received_at=RECEIVED, source="import", settings=SETTINGS))
    imported, _ = normalize.normalize(rows, normalize.column_input(table.schema), SETTINGS)
    assert imported.select(["row_index", "event", "distinct_id"]).to_pylist() == [
        {"row_index": 0, "event": "A", "distinct_id": "a"},
        {"row_index": 1, "event": "B", "distinct_id": "b"},
        {"row_index": 2, "event": "C", "distinct_id": "c"},
    ]
