"""The demo's dashboards: made once in the Shared folder, and every tile draws a non-empty result on a small
demo company (through the real pages, as a Viewer)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sextant.auth import audit, users
from sextant.cli.demo_command import build
from sextant.content import dashboards
from sextant.demo.dashboards import DASHBOARDS, create_demo_dashboards
from sextant.metadata.models import Role, TileKind
from sextant.web.app import create_app
from sextant.workspace import Workspace
from tests.auth.accounts import PASSWORD, Browser


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = build(tmp_path_factory.mktemp("demo") / "lodestar", events=20_000, seed=3)
    yield workspace
    workspace.close()


def test_the_demo_dashboards_are_made_once_and_every_tile_shows_data(demo_project: Workspace) -> None:
    metadata = demo_project.metadata
    made = create_demo_dashboards(metadata)
    assert [board.name for board in made] == ["Cloud growth", "Search engagement", "Instances", "A/B test"]
    assert create_demo_dashboards(metadata) == []  # a second run leaves them alone
    users.create_user(metadata, "vic@example.com", PASSWORD, actor=audit.COMMAND_LINE, role=Role.VIEWER)
    app = create_app(demo_project)
    with TestClient(app):
        viewer = Browser(app).sign_in("vic@example.com")
        listing = viewer.get("/dashboards").text
        for board in made:
            assert f'href="/dashboards/{board.id}">{board.name}</a>' in listing
            shown = dashboards.get_dashboard(metadata, board.id, "test")
            looks = [tile for tile in shown.tiles if tile.kind is TileKind.LOOK]
            assert len(looks) == sum(1 for item in DASHBOARDS[board.name][1] if item[0] == "look")
            page = viewer.get(f"/dashboards/{board.id}").text
            assert re.findall(r'data-tile="(\d+)"', page) == [str(tile.id) for tile in shown.tiles]
            for tile in looks:
                body = viewer.get(f"/dashboards/{board.id}/tiles/{tile.id}").text
                assert 'class="error"' not in body, (board.name, tile.title, body)
                cells = re.findall(r"<td>([^<]*)</td>", body)
                assert any(cell not in ("", "0", "0.0") for cell in cells), (board.name, tile.look and tile.look.name)
