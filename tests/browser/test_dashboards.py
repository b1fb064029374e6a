"""Looks and dashboards in Chromium, as people use them: a Creator saves a funnel from the builder as a look,
puts it on a new dashboard, filters the dashboard, explores from the tile and changes the query, and finds
the dashboard unchanged; a Viewer sees no edit control, is refused edits, and downloads a tile's CSV, which
holds the rows of the API's result. Numbers come from `dataset.py` (project time zone Europe/Berlin):
alice, bob, carol and dave signed up; all but dave searched within a day; alice and carol clicked a result;
on 7-8 May only bob and carol signed up, both searched, and carol clicked."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Locator, Page

from sextant.auth import audit, users
from sextant.content import dashboards as dashboard_service
from sextant.content import tiles as tile_service
from sextant.insights.funnel import FunnelRunner
from sextant.metadata.models import Role
from tests.browser import dataset
from tests.browser.conftest import BROWSER_TIMEZONE, RunInsight
from tests.conftest import LiveServer

PASSWORD = "correct horse battery staple"
CREATOR = "dashboards-creator@example.com"
VIEWER = "dashboards-viewer@example.com"
SHARED = 1  # the "Shared" folder every project starts with


@pytest.fixture(scope="module")
def people(live_server: LiveServer) -> None:
    metadata = live_server.workspace.metadata  # type: ignore[attr-defined]
    for email, role in ((CREATOR, Role.CREATOR), (VIEWER, Role.VIEWER)):
        if users.find_user(metadata, email) is None:
            users.create_user(metadata, email, PASSWORD, actor=audit.COMMAND_LINE, role=role)


def sign_in(page: Page, live_server: LiveServer, email: str) -> None:
    page.goto(f"{live_server.url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


def tile_counts(page: Page) -> list[int]:
    """The step counts in the first tile's table, once htmx has loaded it."""
    page.wait_for_selector(".tile table.result tbody tr", state="attached")
    counts: list[str] = page.eval_on_selector_all(
        ".tile table.result tbody tr", "rows => rows.map(row => row.cells[2].textContent.trim())"
    )
    return [int(count) for count in counts]


