"""Dashboards: create, rename, move, set default filters and auto-refresh, duplicate, delete, and list the
ones a user may view. Their tiles are changed through `sextant.content.tiles`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.errors import NotFound
from sextant.auth.permissions import Principal
from sextant.content.access import Actor, ContentError, check_edit, check_view, clean_name, folder, may_edit, may_view
from sextant.content.filters import DashboardFilters
from sextant.metadata.models import Dashboard, Folder, Tile

MIN_REFRESH_SECONDS = 10


@dataclass(frozen=True)
class FolderDashboards:
    folder: Folder
    dashboards: list[Dashboard]


def create_dashboard(
    sessions: sessionmaker[Session], *, name: str, folder_id: int, description: str = "", actor: Actor
) -> Dashboard:
    name = clean_name(name, "dashboard")
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as session:
        check_edit(actor, folder(session, folder_id), "dashboards")
        dashboard = Dashboard(
            name=name,
            description=description.strip(),
            folder_id=folder_id,
            filters={},
            owner_id=actor.user_id if isinstance(actor, Principal) else None,
            created_at=now,
            updated_at=now,
        )
        session.add(dashboard)
        session.flush()
        audit.record(session, actor, "dashboard.create", f"dashboard:{dashboard.id}", name=name, folder=folder_id)
        session.refresh(dashboard, ["tiles"])
        return dashboard


def get_dashboard(sessions: sessionmaker[Session], dashboard_id: int, actor: Actor) -> Dashboard:
    """A dashboard with its tiles (and their looks), if the actor may view it."""
    with sessions() as session:
        dashboard = load(session, dashboard_id)
        check_view(actor, folder(session, dashboard.folder_id), f"the dashboard {dashboard.name!r}")
        return dashboard


def may_edit_dashboard(sessions: sessionmaker[Session], dashboard: Dashboard, actor: Actor) -> bool:
    with sessions() as session:
        return may_edit(actor, folder(session, dashboard.folder_id))


def update_dashboard(
    sessions: sessionmaker[Session],
    dashboard_id: int,
    *,
    name: str,
    description: str,
    folder_id: int,
    actor: Actor,
) -> Dashboard:
    name = clean_name(name, "dashboard")
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        if folder_id != dashboard.folder_id:
            check_edit(actor, folder(session, folder_id), "dashboards")
        audit.record(
            session,
            actor,
            "dashboard.update",
            f"dashboard:{dashboard.id}",
            old={"name": dashboard.name, "description": dashboard.description, "folder": dashboard.folder_id},
            new={"name": name, "description": description.strip(), "folder": folder_id},
        )
        dashboard.name, dashboard.description, dashboard.folder_id = name, description.strip(), folder_id
        dashboard.updated_at = dt.datetime.now(dt.UTC)
        return dashboard


def set_filters(
    sessions: sessionmaker[Session], dashboard_id: int, filters: DashboardFilters, actor: Actor
) -> Dashboard:
    """Save the filters everyone sees when they open the dashboard."""
    saved = filters.model_dump(mode="json", exclude_none=True)
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        audit.record(session, actor, "dashboard.filters", f"dashboard:{dashboard.id}", old=dashboard.filters, new=saved)
        dashboard.filters = saved
        dashboard.updated_at = dt.datetime.now(dt.UTC)
        return dashboard


def set_refresh(sessions: sessionmaker[Session], dashboard_id: int, seconds: int | None, actor: Actor) -> Dashboard:
    """Reload every tile every `seconds` while the page is open (None: never)."""
    if seconds is not None and seconds < MIN_REFRESH_SECONDS:
        raise ContentError(f"auto-refresh must be at least {MIN_REFRESH_SECONDS} seconds, or off")
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        audit.record(
            session, actor, "dashboard.refresh", f"dashboard:{dashboard.id}", old=dashboard.refresh_seconds, new=seconds
        )
        dashboard.refresh_seconds = seconds
        dashboard.updated_at = dt.datetime.now(dt.UTC)
        return dashboard


def duplicate_dashboard(
    sessions: sessionmaker[Session],
    dashboard_id: int,
    *,
    folder_id: int | None = None,
    name: str | None = None,
    actor: Actor,
) -> Dashboard:
    """A copy with the same filters and tiles, in `folder_id` (default: the original's folder). Look tiles of
    the copy show the same looks, so editing a look changes both dashboards."""
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as session:
        original = load(session, dashboard_id)
        check_view(actor, folder(session, original.folder_id), f"the dashboard {original.name!r}")
        target = original.folder_id if folder_id is None else folder_id
        check_edit(actor, folder(session, target), "dashboards")
        copy = Dashboard(
            name=clean_name(name or f"Copy of {original.name}", "dashboard"),
            description=original.description,
            folder_id=target,
            filters=dict(original.filters),
            refresh_seconds=original.refresh_seconds,
            owner_id=actor.user_id if isinstance(actor, Principal) else None,
            created_at=now,
            updated_at=now,
            tiles=[
                Tile(
                    kind=tile.kind,
                    look_id=tile.look_id,
                    spec=tile.spec,
                    chart=tile.chart,
                    title=tile.title,
                    text=tile.text,
                    x=tile.x,
                    y=tile.y,
                    w=tile.w,
                    h=tile.h,
                )
                for tile in original.tiles
            ],
        )
        session.add(copy)
        session.flush()
        audit.record(
            session, actor, "dashboard.duplicate", f"dashboard:{copy.id}", original=original.id, name=copy.name
        )
        session.refresh(copy, ["tiles"])
        return copy


def delete_dashboard(sessions: sessionmaker[Session], dashboard_id: int, actor: Actor) -> None:
    """Delete a dashboard and its tiles; the looks it showed stay."""
    with sessions.begin() as session:
        dashboard = editable(session, dashboard_id, actor)
        audit.record(session, actor, "dashboard.delete", f"dashboard:{dashboard.id}", name=dashboard.name)
        session.delete(dashboard)


def visible_dashboards(sessions: sessionmaker[Session], actor: Actor) -> list[FolderDashboards]:
    """The dashboards an actor may view, by folder (folders without dashboards left out)."""
    with sessions() as session:
        folders = [item for item in session.scalars(select(Folder).order_by(Folder.name)) if may_view(actor, item)]
        ids = [item.id for item in folders]
        query = select(Dashboard).where(Dashboard.folder_id.in_(ids)).order_by(Dashboard.name, Dashboard.id)
        dashboards = list(session.scalars(query))
    by_folder = [FolderDashboards(item, [each for each in dashboards if each.folder_id == item.id]) for item in folders]
    return [entry for entry in by_folder if entry.dashboards]


def editable_dashboards(sessions: sessionmaker[Session], actor: Actor) -> list[Dashboard]:
    """The dashboards an actor may add tiles to."""
    with sessions() as session:
        editable_ids = [item.id for item in session.scalars(select(Folder)) if may_edit(actor, item)]
        query = select(Dashboard).where(Dashboard.folder_id.in_(editable_ids)).order_by(Dashboard.name)
        return list(session.scalars(query))


def load(session: Session, dashboard_id: int) -> Dashboard:
    dashboard = session.get(Dashboard, dashboard_id)
    if dashboard is None:
        raise NotFound(f"there is no dashboard with id {dashboard_id}")
    return dashboard


def editable(session: Session, dashboard_id: int, actor: Actor) -> Dashboard:
    """A dashboard the actor may change, in `session`."""
    dashboard = load(session, dashboard_id)
    check_edit(actor, folder(session, dashboard.folder_id), f"the dashboard {dashboard.name!r}")
    return dashboard
