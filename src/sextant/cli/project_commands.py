"""`sextant init` and `sextant serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sextant.auth import audit
from sextant.auth.passwords import generate_password
from sextant.auth.users import create_user, normalize_email
from sextant.cli.app import app, console
from sextant.metadata.models import Role
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
    admin_email: Annotated[str, typer.Option(help="Email of the first admin user, who signs in to the web app.")] = (
        "admin@example.com"
    ),
) -> None:
    """Create a project: settings, warehouse, metadata database, an admin ingest key and an admin user."""
    normalize_email(admin_email)  # refuse a bad email before anything is written
    workspace, key = Workspace.initialize(directory, name=name, timezone=timezone, warehouse=warehouse)
    password = generate_password()
    admin = create_user(workspace.metadata, admin_email, password, actor=audit.COMMAND_LINE, role=Role.ADMIN)
    workspace.close()
    console.print(f"Created project [bold]{workspace.project.name}[/] in {workspace.project.directory}")
    console.print(f"Admin ingest key (shown once): [bold green]{key.secret}[/]")
    console.print(f"Admin user: [bold]{admin.email}[/], password (shown once): [bold green]{password}[/]")
    console.print(f"Start the server with: sextant serve {directory}")


@app.command()
def serve(
    directory: Annotated[Path, typer.Argument(help="The project directory.")] = Path("."),
    host: Annotated[str | None, typer.Option(help="Address to listen on (default from sextant.yaml).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default from sextant.yaml).")] = None,
) -> None:
    """Start the HTTP server (ingestion API and web app), by default on 127.0.0.1:8000."""
    from sextant import server

    server.serve(str(directory), host=host, port=port)
