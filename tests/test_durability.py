"""Design decision 4, tested the hard way: clients send batches and retry on errors while the server is
killed with SIGKILL and restarted. Every acknowledged event must be stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from sextant.auth.keys import create_key
from sextant.metadata.models import KeyKind
from sextant.warehouse.engine import connect
from sextant.workspace import Workspace
from tests.conftest import warehouse_url

CLIENTS = 4
BATCHES_PER_CLIENT = 25
EVENTS_PER_BATCH = 200
KILLS = 3


class ServerProcess:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sextant", "serve", str(self.directory), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.directory / "server.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the server did not start: " + (self.directory / "server.log").read_text()[-2000:])

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ["duckdb", "chdb"])
def test_every_acknowledged_event_is_stored_exactly_once_across_sigkills(tmp_path: Path, engine_name: str) -> None:
    url = warehouse_url(engine_name, tmp_path)
    workspace, _ = Workspace.initialize(tmp_path / "project", name="durable", warehouse=url)
    key = create_key(workspace.metadata, KeyKind.INGEST, "durability").secret
    workspace.close()
    server = ServerProcess(tmp_path / "project", free_port())
    server.start()

    acknowledged: set[str] = set()
    # Failed attempts: requests cut off on an open connection (by a kill), refused while the server was down, or
    # answered with an error status.
    failures: Counter[str] = Counter()
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {key}"}) as http:
            for batch in range(BATCHES_PER_CLIENT):
                ids = [f"c{number}-b{batch}-e{event}" for event in range(EVENTS_PER_BATCH)]
                body = [
                    {
                        "event": "Tick",
                        "distinct_id": f"client-{number}",
                        "insert_id": insert_id,
                        "timestamp": "2024-05-06T09:00:00Z",
                    }
                    for insert_id in ids
                ]
                while True:  # retry until acknowledged, as an SDK does
                    try:
                        status = http.post(server.url + "/api/v1/batch", json=body).status_code
                        if status == 200:
                            break
                        failure = str(status)
                    except httpx.ConnectError:
                        failure = "not connected"
                    except httpx.HTTPError:
                        failure = "interrupted"
                    with lock:
                        failures[failure] += 1
                    time.sleep(0.05)
                with lock:
                    acknowledged.update(ids)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    randomness = random.Random(4)
    for _ in range(KILLS):
        time.sleep(randomness.uniform(0.5, 1.5))
        server.kill()
        time.sleep(randomness.uniform(0.0, 0.3))
        server.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(acknowledged) == CLIENTS * BATCHES_PER_CLIENT * EVENTS_PER_BATCH
    assert failures["interrupted"] >= 1, failures  # the kills hit requests in flight, not an idle server
    server.kill()  # one more crash with whatever is still in flight, then a clean restart and stop
    server.start()
    deadline = time.monotonic() + 60
    while httpx.get(server.url + "/healthz").json()["pending_events"] and time.monotonic() < deadline:
        time.sleep(0.1)
    server.stop()

    warehouse = connect(url)
    counts = warehouse.execute("SELECT insert_id, count(*) AS n FROM events GROUP BY insert_id").to_pylist()
    # Every stored row is a distinct event: a spool record written twice would repeat its rows' uuids.
    uuids = warehouse.execute("SELECT count(DISTINCT uuid) AS distinct_uuids, count(*) AS n FROM events").to_pylist()
    warehouse.close()
    assert uuids[0]["distinct_uuids"] == uuids[0]["n"]
    stored = {row["insert_id"]: row["n"] for row in counts}
    assert {insert_id for insert_id, n in stored.items() if n > 1} == set()
    assert acknowledged - set(stored) == set()
