"""The SQL each insight kind generates, per engine, is kept in tests/insights/snapshots so that a change to
it shows up in review. Run with SEXTANT_UPDATE_SNAPSHOTS=1 to rewrite them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import parse_spec, runner_class
from sextant.insights.scan import QueryContext
from sextant.insights.spec import resolve_dates
from sextant.workspace import Workspace

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
FILTER = {"type": "person", "key": "plan", "operator": "in", "value": ["pro", "team"]}
SPECS = {
    "segmentation": {
        "kind": "segmentation",
        "series": [{"event": "Search Submitted", "math": "p90", "property": "results_count"}],
        "breakdown": {"type": "event", "key": "$browser", "limit": 5},
        "filters": [FILTER],
    },
    "funnel": {
        "kind": "funnel",
        "steps": [{"event": "Viewed Sign Up"}, {"event": "Signed Up"}, {"event": "Search Submitted"}],
        "exclusions": [{"event": "Signed Out", "from_step": 0, "to_step": 1}],
        "filters": [FILTER],
    },
    "retention": {"kind": "retention", "start": {"event": "Signed Up"}, "return": {"event": "Search Submitted"}},
    "active_users": {"kind": "active_users"},
    "stickiness": {"kind": "stickiness", "events": ["Search Submitted"]},
    "lifecycle": {"kind": "lifecycle", "filters": [FILTER]},
    "paths": {"kind": "paths", "start_event": "Viewed Sign Up", "events": ["Signed Up", "Search Submitted"]},
    "persons": {"kind": "persons", "search": "example.com", "filters": [FILTER]},
}


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_generated_sql_matches_its_snapshot(workspace: Workspace, engine_name: str, kind: str) -> None:
    spec = parse_spec(SPECS[kind])
    context = QueryContext(workspace.warehouse, "acme", "Europe/Berlin", TrackingPlan(), NOW)
    runner = runner_class(kind)(spec, context, resolve_dates(spec.date_from, spec.date_to, "Europe/Berlin", NOW))
    engine = workspace.warehouse
    rendered = "\n\n".join(
        f"-- {name}\n{engine.render(engine.bind(query, runner.parameters.values))};"
        for name, query in sorted(runner.queries().items())
    )
    snapshot = SNAPSHOTS / engine_name / f"{kind}.sql"
    if os.environ.get("SEXTANT_UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(rendered + "\n")
    assert snapshot.exists(), f"no snapshot for {kind}; run with SEXTANT_UPDATE_SNAPSHOTS=1"
    assert rendered + "\n" == snapshot.read_text()
