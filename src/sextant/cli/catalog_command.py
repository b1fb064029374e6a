"""`sextant catalog`: every event seen, with its volume, plan status and properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sextant.cli.app import app, console
from sextant.cli.instance_commands import call_server
from sextant.ingest import tracking_plan
from sextant.project import Project
from sextant.workspace import Workspace


@app.command("catalog")
def catalog_(
    project: Annotated[Path, typer.Option("--project", "-p", help="The project directory.")] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every event seen and every planned event: volume over 30 days, first and last seen, planned or
    not, and properties with their observed types."""
    from sextant import catalog
    from sextant.server import running_server

    loaded = Project.load(project)
    server = running_server(loaded)
    if server:
        entries = call_server(server, "GET", "/api/v1/catalog")["events"]
    else:
        workspace = Workspace.open(loaded.directory)
        plan = tracking_plan.load(loaded.directory / "tracking_plan.yaml")
        entries = [entry.as_json() for entry in catalog.build(workspace.warehouse, loaded.name, plan)]
        workspace.close()
    if as_json:
        console.print_json(json.dumps({"events": entries}))
        return
    table = Table(
        "event", "30-day volume", "first seen", "last seen", "plan", "properties", title=f"{len(entries)} events"
    )
    for entry in entries:
        properties = ", ".join(f"{name} ({'|'.join(types)})" for name, types in sorted(entry["properties"].items()))
        table.add_row(
            entry["event"],
            f"{entry['volume_30d']:,}",
            (entry["first_seen"] or "")[:10],
            (entry["last_seen"] or "")[:10],
            entry["status"],
            properties,
        )
    console.print(table)
