"""Shared fixtures: a project on each warehouse engine, and a helper that turns journeys into events."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from sextant.ingest.normalize import Context, normalize_documents
from sextant.ingest.store import EventStore, WriteResult
from sextant.workspace import Workspace

# Every engine: the two in process, and a ClickHouse server over HTTP (tests/clickhouse_http.py, a chDB-backed
# stand-in that speaks ClickHouse's HTTP wire format). The warehouse and insight suites, and the ingest tests that
# write to the warehouse, run on all of them.
ENGINES = ["duckdb", "chdb", "clickhouse"]
# What `engine_name` (and so `workspace`) gives by default. The big suites (web, browser, auth, content) run on
# these; tests/warehouse/conftest.py extends `engine_name` to ENGINES, tests/ingest/conftest.py does for the
# store, importer and writer tests.
IN_PROCESS_ENGINES = ["duckdb", "chdb"]
T0 = dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.UTC)  # a Monday

# pytest-xdist's workers run with COLUMNS=80, and rich's consoles (sextant.cli.app) fix their width from it when
# they are made, on import; the CLI tests give each invocation the width they need instead.
os.environ.pop("COLUMNS", None)


def warehouse_url(engine: str, directory: Path) -> str:
    """The warehouse of a test directory; on `clickhouse`, a database of its own on the session's server."""
    if engine == "clickhouse":
        from tests import clickhouse_http

        return clickhouse_http.database_url(directory)
    return {"duckdb": f"duckdb:///{directory}/warehouse.duckdb", "chdb": f"chdb:///{directory}/chdb"}[engine]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest-xdist (`-n` in pyproject.toml, `--dist loadgroup`) gives each group to one worker: a test file is
    a group, so its module fixtures are made once, and the browser tests are one, so one worker installs
    Chromium and serves their workspace (package fixtures in tests/browser/conftest.py)."""
    browser = Path(__file__).parent / "browser"
    for item in items:
        path = item.path
        group = "browser" if browser in path.parents else str(path.relative_to(Path(__file__).parent))
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(params=IN_PROCESS_ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def workspace(tmp_path: Path, engine_name: str) -> Iterator[Workspace]:
    opened, _ = Workspace.initialize(
        tmp_path / "project",
        name="acme",
        timezone="Europe/Berlin",
        warehouse=warehouse_url(engine_name, tmp_path),
    )
    yield opened
    opened.close()


@pytest.fixture
def store(workspace: Workspace) -> EventStore:
    return EventStore(workspace.project, workspace.warehouse)


Journey = list[tuple[str, dt.datetime] | tuple[str, dt.datetime, dict[str, object]]]


def journeys_for(people: dict[str, Journey]) -> list[str]:
    """Event documents from `{"alice": [("Signed Up", t0), ("Search", t0 + 1h, {"insert_id": "a1"})]}`;
    the optional third item holds extra fields of the event."""
    documents = []
    for person, steps in people.items():
        for step in steps:
            name, timestamp = step[0], step[1]
            extra = step[2] if len(step) > 2 else {}  # type: ignore[misc]
            documents.append(
                orjson.dumps(
                    {"event": name, "distinct_id": person, "timestamp": timestamp.isoformat(), **extra}
                ).decode()
            )
    return documents


def ingest(store: EventStore, documents: list[str], received_at: dt.datetime | None = None) -> WriteResult:
    """Validate and store documents as one API request would; fails the test on any rejection."""
    context = Context(
        received_at=received_at or dt.datetime.now(dt.UTC), source="api", settings=store.project.config.ingest
    )
    batch = normalize_documents(documents, context)
    assert batch.rejections == []
    return store.write(batch.events)


def set_ingest_settings(workspace: Workspace, **settings: object) -> None:
    """Change ingestion settings of an opened project (as editing sextant.yaml would)."""
    workspace.project.config.ingest = workspace.project.config.ingest.model_copy(update=settings)


class LiveServer:
    """The real app on a real socket, in a thread of the test process."""

    def __init__(self, workspace: Workspace) -> None:
        import socket
        import threading

        import uvicorn

        from sextant.web.app import create_app

        self.app = create_app(workspace)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.02)

    @property
    def pipeline(self):  # type: ignore[no-untyped-def]
        return self.app.state.sextant.pipeline

    def wait_until_written(self, timeout: float = 30) -> None:
        import time

        deadline = time.monotonic() + timeout
        while self.pipeline.pending_events and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.pipeline.pending_events == 0

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def live_server(workspace: Workspace) -> Iterator[LiveServer]:
    server = LiveServer(workspace)
    yield server
    server.stop()


@pytest.fixture
def ingest_key(workspace: Workspace) -> str:
    from sextant.auth.keys import create_key
    from sextant.metadata.models import KeyKind

    return create_key(workspace.metadata, KeyKind.INGEST, "tests").secret


def stored_rows(server: LiveServer, duckdb_sql: str) -> list[dict[str, object]]:
    """Rows of a query (written for DuckDB, run on the server's engine) once everything accepted is written."""
    import sqlglot

    server.wait_until_written()
    reader = server.app.state.sextant.workspace.warehouse.cursor()
    return reader.execute(sqlglot.transpile(duckdb_sql, read="duckdb", write=reader.dialect)[0]).to_pylist()
