"""Browser tests: Playwright drives Debian's Chromium (installed with apt-get when it is missing; a test tool
never downloads a browser) against the real app on a free port, over a small known dataset.

Fixtures:
- `browser`: one headless Chromium for all the browser tests (package scope, so that Playwright, the browser
  and the server are gone before other tests run).
- `page`: a fresh page (its own context, in a time zone west of UTC so that charts that shift dates show
  it). Requests may only go to the live server; the test fails at teardown if the page logged a console
  error, threw, or tried to reach anything else.
- `live_server`: the real app on a socket, serving a DuckDB project loaded with `dataset.JOURNEYS`;
  `live_server.workspace` is that project.
- `run_insight(spec, now=dataset.NOW)`: an insight result over the live server's project, from the engine.
- `chart_page`: a `page` showing the chart harness (vendored vega files from the live server's /static),
  with `render(spec)` to draw a Vega-Lite spec the way the app's pages do.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, Route, sync_playwright

from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import run_query
from sextant.insights.scan import QueryContext
from sextant.workspace import Workspace
from tests.browser.dataset import JOURNEYS, NOW, TIMEZONE
from tests.conftest import LiveServer, ingest, journeys_for, warehouse_url

CHROMIUM = Path("/usr/bin/chromium")
HARNESS = Path(__file__).parent / "chart_harness.html"
HARNESS_PATH = "/__tests__/chart-harness"  # answered by Playwright from HARNESS; the app has no such route
BROWSER_TIMEZONE = "America/Los_Angeles"
# As root in a container, with no network beyond loopback: no sandbox, and none of Chromium's own calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def install_chromium() -> Path:
    """Debian's Chromium, installed with apt-get if it is not there yet (CI runs as root, without stdin)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's package with `apt-get install chromium` (as root)")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    run = subprocess.run(command, env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if run.returncode != 0:  # the package lists may be missing or stale
        subprocess.run(["apt-get", "update"], env=environment, stdin=subprocess.DEVNULL, capture_output=True)
        run = subprocess.run(command, env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if run.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(f"could not install Debian's chromium with apt-get:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = install_chromium()
    launched = playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="package")
def browser_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    directory = tmp_path_factory.mktemp("browser")
    opened, _ = Workspace.initialize(
        directory / "project", name="acme", timezone=TIMEZONE, warehouse=warehouse_url("duckdb", directory)
    )
    ingest(EventStore(opened.project, opened.warehouse), journeys_for(JOURNEYS))
    # A fresh clone compiles the insight passes on first use (about 15 s for a funnel's), longer than a page
    # is given to load: they are compiled here, as `sextant demo` does before it serves.
    project = opened.project
    context = QueryContext(opened.warehouse, project.name, project.config.timezone, TrackingPlan(), NOW)
    warm_up = {"date_from": "2024-05-01", "date_to": "2024-05-17"}
    steps = [{"event": "Signed Up"}, {"event": "Clicked Result"}]
    run_query({"kind": "funnel", **warm_up, "steps": steps}, context)
    run_query({"kind": "retention", **warm_up, "start": steps[0], "return": steps[1]}, context)
    yield opened
    opened.close()


@pytest.fixture(scope="package")
def live_server(browser_workspace: Workspace) -> Iterator[LiveServer]:
    server = LiveServer(browser_workspace)
    server.workspace = browser_workspace  # type: ignore[attr-defined]
    yield server
    server.stop()


RunInsight = Callable[..., dict[str, Any]]


@pytest.fixture(scope="package")
def run_insight(browser_workspace: Workspace) -> RunInsight:
    def run(spec: dict[str, Any], now: dt.datetime = NOW) -> dict[str, Any]:
        project = browser_workspace.project
        context = QueryContext(browser_workspace.warehouse, project.name, project.config.timezone, TrackingPlan(), now)
        return run_query(spec, context).result

    return run


@dataclass
class PageProblems:
    """What went wrong in a page that a person might not notice but a test should."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.console_errors or self.page_errors or self.outside_requests)


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, page_problems: PageProblems) -> Iterator[Page]:
    context = browser.new_context(timezone_id=BROWSER_TIMEZONE, locale="en-US", viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_problems.console_errors.append(message.text)

    def only_the_live_server(route: Route, request: Request) -> None:
        if request.url.startswith(live_server.url + "/") or request.url.startswith("data:"):
            route.fallback()
        else:
            page_problems.outside_requests.append(request.url)
            route.abort()

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: page_problems.page_errors.append(str(error)))
    context.route("**/*", only_the_live_server)
    yield opened
    context.close()
    assert not page_problems, f"the page had problems: {page_problems}"


class ChartPage:
    """The chart harness in a page: draws Vega-Lite specs with the vendored vega-embed, as the app does."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url

    def render(self, spec: dict[str, Any]) -> None:
        self.page.evaluate("spec => window.renderChart(spec)", spec)

    def marks(self, role: str) -> list[dict[str, Any]]:
        """The drawn items of one mark type (its ARIA role description: `bar`, `point`, `rect mark`,
        `text mark`, `area mark`, ...): each one's accessible label (Vega's description of the item's
        fields), its text, fill and box on screen."""
        found: list[dict[str, Any]] = self.page.evaluate(
            """role => [...document.querySelectorAll(`#chart svg [aria-roledescription="${role}"]`)].map(node => {
                const box = node.getBoundingClientRect();
                return {label: node.getAttribute('aria-label') || '', text: node.textContent, x: box.x, y: box.y,
                        width: box.width, height: box.height, fill: node.getAttribute('fill')};
            })""",
            role,
        )
        return found

    def texts(self) -> list[str]:
        """Every piece of text drawn in the chart (titles, axis labels, mark labels), in document order."""
        found: list[str] = self.page.evaluate(
            "() => [...document.querySelectorAll('#chart svg text')].map(node => node.textContent)"
        )
        return found

    def tooltip_on(self, x: float, y: float) -> str:
        """Hover at a point of the page and return the tooltip vega-embed shows there."""
        self.page.mouse.move(x, y)
        tooltip = self.page.locator("#vg-tooltip-element.visible")
        tooltip.wait_for(state="visible")
        return tooltip.inner_text()


@pytest.fixture
def chart_page(page: Page, live_server: LiveServer) -> ChartPage:
    url = live_server.url + HARNESS_PATH
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=HARNESS.read_text()))
    page.goto(url)
    page.wait_for_function("() => window.harnessReady === true")
    return ChartPage(page, url)
