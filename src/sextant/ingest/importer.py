"""Bulk import of event files (NDJSON, CSV, Parquet), through the same validation and dedup as the API.

Files are read in chunks by DuckDB or pyarrow and normalized a chunk at a time, so memory stays flat
whatever the file size. The `event_logs` preset reads exports shaped like the eventLogger table of the
seeds' warehouse.
"""

from __future__ import annotations

import datetime as dt
import enum
import mmap
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from sextant.errors import IngestError
from sextant.ingest import normalize, pings, scratch, tracking_plan
from sextant.ingest.fields import FieldSource
from sextant.ingest.store import WriteCounts
from sextant.project import ProjectConfig

# Two chunks are in memory at once (one read, one written); about 250k rows kept the peak RSS near half of
# what 500k did, at the same speed (docs/performance.md). A whole number of DuckDB's row groups (122,880
# rows): a write that leaves a small last row group makes each checkpoint merge it with its neighbours,
# rewriting stored events (0.5 s per checkpoint with 250,000-row chunks, on 2M demo events).
CHUNK_ROWS = 2 * 122_880


class FileFormat(enum.Enum):
    NDJSON = "ndjson"
    CSV = "csv"
    PARQUET = "parquet"


class Preset(enum.Enum):
    NATIVE = "native"  # columns or keys named like the API's fields
    EVENT_LOGS = "event_logs"  # the eventLogger export: name, argument, user_id (0 = anonymous), ...
    PINGS = "pings"  # instance pings, one per row, with the fields of POST /api/v1/pings


_SUFFIXES = {
    ".ndjson": FileFormat.NDJSON,
    ".jsonl": FileFormat.NDJSON,
    ".json": FileFormat.NDJSON,
    ".csv": FileFormat.CSV,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
}


@dataclass
class Chunk:
    """Normalized events of one chunk of a file, and the rejected rows (`row_index` is the file row)."""

    events: pa.Table
    rejected: pa.Table
    rows_read: int


@dataclass
class ImportSummary:
    read: int = 0
    stored: int = 0  # events and pings
    duplicates: int = 0
    denied: int = 0
    rejected: int = 0
    # (field, reason) -> (count, first row) for the report
    reasons: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    # why events were denied (the tracking plan's warning, naming the event) -> count
    denied_reasons: dict[str, int] = field(default_factory=dict)

    def add_written(self, events: pa.Table, written: WriteCounts) -> None:
        self.stored += written.stored
        self.duplicates += written.duplicates
        self.denied += written.denied
        if written.denied:
            for row in tracking_plan.denied_reasons(events.column("warnings")).to_pylist():
                self.denied_reasons[row["reason"]] = self.denied_reasons.get(row["reason"], 0) + row["events"]

    def add_rejections(self, path: Path, rejected: pa.Table) -> None:
        self.rejected += rejected.num_rows
        for row in rejected.to_pylist():
            key = (row["error_field"], row["error_reason"])
            count, first = self.reasons.get(key, (0, f"{path.name}:{row['row_index'] + 1}"))
            self.reasons[key] = (count + 1, first)


def detect_format(path: Path, given: FileFormat | None) -> FileFormat:
    if given:
        return given
    suffixes = [suffix for suffix in path.suffixes if suffix != ".gz"]
    if suffixes and suffixes[-1].lower() in _SUFFIXES:
        return _SUFFIXES[suffixes[-1].lower()]
    raise IngestError(f"cannot tell the format of {path.name}; pass --format ndjson, csv or parquet")


def count_rows(path: Path, file_format: FileFormat) -> int | None:
    """The number of rows, for the progress bar (None when it would take a second pass to know)."""
    if file_format is FileFormat.PARQUET:
        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix == ".gz":
        return None
    lines = 0
    if path.stat().st_size:
        # Counted in the mapped file, not in copies of it: twice as fast (0.9 s for 4 GB of NDJSON). Each
        # block is unmapped once counted, or the whole file would count in the import's resident memory.
        block = 1 << 24
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = np.frombuffer(mapped, dtype=np.uint8)
            for start in range(0, len(data), block):
                lines += int(np.count_nonzero(data[start : start + block] == ord("\n")))
                mapped.madvise(mmap.MADV_DONTNEED, start, min(block, len(data) - start))
            del data  # the map cannot close while a view of it is alive
    return lines - (1 if file_format is FileFormat.CSV else 0)


