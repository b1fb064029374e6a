"""`sextant import`: load event files through the ingestion pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sextant.cli.app import app, console
from sextant.errors import IngestError
from sextant.ingest import importer, tracking_plan
from sextant.ingest.destinations import Destination, ServerDestination, WarehouseDestination
from sextant.ingest.importer import FileFormat, ImportSummary, Preset
from sextant.ingest.store import EventStore
from sextant.project import Project
from sextant.warehouse import timelines
from sextant.workspace import Workspace

# The warehouse's share of an import's memory; the chunks being read and written take about as much again.
IMPORT_WAREHOUSE_MEMORY_BYTES = 512 * 2**20


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        if not sep or not target or not column:
            raise IngestError(f"--map takes field=column (e.g. --map event=action), not {pair!r}")
        mapping[target.strip()] = column.strip()
    return mapping


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="NDJSON, CSV or Parquet files (optionally .gz).")],
    project: Annotated[Path, typer.Option("--project", "-p", help="The project directory.")] = Path("."),
    file_format: Annotated[
        FileFormat | None, typer.Option("--format", help="Override the format guessed from the file name.")
    ] = None,
    preset: Annotated[
        Preset, typer.Option(help="native: fields named like the API's; event_logs: the eventLogger export.")
    ] = Preset.NATIVE,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="field=column, e.g. --map event=action --map distinct_id=user. Repeatable."),
    ] = None,
) -> None:
    """Import events with the API's validation and dedup. Columns that are not event fields become
    properties. Writes through the running server if one owns the project, directly otherwise."""
    loaded = Project.load(project)
    columns = parse_mapping(mapping or [])
    server = None
    # A server writes this file when it starts. Without it no server owns the warehouse, and the web
    # application that `sextant.server` imports (about a second of startup) is not loaded.
    if loaded.server_file.exists():
        from sextant.server import running_server

        server = running_server(loaded)
    workspace = None
    destination: Destination
    if server:
        console.print(f"Sending to the server at {server.url}")
        destination = ServerDestination(server)
    else:
        workspace = Workspace.open(loaded.directory)
        # Without a limit, DuckDB keeps every block the import writes or reads in memory, so the import's
        # memory grew with the warehouse (docs/performance.md).
        workspace.warehouse.limit_memory(IMPORT_WAREHOUSE_MEMORY_BYTES)
        destination = WarehouseDestination(EventStore(loaded, workspace.warehouse))
    try:
        summary = run_import(files, loaded, destination, file_format, preset, columns)
        print_summary(summary)
        if workspace and summary.stored:
            build_timelines(workspace)
    finally:
        if workspace:
            workspace.close()


def build_timelines(workspace: Workspace) -> None:
    """Order the stored events by person, so that funnels, retention and active users read them fast (the
    server does this by itself when ingestion is idle)."""
    project = workspace.project
    with console.status("Ordering the events by person for funnels and retention..."):
        build = timelines.compact(workspace.warehouse, project.name, project.config.timezone)
    console.print(f"Person timelines: {build.events:,} events of {build.persons:,} persons")


def run_import(
    files: list[Path],
    project: Project,
    destination: Destination,
    file_format: FileFormat | None = None,
    preset: Preset = Preset.NATIVE,
    mapping: dict[str, str] | None = None,
) -> ImportSummary:
    summary = ImportSummary()
    plan = tracking_plan.load(project.directory / "tracking_plan.yaml")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        for path in files:
            detected = importer.detect_format(path, file_format)
            task = progress.add_task(path.name, total=importer.count_rows(path, detected))
            chunks = importer.read_chunks(path, detected, project.config, plan=plan, mapping=mapping, preset=preset)
            for chunk in importer.prefetched(chunks):
                summary.read += chunk.rows_read
                summary.add_rejections(path, chunk.rejected)
                if chunk.events.num_rows:
                    summary.add_written(chunk.events, destination.write(chunk.events))
                progress.advance(task, chunk.rows_read)
    return summary


def print_summary(summary: ImportSummary) -> None:
    table = Table("read", "stored", "duplicates skipped", "denied", "rejected", title="Import")
    counts = (summary.read, summary.stored, summary.duplicates, summary.denied, summary.rejected)
    table.add_row(*(f"{value:,}" for value in counts))
    console.print(table)
    if summary.denied_reasons:
        denied = Table("reason", "events", title="Denied by the tracking plan (not stored)")
        for reason, count in sorted(summary.denied_reasons.items(), key=lambda item: -item[1])[:20]:
            denied.add_row(reason, f"{count:,}")
        console.print(denied)
    if summary.reasons:
        reasons = Table("field", "reason", "events", "first at", title="Rejected events")
        ranked = sorted(summary.reasons.items(), key=lambda item: -item[1][0])
        for (field, reason), (count, first) in ranked[:20]:
            reasons.add_row(field, reason, f"{count:,}", first)
        console.print(reasons)
