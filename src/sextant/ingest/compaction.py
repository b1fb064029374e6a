"""When the server rebuilds the person timelines (warehouse/timelines.py), and the build that runs beside the
writer: a build reads the warehouse as it was when it started, so ingestion goes on while it runs, and a
server that is never idle still keeps its timelines fresh.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

from sextant.project import Project
from sextant.warehouse import timelines
from sextant.warehouse.engine import Engine

log = logging.getLogger(__name__)


class TimelineCompaction:
    """Kept by the writer thread, which tells it what it stored and asks it between writes whether to build.

    A build starts when ingestion is idle and enough events are new (`ingest.timeline_min_events`, or a tenth
    of the last build, whichever is more), or, idle or not, when new events have waited
    `ingest.timeline_max_age` seconds. It runs on its own thread and warehouse handle; the writer waits only
    until the build has fixed what it holds."""

    def __init__(self, project: Project, engine: Engine) -> None:
        self.project = project
        self.engine = engine
        self.settings = project.config.ingest
        self._builds = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sextant-timelines")
        self._running: Future[timelines.Build] | None = None
        self._handle: Engine | None = None  # the running build's
        self._built_events = 0  # the last build's size
        self._waiting = 0  # events stored and in no build, not even the running one
        self._waiting_since: float | None = None  # when the first of them was stored
        self._in_running = 0  # events the running build takes in, counted back as waiting if it fails
        self._running_since = 0.0

    def resume(self) -> None:
        """Learn what the latest build holds and how many events are stored after it."""
        latest = timelines.latest_build(self.engine, self.project.name)
        self._built_events = latest.events if latest else 0
        self._waiting = timelines.pending_events(self.engine, self.project.name, latest)
        self._waiting_since = time.monotonic() if self._waiting else None

    def stored(self, events: int) -> None:
        """The writer stored this many events (pings excluded: they have no timelines)."""
        if events:
            self._waiting += events
            self._waiting_since = self._waiting_since or time.monotonic()

    def between_writes(self, *, idle: bool) -> None:
        """Take note of a finished build, and start one if it is due. Call it only between two writes."""
        if self._running is not None:
            if not self._running.done():
                return
            self._finish(self._running)
        if self._waiting_since is None:
            return
        old = time.monotonic() - self._waiting_since >= self.settings.timeline_max_age
        enough = self._waiting >= max(self.settings.timeline_min_events, self._built_events // 10)
        if old or (idle and enough):
            self._start()

    def stop(self) -> None:
        """Stop a running build (its work is rolled back, or left to the next build to clear) and wait for it."""
        running, handle = self._running, self._handle
        if running is not None and handle is not None:
            # An interrupt stops only the statement running when it comes: one that comes between two of the
            # build's statements is lost, so it is repeated until the build has ended.
            while not running.done():
                handle.interrupt()
                wait([running], timeout=0.05)
        self._builds.shutdown(wait=True)

    def _start(self) -> None:
        fixed = threading.Event()
        self._handle = self.engine.cursor()
        self._running = self._builds.submit(self._build, self._handle, fixed)
        # Until the build has read what it holds, a write could land half in it.
        while not fixed.wait(0.05) and not self._running.done():
            pass
        self._in_running, self._waiting, self._waiting_since = self._waiting, 0, None
        self._running_since = time.monotonic()

    def _build(self, handle: Engine, fixed: threading.Event) -> timelines.Build:
        started = time.perf_counter()
        try:
            build = timelines.compact(handle, self.project.name, self.project.config.timezone, started=fixed.set)
        finally:
            if handle is not self.engine:  # engines that serialise their callers hand out themselves
                handle.close()
        log.info(
            "built person timelines", extra={"events": build.events, "seconds": round(time.perf_counter() - started, 3)}
        )
        return build

    def _finish(self, running: Future[timelines.Build]) -> None:
        self._running = self._handle = None
        try:
            build = running.result()
        except Exception:
            log.exception("building person timelines failed; queries read the events meanwhile")
            # Tried again once they have waited long enough anew, or at the next idle moment.
            self._waiting += self._in_running
            self._waiting_since = time.monotonic()
        else:
            self._built_events = build.events
