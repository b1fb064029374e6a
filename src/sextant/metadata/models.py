"""The metadata tables."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import DateTime, Enum, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class KeyKind(enum.Enum):
    INGEST = "ingest"  # a project key that can only write events
    PERSONAL = "personal"  # a user's key that reads through the API


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
