"""Signed session cookies and the CSRF tokens bound to them.

The cookie holds a random session id, the user id (None before sign-in) and the user's session epoch,
signed with the project's secret key and dated; the server keeps no session table. A CSRF token is the
session id signed under another salt, so it is valid for its own session only. Signing in starts a new
session id, so a token or cookie planted before sign-in is worthless after it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "sextant_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
MAX_AGE_SECONDS = 14 * 86400


@dataclass(frozen=True)
class SessionData:
    session_id: str
    user_id: int | None = None
    epoch: int = 0


class SessionCodec:
    """Turns sessions into cookie values and back, and makes and checks their CSRF tokens."""

    def __init__(self, secret_key: str, max_age: int = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._cookies = URLSafeTimedSerializer(secret_key, salt="sextant.session")
        self._csrf = URLSafeTimedSerializer(secret_key, salt="sextant.csrf")
        self._notices = URLSafeTimedSerializer(secret_key, salt="sextant.notice")

    @staticmethod
    def anonymous() -> SessionData:
        return SessionData(secrets.token_urlsafe(24))

    @staticmethod
    def signed_in(user_id: int, epoch: int) -> SessionData:
        return SessionData(secrets.token_urlsafe(24), user_id, epoch)

    def dumps(self, session: SessionData) -> str:
        return self._cookies.dumps([session.session_id, session.user_id, session.epoch])

    def loads(self, value: str | None) -> SessionData | None:
        """The session in a cookie, or None when it is missing, forged, malformed or older than max_age."""
        if not value:
            return None
        try:
            session_id, user_id, epoch = self._cookies.loads(value, max_age=self.max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(session_id, str) or not isinstance(epoch, int):
            return None
        if user_id is not None and not isinstance(user_id, int):
            return None
        return SessionData(session_id, user_id, epoch)

    def csrf_token(self, session: SessionData) -> str:
        return self._csrf.dumps(session.session_id)

    def csrf_valid(self, session: SessionData, token: str | None) -> bool:
        if not token:
            return False
        try:
            session_id = self._csrf.loads(token, max_age=self.max_age)
        except BadSignature:
            return False
        return isinstance(session_id, str) and hmac.compare_digest(session_id, session.session_id)

    def notice_dumps(self, message: str) -> str:
        """A message for the next page (after a redirect), signed so no one else can put words there."""
        return self._notices.dumps(message)

    def notice_loads(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            message = self._notices.loads(value, max_age=300)
        except BadSignature:
            return None
        return message if isinstance(message, str) else None
