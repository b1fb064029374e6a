"""Rendering pages: the Jinja2 templates, what every page gets (the user, the CSRF token, a notice), and
redirects that carry a notice to the next page.

Every template extends `base.html`; see docs/security.md for its blocks and for forms' CSRF fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from sextant.auth.dependencies import accounts_of, bearer_token, csrf_token, is_https
from sextant.auth.permissions import Action, Principal
from sextant.auth.sessions import CSRF_FIELD, CSRF_HEADER

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
NOTICE_COOKIE = "sextant_notice"
PAGE_TAG = "pages"


def page_router() -> APIRouter:
    """A router for pages: left out of the API docs, and its errors are answered with pages (and a redirect
    to the sign-in page when no one is signed in) instead of JSON."""
    return APIRouter(tags=[PAGE_TAG], include_in_schema=False, default_response_class=HTMLResponse)


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """A page from `template`, with `user` (a Principal or None), `csrf_token`, `csrf_input` (the hidden
    field for forms), `csrf_header`, `Action` and `notice` (the message of the redirect that led here)
    added to `context`."""
    principal: Principal | None = getattr(request.state, "principal", None)
    notice = accounts_of(request).codec.notice_loads(request.cookies.get(NOTICE_COOKIE))
    token = csrf_token(request)
    shared = {
        "user": principal,
        "csrf_token": token,
        "csrf_input": Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">'),
        "csrf_field": CSRF_FIELD,
        "csrf_header": CSRF_HEADER,
        "Action": Action,
        "notice": notice,
    }
    response = templates.TemplateResponse(request, template, shared | (context or {}), status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if NOTICE_COOKIE in request.cookies:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


def redirect(request: Request, url: str, notice: str | None = None) -> Response:
    """303 to `url` (after a form post), showing `notice` on the page there."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        response.set_cookie(
            NOTICE_COOKIE,
            accounts_of(request).codec.notice_dumps(notice),
            max_age=300,
            httponly=True,
            samesite="lax",
            secure=is_https(request),
            path="/",
        )
    return response


def wants_html(request: Request) -> bool:
    """Requests to routes of a `page_router` get error pages (and sign-in redirects); others get JSON."""
    route = request.scope.get("route")
    return PAGE_TAG in (getattr(route, "tags", None) or []) and bearer_token(request) is None


def sign_in_url(next_url: str) -> str:
    return f"/sign-in?next={quote(next_url, safe='/')}"


def safe_next(next_url: str | None) -> str:
    """Where to go after signing in: a path on this site only, so the sign-in page cannot send people away."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return next_url
