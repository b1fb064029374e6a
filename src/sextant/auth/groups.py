"""Groups of users: the unit that shared folders are granted to. The built-in All Users group holds
everyone; it cannot be renamed, deleted or left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.errors import AccountError, NotFound
from sextant.auth.permissions import Principal
from sextant.metadata.models import AccessFilter, FolderGrant, Group, GroupMember, User


@dataclass(frozen=True)
class GroupSummary:
    id: int
    name: str
    builtin: bool
    members: int


def create_group(sessions: sessionmaker[Session], name: str, *, actor: Principal | str) -> Group:
    name = name.strip()
    if not name:
        raise AccountError("a group needs a name")
    try:
        with sessions.begin() as session:
            if session.scalar(select(Group.id).where(Group.name == name)) is not None:
                raise AccountError(f"there is already a group named {name!r}")
            group = Group(name=name, builtin=False, created_at=dt.datetime.now(dt.UTC))
            session.add(group)
            session.flush()
            audit.record(session, actor, "group.create", f"group:{group.id}", name=name)
            return group
    except IntegrityError:
        raise AccountError(f"there is already a group named {name!r}") from None


def delete_group(sessions: sessionmaker[Session], group_id: int, *, actor: Principal | str) -> None:
    """Deleting a group also removes its folder grants and its access filters: its members lose what only it
    gave them, and see the rows only it hid from them."""
    with sessions.begin() as session:
        group = _editable(session, group_id)
        audit.record(session, actor, "group.delete", f"group:{group.id}", name=group.name)
        session.execute(delete(FolderGrant).where(FolderGrant.group_id == group_id))
        session.execute(delete(AccessFilter).where(AccessFilter.group_id == group_id))
        session.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
        session.delete(group)


def list_groups(sessions: sessionmaker[Session]) -> list[GroupSummary]:
    query = (
        select(Group.id, Group.name, Group.builtin, func.count(GroupMember.user_id))
        .outerjoin(GroupMember, GroupMember.group_id == Group.id)
        .group_by(Group.id, Group.name, Group.builtin)
        .order_by(Group.builtin.desc(), Group.name)
    )
    with sessions() as session:
        return [GroupSummary(*row) for row in session.execute(query)]


def get_group(sessions: sessionmaker[Session], group_id: int) -> Group:
    with sessions() as session:
        group = session.get(Group, group_id)
    if group is None:
        raise NotFound(f"there is no group with id {group_id}")
    return group


def members(sessions: sessionmaker[Session], group_id: int) -> list[User]:
    query = select(User).join(GroupMember, GroupMember.user_id == User.id).where(GroupMember.group_id == group_id)
    with sessions() as session:
        return list(session.scalars(query.order_by(User.email)))


def add_member(sessions: sessionmaker[Session], group_id: int, user_id: int, *, actor: Principal | str) -> None:
    with sessions.begin() as session:
        group = _editable(session, group_id)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"there is no user with id {user_id}")
        if session.get(GroupMember, (group_id, user_id)) is None:
            session.add(GroupMember(group_id=group_id, user_id=user_id))
            audit.record(session, actor, "group.add_member", f"group:{group.id}", group=group.name, email=user.email)


def remove_member(sessions: sessionmaker[Session], group_id: int, user_id: int, *, actor: Principal | str) -> None:
    with sessions.begin() as session:
        group = _editable(session, group_id)
        membership = session.get(GroupMember, (group_id, user_id))
        if membership is None:
            raise NotFound(f"user {user_id} is not in the group {group.name!r}")
        user = session.get(User, user_id)
        session.delete(membership)
        audit.record(
            session,
            actor,
            "group.remove_member",
            f"group:{group.id}",
            group=group.name,
            email=user.email if user else str(user_id),
        )


def _editable(session: Session, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound(f"there is no group with id {group_id}")
    if group.builtin:
        raise AccountError(f"{group.name} is built in: every user belongs to it")
    return group
