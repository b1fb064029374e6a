"""The server's warm-up compiles the passes that people's questions use: after it, a new process asking
funnels and retention of a real project compiles nothing more."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from sextant.insights import funnel_kernel, funnel_runs, retention_kernel, runs_kernel
from tests.conftest import T0, Journey, ingest, journeys_for

KERNELS = (funnel_kernel, funnel_runs, retention_kernel, runs_kernel)
RANGE = {"date_from": T0.date().isoformat(), "date_to": (T0 + dt.timedelta(days=20)).date().isoformat()}
STEPS = [{"event": "Signed Up"}, {"event": "Search Submitted"}, {"event": "Clicked Result"}, {"event": "Upgraded"}]
# Other questions than the warm-up's own: other events and step counts, orders, exclusions, held properties,
# totals, attributions, a person-property breakdown, the over-time view (a best per interval), first-time
# retention, a time zone with DST.
QUESTIONS = [
    {"kind": "funnel", **RANGE, "steps": STEPS},
    {"kind": "funnel", **RANGE, "steps": STEPS[:2], "window": {"value": 3, "unit": "hour"}},
    {"kind": "funnel", **RANGE, "steps": [*STEPS[:2], STEPS[1]]},
    {"kind": "funnel", **RANGE, "steps": STEPS, "order": "strict"},
    {"kind": "funnel", **RANGE, "steps": STEPS, "order": "any"},
    {
        "kind": "funnel",
        **RANGE,
        "steps": STEPS[:3],
        "exclusions": [{"event": "Upgraded", "from_step": 0, "to_step": 1}],
    },
    {"kind": "funnel", **RANGE, "steps": STEPS, "hold_constant": ["plan"]},
    {"kind": "funnel", **RANGE, "steps": STEPS, "count": "totals"},
    {
        "kind": "funnel",
        **RANGE,
        "steps": STEPS,
        "breakdown": {"type": "person", "key": "plan"},
        "attribution": "last_touch",
    },
    {"kind": "funnel", **RANGE, "steps": STEPS, "view": "over_time"},
    {
        "kind": "funnel",
        **RANGE,
        "steps": STEPS[:3],
        "view": "over_time",
        "interval": "week",
        "breakdown": {"type": "event", "key": "plan"},
    },
    {"kind": "retention", **RANGE, "start": STEPS[0], "return": STEPS[1], "interval": "week"},
    {"kind": "retention", **RANGE, "start": STEPS[1], "return": STEPS[2], "start_type": "first_time"},
    {
        "kind": "retention",
        **RANGE,
        "start": STEPS[0],
        "return": STEPS[1],
        "breakdown": {"type": "event", "key": "plan"},
    },
]

SCRIPT = """
import sys, orjson
from sextant.insights import warm_up
from tests.insights.test_warm_up import ask, compiled
warm_up.compile_passes()
warmed = compiled()
ask(sys.argv[1], orjson.loads(sys.argv[2]))
print(orjson.dumps({"warmed": warmed, "after": compiled()}).decode())
"""


def compiled() -> dict[str, int]:
    """How many signatures each compiled pass of the insight engine has so far."""
    return {
        f"{module.__name__}.{name}": len(dispatcher.signatures)
        for module in KERNELS
        for name, dispatcher in vars(module).items()
        if hasattr(dispatcher, "signatures") and hasattr(dispatcher, "py_func")
    }


def ask(directory: str, questions: list[dict[str, object]]) -> None:
    """Questions of a new DuckDB project with timelines built, in Europe/Berlin."""
    from sextant.ingest.store import EventStore
    from sextant.ingest.tracking_plan import TrackingPlan
    from sextant.insights.runner import run_query
    from sextant.insights.scan import QueryContext
    from sextant.warehouse import timelines
    from sextant.workspace import Workspace

    workspace, _ = Workspace.initialize(Path(directory) / "project", name="acme", timezone="Europe/Berlin")
    try:
        journeys: dict[str, Journey] = {
            f"person-{n}": [
                (
                    STEPS[step]["event"],
                    T0 + dt.timedelta(days=day, hours=step + n % 5),
                    {"properties": {"plan": f"p{n % 3}"}},
                )
                for day in range(0, 18, 1 + n % 4)
                for step in range(1 + (n + day) % len(STEPS))
            ]
            for n in range(40)
        }
        ingest(EventStore(workspace.project, workspace.warehouse), journeys_for(journeys))
        timelines.compact(workspace.warehouse, "acme", "Europe/Berlin")
        context = QueryContext(workspace.warehouse, "acme", "Europe/Berlin", TrackingPlan(), T0 + dt.timedelta(days=25))
        for question in questions:
            run_query(question, context)
    finally:
        workspace.close()


def test_after_the_warm_up_a_process_compiles_nothing_for_funnels_and_retention(tmp_path: Path) -> None:
    root = Path(__file__).parents[2]
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), orjson.dumps(QUESTIONS).decode()],
        cwd=root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    counts = orjson.loads(finished.stdout.splitlines()[-1])
    warmed, after = counts["warmed"], counts["after"]
    # The warm-up reaches the passes that questions call from Python.
    for entry in (
        "sextant.insights.funnel_runs._pass",
        "sextant.insights.funnel_kernel._greedy_pass",
        "sextant.insights.funnel_kernel._all_attempts",
        "sextant.insights.funnel_kernel._select_ranks",
        "sextant.insights.funnel_kernel._fill_durations",
        "sextant.insights.retention_kernel._runs_pass",
        "sextant.insights.retention_kernel._pass",
        "sextant.insights.runs_kernel._copy_checked",
    ):
        assert warmed[entry] >= 1, f"the warm-up did not compile {entry}"
    assert {name: count for name, count in after.items() if count != warmed[name]} == {}


def test_the_server_starts_the_warm_up_before_it_listens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sextant import server
    from sextant.insights import warm_up
    from sextant.project import Project

    Project.create(tmp_path / "project", name="acme")
    calls: list[str] = []
    monkeypatch.setattr(warm_up, "start", lambda: calls.append("warm-up"))
    monkeypatch.setattr(server.uvicorn, "run", lambda *args, **kwargs: calls.append("listen"))
    server.serve(str(tmp_path / "project"))
    assert calls == ["warm-up", "listen"]
