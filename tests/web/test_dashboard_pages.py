"""Look and dashboard pages over a known journey (tests/browser/dataset.py, project time zone UTC): looks,
a look on two dashboards, dashboard filters against numbers worked out by hand, what a Viewer sees and may
not do, "Explore from here", tile CSVs against the API, duplicating, moving and resizing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson
import pytest

from sextant.auth import audit
from sextant.auth.sessions import CSRF_FIELD, CSRF_HEADER
from sextant.content import dashboards, looks, tiles
from sextant.ingest.store import EventStore
from sextant.insights.runner import runner_class
from sextant.metadata.models import Role
from tests.auth.accounts import AccountsApp, Browser, accounts_app
from tests.browser.dataset import FUNNEL, JOURNEYS
from tests.conftest import ingest, journeys_for

SHARED = 1  # the "Shared" folder every project starts with (All Users may edit; Viewers still edit nothing)
SIGNUPS = {
    "kind": "segmentation",
    "date_from": "2024-05-01",
    "date_to": "2024-05-17",
    "series": [{"event": "Signed Up", "math": "total"}],
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AccountsApp]:
    with accounts_app(tmp_path) as opened:
        ingest(EventStore(opened.workspace.project, opened.workspace.warehouse), journeys_for(JOURNEYS))
        yield opened


def as_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def funnel_counts(html: str) -> list[int]:
    """The step counts in a funnel tile's or look's table (columns step, event, count, ...)."""
    table = re.search(r"<table class=\"list result\">(.*?)</table>", html, re.S)
    assert table, html[:500]
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    return [int(re.findall(r"<td>(.*?)</td>", row)[2]) for row in rows if "<td>" in row]


def tile_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-tile="(\d+)"', html)]


def create_look(client: Browser, spec: dict[str, Any], name: str = "Sign-up funnel", chart: str = "") -> int:
    response = client.post_form(
        "/looks",
        {"name": name, "description": "from the test", "folder_id": SHARED, "spec": as_json(spec), "chart": chart},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def create_dashboard(client: Browser, name: str = "Growth") -> int:
    response = client.post_form("/dashboards", {"name": name, "folder_id": SHARED}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(re.search(r"/dashboards/(\d+)", response.headers["location"]).group(1))  # type: ignore[union-attr]


def add_look(client: Browser, dashboard: int, look: int) -> None:
    response = client.post_form(f"/dashboards/{dashboard}/tiles", {"kind": "look", "look_id": look})
    assert response.status_code == 200, response.text


def test_a_creator_saves_renames_changes_and_deletes_a_look(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    look = create_look(creator, FUNNEL, chart="funnel")
    page = creator.get(f"/looks/{look}")
    # alice, bob, carol and dave signed up; all but dave searched within a day; alice and carol clicked.
    assert funnel_counts(page.text) == [4, 3, 2]
    assert "data-vega=" in page.text and "Sign-up funnel" in page.text
    assert "Sign-up funnel</a>" in creator.get("/looks").text

    creator.post_form(f"/looks/{look}/edit", {"name": "Activation", "description": "d", "folder_id": SHARED})
    two_steps = {**FUNNEL, "steps": FUNNEL["steps"][:2]}
    creator.post_form(f"/looks/{look}/spec", {"spec": as_json(two_steps), "chart": ""})
    page = creator.get(f"/looks/{look}")
    assert "<h1>Activation</h1>" in page.text and funnel_counts(page.text) == [4, 3]

    bad = creator.post_form(f"/looks/{look}/spec", {"spec": '{"kind": "funnel"}'})
    assert bad.status_code == 400 and "steps" in bad.text
    assert creator.post_form(f"/looks/{look}/spec", {"spec": as_json(FUNNEL), "chart": "heatmap"}).status_code == 400

    assert creator.post_form(f"/looks/{look}/delete").status_code == 200
    assert creator.get(f"/looks/{look}").status_code == 404
    actions = [
        entry.action for entry in reversed(audit.entries(site.workspace.metadata)) if entry.target == f"look:{look}"
    ]
    assert actions == ["look.create", "look.update", "look.query", "look.delete"]


def test_a_look_on_two_dashboards_changes_on_both_when_edited(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    look = create_look(creator, FUNNEL)
    boards = [create_dashboard(creator, "One"), create_dashboard(creator, "Two")]
    for board in boards:
        add_look(creator, board, look)
    tiles_of = {board: tile_ids(creator.get(f"/dashboards/{board}").text) for board in boards}
    for board in boards:
        assert funnel_counts(creator.get(f"/dashboards/{board}/tiles/{tiles_of[board][0]}").text) == [4, 3, 2]

    search_then_click = {**FUNNEL, "steps": [{"event": "Search"}, {"event": "Clicked Result"}]}
    creator.post_form(f"/looks/{look}/spec", {"spec": as_json(search_then_click)})
    # Searchers: alice, bob, carol, erin; alice and carol clicked within a day of a search.
    for board in boards:
        assert funnel_counts(creator.get(f"/dashboards/{board}/tiles/{tiles_of[board][0]}").text) == [4, 2]
    look_page = creator.get(f"/looks/{look}").text
    assert all(f'href="/dashboards/{board}"' in look_page for board in boards)


def test_dashboard_filters_override_each_tiles_dates_and_add_property_filters(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    board = create_dashboard(creator)
    add_look(creator, board, create_look(creator, FUNNEL))
    add_look(creator, board, create_look(creator, SIGNUPS, name="Sign-ups", chart="table"))
    funnel_tile, signups_tile = tile_ids(creator.get(f"/dashboards/{board}").text)

    # 7-8 May: bob (searched the same afternoon) and carol (searched, then clicked) signed up.
    window = "filtered=1&date_from=2024-05-07&date_to=2024-05-08"
    assert funnel_counts(creator.get(f"/dashboards/{board}/tiles/{funnel_tile}?{window}").text) == [2, 2, 1]
    page = creator.get(f"/dashboards/{board}?{window}").text
    assert f"/dashboards/{board}/tiles/{funnel_tile}?{window}" in unescape(page)

    # Only carol's sign-up came from ads; the filter applies to every step, and no search carries utm_source.
    ads = "filtered=1&filter_type=event&filter_key=utm_source&filter_operator=eq&filter_value=ads"
    assert funnel_counts(creator.get(f"/dashboards/{board}/tiles/{funnel_tile}?{ads}").text) == [1, 0, 0]
    signups = creator.get(f"/dashboards/{board}/tiles/{signups_tile}?{ads}").text
    assert re.findall(r"<td>(\d+)</td>", signups).count("1") == 1 and "<td>2</td>" not in signups

    # Nothing was saved: without the query string the tile shows the look's own range again.
    assert funnel_counts(creator.get(f"/dashboards/{board}/tiles/{funnel_tile}").text) == [4, 3, 2]
    # An editor can save filters as the defaults everyone sees.
    saved = creator.post_form(
        f"/dashboards/{board}/filters", {"date_from": "2024-05-07", "date_to": "2024-05-08"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert funnel_counts(creator.get(f"/dashboards/{board}/tiles/{funnel_tile}").text) == [2, 2, 1]
    bad = creator.get(f"/dashboards/{board}?filtered=1&date_from=yesterdayish").text
    assert "is not a date" in bad


def test_a_viewer_sees_no_edit_controls_and_every_edit_route_is_refused(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    look = create_look(creator, FUNNEL)
    board = create_dashboard(creator)
    add_look(creator, board, look)
    creator.post_form(f"/dashboards/{board}/tiles", {"kind": "text", "text": "# Notes"})
    tile = tile_ids(creator.get(f"/dashboards/{board}").text)[0]
    before = creator.get(f"/dashboards/{board}?edit=1").text
    assert f'action="/dashboards/{board}/tiles/{tile}/move"' in before  # the creator has controls

    viewer = site.client(Role.VIEWER)
    for url in (f"/dashboards/{board}", f"/dashboards/{board}?edit=1", f"/looks/{look}"):
        page = viewer.get(url)
        assert page.status_code == 200
        forms = re.findall(r'<form method="post" action="([^"]+)"', page.text)
        assert forms == ["/sign-out"], (url, forms)
        assert "Edit dashboard" not in page.text and "Explore" not in page.text
    assert funnel_counts(viewer.get(f"/dashboards/{board}/tiles/{tile}").text) == [4, 3, 2]
    # Viewers change filters for themselves.
    window = "filtered=1&date_from=2024-05-07&date_to=2024-05-08"
    assert funnel_counts(viewer.get(f"/dashboards/{board}/tiles/{tile}?{window}").text) == [2, 2, 1]
    assert viewer.get(f"/dashboards/{board}/tiles/{tile}/download.csv").status_code == 200
    assert viewer.get(f"/looks/{look}/download.csv").status_code == 200

    edits: list[tuple[str, dict[str, Any]]] = [
        ("/looks", {"name": "x", "folder_id": SHARED, "spec": as_json(FUNNEL)}),
        (f"/looks/{look}/edit", {"name": "x", "folder_id": SHARED}),
        (f"/looks/{look}/spec", {"spec": as_json(FUNNEL)}),
        (f"/looks/{look}/add-to-dashboard", {"dashboard_id": board}),
        (f"/looks/{look}/delete", {}),
        ("/dashboards", {"name": "x", "folder_id": SHARED}),
        (f"/dashboards/{board}/edit", {"name": "x", "folder_id": SHARED}),
        (f"/dashboards/{board}/filters", {"date_from": "-7d"}),
        (f"/dashboards/{board}/refresh", {"seconds": "60"}),
        (f"/dashboards/{board}/duplicate", {}),
        (f"/dashboards/{board}/delete", {}),
        (f"/dashboards/{board}/tiles", {"kind": "text", "text": "hi"}),
        (f"/dashboards/{board}/tiles/{tile}/move", {"direction": "down"}),
        (f"/dashboards/{board}/tiles/{tile}/resize", {"width": 1}),
        (f"/dashboards/{board}/tiles/{tile}/edit", {"title": "x"}),
        (f"/dashboards/{board}/tiles/{tile}/delete", {}),
    ]
    for url, data in edits:
        assert viewer.post_form(url, data, follow_redirects=False).status_code == 403, url
    assert viewer.get("/dashboards/new").status_code == 403
    # Nothing changed (CSRF tokens carry their time, so they differ between renders).
    assert without_tokens(creator.get(f"/dashboards/{board}?edit=1").text) == without_tokens(before)


def without_tokens(page: str) -> str:
    return re.sub(rf"(name=\"{CSRF_FIELD}\" value=\"|\"{CSRF_HEADER}\": \")[^\"]+", r"\1", page)


def test_edit_routes_need_the_csrf_token_and_edit_rights_on_the_folder(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    board = create_dashboard(creator)
    missing_token = creator.post(f"/dashboards/{board}/tiles", data={"kind": "text", "text": "hi"})
    assert missing_token.status_code == 403
    # A dashboard in the admin's personal folder: another Creator may neither see nor change it.
    admin = site.client(Role.ADMIN)
    private = dashboards.create_dashboard(
        site.workspace.metadata, name="Mine", folder_id=_personal_folder(site, Role.ADMIN), actor="test"
    )
    assert creator.get(f"/dashboards/{private.id}").status_code == 403
    assert creator.post_form(f"/dashboards/{private.id}/tiles", {"kind": "text", "text": "hi"}).status_code == 403
    assert admin.get(f"/dashboards/{private.id}").status_code == 200


def test_explore_from_here_carries_the_tiles_effective_spec(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    look = create_look(creator, FUNNEL, chart="funnel")
    board = create_dashboard(creator)
    add_look(creator, board, look)
    query = (
        "filtered=1&date_from=2024-05-07&filter_type=person&filter_key=plan&filter_operator=in&filter_value=pro,team"
    )
    page = creator.get(f"/dashboards/{board}?{query}").text
    link = unescape(re.search(r'href="([^"]+)" class="explore"', page).group(1))  # type: ignore[union-attr]
    url = urlparse(link)
    params = parse_qs(url.query)
    assert url.path == "/insights/funnel"
    assert params["from_dashboard"] == [str(board)] and params["look"] == [str(look)] and params["chart"] == ["funnel"]
    spec = orjson.loads(params["spec"][0])
    expected = {key: value for key, value in FUNNEL.items() if key != "date_to"}
    plan = {"type": "person", "key": "plan", "operator": "in", "value": ["pro", "team"]}
    assert spec == {**expected, "date_from": "2024-05-07", "filters": [plan]}
    # The builder opens on it, and the dashboard is unchanged afterwards.
    assert creator.get(link).status_code == 200
    assert dashboards.get_dashboard(site.workspace.metadata, board, "test").filters == {}


def test_a_tiles_csv_has_the_rows_of_the_api_result(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    board = create_dashboard(creator)
    add_look(creator, board, create_look(creator, FUNNEL))
    tile = tile_ids(creator.get(f"/dashboards/{board}").text)[0]
    window = "filtered=1&date_from=2024-05-07&date_to=2024-05-08"
    download = creator.get(f"/dashboards/{board}/tiles/{tile}/download.csv?{window}")
    assert download.headers["content-type"].startswith("text/csv")
    effective = {**FUNNEL, "date_from": "2024-05-07", "date_to": "2024-05-08"}
    answer = creator.post("/api/v1/query", json=effective, headers={"X-CSRF-Token": creator.csrf}).json()
    expected = runner_class("funnel").rows(answer["result"])
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert rows == [{key: "" if value is None else str(value) for key, value in row.items()} for row in expected]
    assert [row["count"] for row in rows] == ["2", "2", "1"]


def test_duplicate_copies_tiles_and_filters_and_moving_a_copys_tile_leaves_the_original(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    look = create_look(creator, FUNNEL)
    board = create_dashboard(creator)
    add_look(creator, board, look)
    creator.post_form(f"/dashboards/{board}/tiles", {"kind": "text", "text": "**Notes** <script>alert(1)</script>"})
    creator.post_form(f"/dashboards/{board}/filters", {"date_from": "2024-05-07"})
    copied = creator.post_form(f"/dashboards/{board}/duplicate", follow_redirects=False)
    copy = int(copied.headers["location"].rsplit("/", 1)[1])
    original_state = dashboards.get_dashboard(site.workspace.metadata, board, "test")
    copy_state = dashboards.get_dashboard(site.workspace.metadata, copy, "test")
    assert copy_state.name == "Copy of Growth" and copy_state.filters == {"date_from": "2024-05-07", "filters": []}
    assert [(tile.kind, tile.look_id, tile.text, tile.x, tile.y, tile.w, tile.h) for tile in copy_state.tiles] == [
        (tile.kind, tile.look_id, tile.text, tile.x, tile.y, tile.w, tile.h) for tile in original_state.tiles
    ]
    page = creator.get(f"/dashboards/{copy}").text
    assert "<strong>Notes</strong> &lt;script&gt;" in page and "<script>alert" not in page

    text_tile = copy_state.tiles[1]
    assert (text_tile.x, text_tile.y, text_tile.w, text_tile.h) == (0, 4, 12, 2)
    creator.post_form(f"/dashboards/{copy}/tiles/{text_tile.id}/move", {"direction": "up"})
    creator.post_form(f"/dashboards/{copy}/tiles/{text_tile.id}/resize", {"height": 1})
    moved = {
        tile.id: (tile.x, tile.y, tile.w, tile.h)
        for tile in dashboards.get_dashboard(site.workspace.metadata, copy, "t").tiles
    }
    # The text tile jumped above the look (which went down below it), then grew a row, pushing the look further.
    assert moved == {text_tile.id: (0, 0, 12, 3), copy_state.tiles[0].id: (0, 3, 6, 4)}
    unchanged = dashboards.get_dashboard(site.workspace.metadata, board, "t").tiles
    assert [(tile.x, tile.y, tile.w, tile.h) for tile in unchanged] == [(0, 0, 6, 4), (0, 4, 12, 2)]


def test_a_tile_dragged_to_a_cell_or_a_size_pushes_the_tiles_it_would_cover(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    board = create_dashboard(creator)
    add_look(creator, board, create_look(creator, FUNNEL))
    creator.post_form(f"/dashboards/{board}/tiles", {"kind": "text", "text": "# Notes"})
    look_tile, text_tile = tile_ids(creator.get(f"/dashboards/{board}").text)

    def layout() -> dict[int, tuple[int, int, int, int]]:
        tiles_now = dashboards.get_dashboard(site.workspace.metadata, board, "t").tiles
        return {tile.id: (tile.x, tile.y, tile.w, tile.h) for tile in tiles_now}

    assert layout() == {look_tile: (0, 0, 6, 4), text_tile: (0, 4, 12, 2)}
    # Narrowed to 4 columns and 3 rows, then dropped next to the look.
    resize = f"/dashboards/{board}/tiles/{text_tile}/resize"
    resized = creator.post_form(resize, {"w": 4, "h": 3}, follow_redirects=False)
    assert resized.status_code == 303
    assert layout() == {look_tile: (0, 0, 6, 4), text_tile: (0, 4, 4, 3)}
    creator.post_form(f"/dashboards/{board}/tiles/{text_tile}/move", {"x": 7, "y": 0})
    assert layout() == {look_tile: (0, 0, 6, 4), text_tile: (7, 0, 4, 3)}
    # Onto the look: the look goes down below it. Sizes past the grid are clamped into it.
    creator.post_form(f"/dashboards/{board}/tiles/{text_tile}/move", {"x": 2, "y": 0})
    assert layout() == {look_tile: (0, 3, 6, 4), text_tile: (2, 0, 4, 3)}
    creator.post_form(f"/dashboards/{board}/tiles/{look_tile}/resize", {"w": 20})
    assert layout() == {look_tile: (0, 3, 12, 4), text_tile: (2, 0, 4, 3)}
    nowhere = creator.post_form(f"/dashboards/{board}/tiles/{look_tile}/move", {"x": 3})
    assert nowhere.status_code == 400 and "a direction, or a column x and a row y" in nowhere.text
    assert layout() == {look_tile: (0, 3, 12, 4), text_tile: (2, 0, 4, 3)}
    # Another Creator's personal dashboard stays out of reach by dragging too.
    private = dashboards.create_dashboard(
        site.workspace.metadata, name="Mine", folder_id=_personal_folder(site, Role.ADMIN), actor="test"
    )
    mine = tiles.add_text_tile(site.workspace.metadata, private.id, "hi", "test")
    for action, data in (("move", {"x": 3, "y": 0}), ("resize", {"w": 3, "h": 3})):
        refused = creator.post_form(f"/dashboards/{private.id}/tiles/{mine.id}/{action}", data)
        assert refused.status_code == 403, action
    logged = [entry.action for entry in audit.entries(site.workspace.metadata) if entry.target == f"dashboard:{board}"]
    assert logged.count("tile.resize") == 2 and logged.count("tile.move") == 2


def test_auto_refresh_reloads_tiles_and_deleting_a_dashboard_keeps_its_looks(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    look = create_look(creator, FUNNEL)
    board = create_dashboard(creator)
    add_look(creator, board, look)
    assert creator.post_form(f"/dashboards/{board}/refresh", {"seconds": "5"}).status_code == 400
    creator.post_form(f"/dashboards/{board}/refresh", {"seconds": "60"})
    assert re.search(r'hx-trigger="(load, )?every 60s"', creator.get(f"/dashboards/{board}").text)
    creator.post_form(f"/dashboards/{board}/delete")
    assert creator.get(f"/dashboards/{board}").status_code == 404
    assert creator.get(f"/looks/{look}").status_code == 200


def _personal_folder(site: AccountsApp, role: Role) -> int:
    from sextant.auth import folders

    return folders.personal_folder(site.workspace.metadata, site.user_ids[role]).id


def test_services_refuse_tiles_of_looks_the_editor_cannot_see(site: AccountsApp) -> None:
    metadata = site.workspace.metadata
    private_look = looks.create_look(
        metadata, name="Secret", folder_id=_personal_folder(site, Role.ADMIN), spec=FUNNEL, actor="test"
    )
    creator = site.client(Role.CREATOR)
    board = create_dashboard(creator)
    assert (
        creator.post_form(f"/dashboards/{board}/tiles", {"kind": "look", "look_id": private_look.id}).status_code == 403
    )
    # Put there by someone who may: the Creator's page says the look is not shared instead of showing it.
    tiles.add_look_tile(metadata, board, private_look.id, "test")
    tile = tile_ids(creator.get(f"/dashboards/{board}").text)[0]
    assert "not shared with you" in creator.get(f"/dashboards/{board}/tiles/{tile}").text
    assert creator.get(f"/dashboards/{board}/tiles/{tile}/download.csv").status_code == 404


def test_an_instances_look_explores_in_the_instances_builder(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    spec = {"kind": "instances", "by": "version"}
    look = create_look(creator, spec, name="Versions", chart="bar")
    page = creator.get(f"/looks/{look}")
    assert page.status_code == 200 and "Versions" in page.text and 'class="error"' not in page.text
    board = create_dashboard(creator)
    add_look(creator, board, look)
    for found in (
        re.search(r'class="button explore" href="([^"]+)"', page.text),
        re.search(r'href="([^"]+)" class="explore"', creator.get(f"/dashboards/{board}").text),
    ):
        assert found, "no Explore link"
        link = urlparse(unescape(found.group(1)))
        params = parse_qs(link.query)
        assert link.path == "/insights/instances" and orjson.loads(params["spec"][0]) == spec
        assert params["chart"] == ["bar"]
        opened = creator.get(unescape(found.group(1)))
        assert opened.status_code == 200 and '<option value="version" selected>' in opened.text


def test_tiles_with_a_cached_answer_come_with_the_page(site: AccountsApp) -> None:
    """A tile whose answer is cached (for these filters and this user's access) is drawn in the page; the
    others load on their own request."""
    creator = site.client(Role.CREATOR)
    board = create_dashboard(creator)
    add_look(creator, board, create_look(creator, FUNNEL))
    tile = tile_ids(creator.get(f"/dashboards/{board}").text)[0]
    window = "filtered=1&date_from=2024-05-07&date_to=2024-05-08"  # a spec that no one asked for yet
    first = creator.get(f"/dashboards/{board}?{window}").text
    assert 'hx-trigger="load"' in first and '<table class="list result">' not in first
    from_tile = funnel_counts(creator.get(f"/dashboards/{board}/tiles/{tile}?{window}").text)
    again = creator.get(f"/dashboards/{board}?{window}").text
    assert 'hx-trigger="load"' not in again and funnel_counts(again) == from_tile == [2, 2, 1]
    # The cache is keyed by access (row-level filters), not by person: a Viewer without filters gets it too.
    assert funnel_counts(site.client(Role.VIEWER).get(f"/dashboards/{board}?{window}").text) == [2, 2, 1]
