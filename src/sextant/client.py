"""Sextant from Python: `sextant.open(project_dir).query(spec)`. Queries go through the server when one owns
the project's warehouse, and to the warehouse directly otherwise; either way the result is the JSON that
`POST /api/v1/query` returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sextant.errors import QueryError, SextantError
from sextant.ingest import tracking_plan
from sextant.insights.service import Insights
from sextant.project import Project
from sextant.server import running_server
from sextant.workspace import Workspace


class ProjectClient:
    def __init__(self, directory: str | Path) -> None:
        self.project = Project.load(directory)
        self._workspace: Workspace | None = None
        self._insights: Insights | None = None

    def query(self, spec: dict[str, Any], *, refresh: bool = False) -> dict[str, Any]:
        """Run an insight spec; see docs/insights.md for every kind."""
        server = running_server(self.project) if self._workspace is None else None
        if server is not None:
            response = httpx.post(
                f"{server.url}/api/v1/query",
                params={"refresh": str(refresh).lower()},
                json=spec,
                headers={"Authorization": f"Bearer {server.local_token}"},
                timeout=600,
            )
            if response.status_code == 400:
                raise QueryError(response.json()["message"])
            if response.status_code >= 400:
                raise SextantError(f"the server refused the query: {response.text}")
            result: dict[str, Any] = response.json()
            return result
        return self._direct().query(spec, refresh=refresh).as_json()

    def _direct(self) -> Insights:
        if self._insights is None:
            self._workspace = Workspace.open(self.project.directory)
            plan = tracking_plan.PlanFile(self.project.directory / "tracking_plan.yaml")
            self._insights = Insights(self.project, self._workspace.warehouse, lambda: plan.plan)
        return self._insights

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = self._insights = None

    def __enter__(self) -> ProjectClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
