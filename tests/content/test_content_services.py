"""Looks, dashboards and tiles in the metadata database, on SQLite and PostgreSQL: folder rights, the audit
log, looks shared by several dashboards, duplicates, and what deleting takes with it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.errors import NotFound, PermissionDenied
from sextant.auth.permissions import Principal
from sextant.content import dashboards, looks, tiles
from sextant.content.access import ContentError
from sextant.content.filters import parse_filters
from sextant.errors import QueryError
from sextant.metadata.models import Role, TileKind
from tests.content.conftest import BACKENDS, personal_folder_id

SHARED = 1
FUNNEL = {"kind": "funnel", "steps": [{"event": "Signed Up"}, {"event": "Search"}]}
SIGNUPS = {"kind": "segmentation", "series": [{"event": "Signed Up"}]}


def actions(metadata: sessionmaker[Session], target: str) -> list[str]:
    return [entry.action for entry in reversed(audit.entries(metadata, limit=1000)) if entry.target == target]


@BACKENDS
def test_looks_are_checked_saved_listed_by_folder_and_audited(
    metadata: sessionmaker[Session], people: dict[Role, Principal]
) -> None:
    creator, viewer, admin = people[Role.CREATOR], people[Role.VIEWER], people[Role.ADMIN]
    shared = looks.create_look(metadata, name=" Funnel ", folder_id=SHARED, spec=FUNNEL, chart="funnel", actor=creator)
    mine = looks.create_look(
        metadata, name="Mine", folder_id=personal_folder_id(metadata, creator), spec=SIGNUPS, actor=creator
    )
    assert (shared.name, shared.owner_id, shared.chart, shared.spec) == ("Funnel", creator.user_id, "funnel", FUNNEL)
    with pytest.raises(QueryError, match="steps"):
        looks.create_look(metadata, name="Bad", folder_id=SHARED, spec={"kind": "funnel"}, actor=creator)
    with pytest.raises(ContentError, match="cannot be drawn as 'heatmap'"):
        looks.create_look(metadata, name="Bad", folder_id=SHARED, spec=FUNNEL, chart="heatmap", actor=creator)
    with pytest.raises(ContentError, match="needs a name"):
        looks.create_look(metadata, name=" ", folder_id=SHARED, spec=FUNNEL, actor=creator)
    with pytest.raises(PermissionDenied):
        looks.create_look(metadata, name="No", folder_id=SHARED, spec=FUNNEL, actor=viewer)
    with pytest.raises(PermissionDenied):  # someone else's personal folder
        looks.create_look(
            metadata, name="No", folder_id=personal_folder_id(metadata, admin), spec=FUNNEL, actor=creator
        )

    def listing(who: Principal) -> dict[str, list[str]]:
        return {entry.folder.name: [look.name for look in entry.looks] for entry in looks.visible_looks(metadata, who)}

    assert listing(viewer) == {"Shared": ["Funnel"]}
    assert listing(creator) == {"Shared": ["Funnel"], "creator's folder": ["Mine"]}
    assert listing(admin) == listing(creator)  # admins see every folder
    with pytest.raises(PermissionDenied):
        looks.get_look(metadata, mine.id, viewer)

    looks.update_look(metadata, shared.id, name="Activation", description="why", folder_id=SHARED, actor=creator)
    looks.save_look_query(metadata, shared.id, SIGNUPS, None, creator)
    changed = looks.get_look(metadata, shared.id, viewer)
    assert (changed.name, changed.description, changed.spec, changed.chart) == ("Activation", "why", SIGNUPS, None)
    assert changed.updated_at >= changed.created_at
    with pytest.raises(PermissionDenied):
        looks.update_look(metadata, shared.id, name="x", description="", folder_id=SHARED, actor=viewer)
    with pytest.raises(PermissionDenied):  # moving into a folder the creator may not edit
        looks.update_look(
            metadata, shared.id, name="x", description="", folder_id=personal_folder_id(metadata, admin), actor=creator
        )
    assert actions(metadata, f"look:{shared.id}") == ["look.create", "look.update", "look.query"]


@BACKENDS
def test_a_look_on_two_dashboards_and_what_deleting_takes(
    metadata: sessionmaker[Session], people: dict[Role, Principal]
) -> None:
    creator, viewer = people[Role.CREATOR], people[Role.VIEWER]
    look = looks.create_look(metadata, name="Funnel", folder_id=SHARED, spec=FUNNEL, actor=creator)
    first = dashboards.create_dashboard(metadata, name="One", folder_id=SHARED, actor=creator)
    second = dashboards.create_dashboard(metadata, name="Two", folder_id=SHARED, actor=creator)
    for board in (first, second):
        tiles.add_look_tile(metadata, board.id, look.id, creator)
    tiles.add_text_tile(metadata, first.id, "# Notes", creator)
    tiles.add_insight_tile(metadata, first.id, SIGNUPS, creator, chart="bar", title="Sign-ups")
    with pytest.raises(PermissionDenied):
        tiles.add_text_tile(metadata, first.id, "hi", viewer)
    with pytest.raises(ContentError, match="needs some text"):
        tiles.add_text_tile(metadata, first.id, "  ", creator)

    shown = dashboards.get_dashboard(metadata, first.id, viewer)
    assert [(tile.kind, tile.x, tile.y, tile.w, tile.h) for tile in shown.tiles] == [
        (TileKind.LOOK, 0, 0, 6, 4),
        (TileKind.TEXT, 0, 4, 12, 2),
        (TileKind.INSIGHT, 0, 6, 6, 4),
    ]
    looks.save_look_query(metadata, look.id, SIGNUPS, "bar", creator)
    for board in (first, second):
        tile = dashboards.get_dashboard(metadata, board.id, viewer).tiles[0]
        assert tile.look is not None and tile.look.spec == SIGNUPS and tile.look.chart == "bar"
    assert [board.name for board in looks.dashboards_showing(metadata, look.id, viewer)] == ["One", "Two"]

    assert looks.delete_look(metadata, look.id, creator) == 2
    assert [tile.kind for tile in dashboards.get_dashboard(metadata, first.id, viewer).tiles] == [
        TileKind.TEXT,
        TileKind.INSIGHT,
    ]
    assert dashboards.get_dashboard(metadata, second.id, viewer).tiles == []
    dashboards.delete_dashboard(metadata, first.id, creator)
    with pytest.raises(NotFound):
        dashboards.get_dashboard(metadata, first.id, creator)
    assert actions(metadata, f"dashboard:{first.id}") == [
        "dashboard.create",
        "tile.add",
        "tile.add",
        "tile.add",
        "dashboard.delete",
    ]


@BACKENDS
def test_dashboard_settings_duplicates_and_tile_moves(
    metadata: sessionmaker[Session], people: dict[Role, Principal]
) -> None:
    creator, viewer = people[Role.CREATOR], people[Role.VIEWER]
    board = dashboards.create_dashboard(metadata, name="Growth", description="d", folder_id=SHARED, actor=creator)
    text = tiles.add_text_tile(metadata, board.id, "Notes", creator)
    insight = tiles.add_insight_tile(metadata, board.id, FUNNEL, creator)
    filters = parse_filters({"date_from": "-7d", "filters": [{"key": "plan", "type": "person", "value": "pro"}]})
    dashboards.set_filters(metadata, board.id, filters, creator)
    dashboards.set_refresh(metadata, board.id, 300, creator)
    with pytest.raises(ContentError, match="at least 10 seconds"):
        dashboards.set_refresh(metadata, board.id, 1, creator)
    with pytest.raises(PermissionDenied):
        dashboards.set_filters(metadata, board.id, filters, viewer)

    tiles.move_tile(metadata, board.id, insight.id, "up", creator)
    tiles.resize_tile(metadata, board.id, text.id, -6, 1, creator)
    tiles.update_tile(metadata, board.id, insight.id, creator, title="Activation")
    placed = {
        tile.id: (tile.x, tile.y, tile.w, tile.h, tile.title)
        for tile in dashboards.get_dashboard(metadata, board.id, viewer).tiles
    }
    assert placed == {insight.id: (0, 0, 6, 4, "Activation"), text.id: (0, 4, 6, 3, "")}
    tiles.place_tile(metadata, board.id, text.id, creator, x=6, y=0, w=6, h=4)
    with pytest.raises(NotFound):
        tiles.move_tile(metadata, board.id, 999, "up", creator)

    copy = dashboards.duplicate_dashboard(
        metadata, board.id, folder_id=personal_folder_id(metadata, creator), actor=creator
    )
    assert (copy.name, copy.filters, copy.refresh_seconds) == ("Copy of Growth", board_filters(metadata, board.id), 300)
    assert [(tile.kind, tile.x, tile.y, tile.w, tile.h) for tile in copy.tiles] == [
        (TileKind.INSIGHT, 0, 0, 6, 4),
        (TileKind.TEXT, 6, 0, 6, 4),
    ]
    with pytest.raises(PermissionDenied):  # a Viewer may not make copies, not even in its own folder
        dashboards.duplicate_dashboard(metadata, board.id, folder_id=personal_folder_id(metadata, viewer), actor=viewer)
    tiles.remove_tile(metadata, copy.id, copy.tiles[0].id, creator)
    assert len(dashboards.get_dashboard(metadata, board.id, creator).tiles) == 2  # the original keeps its tiles

    names = {
        entry.folder.name: [each.name for each in entry.dashboards]
        for entry in dashboards.visible_dashboards(metadata, viewer)
    }
    assert names == {"Shared": ["Growth"]}
    assert [each.name for each in dashboards.editable_dashboards(metadata, viewer)] == []
    assert sorted(each.name for each in dashboards.editable_dashboards(metadata, creator)) == [
        "Copy of Growth",
        "Growth",
    ]
    assert actions(metadata, f"dashboard:{board.id}") == [
        "dashboard.create",
        "tile.add",
        "tile.add",
        "dashboard.filters",
        "dashboard.refresh",
        "tile.move",
        "tile.resize",
        "tile.update",
        "tile.move",
    ]


def board_filters(metadata: sessionmaker[Session], board: int) -> dict[str, object]:
    return dict(dashboards.get_dashboard(metadata, board, "test").filters)
