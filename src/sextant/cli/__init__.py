"""The `sextant` command."""

from __future__ import annotations

import sys

from sextant.cli import (  # noqa: F401 - importing registers the commands
    catalog_command,
    cohort_commands,
    demo_command,
    import_command,
    instance_commands,
    key_commands,
    project_commands,
    query_command,
    user_commands,
)
from sextant.cli.app import app, errors
from sextant.errors import SextantError


def main() -> None:
    try:
        app()
    except SextantError as error:
        errors.print(f"[bold red]Error:[/] {error.message}")
        sys.exit(1)
