"""`sextant cohorts`: list, create and delete saved cohorts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from sextant.cli.app import cohorts_app, console
from sextant.errors import QueryError

if TYPE_CHECKING:
    from sextant.client import ProjectClient

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="The project directory.")]


def _client(project: Path) -> ProjectClient:
    from sextant.client import ProjectClient  # it imports the web application: only when a command runs

    return ProjectClient(project)


@cohorts_app.command("list")
def list_cohorts(project: ProjectOption = Path(".")) -> None:
    """List saved cohorts with their kind and definition."""
    with _client(project) as client:
        cohorts = client.cohorts()
    table = Table("id", "name", "kind", "size", "definition", title=f"{len(cohorts)} cohorts")
    for cohort in cohorts:
        size = "" if cohort["size"] is None else f"{cohort['size']:,}"
        definition = json.dumps(cohort["definition"]) if cohort["definition"] else ""
        table.add_row(str(cohort["id"]), cohort["name"], cohort["kind"], size, definition)
    console.print(table)


@cohorts_app.command("create")
def create_cohort(
    body_file: Annotated[Path, typer.Argument(help="JSON: {name, definition} | {name, persons} | {name, from_query}.")],
    project: ProjectOption = Path("."),
) -> None:
    """Save a cohort (see docs/insights.md, "Cohorts")."""
    try:
        body = json.loads(body_file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise QueryError(f"cannot read the cohort {body_file}: {error}") from None
    with _client(project) as client:
        saved = client.create_cohort(body)
    console.print(f"Saved cohort [bold]{saved['id']}[/] ({saved['name']}, {saved['kind']}).")


@cohorts_app.command("delete")
def delete_cohort(
    cohort: Annotated[int, typer.Argument(help="The cohort id.")], project: ProjectOption = Path(".")
) -> None:
    """Delete a saved cohort."""
    with _client(project) as client:
        client.delete_cohort(cohort)
    console.print(f"Deleted cohort {cohort}.")
