"""`sextant import` in its own process: through the server that owns the warehouse when one runs, into the
warehouse itself when the server file is stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sextant.server import RunningServer, write_server_file
from sextant.warehouse.engine import connect
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, journeys_for, stored_rows


def import_events(project: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    events = directory / "events.ndjson"
    events.write_text("\n".join(journeys_for({"u": [("Imported 1", T0), ("Imported 2", T0)]})) + "\n")
    return subprocess.run(
        [sys.executable, "-m", "sextant", "import", str(events), "-p", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )


# On DuckDB the server holds the warehouse file's lock, so an import that opened the file itself would fail.
@pytest.mark.parametrize("engine_name", ["duckdb"])
def test_import_writes_through_the_running_server(workspace: Workspace, tmp_path: Path) -> None:
    server = LiveServer(workspace)
    try:
        token = server.app.state.sextant.local_token
        write_server_file(workspace.project, RunningServer(server.url, token, os.getpid()))
        spooled = server.pipeline.spool.next_sequence
        result = import_events(workspace.project.directory, tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"Sending to the server at {server.url}" in result.stdout
        assert server.pipeline.spool.next_sequence > spooled  # the server's pipeline took them
        rows = stored_rows(server, "SELECT event FROM events ORDER BY event")
        assert [row["event"] for row in rows] == ["Imported 1", "Imported 2"]
    finally:
        server.stop()


@pytest.mark.parametrize("engine_name", ["duckdb"])
def test_import_with_a_stale_server_file_writes_the_warehouse_itself(workspace: Workspace, tmp_path: Path) -> None:
    directory = tmp_path / "crashed"
    url = f"duckdb:///{directory}/warehouse.duckdb"
    crashed, _ = Workspace.initialize(directory / "project", name="crashed", warehouse=url)
    crashed.close()
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # the server that died without removing its file
    # Another project's server now answers at the same address: only the dead pid tells the file is stale.
    other = LiveServer(workspace)
    try:
        write_server_file(crashed.project, RunningServer(other.url, "stale", process.pid))
        result = import_events(crashed.project.directory, directory)
        assert result.returncode == 0, result.stderr
        assert "Sending to the server" not in result.stdout
        assert stored_rows(other, "SELECT count(*) AS n FROM events") == [{"n": 0}]
    finally:
        other.stop()
    warehouse = connect(url)
    events = warehouse.execute("SELECT event FROM events ORDER BY event").to_pylist()
    warehouse.close()
    assert [row["event"] for row in events] == ["Imported 1", "Imported 2"]
