"""API keys: project ingest keys (write events only) and personal keys (read through the API).

Keys are random 256-bit secrets. Only their SHA-256 is stored: a fast hash is right for high-entropy
secrets and keeps the per-request check cheap. Checks are cached briefly, so a revocation takes effect
within `CACHE_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.permissions import Principal
from sextant.errors import AuthError
from sextant.metadata.models import ApiKey, KeyKind

CACHE_SECONDS = 10.0
_PREFIXES = {KeyKind.INGEST: "sx_ingest_", KeyKind.PERSONAL: "sx_personal_"}


@dataclass(frozen=True)
class CreatedKey:
    id: int
    kind: KeyKind
    name: str
    secret: str  # shown once, never stored


@dataclass(frozen=True)
class KeyOwner:
    """What a valid key is: its kind, its id and name, and for a personal key the user it acts as."""

    id: int
    kind: KeyKind
    name: str
    user_id: int | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    sessions: sessionmaker[Session],
    kind: KeyKind,
    name: str,
    *,
    user_id: int | None = None,
    actor: Principal | str = audit.COMMAND_LINE,
) -> CreatedKey:
    """A new key; a personal key with a `user_id` acts as that user when it reads through the API."""
    if kind is KeyKind.INGEST and user_id is not None:
        raise AuthError("ingest keys belong to the project, not to a user")
    secret = _PREFIXES[kind] + secrets.token_urlsafe(32)
    with sessions.begin() as session:
        key = ApiKey(
            kind=kind,
            name=name,
            prefix=secret[: len(_PREFIXES[kind]) + 4],
            secret_hash=_hash(secret),
            created_at=dt.datetime.now(dt.UTC),
            user_id=user_id,
        )
        session.add(key)
        session.flush()
        audit.record(session, actor, "key.create", f"key:{key.id}", kind=kind.value, name=name, user_id=user_id)
        return CreatedKey(key.id, kind, name, secret)


def revoke_key(sessions: sessionmaker[Session], key_id: int, *, actor: Principal | str = audit.COMMAND_LINE) -> None:
    with sessions.begin() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise AuthError(f"there is no key with id {key_id}; list keys with `sextant keys list`")
        key.revoked_at = dt.datetime.now(dt.UTC)
        audit.record(session, actor, "key.revoke", f"key:{key.id}", kind=key.kind.value, name=key.name)


def get_key(sessions: sessionmaker[Session], key_id: int) -> ApiKey | None:
    with sessions() as session:
        return session.get(ApiKey, key_id)


def list_keys(sessions: sessionmaker[Session], *, user_id: int | None = None) -> list[ApiKey]:
    """Every key, or only the personal keys of one user."""
    query = select(ApiKey).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    with sessions() as session:
        return list(session.scalars(query))


class KeyChecker:
    """Checks presented keys against the metadata database, with a short cache."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._cache: dict[str, tuple[float, KeyOwner | None]] = {}
        self._lock = threading.Lock()
        # Extra secrets that act as ingest keys for this process only (the server's local token).
        self.local_ingest_secrets: set[str] = set()

    def kind_of(self, secret: str) -> KeyKind | None:
        """The kind of a valid key, or None for an unknown or revoked one."""
        if secret in self.local_ingest_secrets:
            return KeyKind.INGEST
        owner = self.lookup(secret)
        return owner.kind if owner else None

    def lookup(self, secret: str) -> KeyOwner | None:
        """A valid key's kind and owner, or None for an unknown or revoked one."""
        digest = _hash(secret)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        with self.sessions() as session:
            key = session.scalars(select(ApiKey).where(ApiKey.secret_hash == digest)).first()
            owner = (
                KeyOwner(key.id, key.kind, key.name, key.user_id)
                if key is not None and key.revoked_at is None
                else None
            )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, owner)
        return owner

    def forget(self, secret_hash: str) -> None:
        """Drop a key from the cache, so that its revocation applies to this process at once."""
        with self._lock:
            self._cache.pop(secret_hash, None)

    def require(self, secret: str | None, kind: KeyKind) -> None:
        if not secret:
            raise AuthError(
                f"this endpoint needs {'an ingest' if kind is KeyKind.INGEST else 'a personal API'} key; "
                "send it as `Authorization: Bearer <key>`"
            )
        if self.kind_of(secret) is not kind:
            raise AuthError(
                f"the key is unknown, revoked, or not {'an ingest' if kind is KeyKind.INGEST else 'a personal'} "
                "key; create one with `sextant keys create`"
            )
