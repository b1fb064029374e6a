"""`sextant query SPEC.json`: run an insight spec and print its result as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from sextant.cli.app import app, console
from sextant.errors import QueryError


@app.command("query")
def query(
    spec_file: Annotated[Path, typer.Argument(help="A JSON insight spec (see docs/insights.md); - reads stdin.")],
    project: Annotated[Path, typer.Option("--project", "-p", help="The project directory.")] = Path("."),
    output: Annotated[
        Literal["table", "json", "csv"], typer.Option("--format", "-f", help="table, json (with the SQL) or csv.")
    ] = "table",
    refresh: Annotated[bool, typer.Option("--refresh", help="Skip the results cache.")] = False,
) -> None:
    """Run an insight query: segmentation, funnel, retention, stickiness, lifecycle or active_users."""
    # Both import the insight engine, and the client the web application: only when a query runs.
    from sextant.client import ProjectClient
    from sextant.insights.runner import runner_class

    text = sys.stdin.read() if str(spec_file) == "-" else _read(spec_file)
    try:
        spec: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise QueryError(f"{spec_file} is not JSON: {error}") from None
    with ProjectClient(project) as client:
        answer = client.query(spec, refresh=refresh)
    if output == "json":
        console.print_json(json.dumps(answer))
        return
    rows = runner_class(answer["kind"]).rows(answer["result"])
    columns = list(dict.fromkeys(name for row in rows for name in row))
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return
    table = Table(*columns, title=f"{answer['kind']} · {answer['date_from'][:10]} to {answer['date_to'][:10]}")
    for row in rows:
        table.add_row(*(_cell(row.get(name)) for name in columns))
    console.print(table)
    console.print(f"[dim]{sum(answer['timing_ms'].values()):.0f} ms{' (cached)' if answer['cached'] else ''}[/]")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise QueryError(f"cannot read the spec {path}: {error.strerror}") from None


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
