"""Insight engine benchmarks: Sextant's answer to each question next to hand-written peers on the same
events, timed in the same run (median of 3 runs after a warm-up), with the ratio Sextant/peer.

    python benchmarks/insights.py                       # E10M: 10M events, 1M persons, 90 days
    python benchmarks/insights.py --events 1000000      # a quick run: 1M events, 100k persons
    python benchmarks/insights.py --events 100000000    # E100M (importing it takes about 20 minutes)
    python benchmarks/insights.py --only funnel,retention --json insights.json

Questions and peers (every peer gives the same answer as Sextant, and the script checks that it does):
1. funnel: App Opened -> Search Submitted -> Result Clicked within 1 day, each person counted once with
   their best attempt. Peers: DuckDB SQL (chained ASOF joins) on the same DuckDB file's `events` table;
   chDB's `windowFunnel(86400)` on a MergeTree ordered by (person, time); polars (`join_asof`).
2. funnel10: the 10-step funnel against the 3-step one, for Sextant and for chDB's windowFunnel.
3. active_users: DAU, WAU and MAU for each of the 90 days, and distinct actors per calendar month.
   Peers: DuckDB SQL on the raw events, the same SQL on Sextant's `user_days` rollup, and polars.
4. retention: weekly, 8 cohorts of first-time `Signed Up`, returning with `App Opened` in weeks 1-7.
   Peers: chDB's `retention()` and DuckDB SQL.

The dataset is synthetic, deterministic from (events, persons, days, seed), and enters through the real
ingestion path: Parquet files with the native preset's columns `event`, `timestamp` (whole seconds, UTC)
and `distinct_id` (no properties, no insert_id), loaded with `sextant import` into a DuckDB project
(time zone UTC). Persons (1M, or events/10 when that is fewer) send 1 + a multinomial share of the rest by
log-normal weights (sigma 1.3; in E10M the busiest 1% send 14% of the events, the busiest 10% 47%, the
median person 5); 40% exist from day 1 and stay active throughout, the rest sign up on a uniform day (their
first event is `Signed Up`) and fade with a per-person lifetime (exponential, mean 30 days). Events come
in sessions (a new one with probability 1/7 per event; gaps exponential with mean 40 s, so about 2.5% of
consecutive events share a second); the k-th event of a session is step k of a 10-event product flow with
probability 0.75, else one of 12 other events (Zipf weights).

There are no identity merges, so each distinct_id is one person: the peers group by distinct_id, while
Sextant resolves persons through its distinct-id map. chDB and polars read the events exported from the
warehouse (`peers.parquet`); polars scans that file on every run, chDB its own MergeTree.

The dataset, the imported project, the export and the chDB table are cached under benchmarks/data/,
keyed by size and seed; `--rebuild` makes them again. Peak RSS is the whole process's (VmHWM), reset
before each measurement where the kernel allows it, so DuckDB's buffer cache is part of every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sextant.ingest import tracking_plan
from sextant.insights.active_users import DEFAULT_EXCLUDED_EVENTS, WINDOWS
from sextant.insights.runner import run_query
from sextant.insights.scan import QueryContext
from sextant.warehouse import migrations, timelines
from sextant.warehouse.engine import Engine, connect
from sextant.workspace import Workspace

DATA = Path(__file__).resolve().parent / "data"
LAST_DAY = dt.date(2024, 6, 30)  # a Sunday, so the last retention cohort is a whole week
EVENTS_PER_FILE = 2_000_000
PROJECT = "bench"

FLOW = [
    "App Opened",
    "Search Submitted",
    "Search Results Viewed",
    "Result Clicked",
    "File Viewed",
    "Code Copied",
    "Repository Starred",
    "Notebook Created",
    "Notebook Shared",
    "Invite Sent",
]
OTHER_EVENTS = [
    "Page Viewed",
    "Settings Opened",
    "Filter Changed",
    "Tab Switched",
    "Help Opened",
    "Notification Clicked",
    "Theme Changed",
    "Feedback Sent",
    "Export Started",
    "Shortcut Used",
    "Profile Viewed",
    "Billing Viewed",
]
SIGNED_UP = "Signed Up"
VOCABULARY = [*FLOW, *OTHER_EVENTS, SIGNED_UP]
FUNNEL = [FLOW[0], FLOW[1], FLOW[3]]
WINDOW_SECONDS = 86_400
RETURN_EVENT = FLOW[0]
RETENTION_WEEKS = 8

ACTIVITY_SIGMA = 1.3
EXISTING_SHARE = 0.4
MEAN_LIFETIME_DAYS = 30.0
SESSION_EVENTS = 7
MEAN_GAP_SECONDS = 40.0
FOLLOW_SHARE = 0.75

QUESTIONS = ("funnel", "funnel10", "active_users", "retention")


# -- the dataset ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    events: int
    persons: int
    days: int
    seed: int

    @property
    def directory(self) -> Path:
        return DATA / f"insights-e{self.events}-p{self.persons}-d{self.days}-s{self.seed}"

    @property
    def project(self) -> Path:
        return self.directory / "project"

    @property
    def warehouse_url(self) -> str:
        return f"duckdb:///{self.project}/warehouse.duckdb"

    @property
    def export(self) -> Path:
        return self.directory / "peers.parquet"

    @property
    def chdb(self) -> Path:
        return self.directory / "chdb"

    @property
    def manifest(self) -> Path:
        return self.directory / "dataset.json"

    @property
    def first_day(self) -> dt.date:
        return LAST_DAY - dt.timedelta(days=self.days - 1)


def generate(dataset: Dataset, directory: Path) -> list[Path]:
    """Write the events as Parquet files in time order; the same dataset always gives the same files."""
    rng = np.random.default_rng(dataset.seed)
    events, persons, days = dataset.events, dataset.persons, dataset.days
    weights = rng.lognormal(0.0, ACTIVITY_SIGMA, persons)
    counts = 1 + rng.multinomial(events - persons, weights / weights.sum())
    person = np.repeat(np.arange(persons, dtype=np.int32), counts)
    first_of_person = np.zeros(events, dtype=bool)
    first_of_person[np.cumsum(counts) - counts] = True
    new_session = first_of_person | (rng.random(events) < 1 / SESSION_EVENTS)
    session_first = np.flatnonzero(new_session)
    session = np.cumsum(new_session) - 1
    position = np.arange(events) - session_first[session]
    session_person = person[session_first]

    existing = rng.random(persons) < EXISTING_SHARE
    start_day = np.where(existing, 0, rng.integers(0, days, persons))
    lifetime = rng.exponential(MEAN_LIFETIME_DAYS, persons) + 1
    remaining = (days - start_day)[session_person]
    scale = lifetime[session_person]
    uniform = rng.random(len(session_first))
    faded = -scale * np.log1p(-uniform * -np.expm1(-remaining / scale))  # exponential, truncated to the data
    offset = np.where(existing[session_person], uniform * remaining, faded)
    # A new person's first session is on the day they sign up.
    signs_up = first_of_person[session_first] & ~existing[session_person]
    offset[signs_up] = uniform[signs_up]
    session_start = ((start_day[session_person] + offset) * 86_400).astype(np.int64)
    # Sessions are contiguous per person: sorting by (person, start) keeps each person's slots and makes a
    # person's first session the earliest, so a sign-up is their first event.
    session_start = session_start[np.lexsort((session_start, session_person))]

    gaps = np.floor(rng.exponential(MEAN_GAP_SECONDS, events)).astype(np.int64)
    gaps[new_session] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[session_first][session]
    seconds = np.minimum(session_start[session] + elapsed, days * 86_400 - 1)
    del gaps, elapsed, session

    zipf = 1 / np.arange(1, len(OTHER_EVENTS) + 1)
    other = len(FLOW) + rng.choice(len(OTHER_EVENTS), size=events, p=zipf / zipf.sum())
    follows = (position < len(FLOW)) & (rng.random(events) < FOLLOW_SHARE)
    code = np.where(follows, np.minimum(position, len(FLOW) - 1), other).astype(np.int8)
    code[first_of_person & ~existing[person]] = VOCABULARY.index(SIGNED_UP)
    del position, other, follows, first_of_person

    order = np.argsort(seconds, kind="stable")
    names = pa.array(VOCABULARY)
    ids = pa.array([f"u{number:07d}" for number in range(persons)])
    base = int(dt.datetime.combine(dataset.first_day, dt.time(), dt.UTC).timestamp()) * 1_000_000
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for number, offset_rows in enumerate(range(0, events, EVENTS_PER_FILE)):
        rows = order[offset_rows : offset_rows + EVENTS_PER_FILE]
        table = pa.table(
            {
                "event": names.take(pa.array(code[rows])),
                "timestamp": pa.array(base + seconds[rows] * 1_000_000, pa.timestamp("us", tz="UTC")),
                "distinct_id": ids.take(pa.array(person[rows])),
            }
        )
        path = directory / f"events-{number:04d}.parquet"
        pq.write_table(table, path)
        files.append(path)
    return files


def prepare(dataset: Dataset, rebuild: bool) -> dict[str, Any]:
    """Generate, import, export and load the dataset unless a finished copy is cached; its manifest."""
    if dataset.manifest.exists() and not rebuild:
        return dict(json.loads(dataset.manifest.read_text()))
    shutil.rmtree(dataset.directory, ignore_errors=True)
    manifest: dict[str, Any] = {"events": dataset.events, "persons": dataset.persons, "days": dataset.days}
    print(f"Building {dataset.directory.name} (cached for later runs)", flush=True)

    started = time.perf_counter()
    # Generated in a child process, so that its memory does not count in this process's peak RSS.
    subprocess.run(
        [sys.executable, __file__, "--generate-only", *_dataset_arguments(dataset)],
        check=True,
    )
    files = sorted((dataset.directory / "source").glob("events-*.parquet"))
    manifest["generate_seconds"] = round(time.perf_counter() - started, 1)
    print(f"  generated {len(files)} files in {manifest['generate_seconds']}s", flush=True)

    workspace, _ = Workspace.initialize(dataset.project, name=PROJECT, timezone="UTC", warehouse=dataset.warehouse_url)
    workspace.close()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sextant", "import", *map(str, files), "-p", str(dataset.project)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    manifest["import_seconds"] = round(time.perf_counter() - started, 1)
    manifest["import_events_per_second"] = round(dataset.events / manifest["import_seconds"])
    print(
        f"  sextant import: {manifest['import_seconds']}s ({manifest['import_events_per_second']:,} events/s)",
        flush=True,
    )

    engine = connect(dataset.warehouse_url)
    stored = engine.execute("SELECT count(*) AS n FROM events").column("n")[0].as_py()
    if stored != dataset.events:
        raise RuntimeError(f"sextant import stored {stored:,} of {dataset.events:,} events")
    engine.execute(
        f"COPY (SELECT distinct_id, event, timestamp FROM events ORDER BY timestamp, distinct_id, event) "
        f"TO {_quote(str(dataset.export))} (FORMAT parquet)"
    )
    engine.close()

    import chdb

    started = time.perf_counter()
    session = chdb.connect(str(dataset.chdb))
    session.query(
        "CREATE TABLE events (person String, event LowCardinality(String), time DateTime('UTC')) "
        "ENGINE = MergeTree ORDER BY (person, time)"
    )
    session.query(
        "INSERT INTO events SELECT distinct_id, event, toDateTime(timestamp, 'UTC') "
        f"FROM file({_quote(str(dataset.export))}, Parquet)"
    )
    session.query("OPTIMIZE TABLE events FINAL")
    session.close()
    manifest["chdb_load_seconds"] = round(time.perf_counter() - started, 1)
    dataset.manifest.write_text(json.dumps(manifest, indent=2))
    return manifest


def _dataset_arguments(dataset: Dataset) -> list[str]:
    return [
        f"--events={dataset.events}",
        f"--persons={dataset.persons}",
        f"--days={dataset.days}",
        f"--seed={dataset.seed}",
    ]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"  # valid in both DuckDB and ClickHouse


# -- measuring ------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    peer: str
    seconds: float  # the median
    runs: list[float]
    peak_rss_mb: float
    answer: Any


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(peer: str, run: Callable[[], Any], repeat: int) -> Measurement:
    """A warm-up run, then `repeat` timed runs; the answer is the last run's."""
    _reset_peak_rss()
    answer = run()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = run()
        runs.append(time.perf_counter() - started)
    measurement = Measurement(peer, statistics.median(runs), runs, _peak_rss_mb(), answer)
    print(f"    {peer:<34} {measurement.seconds:9.3f}s", flush=True)
    return measurement


