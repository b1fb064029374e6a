"""`sextant keys ...`: API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sextant.auth.keys import create_key, list_keys, revoke_key
from sextant.auth.users import find_user
from sextant.cli.app import console, keys_app
from sextant.errors import ConfigError
from sextant.metadata import database
from sextant.metadata.models import KeyKind
from sextant.project import Project

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="The project directory.")]


def metadata_sessions(directory: Path):  # type: ignore[no-untyped-def]
    """The project's metadata database, upgraded to the current schema."""
    project = Project.load(directory)
    database.upgrade(project.metadata_url)
    return database.connect(project.metadata_url)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'web app' or 'alice laptop'.")],
    kind: Annotated[KeyKind, typer.Option(help="ingest: can only send events; personal: reads the API.")] = (
        KeyKind.INGEST
    ),
    user: Annotated[
        str | None, typer.Option(help="For a personal key: the email of the user it acts as (its role and folders).")
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Create a key and print its secret (shown once)."""
    sessions = metadata_sessions(project)
    owner = None
    if user is not None:
        found = find_user(sessions, user)
        if found is None:
            raise ConfigError(f"there is no user {user}; see `sextant users list`")
        owner = found.id
    key = create_key(sessions, kind, name, user_id=owner)
    console.print(f"Created {kind.value} key {key.id} ({name}): [bold green]{key.secret}[/]")


@keys_app.command("list")
def list_(project: ProjectOption = Path(".")) -> None:
    """List keys (without their secrets)."""
    table = Table("id", "kind", "name", "starts with", "created", "revoked")
    for key in list_keys(metadata_sessions(project)):
        table.add_row(
            str(key.id),
            key.kind.value,
            key.name,
            key.prefix + "…",
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id from `sextant keys list`.")],
    project: ProjectOption = Path("."),
) -> None:
    """Revoke a key; clients using it get 401 within seconds."""
    revoke_key(metadata_sessions(project), key_id)
    console.print(f"Revoked key {key_id}")
