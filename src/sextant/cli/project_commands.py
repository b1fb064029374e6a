"""`sextant init` and `sextant serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sextant import server
from sextant.cli.app import app, console
from sextant.workspace import Workspace


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")],
    name: Annotated[str | None, typer.Option(help="Project name (default: the directory's name).")] = None,
    timezone: Annotated[str, typer.Option(help="IANA timezone for day, week and month boundaries.")] = "UTC",
    warehouse: Annotated[
        str | None,
        typer.Option(help="Warehouse URL: duckdb:///file (default), chdb:///dir or clickhouse://host:port/db."),
    ] = None,
) -> None:
    """Create a project: settings, warehouse, metadata database and an admin ingest key."""
    workspace, key = Workspace.initialize(directory, name=name, timezone=timezone, warehouse=warehouse)
    workspace.close()
    console.print(f"Created project [bold]{workspace.project.name}[/] in {workspace.project.directory}")
    console.print(f"Admin ingest key (shown once): [bold green]{key.secret}[/]")
    console.print(f"Start the server with: sextant serve {directory}")


@app.command()
def serve(
    directory: Annotated[Path, typer.Argument(help="The project directory.")] = Path("."),
    host: Annotated[str | None, typer.Option(help="Address to listen on (default from sextant.yaml).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default from sextant.yaml).")] = None,
) -> None:
    """Start the HTTP server (ingestion API and web app), by default on 127.0.0.1:8000."""
    server.serve(str(directory), host=host, port=port)
