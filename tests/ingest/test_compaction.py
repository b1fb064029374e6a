"""When the server rebuilds person timelines (ingest/compaction.py): after enough new events once ingestion
is idle, after `timeline_max_age` even while it is busy, and always beside the writer, which goes on storing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from sextant.ingest.compaction import TimelineCompaction
from sextant.ingest.store import EventStore
from sextant.warehouse import timelines
from sextant.warehouse.engine import Engine
from sextant.workspace import Workspace
from tests.conftest import T0, LiveServer, ingest, journeys_for, set_ingest_settings
from tests.insights.journeys import HOUR, query


def send(server: LiveServer, key: str, journeys: dict[str, list[tuple[str, object]]]) -> None:
    body = "[" + ",".join(journeys_for(journeys)) + "]"  # type: ignore[arg-type]
    response = httpx.post(server.url + "/api/v1/batch", content=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def reader(server: LiveServer) -> Engine:
    return server.app.state.sextant.workspace.warehouse.cursor()  # type: ignore[no-any-return]


def build_after(server: LiveServer, seconds: float) -> timelines.Build | None:
    """The latest build once `seconds` have passed or a build exists, whichever comes first."""
    project = server.app.state.sextant.workspace.project.name
    deadline = time.monotonic() + seconds
    while (build := timelines.latest_build(reader(server), project)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return build


def test_the_writer_builds_timelines_once_enough_events_wait_while_idle(workspace: Workspace, ingest_key: str) -> None:
    set_ingest_settings(workspace, timeline_min_events=3, timeline_max_age=3600)
    server = LiveServer(workspace)
    try:
        send(server, ingest_key, {"alice": [("Search", T0)] * 2})
        # Two events are fewer than the three a rebuild waits for, however long the writer is idle.
        assert build_after(server, 4.0) is None
        send(server, ingest_key, {"bob": [("Search", T0)]})
        build = build_after(server, 10.0)
        assert build is not None and (build.events, build.persons) == (3, 2)
    finally:
        server.stop()


def test_a_writer_that_is_never_idle_builds_once_new_events_have_waited_long_enough(
    workspace: Workspace, ingest_key: str
) -> None:
    # Far more events than are sent would be "enough"; only their age can start a build, and the writer is
    # never idle for the 2 seconds an idle build waits for.
    set_ingest_settings(workspace, timeline_min_events=1_000_000, timeline_max_age=1)
    server = LiveServer(workspace)
    try:
        build = None
        deadline = time.monotonic() + 15
        sent = 0
        while build is None and time.monotonic() < deadline:
            send(server, ingest_key, {f"user{sent}": [("Search", T0)]})
            sent += 1
            time.sleep(0.3)
            build = timelines.latest_build(reader(server), workspace.project.name)
        assert build is not None, f"no build while {sent} batches kept the writer busy"
        assert 0 < build.events <= sent
    finally:
        server.stop()


@pytest.fixture
def held_builds(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Builds that stop once they have fixed what they hold (the first event is set), until the second is set."""
    holding, release = threading.Event(), threading.Event()
    compact = timelines.compact

    def held(engine: Engine, project: str, timezone: str, started: Callable[[], None] | None = None) -> timelines.Build:
        def hold() -> None:
            if started is not None:
                started()
            holding.set()
            release.wait(30)

        return compact(engine, project, timezone, started=hold)

    monkeypatch.setattr(timelines, "compact", held)
    return holding, release


