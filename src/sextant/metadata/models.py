"""The metadata tables."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class KeyKind(enum.Enum):
    INGEST = "ingest"  # a project key that can only write events
    PERSONAL = "personal"  # a user's key that reads through the API


class Role(enum.Enum):
    """What a user may do; the actions of each role are in `sextant.auth.permissions.PERMISSIONS`."""

    VIEWER = "viewer"
    CREATOR = "creator"
    ADMIN = "admin"


class FolderKind(enum.Enum):
    PERSONAL = "personal"  # one per user, created with the user
    SHARED = "shared"  # seen and edited by the groups it is granted to


class Access(enum.Enum):
    """A group's rights on a shared folder; edit includes view."""

    VIEW = "view"
    EDIT = "edit"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[KeyKind] = mapped_column(Enum(KeyKind, native_enum=False, length=16))
    name: Mapped[str] = mapped_column(String(200))
    # The first characters of the key, shown in listings so a key can be recognised without revealing it.
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The user a personal key acts as; null for ingest keys and for personal keys made before users existed.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)


class Cohort(Base):
    """A saved group of persons: a definition evaluated when a query uses it, or a static list of persons."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # JSON: the definition of a dynamic cohort, or null for a static one.
    definition: Mapped[str | None] = mapped_column(Text, default=None)
    # JSON list of person ids of a static cohort.
    members: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), default=Role.VIEWER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_sign_in: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Sessions carry the epoch they were made in; raising it (password reset, deactivation) ends them all.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The built-in "All Users" group: every user is a member, and it cannot be renamed or left.
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class AccessFilter(Base):
    """A row-level access filter of a group: its members' queries read only the rows that pass it
    (`sextant.auth.access` combines a user's filters)."""

    __tablename__ = "access_filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    # JSON of an insight `Filter` (a property filter such as {"type": "person", "key": "plan", ...}).
    filter: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Folder(Base):
    __tablename__ = "folders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[FolderKind] = mapped_column(Enum(FolderKind, native_enum=False, length=16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Loaded with the folder, so permission checks work on folders outside their session.
    grants: Mapped[list[FolderGrant]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class FolderGrant(Base):
    __tablename__ = "folder_grants"
    __table_args__ = (UniqueConstraint("folder_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    access: Mapped[Access] = mapped_column(Enum(Access, native_enum=False, length=16))


class AuditEntry(Base):
    """One thing that happened: who did what to which target, with details."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Null for actions of the command line or of a failed sign-in; `actor` names them.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "user.create", "sign_in.failed"
    target: Mapped[str] = mapped_column(String(320), default="")  # e.g. "user:3", "folder:7"
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TileKind(enum.Enum):
    LOOK = "look"  # shows a saved look; editing the look changes every tile that shows it
    INSIGHT = "insight"  # an insight spec kept in the tile itself
    TEXT = "text"  # markdown


class Look(Base):
    """A saved insight: the query spec (the body of `POST /api/v1/query`) and how to draw it."""

    __tablename__ = "looks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id"), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    chart: Mapped[str | None] = mapped_column(String(32), default=None)  # None: the kind's default chart
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Dashboard(Base):
    """A grid of tiles with filters (a date range and property filters) that apply to every tile."""

    __tablename__ = "dashboards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id"), index=True)
    # {"date_from": ..., "date_to": ..., "filters": [property filters]}: the defaults everyone sees.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    refresh_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    tiles: Mapped[list[Tile]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by=lambda: [Tile.y, Tile.x, Tile.id]
    )


class Tile(Base):
    """One tile of a dashboard's 12-column grid, at column x and row y, w columns wide and h rows high."""

    __tablename__ = "dashboard_tiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TileKind] = mapped_column(Enum(TileKind, native_enum=False, length=16))
    # A look's tiles go with the look.
    look_id: Mapped[int | None] = mapped_column(ForeignKey("looks.id", ondelete="CASCADE"), default=None, index=True)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # insight tiles
    chart: Mapped[str | None] = mapped_column(String(32), default=None)  # insight tiles
    title: Mapped[str] = mapped_column(String(200), default="")  # look tiles: empty shows the look's name
    text: Mapped[str] = mapped_column(Text, default="")  # markdown of text tiles
    x: Mapped[int] = mapped_column(Integer, default=0)
    y: Mapped[int] = mapped_column(Integer, default=0)
    w: Mapped[int] = mapped_column(Integer, default=6)
    h: Mapped[int] = mapped_column(Integer, default=4)
    look: Mapped[Look | None] = relationship(lazy="selectin")
