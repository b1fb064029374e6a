"""`sextant users ...`: create users, list them, change their roles."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sextant.auth import audit, users
from sextant.auth.passwords import generate_password
from sextant.cli.app import console, users_app
from sextant.cli.key_commands import metadata_sessions
from sextant.errors import ConfigError
from sextant.metadata.models import Role

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="The project directory.")]


def can_prompt() -> bool:
    """Whether someone is at a terminal to type a password (not in CI, not with piped input)."""
    return sys.stdin.isatty() and os.environ.get("CI", "").lower() not in ("true", "1")


@users_app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="The user's email; it is also the sign-in name.")],
    role: Annotated[Role, typer.Option(help="viewer (the default), creator or admin.")] = Role.VIEWER,
    name: Annotated[str | None, typer.Option(help="Display name (default: the email's local part).")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="At least 10 characters. Without it you are asked, or (no terminal, CI=true) one is generated."
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Create a user with a personal folder. A generated password is printed once."""
    generated = False
    if password is None and can_prompt():
        password = typer.prompt("Password (10+ characters)", hide_input=True, confirmation_prompt=True)
    if password is None:
        password, generated = generate_password(), True
    user = users.create_user(
        metadata_sessions(project), email, password, actor=audit.COMMAND_LINE, name=name, role=role
    )
    console.print(f"Created {user.role.value} [bold]{user.email}[/] (id {user.id})")
    if generated:
        console.print(f"Password (shown once): [bold green]{password}[/]")


@users_app.command("list")
def list_(project: ProjectOption = Path(".")) -> None:
    """List users with their role, status and last sign-in."""
    table = Table("id", "email", "name", "role", "status", "last sign-in")
    for user in users.list_users(metadata_sessions(project)):
        table.add_row(
            str(user.id),
            user.email,
            user.name,
            user.role.value,
            "active" if user.active else "deactivated",
            f"{user.last_sign_in:%Y-%m-%d %H:%M}" if user.last_sign_in else "never",
        )
    console.print(table)


@users_app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[Role, typer.Argument(help="viewer, creator or admin.")],
    project: ProjectOption = Path("."),
) -> None:
    """Change a user's role; it applies to their next request."""
    sessions = metadata_sessions(project)
    user = users.find_user(sessions, email)
    if user is None:
        raise ConfigError(f"there is no user {email}; see `sextant users list`")
    users.set_role(sessions, user.id, role, actor=audit.COMMAND_LINE)
    console.print(f"{user.email} is now {role.value}")
