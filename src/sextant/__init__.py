"""Sextant: self-hosted product analytics and BI in one program."""

import warnings

__version__ = "0.1.0"

# DuckDB's Python API warns that Arrow results of `execute()` are copied. The copy is cheaper than the
# alternative (`sql()` binds a statement twice, ~12 ms for the ingestion query), so the warning is noise.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
