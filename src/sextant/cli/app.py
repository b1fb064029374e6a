"""The `sextant` command-line application object that the command modules add to."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="sextant",
    help="Self-hosted product analytics and BI: collect events, model data, answer questions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
instances_app = typer.Typer(help="Self-hosted instances: telemetry status and accounts.", no_args_is_help=True)
app.add_typer(instances_app, name="instances")
users_app = typer.Typer(help="Users and their roles (viewer, creator, admin).", no_args_is_help=True)
app.add_typer(users_app, name="users")
cohorts_app = typer.Typer(help="Saved cohorts: groups of persons to filter and break down by.", no_args_is_help=True)
app.add_typer(cohorts_app, name="cohorts")

console = Console()
errors = Console(stderr=True)
