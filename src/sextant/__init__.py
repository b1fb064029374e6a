"""Sextant: self-hosted product analytics and BI in one program."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sextant.client import ProjectClient

__version__ = "0.1.0"

# DuckDB's Python API warns that Arrow results of `execute()` are copied. The copy is cheaper than the
# alternative (`sql()` binds a statement twice, ~12 ms for the ingestion query), so the warning is noise.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


def open(directory: str) -> ProjectClient:
    """Open a project from Python: `sextant.open("my-project").query({"kind": "funnel", ...})`. The client
    is imported here, so that `import sextant` stays light."""
    from sextant.client import ProjectClient

    return ProjectClient(directory)