def read_chunks(
    path: Path,
    file_format: FileFormat,
    config: ProjectConfig,
    *,
    plan: tracking_plan.TrackingPlan | None = None,
    mapping: Mapping[str, str] | None = None,
    preset: Preset = Preset.NATIVE,
    received_at: dt.datetime | None = None,
) -> Iterator[Chunk]:
    """Normalized chunks of one file, with the tracking plan applied (pings are not events: no plan)."""
    plan = plan or tracking_plan.TrackingPlan()
    if not path.is_file():
        raise IngestError(f"{path} does not exist")
    received_at = received_at or dt.datetime.now(dt.UTC)
    settings = config.ingest
    if preset is Preset.PINGS:
        yield from _ping_chunks(path, file_format, config, received_at)
        return
    first_row = 0
    for rows, source in _raw_chunks(path, file_format, mapping or {}, preset):
        context = normalize.Context(received_at=received_at, source="import", settings=settings, first_index=first_row)
        good, bad = normalize.normalize(normalize.with_context(rows, context), source, settings)
        good, refused_by_plan = tracking_plan.apply(good, plan)
        yield Chunk(
            good.drop_columns(["request", "row_index"]), pa.concat_tables([bad, refused_by_plan]), rows.num_rows
        )
        first_row += rows.num_rows


def _ping_chunks(
    path: Path, file_format: FileFormat, config: ProjectConfig, received_at: dt.datetime
) -> Iterator[Chunk]:
    """Pings read row by row with the rules of the pings endpoint (they are few: one per instance per
    half hour), then normalized as `$ping` events."""
    first_row = 0
    for batch in _typed_tables(path, file_format):
        documents, positions, refused = [], [], []
        for number, row in enumerate(batch.to_pylist(), first_row):
            try:
                documents.append(pings.document(pings.read(row, config.telemetry.critical_fields)))
                positions.append(number)
            except IngestError as error:
                refused.append(
                    {"request": 0, "row_index": number, "error_field": "(ping)", "error_reason": error.message}
                )
        context = normalize.Context(received_at=received_at, source=pings.SOURCE, settings=config.ingest)
        rows = normalize.with_context(pa.table({"document": pa.array(documents, pa.string())}), context)
        good, bad = normalize.normalize(rows, normalize.document_input(), config.ingest)
        good = good.drop_columns(["row_index"])
        bad = bad.set_column(
            1, "row_index", pa.array([positions[i] for i in bad.column("row_index").to_pylist()], pa.int64())
        )
        rejected = pa.concat_tables([bad, pa.Table.from_pylist(refused, schema=bad.schema)])
        yield Chunk(good.drop_columns(["request"]), rejected, batch.num_rows)
        first_row += batch.num_rows


def prefetched(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """Read and normalize the next chunk on another thread while the caller writes this one; DuckDB
    releases the GIL, so both cores work. At most two chunks are in memory at once."""
    ready: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=1)

    def produce() -> None:
        try:
            for chunk in chunks:
                ready.put(chunk)
                ready.join()  # start on the next chunk only once this one is taken
        except BaseException as error:  # handed to the consumer, which re-raises it
            ready.put(error)
        else:
            ready.put(None)

    thread = threading.Thread(target=produce, name="sextant-import-reader", daemon=True)
    thread.start()
    while (item := ready.get()) is not None:
        ready.task_done()
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def _raw_chunks(
    path: Path, file_format: FileFormat, mapping: Mapping[str, str], preset: Preset
) -> Iterator[tuple[pa.Table, normalize.Input]]:
    if file_format is FileFormat.NDJSON and preset is Preset.NATIVE:
        # Each line is one event document; DuckDB's parallel CSV reader splits lines fast. A raw \x01 cannot
        # occur in valid JSON, so using it as the delimiter keeps every line whole.
        relation = (
            f"read_csv({_literal(path)}, columns = {{'document': 'VARCHAR'}}, delim = '\\x01', quote = '', "
            "escape = '', header = false, auto_detect = false, strict_mode = false)"
        )
        source = normalize.document_input(mapping)
        for lines in _stream(relation):
            yield lines, source
        return
    for table in _typed_tables(path, file_format):
        source = (
            event_logs_input(table.schema)
            if preset is Preset.EVENT_LOGS
            else normalize.column_input(table.schema, mapping)
        )
        yield table, source