def test_a_creator_builds_a_dashboard_filters_and_explores_it_and_a_viewer_only_looks(
    page: Page, browser: Browser, live_server: LiveServer, people: None, run_insight: RunInsight, tmp_path: Path
) -> None:
    sign_in(page, live_server, CREATOR)
    # Build the funnel in the builder and save it as a look in the Shared folder.
    page.goto(f"{live_server.url}/insights/funnel?{urlencode({'spec': json.dumps(dataset.FUNNEL)})}")
    save = page.locator("form[action='/looks']")
    save.get_by_label("Name").fill("Activation funnel")
    save.get_by_label("Folder").select_option(label="Shared")
    save.get_by_role("button", name="Save as look").click()
    page.wait_for_url(re.compile(r"/looks/\d+$"))
    look_id = int(page.url.rsplit("/", 1)[1])
    assert page.get_by_role("heading", name="Activation funnel").is_visible()

    # A new dashboard with the look on it.
    page.goto(f"{live_server.url}/dashboards/new")
    page.get_by_label("Name").fill("Activation")
    page.get_by_label("Folder").select_option(label="Shared")
    page.get_by_role("button", name="Create dashboard").click()
    page.wait_for_url(re.compile(r"/dashboards/\d+\?edit=1$"))
    board = int(re.search(r"/dashboards/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    page.locator("form.add-look").get_by_label("Look").select_option(label="Activation funnel")
    page.get_by_role("button", name="Add look").click()
    page.get_by_role("link", name="Done editing").click()
    assert tile_counts(page) == [4, 3, 2]
    page.wait_for_selector(".tile .chart svg")  # the chart is drawn too

    # A dashboard filter replaces the look's dates.
    page.get_by_role("textbox", name="From").fill("2024-05-07")
    page.get_by_role("textbox", name="To").fill("2024-05-08")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"date_from=2024-05-07"))
    assert tile_counts(page) == [2, 2, 1]

    # Explore from the tile: the builder opens on the filtered query; change it there and run it.
    page.get_by_role("link", name="Explore from here").click()
    page.wait_for_url(re.compile(r"/insights/funnel\?"))
    assert "from_dashboard" in page.url and "Exploring a copy" in page.content()
    assert page.get_by_label("From", exact=True).input_value() == "2024-05-07"
    page.get_by_label("From", exact=True).fill("2024-05-01")
    page.get_by_label("To", exact=True).fill("2024-05-06")
    page.get_by_role("button", name="Run").click()
    page.wait_for_url(re.compile(r"2024-05-06"))
    # Back on the dashboard nothing changed: the look's own range, and the same tile.
    page.goto(f"{live_server.url}/dashboards/{board}")
    assert tile_counts(page) == [4, 3, 2]
    metadata = live_server.workspace.metadata  # type: ignore[attr-defined]
    saved = dashboard_service.get_dashboard(metadata, board, "test")
    assert saved.filters == {} and [tile.look_id for tile in saved.tiles] == [look_id]
    assert saved.tiles[0].look is not None and saved.tiles[0].look.spec == dataset.FUNNEL

    # A Viewer: the same numbers, no edit control, edits refused, and a CSV with the API's rows.
    context = browser.new_context(timezone_id=BROWSER_TIMEZONE, accept_downloads=True)
    viewer = context.new_page()
    try:
        sign_in(viewer, live_server, VIEWER)
        viewer.goto(f"{live_server.url}/dashboards/{board}?edit=1")
        assert tile_counts(viewer) == [4, 3, 2]
        assert viewer.locator("form[method=post]").count() == 1  # signing out
        for name in ("Edit dashboard", "Explore from here", "Duplicate", "Remove", "Add look"):
            assert viewer.get_by_text(name, exact=True).count() == 0, name
        token = json.loads(viewer.locator("body").get_attribute("hx-headers") or "{}")["X-CSRF-Token"]
        for path, form in (
            (f"/dashboards/{board}/tiles", {"kind": "text", "text": "hi"}),
            (f"/dashboards/{board}/tiles/{saved.tiles[0].id}/move", {"direction": "down"}),
            (f"/dashboards/{board}/delete", {}),
            (f"/looks/{look_id}/spec", {"spec": json.dumps(dataset.FUNNEL)}),
        ):
            refused = viewer.request.post(f"{live_server.url}{path}", form={**form, "csrf_token": token})
            assert refused.status == 403, path
        viewer.get_by_role("textbox", name="From").fill("2024-05-07")
        viewer.get_by_role("textbox", name="To").fill("2024-05-08")
        viewer.get_by_role("button", name="Apply filters").click()
        viewer.wait_for_url(re.compile(r"date_from=2024-05-07"))
        assert tile_counts(viewer) == [2, 2, 1]
        with viewer.expect_download() as download:
            viewer.get_by_role("link", name="CSV").click()
        target = tmp_path / "tile.csv"
        download.value.save_as(target)
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        effective = {**dataset.FUNNEL, "date_from": "2024-05-07", "date_to": "2024-05-08"}
        expected = FunnelRunner.rows(run_insight(effective))
        assert rows == [{key: "" if value is None else str(value) for key, value in row.items()} for row in expected]
        assert [row["count"] for row in rows] == ["2", "2", "1"]
    finally:
        context.close()


def drag(page: Page, handle: Locator, columns: int, rows: int) -> None:
    """Drag `handle` with the mouse by a number of the grid's columns and rows (the cells' width and height
    with the gap between them, as the page's CSS lays them out)."""
    step = page.eval_on_selector(
        ".dashboard-grid",
        """grid => {
            const style = getComputedStyle(grid);
            const gap = parseFloat(style.columnGap);
            const row = parseFloat(style.gridAutoRows) + parseFloat(style.rowGap);
            return {x: (grid.clientWidth - 11 * gap) / 12 + gap, y: row};
        }""",
    )
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + columns * step["x"], y + rows * step["y"], steps=12)
    page.mouse.up()


