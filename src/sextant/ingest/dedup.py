"""Deduplication: an event whose `insert_id` was already stored with a timestamp within the window is
dropped, whether the first copy came through the API, a vendor endpoint or an import.

The window is measured on event timestamps, not on arrival, so a retried request and a re-imported file
are both recognised, whenever they arrive. Both checks return positions in the batch (its `position`
column), so no wide rows are copied.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sextant.ingest import scratch
from sextant.warehouse.engine import Engine


def duplicate_positions(batch: pa.Table, engine: Engine, project: str, window_seconds: int) -> pa.Table:
    """Positions of rows that repeat an earlier row of the batch or a stored event: one column `position`."""
    window_micros = window_seconds * 1_000_000
    keyed = batch.select(["position", "insert_id", "timestamp"]).filter(pc.is_valid(batch.column("insert_id")))
    if keyed.num_rows == 0:
        return pa.table({"position": pa.array([], pa.int64())})
    # Only ids that occur twice in the batch need ordering; most ids occur once.
    repeated_in_batch = f"""
        SELECT position FROM (
            SELECT position, timestamp,
                lag(timestamp) OVER (PARTITION BY insert_id ORDER BY timestamp, position) AS previous
            FROM keyed
            WHERE insert_id IN (SELECT insert_id FROM keyed GROUP BY insert_id HAVING count(*) > 1)
        )
        WHERE previous IS NOT NULL AND epoch_us(timestamp) - epoch_us(previous) <= {window_micros}
    """
    window = dt.timedelta(seconds=window_seconds)
    stored = engine.execute(
        _stored_copies_query(),
        {
            "project": project,
            "low": pc.min(keyed.column("timestamp")).as_py() - window,
            "high": pc.max(keyed.column("timestamp")).as_py() + window,
        },
        tables={"batch_keys": keyed.select(["insert_id"])},
    )
    if stored.num_rows == 0:
        return scratch.run(repeated_in_batch, {"keyed": keyed})
    stored = stored.cast(pa.schema([("insert_id", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC"))]))
    return scratch.run(
        f"""
        {repeated_in_batch}
        UNION
        SELECT keyed.position FROM keyed JOIN stored USING (insert_id)
        WHERE abs(epoch_us(stored.timestamp) - epoch_us(keyed.timestamp)) <= {window_micros}
        """,
        {"keyed": keyed, "stored": stored},
    )


def stored_uuid_positions(batch: pa.Table, engine: Engine, project: str) -> pa.Table:
    """Positions of rows whose uuid is already in the warehouse. Used when replaying the spool after a
    crash, on engines where a batch's writes are not one transaction."""
    received = batch.column("received_at")
    stored = engine.execute(
        exp.select(exp.cast(exp.column("uuid"), "text").as_("uuid"))
        .from_("events")
        .where(
            exp.and_(
                exp.column("project").eq(exp.Placeholder(this="project")),
                exp.column("received_at").between(exp.Placeholder(this="low"), exp.Placeholder(this="high")),
                exp.column("uuid").isin(
                    query=exp.select(exp.cast(exp.column("uuid"), exp.DataType.build("uuid"))).from_("batch_uuids")
                ),
            )
        ),
        {"project": project, "low": pc.min(received).as_py(), "high": pc.max(received).as_py()},
        tables={"batch_uuids": batch.select(["uuid"])},
    )
    return scratch.run(
        "SELECT position FROM batch WHERE uuid IN (SELECT uuid FROM stored)",
        {
            "batch": batch.select(["position", "uuid"]),
            "stored": stored.cast(pa.schema([("uuid", pa.string())])),
        },
    )


def _stored_copies_query() -> exp.Select:
    return (
        exp.select("insert_id", "timestamp")
        .from_("events")
        .where(
            exp.and_(
                exp.column("project").eq(exp.Placeholder(this="project")),
                exp.column("timestamp").between(exp.Placeholder(this="low"), exp.Placeholder(this="high")),
                exp.column("insert_id").isin(query=exp.select("insert_id").from_("batch_keys")),
            )
        )
    )