def test_events_are_stored_while_a_build_runs_and_queries_stay_exact(
    workspace: Workspace, ingest_key: str, held_builds: tuple[threading.Event, threading.Event]
) -> None:
    holding, release = held_builds
    set_ingest_settings(workspace, timeline_min_events=1, timeline_max_age=3600)
    server = LiveServer(workspace)
    try:
        send(server, ingest_key, {"alice": [("Signed Up", T0)], "bob": [("Signed Up", T0)]})
        assert holding.wait(10), "no build started after the writer was idle"
        # The build holds the first two events; the writer goes on storing while it runs.
        send(server, ingest_key, {"alice": [("Search", T0 + HOUR)], "carol": [("Signed Up", T0 + HOUR)]})
        server.wait_until_written(timeout=10)
        stored = reader(server).execute("SELECT count(*) AS n FROM events").column("n")[0].as_py()
        assert stored == 4
        release.set()
        deadline = time.monotonic() + 10
        while (build := timelines.latest_build(reader(server), workspace.project.name)) is None:
            assert time.monotonic() < deadline, "the held build did not finish"
            time.sleep(0.1)
        assert (build.events, build.persons) == (2, 2)
        # alice's step 2 came after the build: she is read from `events`, bob from the build, carol from
        # `events` (she is new).
        funnel = {
            "kind": "funnel",
            "steps": [{"event": "Signed Up"}, {"event": "Search"}],
            "date_from": T0.date().isoformat(),
            "date_to": T0.date().isoformat(),
        }
        result = query(workspace, funnel, engine=reader(server))
        assert [step["count"] for step in result["results"][0]["steps"]] == [3, 1]  # type: ignore[index]
    finally:
        release.set()
        server.stop()


def test_stopping_the_server_interrupts_a_running_build(
    workspace: Workspace, ingest_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = type(workspace.warehouse).unsupported.get("interrupt")
    if reason:
        pytest.skip(reason)
    building = threading.Event()
    compact = timelines.compact

    def endless(
        engine: Engine, project: str, timezone: str, started: Callable[[], None] | None = None
    ) -> timelines.Build:
        def run_long() -> None:
            if started is not None:
                started()
            building.set()
            engine.execute("SELECT count(*) FROM range(1000000000000) AS numbers(n) WHERE n % 7 = 3")

        return compact(engine, project, timezone, started=run_long)

    monkeypatch.setattr(timelines, "compact", endless)
    set_ingest_settings(workspace, timeline_min_events=1, timeline_max_age=3600)
    server = LiveServer(workspace)
    send(server, ingest_key, {"alice": [("Signed Up", T0)]})
    assert building.wait(10)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 10
    assert not any(thread.name.startswith("sextant-timelines") for thread in threading.enumerate())
    assert timelines.latest_build(workspace.warehouse, workspace.project.name) is None


def test_stopping_interrupts_a_build_between_two_of_its_statements(
    workspace: Workspace, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An interrupt stops only the statement running when it comes; this one comes while the build is between
    # two statements, and the build must still stop at its next one.
    reason = type(workspace.warehouse).unsupported.get("interrupt")
    if reason:
        pytest.skip(reason)
    interrupted = threading.Event()
    interrupt = type(workspace.warehouse).interrupt

    def noted(engine: Engine) -> None:
        interrupt(engine)
        interrupted.set()

    monkeypatch.setattr(type(workspace.warehouse), "interrupt", noted)
    compact = timelines.compact

    def paused(
        engine: Engine, project: str, timezone: str, started: Callable[[], None] | None = None
    ) -> timelines.Build:
        def run_long_after_the_interrupt() -> None:
            if started is not None:
                started()
            assert interrupted.wait(10)
            # Far longer than the test allows, if nothing stops it.
            engine.execute("SELECT count(*) FROM range(10000000000) AS numbers(n) WHERE n % 7 = 3")

        return compact(engine, project, timezone, started=run_long_after_the_interrupt)

    monkeypatch.setattr(timelines, "compact", paused)
    set_ingest_settings(workspace, timeline_min_events=1, timeline_max_age=3600)
    ingest(store, journeys_for({"alice": [("Signed Up", T0)]}))
    compaction = TimelineCompaction(workspace.project, workspace.warehouse)
    compaction.resume()
    compaction.between_writes(idle=True)
    started = time.monotonic()
    compaction.stop()
    assert time.monotonic() - started < 10
    assert timelines.latest_build(workspace.warehouse, workspace.project.name) is None
