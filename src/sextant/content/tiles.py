"""A dashboard's tiles: add a look, an inline insight or markdown text; change a tile's title or text;
move, resize and remove tiles. Every change is checked against the dashboard's folder and audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.errors import NotFound
from sextant.content import layout
from sextant.content.access import Actor, ContentError, check_view, folder
from sextant.content.dashboards import editable
from sextant.content.looks import checked_query
from sextant.metadata.models import Dashboard, Look, Tile, TileKind

DEFAULT_SIZE = {TileKind.LOOK: (6, 4), TileKind.INSIGHT: (6, 4), TileKind.TEXT: (12, 2)}
MAX_TEXT = 20_000


def add_look_tile(
    sessions: sessionmaker[Session], dashboard_id: int, look_id: int, actor: Actor, *, title: str = ""
) -> Tile:
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        look = session.get(Look, look_id)
        if look is None:
            raise NotFound(f"there is no look with id {look_id}")
        check_view(actor, folder(session, look.folder_id), f"the look {look.name!r}")
        return _add(session, dashboard, Tile(kind=TileKind.LOOK, look_id=look.id, title=title.strip()), actor)


def add_insight_tile(
    sessions: sessionmaker[Session],
    dashboard_id: int,
    spec: Any,
    actor: Actor,
    *,
    chart: str | None = None,
    title: str = "",
) -> Tile:
    spec, chart = checked_query(spec, chart)
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        tile = Tile(kind=TileKind.INSIGHT, spec=spec, chart=chart, title=title.strip())
        return _add(session, dashboard, tile, actor)


def add_text_tile(sessions: sessionmaker[Session], dashboard_id: int, text: str, actor: Actor) -> Tile:
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        return _add(session, dashboard, Tile(kind=TileKind.TEXT, text=_checked_text(text)), actor)


def update_tile(
    sessions: sessionmaker[Session], dashboard_id: int, tile_id: int, actor: Actor, *, title: str, text: str = ""
) -> Tile:
    """Change a tile's title (looks and insights; empty shows the look's name) or a text tile's markdown."""
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        tile = _tile(dashboard, tile_id)
        old = {"title": tile.title, "text": tile.text}
        tile.title = title.strip()[:200]
        if tile.kind is TileKind.TEXT:
            tile.text = _checked_text(text)
        audit.record(
            session,
            actor,
            "tile.update",
            f"dashboard:{dashboard.id}",
            tile=tile.id,
            old=old,
            new={"title": tile.title, "text": tile.text},
        )
        return tile


def remove_tile(sessions: sessionmaker[Session], dashboard_id: int, tile_id: int, actor: Actor) -> None:
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        tile = _tile(dashboard, tile_id)
        audit.record(session, actor, "tile.remove", f"dashboard:{dashboard.id}", tile=tile.id, kind=tile.kind.value)
        dashboard.tiles.remove(tile)


def move_tile(
    sessions: sessionmaker[Session], dashboard_id: int, tile_id: int, direction: layout.Direction, actor: Actor
) -> Tile:
    return _rearrange(
        sessions, dashboard_id, tile_id, actor, "tile.move", lambda boxes: layout.move(boxes, tile_id, direction)
    )


def resize_tile(
    sessions: sessionmaker[Session],
    dashboard_id: int,
    tile_id: int,
    width_change: int,
    height_change: int,
    actor: Actor,
) -> Tile:
    def change(boxes: list[layout.Box]) -> list[layout.Box]:
        return layout.resize(boxes, tile_id, width_change, height_change)

    return _rearrange(sessions, dashboard_id, tile_id, actor, "tile.resize", change)


def place_tile(
    sessions: sessionmaker[Session],
    dashboard_id: int,
    tile_id: int,
    actor: Actor,
    *,
    x: int | None = None,
    y: int | None = None,
    w: int | None = None,
    h: int | None = None,
) -> Tile:
    """Put a tile at a position and size (as dragging it would); what is not given stays as it was. Only
    a new size is audited as a resize."""

    def change(boxes: list[layout.Box]) -> list[layout.Box]:
        now = next(box for box in boxes if box.id == tile_id)
        wanted = layout.Box(
            tile_id,
            now.x if x is None else x,
            now.y if y is None else y,
            now.w if w is None else w,
            now.h if h is None else h,
        )
        return layout.place(boxes, wanted)

    action = "tile.resize" if x is None and y is None else "tile.move"
    return _rearrange(sessions, dashboard_id, tile_id, actor, action, change)


def _rearrange(
    sessions: sessionmaker[Session],
    dashboard_id: int,
    tile_id: int,
    actor: Actor,
    action: str,
    change: Callable[[list[layout.Box]], list[layout.Box]],
) -> Tile:
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        tile = _tile(dashboard, tile_id)
        boxes = [layout.Box(each.id, each.x, each.y, each.w, each.h) for each in dashboard.tiles]
        before = [tile.x, tile.y, tile.w, tile.h]
        by_id = {each.id: each for each in dashboard.tiles}
        for box in change(boxes):
            placed = by_id[box.id]
            placed.x, placed.y, placed.w, placed.h = box.x, box.y, box.w, box.h
        after = [tile.x, tile.y, tile.w, tile.h]
        audit.record(session, actor, action, f"dashboard:{dashboard.id}", tile=tile.id, old=before, new=after)
        return tile


def _add(session: Session, dashboard: Dashboard, tile: Tile, actor: Actor) -> Tile:
    tile.w, tile.h = DEFAULT_SIZE[tile.kind]
    tile.x = 0
    tile.y = layout.below([layout.Box(each.id, each.x, each.y, each.w, each.h) for each in dashboard.tiles])
    dashboard.tiles.append(tile)
    session.flush()
    audit.record(
        session, actor, "tile.add", f"dashboard:{dashboard.id}", tile=tile.id, kind=tile.kind.value, look=tile.look_id
    )
    return tile


def _tile(dashboard: Dashboard, tile_id: int) -> Tile:
    for tile in dashboard.tiles:
        if tile.id == tile_id:
            return tile
    raise NotFound(f"the dashboard {dashboard.name!r} has no tile with id {tile_id}")


def _checked_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise ContentError("a text tile needs some text (markdown)")
    if len(text) > MAX_TEXT:
        raise ContentError(f"a text tile may hold at most {MAX_TEXT} characters")
    return text