def _typed_tables(path: Path, file_format: FileFormat) -> Iterator[pa.Table]:
    """Chunks with typed columns, whatever the format."""
    if file_format is FileFormat.PARQUET:
        return (pa.Table.from_batches([batch]) for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS))
    if file_format is FileFormat.CSV:
        return _stream(f"read_csv({_literal(path)}, header = true)")
    return _stream(f"read_json({_literal(path)}, format = 'newline_delimited')")


def _stream(relation: str) -> Iterator[pa.Table]:
    """Chunks of CHUNK_ROWS rows (the last one fewer), each made of the smaller batches DuckDB's readers hand
    out: they are sliced, not copied into one, and DuckDB scans them in parallel when it normalizes the chunk."""
    reader = scratch.open_connection()
    pending = pa.table({})
    try:
        for batch in reader.sql(f"SELECT * FROM {relation}").to_arrow_reader(CHUNK_ROWS):
            pending = pa.Table.from_batches([*pending.to_batches(), batch])
            while pending.num_rows >= CHUNK_ROWS:
                yield pending.slice(0, CHUNK_ROWS)
                pending = pending.slice(CHUNK_ROWS)
        if pending.num_rows:
            yield pending
    except duckdb.Error as error:
        raise IngestError(f"cannot read the file: {error}") from None
    finally:
        reader.close()


def _literal(path: Path) -> str:
    return exp.Literal.string(str(path)).sql("duckdb")


EVENT_LOGS_PROPERTIES = (
    "argument",
    "public_argument",
    "url",
    "source",
    "version",
    "feature_flags",
    "cohort_id",
    "referrer",
    "first_source_url",
    "device_id",
)
_JSON_COLUMNS = {"argument", "public_argument", "feature_flags"}


def event_logs_input(schema: pa.Schema) -> normalize.Input:
    """The eventLogger export: `name` is the event; `user_id` 0 means anonymous, and then the anonymous
    cookie id identifies the visitor; `argument` and the other columns become properties (JSON kept as JSON)."""
    missing = [name for name in ("name", "timestamp", "anonymous_user_id") if name not in schema.names]
    if missing:
        raise IngestError(f"an event_logs export needs the columns {', '.join(missing)}; it has {schema.names}")
    kinds = normalize.duckdb_kinds(schema)

    def column(name: str) -> str:
        return exp.to_identifier(name, quoted=True).sql("duckdb")

    fields = {
        "event": FieldSource(column("name"), kinds["name"]),
        "timestamp": FieldSource(column("timestamp"), kinds["timestamp"]),
        "device_id": FieldSource(column("anonymous_user_id"), kinds["anonymous_user_id"]),
    }
    if "user_id" in schema.names:
        fields["user_id"] = FieldSource(f"NULLIF(NULLIF(CAST({column('user_id')} AS VARCHAR), '0'), '')", "VARCHAR")
    if "insert_id" in schema.names:
        fields["insert_id"] = FieldSource(column("insert_id"), kinds["insert_id"])
    extra = {}
    for name in EVENT_LOGS_PROPERTIES:
        if name not in schema.names:
            continue
        if name in _JSON_COLUMNS and kinds[name] == "VARCHAR":
            # JSON text stays structured; anything that is not JSON is kept as a string.
            extra[name] = f"COALESCE(TRY_CAST({column(name)} AS JSON), to_json({column(name)}))"
        else:
            extra[name] = column(name)
    return normalize.Input(fields=fields, extra_properties=extra)
