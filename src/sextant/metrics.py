"""What the server measures, exposed for Prometheus at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter("sextant_events_accepted_total", "Events accepted and made durable", ["source"])
EVENTS_REJECTED = Counter("sextant_events_rejected_total", "Events rejected by validation", ["source", "field"])
EVENTS_STORED = Counter("sextant_events_stored_total", "Events written to the warehouse")
EVENTS_DUPLICATE = Counter("sextant_events_duplicate_total", "Events dropped as duplicates of stored ones")
REQUESTS_REFUSED = Counter(
    "sextant_ingest_requests_refused_total", "Ingestion requests refused before reading events", ["status"]
)
PENDING_EVENTS = Gauge("sextant_ingest_pending_events", "Events accepted but not yet written")
SPOOL_BYTES = Gauge("sextant_spool_bytes", "Bytes in the ingestion spool")
WRITE_SECONDS = Histogram("sextant_warehouse_write_seconds", "Time to write one batch to the warehouse")
WRITE_FAILURES = Counter("sextant_warehouse_write_failures_total", "Failed warehouse writes (retried)")
INTAKE_SECONDS = Histogram(
    "sextant_ingest_intake_seconds",
    "Time from a request's events being read to their being durable",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