@dataclass
class Question:
    name: str
    title: str
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- the peers ------------------------------------------------------------------------------------------


@dataclass
class Bench:
    dataset: Dataset
    engine: Engine
    chdb: Any
    context: QueryContext
    repeat: int
    # Measurements by what they ran, so that a question asked twice in one run is timed once.
    measured: dict[str, Measurement] = field(default_factory=dict)

    def measure(self, peer: str, run: Callable[[], Any], key: str | None = None) -> Measurement:
        if key is not None and key in self.measured:
            earlier = self.measured[key]
            print(f"    {peer:<34} {earlier.seconds:9.3f}s (measured above)", flush=True)
            return replace(earlier, peer=peer)
        measurement = measure(peer, run, self.repeat)
        if key is not None:
            self.measured[key] = measurement
        return measurement

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.dataset.first_day, dt.time(), dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(), dt.UTC)

    def sextant(self, spec: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        return lambda: run_query(spec, self.context).result

    def duckdb(self, sql: str, parameters: dict[str, object]) -> Callable[[], pa.Table]:
        return lambda: self.engine.execute(sql, parameters)

    def clickhouse(self, sql: str) -> Callable[[], pa.Table]:
        return lambda: self.chdb.query(sql, "ArrowTable")


def _list(names: list[str]) -> str:
    return ", ".join(_quote(name) for name in names)


def funnel_spec(bench: Bench, steps: list[str]) -> dict[str, Any]:
    return {
        "kind": "funnel",
        "date_from": bench.dataset.first_day.isoformat(),
        "date_to": LAST_DAY.isoformat(),
        "steps": [{"event": name} for name in steps],
        "window": {"value": WINDOW_SECONDS // 86_400, "unit": "day"},
    }


def sextant_funnel_counts(result: dict[str, Any]) -> list[int]:
    return [step["count"] for step in result["results"][0]["steps"]]


def duckdb_funnel_sql(steps: list[str]) -> str:
    """Each attempt starts at a first-step event in the range; each later step is the earliest event of that
    step at or after the previous one (ASOF), kept when it is within the window of the entry."""
    parts = [
        f"""e AS (SELECT distinct_id AS person, timestamp AS time, event FROM events
            WHERE event IN ({_list(steps)}) AND timestamp >= $start AND timestamp < $scan_end)""",
        f"""step0 AS (SELECT person, time AS entered, time AS t0 FROM e
            WHERE event = {_quote(steps[0])} AND time < $end)""",
    ]
    for k, name in enumerate(steps[1:], start=1):
        previous = ", ".join(f"a.t{j}" for j in range(k))
        parts.append(f"""step{k} AS (
            SELECT a.person, a.entered, {previous},
                CASE WHEN b.time <= a.entered + INTERVAL {WINDOW_SECONDS} SECOND THEN b.time END AS t{k}
            FROM step{k - 1} a ASOF LEFT JOIN (SELECT person, time FROM e WHERE event = {_quote(name)}) b
                ON a.person = b.person AND a.t{k - 1} <= b.time)""")
    reached = " + ".join(f"(t{k} IS NOT NULL)::INT" for k in range(1, len(steps)))
    last = f"step{len(steps) - 1}"
    counts = ", ".join(f"count(*) FILTER (WHERE reached >= {k + 1}) AS step{k}" for k in range(len(steps)))
    return (
        "WITH "
        + ",\n".join(parts)
        + f",\nbest AS (SELECT person, max(1 + {reached}) AS reached FROM {last} GROUP BY person)\n"
        + f"SELECT {counts} FROM best"
    )


def _row_counts(table: pa.Table) -> list[int]:
    return [int(table.column(index)[0].as_py()) for index in range(table.num_columns)]


def chdb_funnel_sql(bench: Bench, steps: list[str]) -> str:
    start, end = _ch_time(bench.start), _ch_time(bench.end)
    scan_end = _ch_time(bench.end + dt.timedelta(seconds=WINDOW_SECONDS))
    conditions = [f"event = {_quote(steps[0])} AND time < {end}"] + [f"event = {_quote(name)}" for name in steps[1:]]
    return f"""
        SELECT level, count() AS persons FROM (
            SELECT person, windowFunnel({WINDOW_SECONDS})(time, {", ".join(conditions)}) AS level
            FROM events WHERE event IN ({_list(steps)}) AND time >= {start} AND time < {scan_end}
            GROUP BY person
        ) GROUP BY level ORDER BY level"""


def _ch_time(instant: dt.datetime) -> str:
    return f"toDateTime({_quote(instant.strftime('%Y-%m-%d %H:%M:%S'))}, 'UTC')"


def chdb_funnel_counts(table: pa.Table, steps: int) -> list[int]:
    by_level = dict(zip(table.column("level").to_pylist(), table.column("persons").to_pylist(), strict=True))
    return [sum(count for level, count in by_level.items() if level >= k) for k in range(1, steps + 1)]


def polars_funnel(bench: Bench, steps: list[str]) -> Callable[[], list[int]]:
    import polars as pl

    window = dt.timedelta(seconds=WINDOW_SECONDS)
    start, end = bench.start, bench.end

    def run() -> list[int]:
        events = (
            pl.scan_parquet(bench.dataset.export)
            .filter(
                pl.col("event").is_in(steps) & (pl.col("timestamp") >= start) & (pl.col("timestamp") < end + window)
            )
            .select(pl.col("distinct_id").alias("person"), pl.col("timestamp").alias("time"), "event")
            .collect()
        )
        attempts = (
            events.filter((pl.col("event") == steps[0]) & (pl.col("time") < end))
            .select("person", pl.col("time").alias("entered"), pl.col("time").alias("t0"))
            .sort("t0")
        )
        never = events.select(pl.col("time").max()).item() + 2 * window  # no step event is found after it
        for k, name in enumerate(steps[1:], start=1):
            found = events.filter(pl.col("event") == name).select("person", pl.col("time").alias(f"t{k}")).sort(f"t{k}")
            attempts = (
                attempts.with_columns(pl.col(f"t{k - 1}").fill_null(never).alias("after"))
                .sort("after")
                .join_asof(
                    found, left_on="after", right_on=f"t{k}", by="person", strategy="forward", check_sortedness=False
                )
                .with_columns(
                    pl.when(pl.col(f"t{k}") <= pl.col("entered") + window).then(pl.col(f"t{k}")).alias(f"t{k}")
                )
                .drop("after")
            )
        reached = pl.sum_horizontal(pl.col(f"t{k}").is_not_null().cast(pl.Int32) for k in range(1, len(steps)))
        best = attempts.group_by("person").agg((1 + reached).max().alias("reached"))
        return [int(best.filter(pl.col("reached") >= k).height) for k in range(1, len(steps) + 1)]

    return run


def bench_funnel(bench: Bench) -> Question:
    question = Question("funnel", f"funnel, 3 steps, 1-day window ({' -> '.join(FUNNEL)})")
    parameters = {
        "start": bench.start,
        "end": bench.end,
        "scan_end": bench.end + dt.timedelta(seconds=WINDOW_SECONDS),
    }
    sextant = bench.sextant(funnel_spec(bench, FUNNEL))
    duckdb = bench.duckdb(duckdb_funnel_sql(FUNNEL), parameters)
    clickhouse = bench.clickhouse(chdb_funnel_sql(bench, FUNNEL))
    question.measurements = [
        bench.measure("sextant", lambda: sextant_funnel_counts(sextant()), key="sextant funnel 3"),
        bench.measure("duckdb_sql (ASOF joins)", lambda: _row_counts(duckdb())),
        bench.measure(
            "chdb windowFunnel(86400)", lambda: chdb_funnel_counts(clickhouse(), len(FUNNEL)), key="chdb funnel 3"
        ),
        bench.measure("polars (join_asof)", polars_funnel(bench, FUNNEL)),
    ]
    question.notes = compare_counts(question.measurements)
    shared = bench.engine.execute(
        f"""SELECT count(*) AS n FROM (SELECT distinct_id, timestamp FROM events WHERE event IN ({_list(FUNNEL)})
            GROUP BY ALL HAVING count(DISTINCT event) > 1)"""
    )
    question.notes.append(
        f"ties: {shared.column('n')[0].as_py():,} (person, second) pairs hold events of more than one step"
    )
    return question


def bench_funnel10(bench: Bench) -> Question:
    question = Question("funnel10", f"funnel, 10 steps vs 3 steps, 1-day window ({FLOW[0]} -> ... -> {FLOW[-1]})")
    ten = bench.sextant(funnel_spec(bench, FLOW))
    three = bench.sextant(funnel_spec(bench, FUNNEL))
    clickhouse_ten = bench.clickhouse(chdb_funnel_sql(bench, FLOW))
    clickhouse_three = bench.clickhouse(chdb_funnel_sql(bench, FUNNEL))
    question.measurements = [
        bench.measure("sextant, 10 steps", lambda: sextant_funnel_counts(ten())),
        bench.measure("sextant, 3 steps", lambda: sextant_funnel_counts(three()), key="sextant funnel 3"),
        bench.measure("chdb windowFunnel, 10 steps", lambda: chdb_funnel_counts(clickhouse_ten(), len(FLOW))),
        bench.measure(
            "chdb windowFunnel(86400)", lambda: chdb_funnel_counts(clickhouse_three(), len(FUNNEL)), key="chdb funnel 3"
        ),
    ]
    sextant_ten, _, chdb_ten, chdb_three = question.measurements
    agrees = "agrees" if chdb_ten.answer == sextant_ten.answer else f"gives {chdb_ten.answer}"
    question.notes = [
        f"10-step counts: {sextant_ten.answer}; chDB's windowFunnel {agrees}",
        f"chDB's 10 steps take {chdb_ten.seconds / chdb_three.seconds:.2f}x its 3 steps",
    ]
    return question


def compare_counts(measurements: list[Measurement]) -> list[str]:
    reference = measurements[0]
    notes = [f"{reference.peer} step counts: {reference.answer}"]
    for other in measurements[1:]:
        if other.answer == reference.answer:
            notes.append(f"{other.peer}: agrees")
        else:
            difference = [theirs - ours for ours, theirs in zip(reference.answer, other.answer, strict=True)]
            notes.append(f"{other.peer}: {other.answer} (difference {difference})")
    return notes


# Active users: the days an actor was active, and for each window the days each active day newly covers
# (from the later of the day and the end of the previous day's coverage, to the day + the window).


def _excluded_condition(column: str) -> str:
    return " AND ".join(f"lower({column}) NOT LIKE {_quote(pattern)}" for pattern in DEFAULT_EXCLUDED_EVENTS)


def duckdb_active_sql(source: str) -> str:
    if source == "events":
        active = f"""SELECT DISTINCT distinct_id AS person, CAST(timestamp AS DATE) AS day FROM events
            WHERE timestamp >= $scan_start AND timestamp < $end AND distinct_id <> 'backend'
            AND {_excluded_condition("event")}"""
    else:
        active = f"""SELECT DISTINCT distinct_id AS person, day FROM user_days
            WHERE project = {_quote(PROJECT)} AND day >= CAST($scan_start AS DATE) AND day < CAST($end AS DATE)
            AND distinct_id <> 'backend' AND {_excluded_condition("event")}"""
    windows = ", ".join(f"({width})" for width in WINDOWS.values())
    return f"""
        WITH active AS MATERIALIZED ({active}),
        spans AS (SELECT day, lag(day) OVER (PARTITION BY person ORDER BY day) AS previous FROM active),
        changes AS (
            SELECT width, greatest(day, COALESCE(previous + width, day)) AS day, 1 AS delta
            FROM spans, (VALUES {windows}) AS windows(width)
            UNION ALL
            SELECT width, day + width, -1 FROM spans, (VALUES {windows}) AS windows(width)
        ),
        daily AS (SELECT width, day, sum(delta) AS delta FROM changes GROUP BY ALL),
        calendar AS (SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE) - 1,
            INTERVAL 1 DAY)) AS DATE) AS day)
        SELECT 'window' AS kind, width, calendar.day, CAST(sum(delta) AS BIGINT) AS actors
        FROM calendar JOIN daily ON daily.day <= calendar.day GROUP BY ALL
        UNION ALL
        SELECT 'month', NULL, CAST(date_trunc('month', day) AS DATE), count(DISTINCT person) FROM active
        WHERE day >= CAST($month_start AS DATE) GROUP BY ALL"""


def active_answer_from_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = {width: name for name, width in WINDOWS.items()}
    series: dict[str, dict[str, int]] = {name: {} for name in WINDOWS}
    months = {}
    for row in rows:
        if row["kind"] == "month":
            months[row["day"].isoformat()] = int(row["actors"])
        else:
            series[names[row["width"]]][row["day"].isoformat()] = int(row["actors"])
    answer: dict[str, Any] = {name: [values[day] for day in sorted(values)] for name, values in series.items()}
    answer["months"] = months
    return answer


def sextant_active_answer(result: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {name: result[name] for name in WINDOWS}
    answer["months"] = {row["month"]: row["mau"] for row in result["dau_mau_by_month"]}
    return answer


def polars_active(bench: Bench, scan_start: dt.datetime, month_start: dt.date) -> Callable[[], dict[str, Any]]:
    import polars as pl

    first, last = bench.dataset.first_day, LAST_DAY

    def run() -> dict[str, Any]:
        event = pl.col("event").str.to_lowercase()
        excluded = pl.any_horizontal(
            event.str.contains("^" + pattern.replace("%", ".*") + "$") for pattern in DEFAULT_EXCLUDED_EVENTS
        )
        active = (
            pl.scan_parquet(bench.dataset.export)
            .filter(
                (pl.col("timestamp") >= scan_start)
                & (pl.col("timestamp") < bench.end)
                & (pl.col("distinct_id") != "backend")
                & ~excluded
            )
            .select(pl.col("distinct_id").alias("person"), pl.col("timestamp").dt.date().alias("day"))
            .unique()
            .collect()
        )
        spans = active.sort("person", "day").with_columns(pl.col("day").shift(1).over("person").alias("previous"))
        calendar = pl.DataFrame({"day": pl.date_range(first - dt.timedelta(days=31), last, eager=True)})
        answer: dict[str, Any] = {}
        for name, width in WINDOWS.items():
            span = pl.duration(days=width)
            starts = spans.select(pl.max_horizontal("day", pl.col("previous") + span).alias("day"), delta=pl.lit(1))
            stops = spans.select((pl.col("day") + span).alias("day"), delta=pl.lit(-1))
            daily = pl.concat([starts, stops]).group_by("day").agg(pl.col("delta").sum())
            running = (
                calendar.join(daily, on="day", how="left")
                .with_columns(pl.col("delta").fill_null(0).cum_sum().alias("actors"))
                .filter(pl.col("day") >= first)
            )
            answer[name] = running.get_column("actors").to_list()
        months = (
            active.filter(pl.col("day") >= month_start)
            .group_by(pl.col("day").dt.truncate("1mo").alias("month"))
            .agg(pl.col("person").n_unique().alias("actors"))
        )
        answer["months"] = {month.isoformat(): int(actors) for month, actors in months.sort("month").iter_rows()}
        return answer

    return run


def bench_active_users(bench: Bench) -> Question:
    days = bench.dataset.days
    question = Question("active_users", f"DAU/WAU/MAU over {days} days")
    first = bench.dataset.first_day
    scan_start = bench.start - dt.timedelta(days=max(WINDOWS.values()) - 1)
    month_start = first.replace(day=1)
    scan_start = min(scan_start, dt.datetime.combine(month_start, dt.time(), dt.UTC))
    spec = {"kind": "active_users", "date_from": first.isoformat(), "date_to": LAST_DAY.isoformat()}
    sextant = bench.sextant(spec)
    parameters = {"scan_start": scan_start, "start": bench.start, "end": bench.end, "month_start": month_start}
    raw = bench.duckdb(duckdb_active_sql("events"), parameters)
    rollup = bench.duckdb(duckdb_active_sql("user_days"), parameters)
    question.measurements = [
        bench.measure("sextant", lambda: sextant_active_answer(sextant())),
        bench.measure("duckdb_sql on events", lambda: active_answer_from_rows(raw().to_pylist())),
        bench.measure("duckdb_sql on user_days rollup", lambda: active_answer_from_rows(rollup().to_pylist())),
        bench.measure("polars", polars_active(bench, scan_start, month_start)),
    ]
    reference = question.measurements[0]
    question.notes.append(
        f"sextant: last day DAU {reference.answer['dau'][-1]:,}, WAU {reference.answer['wau'][-1]:,}, "
        f"MAU {reference.answer['mau'][-1]:,}; by month {reference.answer['months']}"
    )
    for other in question.measurements[1:]:
        question.notes.append(f"{other.peer}: {_compare_active(reference.answer, other.answer)}")
    return question


def _compare_active(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    problems = []
    for name in WINDOWS:
        differing = [day for day, (a, b) in enumerate(zip(ours[name], theirs[name], strict=False)) if a != b]
        if len(ours[name]) != len(theirs[name]) or differing:
            problems.append(f"{name} differs on {len(differing)} days (lengths {len(ours[name])}/{len(theirs[name])})")
    if ours["months"] != theirs["months"]:
        problems.append(f"months {theirs['months']}")
    return "; ".join(problems) or "agrees"


def retention_range() -> tuple[dt.date, dt.date]:
    first = LAST_DAY - dt.timedelta(days=7 * RETENTION_WEEKS - 1)
    return first - dt.timedelta(days=first.weekday()), LAST_DAY


def duckdb_retention_sql() -> str:
    periods = RETENTION_WEEKS - 1
    return f"""
        WITH firsts AS (
            SELECT distinct_id AS person, min(timestamp) AS started FROM events
            WHERE event = {_quote(SIGNED_UP)} GROUP BY person
        ),
        cohorts AS (
            SELECT person, started, CAST(date_trunc('week', started) AS DATE) AS cohort FROM firsts
            WHERE started >= $start AND started < $end
        ),
        returns AS (
            SELECT DISTINCT c.cohort, c.person,
                date_diff('day', c.cohort, CAST(date_trunc('week', e.timestamp) AS DATE)) // 7 AS period
            FROM cohorts c JOIN events e ON e.distinct_id = c.person
            WHERE e.event = {_quote(RETURN_EVENT)} AND e.timestamp > c.started AND e.timestamp < $returns_end
        )
        SELECT cohort, 0 AS period, count(*) AS persons FROM cohorts GROUP BY ALL
        UNION ALL
        SELECT cohort, period, count(*) FROM returns WHERE period BETWEEN 1 AND {periods} GROUP BY ALL"""


def chdb_retention_sql(start: dt.datetime, end: dt.datetime) -> str:
    returns = ", ".join(
        f"event = {_quote(RETURN_EVENT)} AND toMonday(time) = addWeeks(cohort, {period})"
        for period in range(1, RETENTION_WEEKS)
    )
    return f"""
        WITH cohorts AS (
            SELECT person, toMonday(min(time)) AS cohort FROM events WHERE event = {_quote(SIGNED_UP)}
            GROUP BY person HAVING min(time) >= {_ch_time(start)} AND min(time) < {_ch_time(end)}
        )
        SELECT cohort_week AS cohort, sumForEach(retained) AS counts FROM (
            SELECT person, any(cohort) AS cohort_week, retention(event = {_quote(SIGNED_UP)}, {returns}) AS retained
            FROM events INNER JOIN cohorts USING (person)
            WHERE event IN ({_list([SIGNED_UP, RETURN_EVENT])})
            GROUP BY person
        ) GROUP BY cohort_week ORDER BY cohort_week"""


def retention_answer_from_periods(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    answer: dict[str, list[int]] = {}
    for row in rows:
        counts = answer.setdefault(row["cohort"].isoformat(), [0] * RETENTION_WEEKS)
        counts[row["period"]] = int(row["persons"])
    return dict(sorted(answer.items()))


def bench_retention(bench: Bench) -> Question:
    question = Question(
        "retention", f"weekly retention, {RETENTION_WEEKS} cohorts: first {SIGNED_UP} -> {RETURN_EVENT}"
    )
    first, last = retention_range()
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
    spec = {
        "kind": "retention",
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
        "interval": "week",
        "start": {"event": SIGNED_UP},
        "return": {"event": RETURN_EVENT},
        "start_type": "first_time",
        "periods": RETENTION_WEEKS,
    }
    sextant = bench.sextant(spec)
    duckdb = bench.duckdb(duckdb_retention_sql(), {"start": start, "end": end, "returns_end": bench.end})
    clickhouse = bench.clickhouse(chdb_retention_sql(start, end))

    def sextant_answer() -> dict[str, list[int]]:
        cohorts = sextant()["results"][0]["cohorts"]
        return {cohort["cohort"]: cohort["counts"] for cohort in cohorts if cohort["size"]}

    def chdb_answer() -> dict[str, list[int]]:
        return {row["cohort"].isoformat(): list(row["counts"]) for row in clickhouse().to_pylist()}

    question.measurements = [
        bench.measure("sextant", sextant_answer),
        bench.measure("chdb retention()", chdb_answer),
        bench.measure("duckdb_sql", lambda: retention_answer_from_periods(duckdb().to_pylist())),
    ]
    reference = question.measurements[0]
    question.notes.append(f"sextant cohorts [size, week 1..{RETENTION_WEEKS - 1}]: {reference.answer}")
    for other in question.measurements[1:]:
        question.notes.append(f"{other.peer}: {'agrees' if other.answer == reference.answer else other.answer}")
    return question


BENCHES: dict[str, Callable[[Bench], Question]] = {
    "funnel": bench_funnel,
    "funnel10": bench_funnel10,
    "active_users": bench_active_users,
    "retention": bench_retention,
}


# -- the report -----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(memory, 1), "python": platform.python_version()}


def code_version() -> dict[str, Any]:
    """The commit measured, and the source files that differed from it (the figures belong to that state)."""
    root = Path(__file__).resolve().parent.parent

    def git(*arguments: str) -> str:
        try:
            return subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    return {"commit": git("rev-parse", "HEAD"), "uncommitted": git("status", "--porcelain", "src").splitlines()}


def report(questions: list[Question]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print()
    print(f"{'question / peer':<40} {'seconds':>9} {'Sextant/peer':>13} {'peak RSS MB':>12}   runs")
    for question in questions:
        print(question.title)
        reference = question.measurements[0]
        peers = {}
        for item in question.measurements:
            ratio = reference.seconds / item.seconds if item is not reference else None
            shown = "-" if ratio is None else f"{ratio:.2f}"
            runs = " ".join(f"{run:.3f}" for run in item.runs)
            print(f"  {item.peer:<38} {item.seconds:9.3f} {shown:>13} {item.peak_rss_mb:12,.0f}   {runs}")
            peers[item.peer] = {
                "seconds": item.seconds,
                "runs": item.runs,
                "ratio_sextant_to_peer": ratio,
                "peak_rss_mb": item.peak_rss_mb,
            }
        for note in question.notes:
            print(f"    {note}")
        results[question.name] = {"title": question.title, "peers": peers, "notes": question.notes}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the dataset (E10M)")
    parser.add_argument("--persons", type=int, help="persons (default: 1M, or events/10 when fewer)")
    parser.add_argument("--days", type=int, default=90, help="days of data, ending on 2024-06-30")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up; the median counts")
    parser.add_argument("--only", help=f"comma-separated questions: {', '.join(QUESTIONS)}")
    parser.add_argument("--rebuild", action="store_true", help="make the cached dataset again")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    persons = args.persons or min(1_000_000, args.events // 10)
    if not 0 < persons <= args.events:
        parser.error("--persons must be between 1 and --events")
    dataset = Dataset(args.events, persons, args.days, args.seed)
    if args.generate_only:
        generate(dataset, dataset.directory / "source")
        return
    chosen = args.only.split(",") if args.only else list(QUESTIONS)
    unknown = set(chosen) - set(QUESTIONS)
    if unknown:
        parser.error(f"unknown questions {', '.join(sorted(unknown))}; use {', '.join(QUESTIONS)}")

    manifest = prepare(dataset, args.rebuild)
    import chdb

    engine = connect(dataset.warehouse_url)
    migrations.migrate(engine)  # a dataset cached by an older Sextant
    if timelines.pending_events(engine, PROJECT, timelines.latest_build(engine, PROJECT)):
        started = time.perf_counter()
        timelines.compact(engine, PROJECT, "UTC")
        print(f"  built person timelines in {time.perf_counter() - started:.1f}s", flush=True)
    context = QueryContext(
        engine=engine,
        project=PROJECT,
        timezone="UTC",
        plan=tracking_plan.load(dataset.project / "tracking_plan.yaml"),
        now=dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(), dt.UTC),
    )
    session = chdb.connect(str(dataset.chdb))
    bench = Bench(dataset, engine, session, context, args.repeat)
    about = machine()
    version = code_version()
    print(
        f"{dataset.events:,} events, {dataset.persons:,} persons, {dataset.days} days (seed {dataset.seed}); "
        f"{about['cores']} cores ({about['cpu']}), {about['memory_gib']} GiB; median of {args.repeat} after a warm-up"
    )
    questions = []
    try:
        for name in chosen:
            print(f"  {name}", flush=True)
            questions.append(BENCHES[name](bench))
    finally:
        session.close()
        engine.close()
    results = report(questions)
    peak = max((item.peak_rss_mb for question in questions for item in question.measurements), default=0.0)
    print(f"peak RSS of this process: {peak:,.0f} MB")
    if version["uncommitted"]:
        print(f"measured {version['commit'][:12]} with uncommitted changes: {', '.join(version['uncommitted'])}")
    if args.json:
        document = {
            "machine": about,
            "code": version,
            "dataset": manifest,
            "questions": results,
            "peak_rss_mb": peak,
        }
        args.json.write_text(json.dumps(document, indent=2, default=str))


if __name__ == "__main__":
    main()
