"""Who is asking, for FastAPI routes: `current_user` (a session cookie, a personal API key or the CLI's local
token) and `require(action)`. Requests with a session cookie and an unsafe method must carry the session's
CSRF token; Bearer-key requests carry no cookies and need none.

    @router.post("/looks")
    async def save_look(user: Annotated[Principal, Depends(require(Action.CREATE_CONTENT))]) -> ...
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from sextant.auth.errors import CsrfError, PermissionDenied, SignInRequired
from sextant.auth.keys import KeyChecker
from sextant.auth.permissions import Action, AuthenticatedBy, Principal
from sextant.auth.sessions import COOKIE_NAME, CSRF_FIELD, CSRF_HEADER, SessionCodec, SessionData
from sextant.auth.sign_in_limits import SignInLimiter
from sextant.auth.users import principal_for
from sextant.errors import AuthError
from sextant.metadata.models import KeyKind, Role, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class Accounts:
    """What authentication needs at request time; the app keeps one in `app.state.accounts`."""

    metadata: sessionmaker[Session]
    keys: KeyChecker
    codec: SessionCodec
    local_token: str
    limiter: SignInLimiter = field(default_factory=SignInLimiter)

    @classmethod
    def create(
        cls, metadata: sessionmaker[Session], keys: KeyChecker, secret_key: str | None, local_token: str
    ) -> Accounts:
        # Without a configured key (allowed on loopback only) sessions last as long as the process.
        return cls(metadata, keys, SessionCodec(secret_key or secrets.token_urlsafe(32)), local_token)

    def principal_for_token(self, token: str) -> Principal:
        if secrets.compare_digest(token, self.local_token):
            return Principal(None, "command line", "Command line", Role.ADMIN, frozenset(), AuthenticatedBy.LOCAL_TOKEN)
        owner = self.keys.lookup(token)
        if owner is None or owner.kind is not KeyKind.PERSONAL:
            raise AuthError(
                "the key is unknown, revoked, or an ingest key (ingest keys can only write events); "
                "create a personal key on the API keys page or with `sextant keys create --kind personal`"
            )
        if owner.user_id is None:
            # Keys made before there were users act as a Creator, which is what they could do then.
            return Principal(
                None,
                f"key:{owner.id}",
                f"API key {owner.name}",
                Role.CREATOR,
                frozenset(),
                AuthenticatedBy.PERSONAL_KEY,
            )
        with self.metadata() as session:
            user = session.get(User, owner.user_id)
        if user is None or not user.active:
            raise AuthError("the key's user is deactivated; ask an admin to reactivate the account")
        return principal_for(self.metadata, user, AuthenticatedBy.PERSONAL_KEY)

    def principal_for_session(self, data: SessionData) -> Principal | None:
        """The signed-in user of a session, or None when it is anonymous, ended, or its user deactivated."""
        if data.user_id is None:
            return None
        with self.metadata() as session:
            user = session.get(User, data.user_id)
        if user is None or not user.active or user.session_epoch != data.epoch:
            return None
        return principal_for(self.metadata, user, AuthenticatedBy.SESSION)


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def session_of(request: Request) -> SessionData | None:
    """The request's session from its cookie (decoded once per request), or None."""
    if not hasattr(request.state, "session"):
        request.state.session = accounts_of(request).codec.loads(request.cookies.get(COOKIE_NAME))
    session: SessionData | None = request.state.session
    return session


def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session, for forms (`csrf_token` field) and htmx (`X-CSRF-Token`)."""
    session = session_of(request)
    return accounts_of(request).codec.csrf_token(session) if session else ""


def start_session(request: Request, response: Response, data: SessionData) -> None:
    """Put a session in the response's cookie, and make it the request's session for the page rendered now."""
    request.state.session = data
    response.set_cookie(
        COOKIE_NAME,
        accounts_of(request).codec.dumps(data),
        max_age=accounts_of(request).codec.max_age,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def identify(request: Request) -> tuple[Principal, SessionData | None]:
    """The principal of a request and, when it came with a cookie, its session (blocking: reads metadata)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal, session_of(request)
    accounts = accounts_of(request)
    token = bearer_token(request)
    session = None
    if token is not None:
        principal = accounts.principal_for_token(token)
    else:
        session = session_of(request)
        principal = accounts.principal_for_session(session) if session else None
        if principal is None:
            raise SignInRequired("sign in first, or send a personal API key as `Authorization: Bearer <key>`")
    request.state.principal = principal
    return principal, session


def _check_csrf_token(request: Request, session: SessionData, token: str | None) -> None:
    if not accounts_of(request).codec.csrf_valid(session, token):
        raise CsrfError("the form's security token is missing or expired; reload the page and submit again")


async def check_csrf(request: Request, session: SessionData) -> None:
    """Unsafe requests of a session carry its token in the X-CSRF-Token header or a `csrf_token` form field."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    _check_csrf_token(request, session, token)


async def current_user(request: Request) -> Principal:
    """The principal a request acts as; raises SignInRequired (401, or a redirect for pages) otherwise."""
    principal, session = await run_in_threadpool(identify, request)
    if session is not None and request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    return principal


def authorize(request: Request, action: Action) -> Principal:
    """`require` for code that is not a dependency (blocking). A session's unsafe requests must send the
    CSRF token in the X-CSRF-Token header, as JSON bodies have no form field."""
    principal, session = identify(request)
    if session is not None and request.method not in SAFE_METHODS:
        _check_csrf_token(request, session, request.headers.get(CSRF_HEADER))
    _check_role(principal, action)
    return principal


def _check_role(principal: Principal, action: Action) -> None:
    if not principal.can(action):
        raise PermissionDenied(
            f"your role ({principal.role.value}) may not {action.value}; ask an admin for a different role"
        )


async def optional_user(request: Request) -> Principal | None:
    """The signed-in principal, or None for an anonymous request (for pages that anyone may open)."""
    try:
        return await current_user(request)
    except SignInRequired:
        return None


def require(action: Action) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets a request through only if its principal's role allows `action`."""

    async def dependency(request: Request) -> Principal:
        principal = await current_user(request)
        _check_role(principal, action)
        return principal

    dependency.__name__ = f"require_{action.name.lower()}"
    return dependency


CurrentUser = Annotated[Principal, Depends(current_user)]
