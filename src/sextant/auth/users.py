"""Users: creating them (with their personal folder and the All Users group), signing in, roles,
deactivation and password resets. Every change is written to the audit log."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.access import effective_filters
from sextant.auth.errors import AccountError, NotFound
from sextant.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from sextant.auth.permissions import AuthenticatedBy, Principal
from sextant.metadata.models import Folder, FolderKind, Group, GroupMember, Role, User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned):
        raise AccountError(f"{email!r} is not an email address; write it like ada@example.com")
    return cleaned


def create_user(
    sessions: sessionmaker[Session],
    email: str,
    password: str,
    *,
    actor: Principal | str,
    name: str | None = None,
    role: Role = Role.VIEWER,
) -> User:
    """A new active user (a Viewer unless told otherwise), its personal folder and its All Users membership."""
    email = normalize_email(email)
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    with sessions.begin() as session:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise AccountError(f"there is already a user {email}; change its role or reset its password instead")
        now = dt.datetime.now(dt.UTC)
        user = User(
            email=email,
            name=(name or "").strip() or email.partition("@")[0],
            password_hash=hash_password(password),
            role=role,
            active=True,
            created_at=now,
            session_epoch=0,
        )
        session.add(user)
        session.flush()
        session.add(Folder(name=f"{user.name}'s folder", kind=FolderKind.PERSONAL, owner_id=user.id, created_at=now))
        everyone = session.scalar(select(Group.id).where(Group.builtin.is_(True)))
        if everyone is not None:
            session.add(GroupMember(group_id=everyone, user_id=user.id))
        audit.record(session, actor, "user.create", f"user:{user.id}", email=email, role=role.value)
        return user


def get_user(sessions: sessionmaker[Session], user_id: int) -> User:
    with sessions() as session:
        user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"there is no user with id {user_id}")
    return user


def find_user(sessions: sessionmaker[Session], email: str) -> User | None:
    with sessions() as session:
        return session.scalar(select(User).where(User.email == email.strip().lower()))


def list_users(sessions: sessionmaker[Session]) -> list[User]:
    with sessions() as session:
        return list(session.scalars(select(User).order_by(User.email)))


def count_admins(session: Session) -> int:
    return session.scalar(select(func.count()).where(User.role == Role.ADMIN, User.active.is_(True))) or 0


def authenticate(sessions: sessionmaker[Session], email: str, password: str, *, address: str) -> User | None:
    """The active user with this email and password, or None. Both outcomes go to the audit log."""
    cleaned = email.strip().lower()
    with sessions.begin() as session:
        user = session.scalar(select(User).where(User.email == cleaned))
        matches = verify_password(user.password_hash if user else None, password)
        if user is None or not matches or not user.active:
            reason = "unknown email" if user is None else "wrong password" if not matches else "deactivated"
            audit.record(session, cleaned[:320], "sign_in.failed", "", reason=reason, address=address)
            return None
        user.last_sign_in = dt.datetime.now(dt.UTC)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        audit.record(session, user.email, "sign_in", f"user:{user.id}", address=address)
        return user


def set_role(sessions: sessionmaker[Session], user_id: int, role: Role, *, actor: Principal | str) -> User:
    with sessions.begin() as session:
        user = _load(session, user_id)
        if user.role is Role.ADMIN and role is not Role.ADMIN and user.active and count_admins(session) == 1:
            raise AccountError(f"{user.email} is the last admin; make someone else an admin first")
        previous = user.role
        user.role = role
        audit.record(
            session, actor, "user.role", f"user:{user.id}", email=user.email, old=previous.value, new=role.value
        )
        return user


def set_active(sessions: sessionmaker[Session], user_id: int, active: bool, *, actor: Principal | str) -> User:
    """Deactivating signs the user out everywhere and stops its personal keys; nothing of it is deleted."""
    with sessions.begin() as session:
        user = _load(session, user_id)
        if not active and user.role is Role.ADMIN and user.active and count_admins(session) == 1:
            raise AccountError(f"{user.email} is the last admin; make someone else an admin first")
        user.active = active
        user.session_epoch += 1
        audit.record(
            session, actor, "user.activate" if active else "user.deactivate", f"user:{user.id}", email=user.email
        )
        return user


def reset_password(sessions: sessionmaker[Session], user_id: int, password: str, *, actor: Principal | str) -> User:
    """Set a new password and end the user's sessions."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    with sessions.begin() as session:
        user = _load(session, user_id)
        user.password_hash = hash_password(password)
        user.session_epoch += 1
        audit.record(session, actor, "user.password_reset", f"user:{user.id}", email=user.email)
        return user


def principal_for(sessions: sessionmaker[Session], user: User, authenticated_by: AuthenticatedBy) -> Principal:
    with sessions() as session:
        groups = frozenset(session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user.id)))
        filters = effective_filters(session, user.id)
        return Principal(user.id, user.email, user.name, user.role, groups, authenticated_by, filters)


def _load(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"there is no user with id {user_id}")
    return user
