"""`sextant demo`: build the demo company's project, then serve it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from sextant import demo
from sextant.auth.keys import create_key
from sextant.cli.app import app, console
from sextant.cli.import_command import build_timelines, print_summary, run_import
from sextant.errors import ConfigError
from sextant.ingest.destinations import WarehouseDestination
from sextant.ingest.importer import Preset
from sextant.ingest.store import EventStore
from sextant.metadata.models import KeyKind
from sextant.project import CONFIG_FILE
from sextant.warehouse import tables
from sextant.workspace import Workspace


@app.command("demo")
def demo_(
    directory: Annotated[Path, typer.Argument(help="Where to build the demo project.")] = Path("sextant-demo"),
    events: Annotated[int, typer.Option(help="About how many events to simulate.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same company.")] = 7,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    rebuild: Annotated[bool, typer.Option(help="Delete and rebuild an existing demo project.")] = False,
    serve: Annotated[bool, typer.Option(help="Serve the project once it is built.")] = True,
) -> None:
    """Build a demo project of Lodestar, a code-search company (cloud users, self-hosted instances,
    business data), load it through the ingestion pipeline, then serve it."""
    from sextant.demo import dashboards as demo_dashboards
    from sextant.demo.accounts import ensure_demo_users

    directory = directory.resolve()
    if (directory / CONFIG_FILE).exists() and rebuild:
        shutil.rmtree(directory)
    built = not (directory / CONFIG_FILE).exists()
    if not built:
        console.print(f"Using the demo project in {directory} (pass --rebuild to start over)")
        workspace = Workspace.open(directory)
    else:
        if directory.exists() and any(directory.iterdir()):
            raise ConfigError(f"{directory} exists and is not a Sextant project; choose another directory")
        workspace = build(directory, events, seed)
    people = ensure_demo_users(workspace.metadata)
    boards = demo_dashboards.create_demo_dashboards(workspace.metadata)
    if built:
        answer_once(workspace, demo_dashboards.questions())
    ingest_key = create_key(workspace.metadata, KeyKind.INGEST, "demo ingest key")
    api_key = create_key(workspace.metadata, KeyKind.PERSONAL, "demo API key", user_id=people[0].id)
    workspace.close()
    for person in people:
        console.print(
            f"Sign in as {person.role.value + ':':9}{person.email:26} password [bold green]{person.password}[/]"
        )
    console.print(f"Ingest key (write events): [bold green]{ingest_key.secret}[/]")
    console.print(f"API key (read, as {people[0].email}): [bold green]{api_key.secret}[/]")
    console.print(f"Data files (pings, CRM, licenses, support, NPS): {directory / 'data'}")
    if boards:
        console.print(f"Dashboards in the Shared folder: {', '.join(board.name for board in boards)}")
    queries = write_example_queries(directory)
    console.print(
        f"Example questions: {queries}; try [bold]sextant query {queries / 'signup-funnel.json'} -p {directory}[/]"
    )
    console.print(
        f"or: curl -H 'Authorization: Bearer {api_key.secret}' -d @{queries / 'weekly-retention.json'} "
        f"http://127.0.0.1:{port}/api/v1/query"
    )
    if serve:
        from sextant import server

        console.print(f"Serving at [bold]http://127.0.0.1:{port}[/] (Ctrl+C to stop)")
        server.serve(str(directory), port=port)


def answer_once(workspace: Workspace, specs: list[dict[str, Any]]) -> None:
    """Ask each dashboard question once, so that the first pages open quickly: on a fresh install the
    insight engine's compiled passes are compiled on first use (about 5 s for a funnel) and then kept in
    numba's cache for every later process."""
    from rich.progress import track

    from sextant.ingest.tracking_plan import PlanFile
    from sextant.insights.service import Insights

    plan = PlanFile(workspace.project.directory / "tracking_plan.yaml")
    insights = Insights(workspace.project, workspace.warehouse, lambda: plan.plan, workspace.metadata)
    for spec in track(specs, description="Answering the dashboards' questions once", console=console):
        insights.query(spec)


def write_example_queries(directory: Path) -> Path:
    """Insight specs for the demo's questions, to run with `sextant query` or POST to /api/v1/query."""
    from sextant.demo import dashboards as demo_dashboards

    examples = {
        # The same questions as the demo dashboards' tiles.
        "signup-funnel.json": demo_dashboards.SIGNUP_FUNNEL,
        "weekly-retention.json": demo_dashboards.WEEKLY_RETENTION,
        "active-users.json": demo_dashboards.ACTIVE_USERS,
        "searches-by-plan.json": {
            "kind": "segmentation",
            "date_from": "-30d",
            "interval": "week",
            "series": [{"event": "Search Submitted", "math": "unique"}],
            "breakdown": {"type": "person", "key": "plan"},
        },
    }
    queries = directory / "queries"
    queries.mkdir(exist_ok=True)
    for name, spec in examples.items():
        (queries / name).write_text(json.dumps(spec, indent=2) + "\n")
    return queries


def build(directory: Path, events: int, seed: int) -> Workspace:
    from sextant import instances

    workspace, _ = Workspace.initialize(directory, name="lodestar", timezone="America/Los_Angeles")
    config = workspace.project.config
    telemetry = config.telemetry.model_copy(update={"releases": list(demo.telemetry.RELEASES)})
    workspace.project = workspace.project.save(config.model_copy(update={"telemetry": telemetry}))
    plan = Path(demo.__file__).parent / "tracking_plan.yaml"
    (directory / "tracking_plan.yaml").write_text(plan.read_text())
    with console.status(f"Simulating Lodestar's last 90 days (about {events:,} events)..."):
        files = demo.generate(directory / "data", events=events, seed=seed)
    console.print(f"Simulated {len(files.events)} event file(s), instance pings and business data")
    store = EventStore(workspace.project, workspace.warehouse)
    print_summary(run_import(files.events, workspace.project, WarehouseDestination(store)))
    print_summary(run_import([files.pings], workspace.project, WarehouseDestination(store), preset=Preset.PINGS))
    links = instances.links_from_licenses(next(path for path in files.business if path.name == "licenses.csv"))
    with workspace.warehouse.transaction():
        workspace.warehouse.insert(tables.INSTANCE_ACCOUNTS, instances.link_rows("lodestar", links, "license"))
    build_timelines(workspace)
    return workspace
