"""What the server's routes share: the opened project, the ingestion pipeline and the key checks."""

from __future__ import annotations

from dataclasses import dataclass

from sextant.auth.dependencies import bearer_token
from sextant.auth.keys import KeyChecker
from sextant.ingest.pipeline import IngestPipeline
from sextant.ingest.rate_limit import RateLimiter
from sextant.insights.service import Insights
from sextant.workspace import Workspace


@dataclass
class ServerState:
    workspace: Workspace
    pipeline: IngestPipeline
    keys: KeyChecker
    rate_limiter: RateLimiter
    # A per-run secret in `.sextant/server.json`: lets CLI commands on this machine write through the server.
    local_token: str
    # Site id -> telemetry level agreed for the instance; pings are filtered by it before they are stored.
    agreed_levels: dict[str, str]
    insights: Insights


__all__ = ["ServerState", "bearer_token"]
