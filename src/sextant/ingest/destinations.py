"""Where `sextant import` sends normalized events: straight into the warehouse, or to the running server
that owns it (DuckDB allows one writer, design decision 3)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import httpx
import pyarrow as pa

from sextant.errors import IngestError
from sextant.ingest.store import EventStore, WriteCounts

if TYPE_CHECKING:  # the server module imports the web application, which an import into a file never needs
    from sextant.server import RunningServer

# Rows per request to a running server: large enough to be efficient, small enough to keep it responsive.
SERVER_BATCH_ROWS = 100_000


class Destination(Protocol):
    def write(self, events: pa.Table) -> WriteCounts:
        """Store normalized events; returns how many were stored, duplicates and denied."""
        ...


class WarehouseDestination:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def write(self, events: pa.Table) -> WriteCounts:
        return self.store.write(events).part(0, events.num_rows)


class ServerDestination:
    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.local_token}"}, timeout=600
        )

    def write(self, events: pa.Table) -> WriteCounts:
        stored = duplicates = denied = 0
        for offset in range(0, events.num_rows, SERVER_BATCH_ROWS):
            part = self._send(events.slice(offset, SERVER_BATCH_ROWS))
            stored += part["stored"]
            duplicates += part["duplicates"]
            # Every accepted row is stored, a duplicate or denied; the server names the first two.
            denied += part["accepted"] - part["stored"] - part["duplicates"]
        return WriteCounts(stored, duplicates, denied)

    def _send(self, events: pa.Table) -> dict[str, int]:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, events.schema) as writer:
            writer.write_table(events)
        body = sink.getvalue().to_pybytes()
        for attempt in range(60):
            response = self.client.post("/api/v1/internal/normalized", content=body)
            if response.status_code != 503:
                break
            time.sleep(min(0.2 * 2**attempt, 5.0))  # the server is catching up: back off and retry
        if response.status_code != 200:
            raise IngestError(f"the server at {self.server.url} refused the import: {response.text}")
        result: dict[str, int] = response.json()
        return result
