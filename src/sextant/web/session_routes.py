"""Signing in and out, the home page, and a user's own account (changing its password)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import audit, folders, users
from sextant.auth.dependencies import (
    CurrentUser,
    accounts_of,
    check_csrf,
    client_address,
    optional_user,
    session_of,
    start_session,
)
from sextant.auth.errors import AccountError
from sextant.auth.passwords import verify_password
from sextant.auth.sessions import COOKIE_NAME, SessionCodec
from sextant.errors import RateLimited
from sextant.web.templating import page_router, redirect, render, safe_next

router = page_router()


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str = "/") -> Response:
    if await optional_user(request):
        return redirect(request, safe_next(next))
    return _sign_in_form(request, next)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    accounts = accounts_of(request)
    session = session_of(request)
    if session is None:
        # No cookie at all: the form was not loaded from this site (or cookies are off).
        return _sign_in_form(request, next, "Your browser did not send the sign-in cookie; reload and retry.", 400)
    await check_csrf(request, session)
    address = client_address(request)
    try:
        accounts.limiter.check(email, address)
    except RateLimited as error:
        response = _sign_in_form(request, next, error.message, 429, email)
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return response
    user = await run_in_threadpool(users.authenticate, accounts.metadata, email, password, address=address)
    if user is None:
        accounts.limiter.failed(email, address)
        return _sign_in_form(request, next, "The email or password is wrong.", 401, email)
    accounts.limiter.succeeded(email)
    response = redirect(request, safe_next(next))
    start_session(request, response, SessionCodec.signed_in(user.id, user.session_epoch))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, user: CurrentUser) -> Response:
    with accounts_of(request).metadata.begin() as session:
        audit.record(session, user, "sign_out", f"user:{user.user_id}")
    response = redirect(request, "/sign-in", "You are signed out.")
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/")
async def home(request: Request, user: CurrentUser) -> Response:
    visible = await run_in_threadpool(folders.visible_folders, accounts_of(request).metadata, user)
    return render(request, "home.html", {"folders": visible})


@router.get("/account")
async def account_page(request: Request, user: CurrentUser) -> Response:
    return render(request, "account.html")


@router.post("/account/password")
async def change_password(
    request: Request,
    user: CurrentUser,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
) -> Response:
    metadata = accounts_of(request).metadata
    if user.user_id is None:
        raise AccountError("only users have passwords")
    account = await run_in_threadpool(users.get_user, metadata, user.user_id)
    if not await run_in_threadpool(verify_password, account.password_hash, current):
        return render(request, "account.html", {"error": "The current password is wrong."}, status=400)
    try:
        changed = await run_in_threadpool(lambda: users.reset_password(metadata, account.id, new, actor=user))
    except AccountError as error:
        return render(request, "account.html", {"error": error.message}, status=400)
    # Changing the password ended every session, this one too; carry on in a new one.
    response = redirect(request, "/account", "Your password is changed; other sessions are signed out.")
    start_session(request, response, SessionCodec.signed_in(changed.id, changed.session_epoch))
    return response


def _sign_in_form(
    request: Request, next_url: str, error: str | None = None, status: int = 200, email: str = ""
) -> Response:
    """The sign-in page; it starts an anonymous session first, so that its form has a CSRF token."""
    fresh = session_of(request) is None
    if fresh:
        request.state.session = SessionCodec.anonymous()
    context = {"next": safe_next(next_url), "error": error, "email": email}
    response = render(request, "sign_in.html", context, status)
    if fresh:
        start_session(request, response, request.state.session)
    return response
