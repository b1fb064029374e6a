"""The server's ingestion path: an intake thread that validates, spools and acknowledges requests in group
commits, and one writer thread that moves spooled batches into the warehouse.

A request's future resolves only after its events are fsynced to the spool (design decision 4). The writer
records its progress in the warehouse, so after a crash `start()` replays exactly the records after it.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from sextant import metrics
from sextant.errors import Overloaded
from sextant.ingest import normalize, tracking_plan
from sextant.ingest.compaction import TimelineCompaction
from sextant.ingest.normalize import Context, Rejection
from sextant.ingest.spool import Spool
from sextant.ingest.store import EventStore, WriteCounts
from sextant.project import Project
from sextant.warehouse.engine import Engine
from sextant.warehouse.tables import Table

log = logging.getLogger(__name__)
# The writer counts as idle after this long without writes (person timelines are rebuilt sooner then).
IDLE_SECONDS = 2.0


@dataclass
class IntakeResult:
    accepted: int
    rejections: list[Rejection] = field(default_factory=list)
    # For normalized submissions: resolves once the events are in the warehouse, with what was stored.
    written: Future[WriteCounts] | None = None


@dataclass
class _Waiter:
    """A submission waiting for its rows [start, end) of a spool record to be written."""

    future: Future[WriteCounts]
    start: int
    end: int


@dataclass
class _Record:
    sequence: int
    batch: pa.Table
    waiters: list[_Waiter]


@dataclass
class _TableWrite:
    """Rows for another warehouse table (an admin change), written by the writer in its turn."""

    table: Table
    rows: pa.Table
    done: Future[None]


@dataclass
class _Request:
    future: Future[IntakeResult]
    size: int
    documents: list[str] | None = None
    context: Context | None = None
    normalized: pa.Table | None = None  # already normalized (an import sent through the server)
    # All or nothing: when any event is invalid, none is stored (vendors whose SDKs resend the valid ones).
    atomic: bool = False


class IngestPipeline:
    def __init__(self, project: Project, engine: Engine) -> None:
        self.project = project
        self.settings = project.config.ingest
        self.store = EventStore(project, engine)
        self.plan_file = tracking_plan.PlanFile(project.directory / "tracking_plan.yaml")
        self.spool = Spool(project.spool_dir, next_sequence=self.store.checkpoint() + 1)
        self._spool_lock = threading.Lock()
        self._intake: queue.Queue[_Request | None] = queue.Queue()
        self._written: queue.Queue[_Record | _TableWrite | None] = queue.Queue()
        self._pending = 0  # events submitted and not yet in the warehouse
        self._pending_lock = threading.Lock()
        self._intakes: list[threading.Thread] = []
        self._writer: threading.Thread | None = None
        self.last_write_error: str | None = None
        self.compaction = TimelineCompaction(project, engine)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Replay what the spool holds beyond the warehouse's checkpoint, then start the threads."""
        checkpoint = self.store.checkpoint()
        replayed = 0
        for sequence, batch in self.spool.records(after=checkpoint):
            self.store.write(normalize.conform(batch), checkpoint=sequence, replayed=True)
            replayed += batch.num_rows
        if replayed:
            log.info("replayed spooled events", extra={"events": replayed})
        with self._spool_lock:
            self.spool.release(self.spool.next_sequence - 1)
        # Normalizing runs in DuckDB, which releases the GIL, so several intake threads use several cores.
        self._intakes = [
            threading.Thread(target=self._intake_loop, name=f"sextant-intake-{number}", daemon=True)
            for number in range(self.settings.intake_threads)
        ]
        self._writer = threading.Thread(target=self._writer_loop, name="sextant-writer", daemon=True)
        for thread in [*self._intakes, self._writer]:
            thread.start()

    def stop(self) -> None:
        """Finish what was accepted, then stop. Whatever is not written stays in the spool."""
        for _ in self._intakes:
            self._intake.put(None)
        for thread in self._intakes:
            thread.join(timeout=60)
        self._written.put(None)
        if self._writer is not None:
            self._writer.join(timeout=60)
        self.compaction.stop()
        self.spool.close()

    # -- submitting ------------------------------------------------------------------------------------

    def submit_documents(self, documents: list[str], context: Context, atomic: bool = False) -> Future[IntakeResult]:
        """Queue JSON event documents from one request; raises `Overloaded` when the writer is behind.
        With `atomic`, a request with any invalid event stores none of its events."""
        return self._submit(_Request(Future(), len(documents), documents=documents, context=context, atomic=atomic))

    def submit_normalized(self, batch: pa.Table) -> Future[IntakeResult]:
        """Queue events that were normalized elsewhere (`sextant import` sending to a running server)."""
        return self._submit(_Request(Future(), batch.num_rows, normalized=batch))

    def submit_rows(self, table: Table, rows: pa.Table) -> Future[None]:
        """Append rows to a warehouse table through the one writer; resolves once they are committed."""
        write = _TableWrite(table, rows, Future())
        self._written.put(write)
        return write.done

    def _submit(self, request: _Request) -> Future[IntakeResult]:
        with self._pending_lock:
            if self._pending + request.size > self.settings.max_pending_events and self._pending > 0:
                raise Overloaded(
                    f"the writer is behind by {self._pending} events; retry shortly",
                    retry_after=max(1.0, self.settings.flush_interval_ms / 1000),
                )
            self._pending += request.size
        metrics.PENDING_EVENTS.set(self._pending)
        self._intake.put(request)
        return request.future

    def _settle(self, events: int) -> None:
        with self._pending_lock:
            self._pending -= events
        metrics.PENDING_EVENTS.set(self._pending)

    @property
    def pending_events(self) -> int:
        return self._pending

    # -- intake: normalize, spool, acknowledge ----------------------------------------------------------

    def _intake_loop(self) -> None:
        """Take every queued request at once, so that one query and one fsync serve them all."""
        stopping = False
        while not stopping:
            first = self._intake.get()
            requests = [] if first is None else [first]
            stopping = first is None
            while not stopping:
                try:
                    item = self._intake.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    requests.append(item)
            if requests:
                self._take(requests)

    def _take(self, requests: list[_Request]) -> None:
        started = time.perf_counter()
        try:
            results, batch, waiters = self._normalize(requests)
            if batch.num_rows:
                # Records reach the writer in spool order, so its checkpoint never passes an unwritten one.
                with self._spool_lock:
                    sequence = self.spool.append(batch)
                    self._written.put(_Record(sequence, batch, waiters))
        except Exception as error:
            log.exception("intake failed")
            for request in requests:
                self._settle(request.size)
                request.future.set_exception(error)
            return
        for request, result in zip(requests, results, strict=True):
            # Events that were not accepted never reach the writer.
            self._settle(request.size - result.accepted)
            request.future.set_result(result)
        metrics.INTAKE_SECONDS.observe(time.perf_counter() - started)

    def _normalize(self, requests: list[_Request]) -> tuple[list[IntakeResult], pa.Table, list[_Waiter]]:
        """Normalize the document requests in one pass; the record holds their good events first, then
        the normalized submissions, each of which gets a waiter for its rows."""
        document_rows = [
            normalize.with_context(
                pa.table({"document": pa.array(request.documents, pa.string())}), request.context, number
            )
            for number, request in enumerate(requests)
            if request.documents is not None and request.context is not None
        ]
        parts: list[pa.Table] = [r.normalized for r in requests if r.normalized is not None]
        accepted: Counter[int] = Counter()
        rejected: dict[int, list[Rejection]] = {}
        if document_rows:
            good, bad = normalize.normalize(pa.concat_tables(document_rows), normalize.document_input(), self.settings)
            good, refused_by_plan = tracking_plan.apply(good, self.plan_file.plan)
            bad = pa.concat_tables([bad, refused_by_plan])
            accepted.update(good.column("request").to_pylist())
            for row in bad.to_pylist():
                rejected.setdefault(row["request"], []).append(
                    Rejection(row["row_index"], row["error_field"], row["error_reason"])
                )
                metrics.EVENTS_REJECTED.labels(requests[row["request"]].context.source, row["error_field"]).inc()
            refused = [number for number in rejected if requests[number].atomic]
            if refused:
                good = good.filter(pc.invert(pc.is_in(good.column("request"), pa.array(refused, pa.int64()))))
                for number in refused:
                    accepted[number] = 0
            parts.insert(0, good.drop_columns(["request", "row_index"]))
        results = []
        waiters = []
        offset = parts[0].num_rows if document_rows else 0
        for number, request in enumerate(requests):
            if request.normalized is not None:
                waiter = _Waiter(Future(), offset, offset + request.normalized.num_rows)
                offset = waiter.end
                waiters.append(waiter)
                results.append(IntakeResult(request.normalized.num_rows, written=waiter.future))
            else:
                results.append(IntakeResult(accepted[number], rejected.get(number, [])))
                source = request.context.source if request.context else "api"
                metrics.EVENTS_ACCEPTED.labels(source).inc(accepted[number])
        batch = pa.concat_tables(parts) if parts else normalize.NORMALIZED_SCHEMA.empty_table()
        return results, batch, waiters

    # -- writer ------------------------------------------------------------------------------------------

    def _writer_loop(self) -> None:
        self.compaction.resume()
        stopping = False
        while not stopping:
            try:
                first = self._written.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                self.compaction.between_writes(idle=True)
                continue
            if first is None:
                return
            if isinstance(first, _TableWrite):
                self._write_table(first)
                continue
            items = [first]
            events = first.batch.num_rows
            deadline = time.monotonic() + self.settings.flush_interval_ms / 1000
            while events < self.settings.flush_max_events:
                try:
                    item = self._written.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                if isinstance(item, _TableWrite):
                    self._write(items)  # keep the order in which writes were submitted
                    items = []
                    self._write_table(item)
                    break
                items.append(item)
                events += item.batch.num_rows
            if items:
                self._write(items)
            self.compaction.between_writes(idle=False)

    def _write_table(self, write: _TableWrite) -> None:
        try:
            with self.store.engine.transaction():
                self.store.engine.insert(write.table, write.rows)
        except Exception as error:
            write.done.set_exception(error)
        else:
            write.done.set_result(None)

    def _write(self, items: list[_Record]) -> None:
        batch = pa.concat_tables([item.batch for item in items])
        last = items[-1].sequence
        delay = 0.1
        while True:
            started = time.perf_counter()
            try:
                result = self.store.write(batch, checkpoint=last)
                break
            except Exception as error:
                # The events are safe in the spool; keep trying, and let back-pressure reach clients.
                self.last_write_error = f"{dt.datetime.now(dt.UTC).isoformat()}: {error}"
                metrics.WRITE_FAILURES.inc()
                log.exception("warehouse write failed; retrying", extra={"events": batch.num_rows})
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.last_write_error = None
        metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
        metrics.EVENTS_STORED.inc(result.stored)
        self.compaction.stored(result.stored - result.pings)  # pings are not events, and have no timelines
        metrics.EVENTS_DUPLICATE.inc(result.duplicates)
        with self._spool_lock:
            self.spool.release(last)
            metrics.SPOOL_BYTES.set(self.spool.size_bytes)
        self._settle(batch.num_rows)
        offset = 0
        for item in items:
            for waiter in item.waiters:
                waiter.future.set_result(result.part(offset + waiter.start, offset + waiter.end))
            offset += item.batch.num_rows
