"""`sextant instances ...`: self-hosted instances, their telemetry status and their accounts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.table import Table

from sextant.cli.app import console, instances_app
from sextant.errors import SextantError
from sextant.project import Project
from sextant.warehouse import tables
from sextant.workspace import Workspace

if TYPE_CHECKING:
    from sextant.server import RunningServer

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="The project directory.")]
COLUMNS = (
    "site_id",
    "account_id",
    "telemetry_status",
    "version",
    "versions_behind",
    "deployment_type",
    "total_users",
    "mau",
    "last_seen",
)


@instances_app.command("list")
def list_(project: ProjectOption = Path(".")) -> None:
    """Every known instance with its account, version and telemetry status."""
    from sextant import instances
    from sextant.server import running_server

    loaded = Project.load(project)
    server = running_server(loaded)
    if server:
        rows = call_server(server, "GET", "/api/v1/instances")
    else:
        workspace = Workspace.open(loaded.directory)
        rows = instances.status(workspace.warehouse, loaded.name).to_pylist()
        workspace.close()
    table = Table(*COLUMNS, title=f"{len(rows)} instances")
    for row in rows:
        table.add_row(*("" if row.get(column) is None else str(row[column]) for column in COLUMNS))
    console.print(table)


@instances_app.command("link")
def link(
    site_id: Annotated[str, typer.Argument(help="The instance's site id.")],
    account: Annotated[str | None, typer.Option(help="The account (CRM id) the instance belongs to.")] = None,
    telemetry: Annotated[
        str | None, typer.Option(help="The agreed telemetry level: none, critical or full. Pings are filtered by it.")
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Link an instance to its account, or set its agreed telemetry level."""
    _store(Project.load(project), [(site_id, account, telemetry)], "manual")
    console.print(f"Linked {site_id}")


@instances_app.command("import-licenses")
def import_licenses(
    path: Annotated[Path, typer.Argument(help="A licenses CSV with site_id and account_id columns.")],
    project: ProjectOption = Path("."),
) -> None:
    """Link instances to accounts from a licenses export."""
    from sextant import instances

    links = instances.links_from_licenses(path)
    _store(Project.load(project), links, "license")
    console.print(f"Linked {len(links)} instances from {path.name}")


def _store(project: Project, links: list[tuple[str, str | None, str | None]], source: str) -> None:
    from sextant import instances
    from sextant.server import running_server

    server = running_server(project)
    if server:
        body = {
            "links": {site: {"account_id": account, "telemetry_level": level} for site, account, level in links},
            "source": source,
        }
        call_server(server, "POST", "/api/v1/instances/links", body)
        return
    workspace = Workspace.open(project.directory)
    try:
        with workspace.warehouse.transaction():
            workspace.warehouse.insert(tables.INSTANCE_ACCOUNTS, instances.link_rows(project.name, links, source))
    finally:
        workspace.close()


def call_server(server: RunningServer, method: str, path: str, body: object = None) -> Any:
    response = httpx.request(
        method, server.url + path, json=body, timeout=60, headers={"Authorization": f"Bearer {server.local_token}"}
    )
    if response.status_code >= 400:
        raise SextantError(f"the server refused: {response.text}")
    return response.json()
