"""Compiling the insight engine's passes before anyone asks a question.

numba compiles each pass the first time it is called and keeps it in its cache for later processes. On a
fresh install, the first funnel would wait about 15 seconds for that (later processes load the passes from
the cache in about a second). The server asks a few questions of a small warehouse in memory as it starts,
on a thread of its own, so that people's first questions find the passes ready.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from sextant.ingest.normalize import Context, normalize_documents
from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import run_query
from sextant.insights.scan import QueryContext
from sextant.project import Project, ProjectConfig
from sextant.warehouse import migrations, timelines
from sextant.warehouse.engine import connect

log = logging.getLogger(__name__)

_START = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
_STEPS = ["Viewed Sign Up", "Signed Up", "Search Submitted"]
# Between them, these reach every compiled pass: the steps' runs side by side (a plain funnel, a plain
# retention), a step's event repeated (the greedy pass), a breakdown (every attempt, the merge of runs),
# a return of any event (each person's rows merged), and the time-to-convert statistics.
_RANGE = {"date_from": "2026-01-05", "date_to": "2026-01-25"}
QUESTIONS: list[dict[str, Any]] = [
    {"kind": "funnel", **_RANGE, "steps": [{"event": name} for name in _STEPS]},
    {"kind": "funnel", **_RANGE, "steps": [{"event": name} for name in [*_STEPS, _STEPS[-1]]]},
    {
        "kind": "funnel",
        **_RANGE,
        "steps": [{"event": name} for name in _STEPS],
        "breakdown": {"type": "event", "key": "plan"},
    },
    {"kind": "retention", **_RANGE, "start": {"event": _STEPS[1]}, "return": {"event": _STEPS[2]}},
    {
        "kind": "retention",
        **_RANGE,
        "start": {"event": _STEPS[1]},
        "return": {"event": None},
    },
]


def start() -> threading.Thread:
    """Compile the passes on a background thread (it logs how long that took)."""
    thread = threading.Thread(target=_compile_logged, name="sextant-warm-up", daemon=True)
    thread.start()
    return thread


def compile_passes() -> None:
    """Ask `QUESTIONS` of a small event log in an in-memory warehouse, timelines built."""
    engine = connect("duckdb:///:memory:")
    try:
        migrations.migrate(engine)
        with tempfile.TemporaryDirectory(prefix="sextant-warm-up-") as directory:
            project = Project(Path(directory), ProjectConfig(name="warm-up"))
            store = EventStore(project, engine)
            context = Context(received_at=_START + dt.timedelta(days=30), source="api", settings=project.config.ingest)
            store.write(normalize_documents(_events(), context).events)
            timelines.compact(engine, project.name, "UTC")
            asking = QueryContext(engine, project.name, "UTC", TrackingPlan(), _START + dt.timedelta(days=21))
            for question in QUESTIONS:
                run_query(question, asking)
    finally:
        engine.close()


def _compile_logged() -> None:
    started = time.perf_counter()
    try:
        compile_passes()
    except Exception:  # a failed warm-up only means the first questions compile the passes themselves
        log.exception("compiling the insight passes ahead of the first question failed")
        return
    log.info("insight passes ready in %.1f s", time.perf_counter() - started)


def _events() -> list[str]:
    """Twelve persons over two weeks, each going some way through the steps, some on each plan."""
    documents = []
    for person in range(12):
        for day in range(0, 14, 1 + person % 3):
            for step, name in enumerate(_STEPS[: 1 + (person + day) % len(_STEPS)]):
                timestamp = _START + dt.timedelta(days=day, minutes=7 * step + person)
                properties = {"plan": ["free", "team", "business"][person % 3]}
                documents.append(
                    orjson.dumps(
                        {"event": name, "distinct_id": f"person-{person}", "timestamp": timestamp.isoformat(),
                         "properties": properties}
                    ).decode()
                )  # fmt: skip
    return documents