def test_a_creator_drags_a_tile_to_another_place_and_size_and_a_viewer_has_nothing_to_drag(
    page: Page, browser: Browser, live_server: LiveServer, people: None
) -> None:
    metadata = live_server.workspace.metadata  # type: ignore[attr-defined]
    board = dashboard_service.create_dashboard(metadata, name="Layout", folder_id=SHARED, actor="test")
    chart = tile_service.add_insight_tile(metadata, board.id, dataset.SEGMENTATION, "test", title="Searches")
    notes = tile_service.add_text_tile(metadata, board.id, "Notes about searching", "test")

    def stored() -> dict[int, tuple[int, int, int, int]]:
        tiles = dashboard_service.get_dashboard(metadata, board.id, "test").tiles
        return {tile.id: (tile.x, tile.y, tile.w, tile.h) for tile in tiles}

    def shown(tile: int) -> tuple[int, ...]:
        values = page.eval_on_selector(
            f"#tile-{tile}", "tile => [tile.dataset.x, tile.dataset.y, tile.dataset.w, tile.dataset.h]"
        )
        return tuple(int(value) for value in values)

    assert stored() == {chart.id: (0, 0, 6, 4), notes.id: (0, 4, 12, 2)}
    sign_in(page, live_server, CREATOR)
    page.goto(f"{live_server.url}/dashboards/{board.id}?edit=1")
    page.wait_for_selector(f"#tile-{chart.id} .chart svg")

    # The notes' corner handle, six columns left and a row down: half as wide, a row taller.
    drag(page, page.locator(f"#tile-{notes.id} .tile-resize-handle"), -6, 1)
    page.wait_for_function(f"document.getElementById('tile-{notes.id}').dataset.h === '3'")
    assert stored() == {chart.id: (0, 0, 6, 4), notes.id: (0, 4, 6, 3)}
    # Its grip, six columns right and four rows up: next to the chart.
    drag(page, page.locator(f"#tile-{notes.id} .tile-drag-handle"), 6, -4)
    page.wait_for_function(f"document.getElementById('tile-{notes.id}').dataset.x === '6'")
    assert stored() == {chart.id: (0, 0, 6, 4), notes.id: (6, 0, 6, 3)}
    # Dropped onto the chart's cells, the chart makes way below it.
    drag(page, page.locator(f"#tile-{notes.id} .tile-drag-handle"), -6, 0)
    page.wait_for_function(f"document.getElementById('tile-{chart.id}').dataset.y === '3'")
    assert stored() == {chart.id: (0, 3, 6, 4), notes.id: (0, 0, 6, 3)}
    assert shown(chart.id) == (0, 3, 6, 4) and shown(notes.id) == (0, 0, 6, 3)

    # After a reload the page lays the tiles out as stored: the notes above the chart, as wide as it.
    page.reload()
    page.wait_for_selector(f"#tile-{chart.id} .chart svg")
    assert shown(chart.id) == (0, 3, 6, 4) and shown(notes.id) == (0, 0, 6, 3)
    chart_box = page.locator(f"#tile-{chart.id}").bounding_box()
    notes_box = page.locator(f"#tile-{notes.id}").bounding_box()
    assert chart_box is not None and notes_box is not None
    assert notes_box["y"] + notes_box["height"] < chart_box["y"] and abs(notes_box["width"] - chart_box["width"]) < 1
    # The buttons stay, for keyboards: moving the chart up trades places again.
    page.locator(f"#tile-{chart.id}").get_by_role("button", name="Move up").click()
    page.wait_for_load_state()
    assert stored() == {chart.id: (0, 0, 6, 4), notes.id: (0, 4, 6, 3)}

    context = browser.new_context(timezone_id=BROWSER_TIMEZONE)
    viewer = context.new_page()
    try:
        sign_in(viewer, live_server, VIEWER)
        for path in (f"/dashboards/{board.id}", f"/dashboards/{board.id}?edit=1"):
            viewer.goto(f"{live_server.url}{path}")
            assert viewer.locator(f"#tile-{notes.id}").is_visible()
            for handle in (
                ".tile-drag-handle",
                ".tile-resize-handle",
                "[data-drag]",
                "script[src='/static/dashboard.js']",
            ):
                assert viewer.locator(handle).count() == 0, (path, handle)
        token = json.loads(viewer.locator("body").get_attribute("hx-headers") or "{}")["X-CSRF-Token"]
        for action, form in (("move", {"x": 6, "y": 0}), ("resize", {"w": 3, "h": 3})):
            url = f"{live_server.url}/dashboards/{board.id}/tiles/{notes.id}/{action}"
            refused = viewer.request.post(url, form={**form, "csrf_token": token})
            assert refused.status == 403, action
        assert stored() == {chart.id: (0, 0, 6, 4), notes.id: (0, 4, 6, 3)}
    finally:
        context.close()
