"""Sextant from Python: `sextant.open(project_dir).query(spec)`. Calls go through the server when one owns
the project's warehouse, and to the warehouse directly otherwise; either way the answer is the JSON the
HTTP API returns."""

from __future__ import annotations

from collections.abc import Callable
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
        return self._call(
            "POST",
            "/api/v1/query",
            spec,
            lambda insights: insights.query(spec, refresh=refresh).as_json(),
            params={"refresh": str(refresh).lower()},
        )

    def create_cohort(self, body: dict[str, Any]) -> dict[str, Any]:
        """Save a cohort from a definition, a list of persons or a query's persons (docs/insights.md)."""
        return self._call("POST", "/api/v1/cohorts", body, lambda insights: insights.create_cohort(body).as_json())

    def cohorts(self) -> list[dict[str, Any]]:
        answer = self._call(
            "GET",
            "/api/v1/cohorts",
            None,
            lambda insights: {"cohorts": [cohort.as_json() for cohort in insights.cohort_store().all()]},
        )
        cohorts: list[dict[str, Any]] = answer["cohorts"]
        return cohorts

    def delete_cohort(self, cohort: int) -> None:
        def delete(insights: Insights) -> dict[str, Any]:
            insights.cohort_store().delete(cohort)
            return {}

        self._call("DELETE", f"/api/v1/cohorts/{cohort}", None, delete)

    def _call(
        self,
        method: str,
        path: str,
        body: object,
        direct: Callable[[Insights], dict[str, Any]],
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        server = running_server(self.project) if self._workspace is None else None
        if server is None:
            return direct(self._direct())
        response = httpx.request(
            method,
            server.url + path,
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {server.local_token}"},
            timeout=600,
        )
        if response.status_code == 400:
            raise QueryError(response.json()["message"])
        if response.status_code >= 400:
            raise SextantError(f"the server refused: {response.text}")
        result: dict[str, Any] = response.json() if response.content else {}
        return result

    def _direct(self) -> Insights:
        if self._insights is None:
            self._workspace = Workspace.open(self.project.directory)
            plan = tracking_plan.PlanFile(self.project.directory / "tracking_plan.yaml")
            self._insights = Insights(
                self.project, self._workspace.warehouse, lambda: plan.plan, self._workspace.metadata
            )
        return self._insights

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = self._insights = None

    def __enter__(self) -> ProjectClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
