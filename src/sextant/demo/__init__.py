"""The demo company, Lodestar: a code-search company like the one in the seeds, simulated
deterministically. `generate` writes its data as files; `sextant demo` loads them into a project."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sextant.demo import business, company, telemetry

EVENTS_PER_FILE = 2_000_000
# Share of cloud events sent twice, as SDK retries do, so that dedup has work.
RETRIED_SHARE = 0.003


@dataclass(frozen=True)
class DemoFiles:
    events: list[Path]  # Parquet in Sextant's native import columns
    pings: Path  # Parquet, one row per instance ping
    business: list[Path]  # CSV: crm_accounts, licenses, support_tickets, nps_responses


def generate(
    directory: Path, *, events: int = 1_000_000, seed: int = 7, end: dt.date | None = None, days: int = 90
) -> DemoFiles:
    """Write the demo data for about `events` events over the `days` days ending on `end` (default: up to
    now). The same arguments, with an explicit `end`, always give the same files."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    until = now if end is None else dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    end = end or now.date()
    start = end - dt.timedelta(days=days - 1)
    rng = np.random.default_rng(seed)
    organizations = [f"org_{number:04d}" for number in range(1, min(2000, max(20, events // 4000)) + 1)]
    instance_count = min(2000, max(50, events // 7000))
    cloud, _ = company.simulate(rng, int(events * 0.98), start, days, organizations)
    pings, instances = telemetry.simulate(rng, instance_count, start, days)
    hosted = telemetry.instance_events(rng, pings, int(events * 0.02))
    retried = cloud.take(np.sort(rng.choice(cloud.num_rows, size=int(cloud.num_rows * RETRIED_SHARE), replace=False)))
    parts = [cloud, retried] + ([hosted.select(cloud.column_names)] if hosted.num_rows else [])
    everything = pa.concat_tables(parts).sort_by([("timestamp", "ascending"), ("insert_id", "ascending")])
    # Nothing happens after `until`: the demo ends now (or at the end of the given day).
    everything = everything.filter(pc.less(everything.column("timestamp"), until))
    pings = pings.filter(pc.less(pings.column("timestamp"), until))
    event_files = []
    for number, offset in enumerate(range(0, everything.num_rows, EVENTS_PER_FILE)):
        path = directory / f"events-{number:04d}.parquet"
        pq.write_table(everything.slice(offset, EVENTS_PER_FILE), path)
        event_files.append(path)
    pings_path = directory / "pings.parquet"
    pq.write_table(pings, pings_path)
    return DemoFiles(event_files, pings_path, business.write(directory, rng, end, organizations, instances))
