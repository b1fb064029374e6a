"""Looks: saved insights (a query spec, a chart type, a name and a description) in a folder. A look can sit
on several dashboards; they show it through tiles that point at it, so a change to the look shows on all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.errors import NotFound
from sextant.auth.permissions import Principal
from sextant.content.access import Actor, ContentError, check_edit, check_view, clean_name, folder, may_edit, may_view
from sextant.errors import QueryError
from sextant.insights.runner import parse_spec
from sextant.metadata.models import Dashboard, Folder, Look, Tile
from sextant.web.charts import chart_types


@dataclass(frozen=True)
class FolderLooks:
    folder: Folder
    looks: list[Look]


def checked_query(spec: Any, chart: str | None) -> tuple[dict[str, Any], str | None]:
    """A spec that the insight engine accepts, and a chart type that suits its kind (None: the default)."""
    if not isinstance(spec, dict):
        raise QueryError('a look\'s spec is a JSON object such as {"kind": "funnel", "steps": [...]}')
    parse_spec(spec)
    chart = (chart or "").strip() or None
    if chart is not None and chart not in chart_types(spec).types:
        raise ContentError(
            f"a {spec['kind']} look cannot be drawn as {chart!r}; use one of {', '.join(chart_types(spec).types)}"
        )
    return spec, chart


def create_look(
    sessions: sessionmaker[Session],
    *,
    name: str,
    folder_id: int,
    spec: Any,
    chart: str | None = None,
    description: str = "",
    actor: Actor,
) -> Look:
    name = clean_name(name, "look")
    spec, chart = checked_query(spec, chart)
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as session:
        check_edit(actor, folder(session, folder_id), "looks")
        look = Look(
            name=name,
            description=description.strip(),
            folder_id=folder_id,
            spec=spec,
            chart=chart,
            owner_id=actor.user_id if isinstance(actor, Principal) else None,
            created_at=now,
            updated_at=now,
        )
        session.add(look)
        session.flush()
        audit.record(session, actor, "look.create", f"look:{look.id}", name=name, folder=folder_id)
        return look


def get_look(sessions: sessionmaker[Session], look_id: int, actor: Actor) -> Look:
    with sessions() as session:
        look = _load(session, look_id)
        check_view(actor, folder(session, look.folder_id), f"the look {look.name!r}")
        return look


def may_edit_look(sessions: sessionmaker[Session], look: Look, actor: Actor) -> bool:
    with sessions() as session:
        return may_edit(actor, folder(session, look.folder_id))


def update_look(
    sessions: sessionmaker[Session], look_id: int, *, name: str, description: str, folder_id: int, actor: Actor
) -> Look:
    """Rename, describe or move a look (moving needs edit rights on both folders)."""
    name = clean_name(name, "look")
    with sessions.begin() as session:
        look = _load(session, look_id)
        check_edit(actor, folder(session, look.folder_id), f"the look {look.name!r}")
        if folder_id != look.folder_id:
            check_edit(actor, folder(session, folder_id), "looks")
        audit.record(
            session,
            actor,
            "look.update",
            f"look:{look.id}",
            old={"name": look.name, "description": look.description, "folder": look.folder_id},
            new={"name": name, "description": description.strip(), "folder": folder_id},
        )
        look.name, look.description, look.folder_id = name, description.strip(), folder_id
        look.updated_at = dt.datetime.now(dt.UTC)
        return look


def save_look_query(sessions: sessionmaker[Session], look_id: int, spec: Any, chart: str | None, actor: Actor) -> Look:
    """Replace a look's query (from the builder's "Save to the look"): every tile showing it changes."""
    spec, chart = checked_query(spec, chart)
    with sessions.begin() as session:
        look = _load(session, look_id)
        check_edit(actor, folder(session, look.folder_id), f"the look {look.name!r}")
        audit.record(
            session,
            actor,
            "look.query",
            f"look:{look.id}",
            old={"spec": look.spec, "chart": look.chart},
            new={"spec": spec, "chart": chart},
        )
        look.spec, look.chart = spec, chart
        look.updated_at = dt.datetime.now(dt.UTC)
        return look


def delete_look(sessions: sessionmaker[Session], look_id: int, actor: Actor) -> int:
    """Delete a look and the tiles that showed it; the number of those tiles."""
    with sessions.begin() as session:
        look = _load(session, look_id)
        check_edit(actor, folder(session, look.folder_id), f"the look {look.name!r}")
        tiles = session.scalar(select(func.count()).select_from(Tile).where(Tile.look_id == look_id)) or 0
        audit.record(session, actor, "look.delete", f"look:{look.id}", name=look.name, tiles=tiles)
        for tile in session.scalars(select(Tile).where(Tile.look_id == look_id)):
            session.delete(tile)
        session.delete(look)
        return tiles


def visible_looks(sessions: sessionmaker[Session], actor: Actor) -> list[FolderLooks]:
    """The looks an actor may view, by folder (folders without looks left out)."""
    with sessions() as session:
        folders = [item for item in session.scalars(select(Folder).order_by(Folder.name)) if may_view(actor, item)]
        ids = [item.id for item in folders]
        looks = list(session.scalars(select(Look).where(Look.folder_id.in_(ids)).order_by(Look.name, Look.id)))
    by_folder = [FolderLooks(item, [look for look in looks if look.folder_id == item.id]) for item in folders]
    return [entry for entry in by_folder if entry.looks]


def dashboards_showing(sessions: sessionmaker[Session], look_id: int, actor: Actor) -> list[Dashboard]:
    """The dashboards with a tile of the look that the actor may view."""
    with sessions() as session:
        query = (
            select(Dashboard)
            .where(Dashboard.id.in_(select(Tile.dashboard_id).where(Tile.look_id == look_id)))
            .order_by(Dashboard.name)
        )
        return [item for item in session.scalars(query) if may_view(actor, folder(session, item.folder_id))]


def _load(session: Session, look_id: int) -> Look:
    look = session.get(Look, look_id)
    if look is None:
        raise NotFound(f"there is no look with id {look_id}")
    return look
