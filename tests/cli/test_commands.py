"""The `sextant` command line: every command has --help; init, keys and import work end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from sextant.cli import app

runner = CliRunner()


def command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*prefix, name))
    return paths


@pytest.mark.parametrize("path", command_paths(get_command(app)), ids=lambda path: " ".join(path) or "sextant")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_init_creates_a_project_and_prints_an_ingest_key(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "shop"), "--timezone", "America/New_York"])
    assert result.exit_code == 0, result.output
    assert re.search(r"sx_ingest_[\w-]{20,}", result.output)
    project = tmp_path / "shop"
    config = yaml.safe_load((project / "sextant.yaml").read_text())
    assert config["name"] == "shop" and config["timezone"] == "America/New_York"
    assert len(config["secret_key"]) >= 32
    assert (project / "sextant.yaml").stat().st_mode & 0o077 == 0  # the secret key is not world-readable
    for name in ("warehouse.duckdb", "metadata.db", "models", "pipelines", "tracking_plan.yaml"):
        assert (project / name).exists(), name
    again = runner.invoke(app, ["init", str(project)])
    assert again.exit_code != 0


def test_init_refuses_an_unknown_timezone(tmp_path: Path) -> None:
    from sextant.cli import main

    with pytest.raises(SystemExit) as exit_info:
        import sys

        sys.argv = ["sextant", "init", str(tmp_path / "p"), "--timezone", "Mars/Olympus"]
        main()
    assert exit_info.value.code == 1
    assert not (tmp_path / "p" / "sextant.yaml").exists()


def test_keys_create_list_and_revoke(tmp_path: Path) -> None:
    project = str(tmp_path / "p")
    runner.invoke(app, ["init", project])
    created = runner.invoke(app, ["keys", "create", "laptop", "--kind", "personal", "-p", project])
    assert created.exit_code == 0 and "sx_personal_" in created.output
    listed = runner.invoke(app, ["keys", "list", "-p", project])
    assert "laptop" in listed.output and "personal" in listed.output
    assert runner.invoke(app, ["keys", "revoke", "2", "-p", project]).exit_code == 0


def test_import_prints_a_summary(tmp_path: Path) -> None:
    project = str(tmp_path / "p")
    runner.invoke(app, ["init", project])
    events = tmp_path / "events.ndjson"
    (tmp_path / "p" / "tracking_plan.yaml").write_text("deny: [Debug]\n")
    events.write_text(
        '{"event": "a", "distinct_id": "u", "insert_id": "1"}\n{"event": "a"}\n'
        '{"event": "a", "distinct_id": "u", "insert_id": "1"}\n{"event": "Debug", "distinct_id": "u"}\n'
    )
    result = runner.invoke(app, ["import", str(events), "-p", project], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    # read, stored, duplicates, denied, rejected
    assert re.search(r"│\s*4\s*│\s*1\s*│\s*1\s*│\s*1\s*│\s*1\s*│", result.output)
    assert "one of distinct_id, user_id or device_id is required" in result.output
    assert "event Debug is on the deny list" in result.output


def test_import_into_a_project_file_does_not_load_the_web_application(tmp_path: Path) -> None:
    """The web application and the insight engine took a second of each import's startup; an import that
    writes the warehouse itself needs neither (a fresh process: this one has loaded both already)."""
    import subprocess
    import sys

    project = tmp_path / "p"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    events = tmp_path / "events.ndjson"
    events.write_text('{"event": "a", "distinct_id": "u"}\n')
    script = (
        "import sys\n"
        "from sextant.cli import main\n"
        "sys.argv = ['sextant', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(sorted(name for name in sys.modules if name.startswith(('sextant.web', 'sextant.server', "
        "'sextant.insights.runner', 'sextant.catalog'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "import", str(events), "-p", str(project)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "stored" in result.stdout  # the import ran: its summary was printed


def test_demo_builds_a_project_through_the_import_path(tmp_path: Path) -> None:
    from sextant.warehouse.engine import connect

    directory = tmp_path / "demo"
    result = runner.invoke(app, ["demo", str(directory), "--events", "20000", "--no-serve"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert re.search(r"sx_ingest_[\w-]{20,}", result.output) and re.search(r"sx_personal_[\w-]{20,}", result.output)
    warehouse = connect(f"duckdb:///{directory}/warehouse.duckdb")
    stored = warehouse.execute("SELECT count(*) AS n, count(DISTINCT insert_id) AS ids FROM events").to_pylist()[0]
    warehouse.close()
    assert stored["n"] == stored["ids"] > 15_000  # retried events were deduplicated on the way in
    assert "duplicates skipped" in result.output
    # A new demo asks its dashboards' questions once (compiling the insight passes); an existing one does not.
    assert "Answering the dashboards' questions once" in result.output
    again = runner.invoke(app, ["demo", str(directory), "--no-serve"])
    assert again.exit_code == 0 and "Using the demo project" in again.output
    assert "Answering" not in again.output

    # The example questions the demo writes are answered from its data.
    answers = {}
    for spec in sorted((directory / "queries").glob("*.json")):
        result = runner.invoke(
            app, ["query", str(spec), "-p", str(directory), "--format", "json"], env={"COLUMNS": "200"}
        )
        assert result.exit_code == 0, result.output
        answers[spec.stem] = json.loads(result.output)["result"]
    steps = [step["count"] for step in answers["signup-funnel"]["results"][0]["steps"]]
    assert steps[0] > steps[1] > steps[2] > 0  # visitors drop off on the way to their first search
    assert any(cohort["size"] for cohort in answers["weekly-retention"]["results"][0]["cohorts"])
    assert max(answers["active-users"]["mau"]) > max(answers["active-users"]["dau"]) > 0


def test_import_twice_of_events_with_uuids_and_no_insert_ids_stores_them_once(tmp_path: Path) -> None:
    from sextant.warehouse.engine import connect

    project = tmp_path / "p"
    runner.invoke(app, ["init", str(project)])
    uuids = ["0190d5f4-5b7e-7c3a-9f00-0123456789ab", "0190d5f4-5b7e-7c3a-9f00-0123456789ac"]
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text("".join(json.dumps({"event": "a", "distinct_id": "u", "uuid": uuid}) + "\n" for uuid in uuids))
    csv = tmp_path / "events.csv"
    csv.write_text("event,distinct_id,uuid\nb,u,0190d5f4-5b7e-7c3a-9f00-0123456789ad\n")
    for file in (ndjson, csv, ndjson, csv):
        result = runner.invoke(app, ["import", str(file), "-p", str(project)], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
    # The second import of each file: read, stored, duplicates, denied, rejected.
    assert re.search(r"│\s*1\s*│\s*0\s*│\s*1\s*│\s*0\s*│\s*0\s*│", result.output)
    warehouse = connect(f"duckdb:///{project}/warehouse.duckdb")
    rows = warehouse.execute("SELECT CAST(uuid AS VARCHAR) AS uuid, insert_id FROM events ORDER BY 1").to_pylist()
    warehouse.close()
    assert rows == [{"uuid": uuid, "insert_id": uuid} for uuid in [*uuids, "0190d5f4-5b7e-7c3a-9f00-0123456789ad"]]
