"""Bulk import of NDJSON, CSV and Parquet, the event_logs preset, and importing through a running server."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sextant.cli.import_command import run_import
from sextant.ingest import importer
from sextant.ingest.destinations import Destination, ServerDestination, WarehouseDestination
from sextant.ingest.importer import FileFormat, ImportSummary, Preset, count_rows, detect_format, read_chunks
from sextant.ingest.store import EventStore
from sextant.project import IngestSettings, ProjectConfig
from sextant.server import RunningServer
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, ingest, journeys_for


def stored(store: EventStore, columns: str = "event, distinct_id") -> list[dict[str, object]]:
    return store.engine.execute(f"SELECT {columns} FROM events ORDER BY timestamp, event").to_pylist()


def write_ndjson(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ndjson_import_reports_rejections_by_line(tmp_path: Path, store: EventStore) -> None:
    lines = journeys_for({"alice": [("Signed Up", T0), ("Search", T0 + dt.timedelta(minutes=1))]})
    lines.insert(1, '{"event": "broken", "distinct_id": ')
    lines.append('{"event": "no one"}')
    path = write_ndjson(tmp_path / "events.ndjson", lines)
    summary = run_import([path], store.project, WarehouseDestination(store))
    assert (summary.read, summary.stored, summary.duplicates, summary.rejected) == (4, 2, 0, 2)
    assert summary.reasons[("(event)", "the event is not valid JSON")] == (1, "events.ndjson:2")
    assert summary.reasons[("distinct_id", "one of distinct_id, user_id or device_id is required")][1] == (
        "events.ndjson:4"
    )
    assert [row["event"] for row in stored(store)] == ["Signed Up", "Search"]


def test_reimporting_a_file_and_api_retries_do_not_double_count(tmp_path: Path, store: EventStore) -> None:
    lines = journeys_for({"bob": [("A", T0, {"insert_id": "x1"}), ("B", T0, {"insert_id": "x2"})]})
    path = write_ndjson(tmp_path / "events.jsonl", lines)
    first = run_import([path], store.project, WarehouseDestination(store))
    second = run_import([path], store.project, WarehouseDestination(store))
    assert (first.stored, second.stored, second.duplicates) == (2, 0, 2)
    api = ingest(store, journeys_for({"bob": [("A", T0, {"insert_id": "x1"})]}))
    assert api.duplicates == 1
    assert len(stored(store)) == 2


def test_csv_with_a_column_mapping_and_extra_columns_as_properties(tmp_path: Path, store: EventStore) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "action,when,who,plan,seats\n"
        "Signed Up,2024-05-06 09:00:00,alice,pro,5\n"
        "Search,2024-05-06 09:05:00,alice,pro,\n"
        ",2024-05-06 09:06:00,alice,pro,1\n"
    )
    mapping = {"event": "action", "timestamp": "when", "distinct_id": "who"}
    summary = run_import([path], store.project, WarehouseDestination(store), mapping=mapping)
    assert (summary.stored, summary.rejected) == (2, 1)
    rows = stored(store, "event, timestamp, properties")
    assert rows[0]["timestamp"] == dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.UTC)
    assert json.loads(str(rows[0]["properties"])) == {"plan": "pro", "seats": 5}
    assert json.loads(str(rows[1]["properties"])) == {"plan": "pro", "seats": None}


def test_parquet_with_typed_columns(tmp_path: Path, store: EventStore) -> None:
    table = pa.table(
        {
            "event": ["Viewed Page", "Viewed Page"],
            "timestamp": pa.array([T0, T0 + dt.timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
            "user_id": ["u1", "u2"],
            "properties": ['{"url": "/search"}', '{"url": "/pricing"}'],
            "referrer": ["google", None],
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    assert count_rows(path, FileFormat.PARQUET) == 2
    summary = run_import([path], store.project, WarehouseDestination(store))
    assert summary.stored == 2
    rows = stored(store, "distinct_id, properties")
    assert [json.loads(str(row["properties"])) for row in rows] == [
        {"referrer": "google", "url": "/search"},
        {"referrer": None, "url": "/pricing"},
    ]
    assert [row["distinct_id"] for row in rows] == ["u1", "u2"]


def test_event_logs_export_from_the_seeds_world(tmp_path: Path, store: EventStore) -> None:
    table = pa.table(
        {
            "name": ["SearchSubmitted", "ViewRepogroup:python", "SearchSubmitted"],
            "argument": ['{"code_search": {"results": {"results_count": 12}}}', None, "not json"],
            "public_argument": ["{}", "{}", "{}"],
            "user_id": pa.array([0, 42, 42], pa.int64()),
            "anonymous_user_id": ["cookie-1", "cookie-2", "cookie-2"],
            "timestamp": pa.array([T0, T0, T0 + dt.timedelta(minutes=2)], pa.timestamp("us", tz="UTC")),
            "url": ["https://example.com/search", "https://example.com/python", None],
            "source": ["WEB", "WEB", "WEB"],
            "version": ["5.1.0", "5.1.0", "5.1.0"],
            "feature_flags": ['{"search-ranking": true}', None, None],
            "cohort_id": ["2024-05-06", None, None],
            "insert_id": ["i1", "i2", "i3"],
            "device_id": ["d1", "d2", "d2"],
            "referrer": ["google", None, None],
            "first_source_url": [None, None, None],
        }
    )
    path = tmp_path / "event_logs.parquet"
    pq.write_table(table, path)
    summary = run_import([path], store.project, WarehouseDestination(store), preset=Preset.EVENT_LOGS)
    assert summary.stored == 3
    rows = stored(store, "event, distinct_id, user_id, device_id, insert_id, properties")
    # Stored in object-action Proper Case, as the tracking plan's naming convention says by default.
    assert [(r["event"], r["distinct_id"], r["user_id"], r["device_id"]) for r in rows] == [
        ("Search Submitted", "cookie-1", None, "cookie-1"),  # user_id 0 means anonymous
        ("View Repogroup:python", "42", "42", "cookie-2"),
        ("Search Submitted", "42", "42", "cookie-2"),
    ]
    first = json.loads(str(rows[0]["properties"]))
    assert first["$original_event"] == "SearchSubmitted"
    assert first["argument"] == {"code_search": {"results": {"results_count": 12}}}  # JSON stays structured
    assert first["feature_flags"] == {"search-ranking": True}
    assert first["device_id"] == "d1" and first["version"] == "5.1.0"
    assert json.loads(str(rows[2]["properties"]))["argument"] == "not json"  # kept, as a string


def test_formats_are_detected_from_names(tmp_path: Path) -> None:
    assert detect_format(Path("a.ndjson.gz"), None) is FileFormat.NDJSON
    assert detect_format(Path("a.csv"), None) is FileFormat.CSV
    assert detect_format(Path("a.bin"), FileFormat.PARQUET) is FileFormat.PARQUET
    with pytest.raises(Exception, match="pass --format"):
        detect_format(Path("a.bin"), None)


def test_import_goes_through_a_running_server(tmp_path: Path, workspace: Workspace) -> None:
    server = LiveServer(workspace)
    try:
        token = server.app.state.sextant.local_token
        lines = [
            orjson.dumps(
                {
                    "event": "Imported",
                    "distinct_id": f"u{i}",
                    "insert_id": f"k{i}",
                    "timestamp": T0.isoformat(),
                }
            ).decode()
            for i in range(250)
        ]
        path = write_ndjson(tmp_path / "events.ndjson", lines)
        destination = ServerDestination(RunningServer(server.url, token, 0))
        first = run_import([path], workspace.project, destination)
        second = run_import([path], workspace.project, destination)
        assert (first.stored, first.duplicates, second.stored, second.duplicates) == (250, 0, 0, 250)
        reader = workspace.warehouse.cursor()
        assert reader.execute("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 250}]
        wrong = ServerDestination(RunningServer(server.url, "not-the-token", 0))
        with pytest.raises(Exception, match="refused the import"):
            run_import([path], workspace.project, wrong)
    finally:
        server.stop()


def import_each(
    files: list[tuple[Path, Preset]], workspace: Workspace, destination: Destination
) -> list[ImportSummary]:
    return [run_import([path], workspace.project, destination, preset=preset) for path, preset in files]


@pytest.mark.parametrize("through", ["warehouse", "server"])
def test_summary_counts_pings_as_stored_and_denied_events_apart_from_duplicates(
    tmp_path: Path, workspace: Workspace, through: str
) -> None:
    (workspace.project.directory / "tracking_plan.yaml").write_text("deny: [Debug Ping]\n")

    def event(name: str, insert_id: str, minute: int = 0) -> str:
        moment = (T0 + dt.timedelta(minutes=minute)).isoformat()
        return orjson.dumps({"event": name, "distinct_id": "u", "insert_id": insert_id, "timestamp": moment}).decode()

    earlier = write_ndjson(tmp_path / "earlier.ndjson", [event("Search", "e1"), event("Search", "e2", 1)])
    events = write_ndjson(
        tmp_path / "events.ndjson",
        [
            *(event("Search", f"g{number}", number) for number in range(1, 6)),  # 5 new events
            event("Search", "e1"),  # 2 already imported
            event("Search", "e2", 1),
            event("Search", "g1", 1),  # 1 repeated within the file
            event("DebugPing", "d1"),  # 3 denied, two of them sharing an insert_id
            event("DebugPing", "d1"),
            event("DebugPing", "d2"),
            '{"event": "Search", "distinct_id": ',  # 2 invalid
            '{"event": "Search"}',
        ],
    )
    ping = {"version": "5.3.0", "deploy_type": "docker", "timestamp": "2024-05-06T09:00:00Z"}
    instance_pings = write_ndjson(
        tmp_path / "pings.ndjson",
        [
            orjson.dumps({**ping, "site_id": "site-1"}).decode(),  # 3 new pings
            orjson.dumps({**ping, "site_id": "site-2"}).decode(),
            orjson.dumps({**ping, "site_id": "site-1", "timestamp": "2024-05-06T09:30:00Z"}).decode(),
            orjson.dumps({**ping, "site_id": "site-2"}).decode(),  # 1 sent twice
            orjson.dumps({**ping, "site_id": "site-3", "version": None}).decode(),  # 1 invalid
        ],
    )
    files = [(earlier, Preset.NATIVE), (events, Preset.NATIVE), (instance_pings, Preset.PINGS)]
    server = LiveServer(workspace) if through == "server" else None
    try:
        destination: Destination = (
            ServerDestination(RunningServer(server.url, server.app.state.sextant.local_token, 0))
            if server
            else WarehouseDestination(EventStore(workspace.project, workspace.warehouse))
        )
        summaries = import_each(files, workspace, destination)
        reader = workspace.warehouse.cursor()
        stored_rows = [
            reader.execute(f"SELECT count(*) AS n FROM {table}").to_pylist()[0]["n"] for table in ("events", "pings")
        ]
    finally:
        if server:
            server.stop()
    counts = [(s.read, s.stored, s.duplicates, s.denied, s.rejected) for s in summaries]
    assert counts == [(2, 2, 0, 0, 0), (13, 5, 3, 3, 2), (5, 3, 1, 0, 1)]
    assert summaries[1].denied_reasons == {"event DebugPing is on the deny list": 3}
    assert sorted(field for field, _ in summaries[1].reasons) == ["(event)", "distinct_id"]
    assert [field for field, _ in summaries[2].reasons] == ["(ping)"]
    assert stored_rows == [7, 3]


NDJSON_RECEIVED = dt.datetime(2024, 6, 1, 13, 0, tzinfo=dt.UTC)
OVERSIZED = '{"event":"Big","distinct_id":"bob","properties":{"text":"' + "x" * 300 + '"}}'
MIXED_LINES = [
    '{"event":"Signed Up","distinct_id":"alice","timestamp":1717243200}',  # epoch seconds
    '{"event":"Search","distinct_id":"alice","timestamp":1717243260500,"insert_id":77}',  # epoch milliseconds
    '{"event":"Broken","distinct_id":',
    "[1, 2]",
    '{"event":5,"distinct_id":"bob"}',
    '{"event":"Viewed Page","timestamp":"2024-06-01T12:00:00Z"}',
    '{"distinct_id":"bob"}',
    OVERSIZED,
    '{"event":"Viewed Café","distinct_id":"zoë","properties":{"city":"Zürich","emoji":"😀","escaped":"\\u00e9\\n"},'
    '"colour":"red","api_key":"k"}',
    '{"event":"Search","user_id":12345,"device_id":"d-1","timestamp":"yesterday"}',
    '{"event":"Search","user_id":12345,"timestamp":"2024-06-01T14:00:00+02:00","properties":{"n":1.5}}',
    '{"event":"Search","distinct_id":"carol","properties":"not an object"}',
    '{"event":"Search","distinct_id":"carol","uuid":"nope"}',
    '{"event":"Late","distinct_id":"dave","timestamp":"2024-06-01T15:00:00Z","sent_at":null}',
    '{"event":"Search","distinct_id":"erin","properties":{"query":"' + "q" * 100 + '"}}',
]


def test_ndjson_lines_are_checked_one_by_one_with_the_api_rules(tmp_path: Path) -> None:
    """A mixed file: each bad line is rejected with its line, field and reason, the good ones are kept whole.
    The expectations are written out by hand from the documented rules (docs/import.md, docs/ingest.md)."""
    path = write_ndjson(tmp_path / "mixed.ndjson", MIXED_LINES)
    config = ProjectConfig(name="mixed", ingest=IngestSettings(max_event_bytes=300, large_properties_bytes=100))
    chunks = list(read_chunks(path, FileFormat.NDJSON, config, received_at=NDJSON_RECEIVED))
    events = pa.concat_tables([chunk.events for chunk in chunks])
    rejected = pa.concat_tables([chunk.rejected for chunk in chunks])
    assert sum(chunk.rows_read for chunk in chunks) == len(MIXED_LINES)

    not_a_timestamp = "is not a timestamp; use ISO 8601 such as 2024-05-01T12:00:00Z, or epoch seconds or milliseconds"
    assert [(row["row_index"], row["error_field"], row["error_reason"]) for row in rejected.to_pylist()] == [
        (2, "(event)", "the event is not valid JSON"),
        (3, "(event)", "the event must be a JSON object, not array"),
        (4, "event", "event must be a string, not number"),
        (5, "distinct_id", "one of distinct_id, user_id or device_id is required"),
        (6, "event", "event is required"),
        (7, "(event)", f"the event is {len(OVERSIZED.encode())} bytes; the limit is 300 bytes"),
        (9, "timestamp", f'timestamp "yesterday" {not_a_timestamp}'),
        (11, "properties", "properties must be a JSON object, not string"),
        (12, "uuid", 'uuid "nope" is not a UUID'),
    ]

    rows = events.to_pylist()
    assert [(row["event"], row["distinct_id"], row["user_id"], row["insert_id"]) for row in rows] == [
        ("Signed Up", "alice", None, None),
        ("Search", "alice", None, "77"),
        ("Viewed Café", "zoë", None, None),
        ("Search", "12345", "12345", None),
        ("Late", "dave", None, None),
        ("Search", "erin", None, None),
    ]
    assert [row["timestamp"] for row in rows] == [
        dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC),
        dt.datetime(2024, 6, 1, 12, 1, 0, 500_000, tzinfo=dt.UTC),
        NDJSON_RECEIVED,  # no timestamp: the receive time
        dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC),
        NDJSON_RECEIVED,  # more than the tolerance ahead: clamped, with a warning
        NDJSON_RECEIVED,
    ]
    assert [json.loads(row["properties"]) for row in rows] == [
        {},
        {},
        {"city": "Zürich", "emoji": "😀", "escaped": "é\n"},
        {"n": 1.5},
        {},
        {"query": "q" * 100},
    ]
    assert [row["warnings"] for row in rows] == [
        [],
        [],
        [
            {
                "kind": "unknown_field",
                "field": "colour",
                "message": "unknown field(s) colour were ignored; put custom data in properties",
            }
        ],
        [],
        [
            {
                "kind": "timestamp_in_future",
                "field": "timestamp",
                "message": "timestamp 2024-06-01 15:00:00+00 is ahead of the server clock; the event was stored at "
                "its receive time",
            }
        ],
        [
            {
                "kind": "large_properties",
                "field": "properties",
                "message": "properties are 112 bytes, over the 100 byte warning size",
            }
        ],
    ]
    assert len({row["uuid"] for row in rows}) == len(rows)


def test_the_import_command_caps_the_warehouse_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a cap DuckDB caches every block it writes, and an import's memory grows with the warehouse."""
    from typer.testing import CliRunner

    from sextant.cli import app
    from sextant.cli.import_command import IMPORT_WAREHOUSE_MEMORY_BYTES
    from sextant.warehouse.duckdb_engine import DuckDBEngine

    settings = []
    limit_memory = DuckDBEngine.limit_memory

    def recorded(engine: DuckDBEngine, limit_bytes: int) -> None:
        limit_memory(engine, limit_bytes)
        settings.append(engine.execute("SELECT current_setting('memory_limit') AS limit").column(0)[0].as_py())

    monkeypatch.setattr(DuckDBEngine, "limit_memory", recorded)
    project = tmp_path / "shop"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(journeys_for({"ada": [("Search", T0)]})) + "\n")
    result = runner.invoke(app, ["import", str(path), "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert IMPORT_WAREHOUSE_MEMORY_BYTES <= 2**30
    assert settings == [f"{IMPORT_WAREHOUSE_MEMORY_BYTES / 2**20:.1f} MiB"]


@pytest.mark.parametrize("suffix", ["ndjson", "csv", "parquet"])
def test_chunks_hold_whole_numbers_of_chunk_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """A write of whole DuckDB row groups spares the checkpoints a rewrite of small ones (importer.CHUNK_ROWS)."""
    # DuckDB's text readers hand out batches that end where their ~8 MB read buffers end.
    monkeypatch.setattr(importer, "CHUNK_ROWS", 3000)
    rows = [
        {"event": "Search", "distinct_id": f"u{number}", "timestamp": T0.isoformat(), "note": "x" * 600}
        for number in range(20_000)
    ]
    path = tmp_path / f"events.{suffix}"
    if suffix == "ndjson":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif suffix == "csv":
        path.write_text(",".join(rows[0]) + "\n" + "".join(",".join(row.values()) + "\n" for row in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    chunks = read_chunks(path, detect_format(path, None), ProjectConfig(name="chunks"))
    assert [chunk.rows_read for chunk in chunks] == [3000] * 6 + [2000]


@pytest.mark.parametrize(
    ("name", "text", "rows"),
    [
        ("empty.ndjson", "", 0),
        ("two.ndjson", "{}\n{}\n", 2),
        ("rows.csv", "header\n1\n2\n", 2),
    ],
)
def test_text_files_are_counted_by_lines_for_the_progress_bar(tmp_path: Path, name: str, text: str, rows: int) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert count_rows(path, detect_format(path, None)) == rows


def test_counting_lines_does_not_keep_the_file_in_memory(tmp_path: Path) -> None:
    """The count reads a mapped file; the mapped pages must not add up in the import's resident memory."""
    import subprocess
    import sys

    path = tmp_path / "big.ndjson"
    line = b'{"event": "Search", "distinct_id": "' + b"x" * 200 + b'"}\n'
    path.write_bytes(line * (256 * 2**20 // len(line)))
    script = (
        "import sys; from pathlib import Path; from sextant.ingest import importer\n"
        "def peak(): return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) // 1024\n"
        "before = peak()\n"
        "importer.count_rows(Path(sys.argv[1]), importer.FileFormat.NDJSON)\n"
        "print(peak() - before)\n"
    )
    grown = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert int(grown.stdout) < 64  # MB, of a 256 MB file
