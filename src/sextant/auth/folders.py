"""Folders: a personal folder per user (made with the user) and shared folders whose view and edit rights
are granted to groups. Whether a principal may see or change one is `permissions.can_view` / `can_edit`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.errors import AccountError, NotFound
from sextant.auth.permissions import Principal, can_view
from sextant.metadata.models import Access, Folder, FolderGrant, FolderKind, Group


def create_shared_folder(sessions: sessionmaker[Session], name: str, *, actor: Principal | str) -> Folder:
    name = name.strip()
    if not name:
        raise AccountError("a folder needs a name")
    with sessions.begin() as session:
        folder = Folder(name=name, kind=FolderKind.SHARED, created_at=dt.datetime.now(dt.UTC))
        session.add(folder)
        session.flush()
        audit.record(session, actor, "folder.create", f"folder:{folder.id}", name=name)
        session.refresh(folder, ["grants"])
        return folder


def rename_folder(sessions: sessionmaker[Session], folder_id: int, name: str, *, actor: Principal | str) -> None:
    name = name.strip()
    if not name:
        raise AccountError("a folder needs a name")
    with sessions.begin() as session:
        folder = _load(session, folder_id)
        audit.record(session, actor, "folder.rename", f"folder:{folder.id}", old=folder.name, new=name)
        folder.name = name


def get_folder(sessions: sessionmaker[Session], folder_id: int) -> Folder:
    with sessions() as session:
        return _load(session, folder_id)


def personal_folder(sessions: sessionmaker[Session], user_id: int) -> Folder:
    with sessions() as session:
        folder = session.scalar(select(Folder).where(Folder.owner_id == user_id))
    if folder is None:
        raise NotFound(f"user {user_id} has no personal folder")
    return folder


def list_folders(sessions: sessionmaker[Session], kind: FolderKind | None = None) -> list[Folder]:
    query = select(Folder).order_by(Folder.kind.desc(), Folder.name)
    if kind is not None:
        query = query.where(Folder.kind == kind)
    with sessions() as session:
        return list(session.scalars(query))


def visible_folders(sessions: sessionmaker[Session], principal: Principal) -> list[Folder]:
    """The folders a principal may open: its own, the shared ones granted to its groups (admins: all)."""
    return [folder for folder in list_folders(sessions) if can_view(principal, folder)]


def set_grant(
    sessions: sessionmaker[Session], folder_id: int, group_id: int, access: Access | None, *, actor: Principal | str
) -> None:
    """Give a group view or edit rights on a shared folder, or take them away (`access=None`)."""
    with sessions.begin() as session:
        folder = _load(session, folder_id)
        if folder.kind is not FolderKind.SHARED:
            raise AccountError("personal folders belong to their user; grant rights on shared folders only")
        group = session.get(Group, group_id)
        if group is None:
            raise NotFound(f"there is no group with id {group_id}")
        grant = session.scalar(
            select(FolderGrant).where(FolderGrant.folder_id == folder_id, FolderGrant.group_id == group_id)
        )
        old = grant.access.value if grant else None
        if access is None and grant is not None:
            session.delete(grant)
        elif access is not None and grant is None:
            session.add(FolderGrant(folder_id=folder_id, group_id=group_id, access=access))
        elif access is not None and grant is not None:
            grant.access = access
        audit.record(
            session,
            actor,
            "folder.grant",
            f"folder:{folder.id}",
            folder=folder.name,
            group=group.name,
            old=old,
            new=access.value if access else None,
        )


def _load(session: Session, folder_id: int) -> Folder:
    folder = session.get(Folder, folder_id)
    if folder is None:
        raise NotFound(f"there is no folder with id {folder_id}")
    return folder
