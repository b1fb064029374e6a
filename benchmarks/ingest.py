"""Ingestion benchmarks, each measured side by side with its peer in the same run.

    python benchmarks/ingest.py                    # HTTP and import on E10M (10M demo events)
    python benchmarks/ingest.py --events 1000000   # a quicker run
    python benchmarks/ingest.py --only http

HTTP: loopback client processes send batches of 500 events with durable acknowledgements; we report
sustained events/s and latency. Peers: a minimal server that only appends each body to a file and fsyncs
it (the ceiling of a durable Python HTTP endpoint on this machine), and RudderStack's published figure.

Import: `sextant import` of the same events from Parquet and from NDJSON, in events/s, CPU seconds and peak
RSS. Peers, each loading the same events into a table of the same shape with nothing else to do (the
ceilings): DuckDB's Arrow insert of the Parquet batches, and DuckDB's fastest loads, one INSERT over
`read_parquet` (for the Parquet import) and one over `read_json` (for the NDJSON import).
The demo files and their NDJSON export are cached under benchmarks/data/, keyed by size and seed (the
demo's last day is the day before they are made); `--rebuild` makes them again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq
from sqlglot import exp

RUDDERSTACK_EVENTS_PER_SECOND = 1_700  # published, 2 cores; not run here
BATCH = 500


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


# -- HTTP ----------------------------------------------------------------------------------------------


def client(port: int, key: str, seconds: float, number: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Send batches of 500 distinct events back to back on one keep-alive connection."""
    template = orjson.dumps(
        [
            {
                "event": "Search Submitted",
                "distinct_id": f"c{number}-u{index % 300}",
                "insert_id": f"c{number}-BATCH-{index}",
                "timestamp": "2024-05-06T09:00:00Z",
                "properties": {"query": "repo:acme lang:go", "results_count": index},
            }
            for index in range(BATCH)
        ]
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies, acknowledged, sequence = [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        body = template.replace(b"BATCH", str(sequence).encode())
        sequence += 1
        started = time.perf_counter()
        connection.request("POST", "/api/v1/batch", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status == 200:
            acknowledged += BATCH
    results.put((acknowledged, latencies))


def load(port: int, key: str, clients: int, seconds: float) -> dict[str, float]:
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    processes = [
        multiprocessing.Process(target=client, args=(port, key, seconds, number, results)) for number in range(clients)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    outcomes = [results.get() for _ in processes]
    elapsed = time.monotonic() - started
    for process in processes:
        process.join()
    latencies = sorted(latency for _, part in outcomes for latency in part)
    return {
        "events_per_second": sum(acknowledged for acknowledged, _ in outcomes) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


FSYNC_SERVER = """
import os, sys
path = sys.argv[1]
descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    os.write(descriptor, body)
    os.fsync(descriptor)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"accepted": 500}'})

import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def bench_http(work: Path, clients: int, seconds: float) -> dict[str, dict[str, float]]:
    from sextant.auth.keys import create_key
    from sextant.metadata.models import KeyKind
    from sextant.workspace import Workspace

    workspace, _ = Workspace.initialize(work / "http-project", name="bench")
    key = create_key(workspace.metadata, KeyKind.INGEST, "bench").secret
    workspace.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sextant", "serve", str(work / "http-project"), "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        sextant = load(port, key, clients, seconds)
        drained = time.monotonic()
        import httpx

        while httpx.get(f"http://127.0.0.1:{port}/healthz").json()["pending_events"]:
            time.sleep(0.05)
        sextant["drain_seconds"] = time.monotonic() - drained
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()

    (work / "fsync_server.py").write_text(FSYNC_SERVER)
    port = free_port()
    peer = subprocess.Popen([sys.executable, str(work / "fsync_server.py"), str(work / "append.log"), str(port)])
    try:
        wait_for(f"http://127.0.0.1:{port}/")
        ceiling = load(port, key, clients, seconds)
    finally:
        peer.send_signal(signal.SIGTERM)
        peer.wait()
    return {"sextant": sextant, "append_and_fsync": ceiling}


# -- import --------------------------------------------------------------------------------------------

# DuckDB's own loads of the same events into a table of the same shape (no validation, dedup, persons or
# rollup): the ceilings. `arrow` inserts the Parquet batches as Arrow tables, a chunk at a time as the import
# reads them; `read_parquet` and `read_json` are one INSERT each over DuckDB's own parallel readers, the
# fastest load DuckDB has for each format.
DUCKDB_PEER = '''
import sys, time, duckdb, pyarrow.parquet as pq
mode, database, files = sys.argv[1], sys.argv[2], sys.argv[3:]
connection = duckdb.connect(database)
connection.execute("""CREATE TABLE events (project VARCHAR NOT NULL, uuid UUID NOT NULL, insert_id VARCHAR,
    event VARCHAR NOT NULL, timestamp TIMESTAMPTZ NOT NULL, received_at TIMESTAMPTZ NOT NULL,
    distinct_id VARCHAR NOT NULL, user_id VARCHAR, device_id VARCHAR, session_id VARCHAR,
    properties JSON NOT NULL, person_properties JSON NOT NULL, groups JSON NOT NULL, source VARCHAR NOT NULL)""")
columns = """'bench', uuidv7(), insert_id, event, CAST(timestamp AS TIMESTAMPTZ), now(), distinct_id, user_id,
    device_id, session_id, properties, COALESCE(person_properties, '{}'), groups, 'import'"""
listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
started = time.perf_counter()
if mode == "arrow":
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=500_000):
            connection.register("batch", batch)
            connection.execute(f"INSERT INTO events SELECT {columns} FROM batch")
elif mode == "read_parquet":
    connection.execute(f"INSERT INTO events SELECT {columns} FROM read_parquet([{listed}])")
else:
    text = ", ".join(f"{name}: 'VARCHAR'" for name in ("event", "timestamp", "distinct_id", "user_id", "device_id",
                                                       "insert_id", "session_id"))
    shape = text + ", properties: 'JSON', person_properties: 'JSON', groups: 'JSON'"
    connection.execute(
        f"INSERT INTO events SELECT {columns} FROM read_json([{listed}], format = 'newline_delimited', "
        f"columns = {{{shape}}})"
    )
connection.execute("CHECKPOINT")
rows = connection.execute("SELECT count(*) FROM events").fetchone()[0]
print(rows, time.perf_counter() - started)
'''
PEERS = {
    # name: (mode, input format, what it is)
    "duckdb_arrow_insert": ("arrow", "parquet", "DuckDB Arrow insert, 500k-row batches"),
    "duckdb_read_parquet": ("read_parquet", "parquet", "DuckDB INSERT ... FROM read_parquet, one statement"),
    "duckdb_read_json": ("read_json", "ndjson", "DuckDB INSERT ... FROM read_json, one statement"),
}


def run_measured(command: list[str]) -> tuple[float, float, float, str]:
    """Run a command; return wall seconds, CPU seconds (user and system, all its threads), its own peak RSS
    in MB, and its output.

    The peak is the child's VmHWM, polled until it exits: unlike ru_maxrss, it belongs to the process image
    after exec, so it does not include the parent's memory that a fork inherits. CPU time moves much less
    than wall time when other work shares the machine."""
    started = time.perf_counter()
    peak_kb = 0
    with tempfile.TemporaryFile() as output:
        environment = {**os.environ, "COLUMNS": "200"}
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment)
        status_file = Path(f"/proc/{process.pid}/status")
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            try:
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(text[-3000:])
    return elapsed, usage.ru_utime + usage.ru_stime, peak_kb / 1024, text


DATA = Path(__file__).parent / "data"


def import_dataset(events: int, seed: int, rebuild: bool) -> tuple[list[Path], Path]:
    """The demo's event files and their NDJSON export, made once per size and seed."""
    data = DATA / f"ingest-e{events}-s{seed}"
    ndjson = data / "events.ndjson"
    finished = data / "finished"
    if finished.exists() and not rebuild:
        return sorted(data.glob("events-*.parquet")), ndjson
    shutil.rmtree(data, ignore_errors=True)
    # Ending yesterday: no event is in the future, whenever the cached files are imported.
    end = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    # Generated in a child process: a forked child inherits its parent's peak RSS, so the parent stays small.
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import datetime as dt; from pathlib import Path; from sextant import demo; "
            f"demo.generate(Path({str(data)!r}), events={events}, seed={seed}, end=dt.date.fromisoformat({end!r}))",
        ],
        check=True,
    )
    files = sorted(data.glob("events-*.parquet"))
    writer = duckdb.connect()
    writer.execute("SET TimeZone = 'UTC'")
    sources = ", ".join(exp.Literal.string(str(path)).sql("duckdb") for path in files)
    target = exp.Literal.string(str(ndjson)).sql("duckdb")
    writer.execute(
        f"""COPY (SELECT event, strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%fZ') AS timestamp, distinct_id, user_id,
                  device_id, insert_id, session_id, CAST(properties AS JSON) AS properties,
                  CAST(person_properties AS JSON) AS person_properties, CAST(groups AS JSON) AS groups
              FROM read_parquet([{sources}])) TO {target} (FORMAT JSON)"""
    )
    writer.close()
    finished.write_text(end)
    return files, ndjson


def bench_import(work: Path, events: int, seed: int, rebuild: bool) -> dict[str, dict[str, float]]:
    files, ndjson = import_dataset(events, seed, rebuild)
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    results = {}
    (work / "duckdb_peer.py").write_text(DUCKDB_PEER)
    for name, (mode, source, _) in PEERS.items():
        inputs = [str(path) for path in files] if source == "parquet" else [str(ndjson)]
        database = work / f"{name}.duckdb"
        seconds, cpu, peak, output = run_measured(
            [sys.executable, str(work / "duckdb_peer.py"), mode, str(database), *inputs]
        )
        stored, load_seconds = output.split()[:2]
        if int(stored) != rows:
            raise RuntimeError(f"{name} stored {stored} of {rows:,} events")
        results[name] = {
            "events_per_second": rows / float(load_seconds),
            "peak_rss_mb": peak,
            "cpu_seconds": cpu,
            "load_after": os.getloadavg()[0],
        }
        database.unlink()
    for name, inputs in (("parquet", [str(path) for path in files]), ("ndjson", [str(ndjson)])):
        project = work / f"import-{name}"
        subprocess.run([sys.executable, "-m", "sextant", "init", str(project)], check=True, capture_output=True)
        seconds, cpu, peak, output = run_measured(
            [sys.executable, "-m", "sextant", "import", *inputs, "-p", str(project)]
        )
        results[f"sextant_import_{name}"] = {
            "events_per_second": rows / seconds,
            "peak_rss_mb": peak,
            "cpu_seconds": cpu,
            "seconds": seconds,
            "load_after": os.getloadavg()[0],
        }
        shutil.rmtree(project)
    results["dataset"] = {
        "events": rows,
        "parquet_mb": sum(path.stat().st_size for path in files) / 1e6,
        "ndjson_mb": ndjson.stat().st_size / 1e6,
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the import dataset (E10M)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP client processes")
    parser.add_argument("--seconds", type=float, default=20, help="duration of each HTTP load")
    parser.add_argument("--only", choices=["http", "import"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--rebuild", action="store_true", help="make the cached import dataset again")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sextant-bench-"))
    results: dict[str, object] = {
        "machine": {
            "cores": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
    }
    try:
        if args.only in (None, "http"):
            http_results = bench_http(work, args.clients, args.seconds)
            results["http"] = http_results
            sextant, ceiling = http_results["sextant"], http_results["append_and_fsync"]
            print(f"HTTP, {args.clients} clients, batches of {BATCH}, durable acks:")
            print(
                f"  sextant           {sextant['events_per_second']:>10,.0f} events/s  p50 {sextant['p50_ms']:.0f} ms"
                f"  p99 {sextant['p99_ms']:.0f} ms  (drained {sextant['drain_seconds']:.1f}s after load)"
            )
            print(
                f"  append+fsync peer {ceiling['events_per_second']:>10,.0f} events/s  p99 {ceiling['p99_ms']:.0f} ms"
            )
            ratio = sextant["events_per_second"] / ceiling["events_per_second"]
            print(f"  ratio to the append+fsync ceiling: {ratio:.2f}")
            print(
                f"  ratio to RudderStack's published {RUDDERSTACK_EVENTS_PER_SECOND:,}/s: "
                f"{sextant['events_per_second'] / RUDDERSTACK_EVENTS_PER_SECOND:.0f}x"
            )
        if args.only in (None, "import"):
            load = os.getloadavg()[0]
            import_results = bench_import(work, args.events, args.seed, args.rebuild)
            results["import"] = import_results
            print(f"Import of {import_results['dataset']['events']:,} events (load average at the start {load:.1f}):")
            for name, figures in import_results.items():
                if name == "dataset":
                    continue
                print(
                    f"  {name:<24} {figures['events_per_second']:>12,.0f} events/s  peak RSS "
                    f"{figures['peak_rss_mb']:,.0f} MB  CPU {figures['cpu_seconds']:.1f} s  "
                    f"(load after {figures['load_after']:.1f})"
                )
            for peer, (_, source, description) in PEERS.items():
                figures, ceiling = import_results[f"sextant_import_{source}"], import_results[peer]
                print(
                    f"  sextant import from {source} / {description}: events/s "
                    f"{figures['events_per_second'] / ceiling['events_per_second']:.2f}, CPU "
                    f"{figures['cpu_seconds'] / ceiling['cpu_seconds']:.1f}x"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
