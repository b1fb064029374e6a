"""The `sextant` command.

Every command is registered here, so each command module imports at its top only what is cheap; what one
command alone uses (the web application, the insight engine) it imports when it runs: `sextant import` started
in 1.6 s when every command loaded the web application first (docs/performance.md)."""

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
