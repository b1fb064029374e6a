"""Password hashing with argon2 (argon2id, the library's current parameters), and generated passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when an email is unknown, so that a sign-in takes as long whether or not the user exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; `None` (no such user) costs the same time and is never a match."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's; rehash it at the next sign-in."""
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password of about 128 bits, easy to copy (letters, digits, - and _)."""
    return secrets.token_urlsafe(16)


def password_problem(password: str) -> str | None:
    """Why a chosen password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    return None
