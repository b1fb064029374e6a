"""`sextant.open(dir).query(spec)` and `sextant query`, on a project without a running server."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

import sextant
from sextant.cli import app
from sextant.ingest.store import EventStore
from sextant.workspace import Workspace
from tests.insights.journeys import load_world

SPEC = {
    "kind": "segmentation",
    "date_from": "2024-05-06",
    "date_to": "2024-05-08",
    "series": [{"event": "Search", "math": "total"}, {"event": "Search", "math": "unique"}],
}


def make_project(tmp_path: Path) -> Path:
    workspace, _ = Workspace.initialize(tmp_path / "shop", name="shop", timezone="Europe/Berlin")
    load_world(EventStore(workspace.project, workspace.warehouse))
    workspace.close()
    return tmp_path / "shop"


def test_python_api_and_cli_give_the_same_answer(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    with sextant.open(str(project)) as client:
        answer = client.query(SPEC)
    # 6 May: alice and backend; 7 May: alice; 8 May: bob.
    totals, uniques = answer["result"]["series"]
    assert totals["data"] == [2, 1, 1] and uniques["data"] == [2, 1, 1] and uniques["total"] == 3

    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC))
    result = CliRunner().invoke(app, ["query", str(spec_file), "-p", str(project), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [row["bucket"] for row in rows] == ["2024-05-06", "2024-05-07", "2024-05-08"]
    assert [row["A: Search (total)"] for row in rows] == ["2", "1", "1"]

    table = CliRunner().invoke(app, ["query", str(spec_file), "-p", str(project)])
    assert table.exit_code == 0 and "2024-05-07" in table.output


def test_the_cli_explains_a_bad_spec(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"kind": "retention", "start": {"event": "x"}}))
    result = CliRunner().invoke(app, ["query", str(spec_file), "-p", str(project)])
    assert result.exit_code != 0
    assert "return" in str(result.exception)
