"""The ingestion pipeline's writer: person timelines are rebuilt when ingestion is idle and enough is new."""

from __future__ import annotations

import time

import httpx

from sextant.warehouse import timelines
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, journeys_for, set_ingest_settings


def send(server: LiveServer, key: str, count: int, prefix: str) -> None:
    body = "[" + ",".join(journeys_for({prefix: [("Search", T0)] * count})) + "]"
    response = httpx.post(server.url + "/api/v1/batch", content=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def build_after(server: LiveServer, seconds: float) -> timelines.Build | None:
    """The latest build once `seconds` have passed or a build exists, whichever comes first."""
    reader = server.app.state.sextant.workspace.warehouse.cursor()
    project = server.app.state.sextant.workspace.project.name
    deadline = time.monotonic() + seconds
    while (build := timelines.latest_build(reader, project)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return build


def test_the_writer_builds_timelines_once_enough_events_wait_while_idle(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, timeline_min_events=3, timeline_max_age=3600)
    server = LiveServer(workspace)
    try:
        send(server, ingest_key, 2, "alice")
        # Two events are fewer than the three a rebuild waits for, however long the writer is idle.
        assert build_after(server, 4.0) is None
        send(server, ingest_key, 1, "bob")
        build = build_after(server, 10.0)
        assert build is not None and (build.events, build.persons) == (3, 2)
    finally:
        server.stop()
