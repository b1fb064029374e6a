"""The server-rendered web app: accounts, the page routers, static files at /static, and error pages
(a sign-in redirect when no one is signed in, an HTML page for other errors)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from sextant.auth.dependencies import Accounts
from sextant.auth.errors import SignInRequired
from sextant.errors import SextantError
from sextant.web import (
    api_docs_routes,
    audit_routes,
    builder_routes,
    dashboard_routes,
    folder_routes,
    group_routes,
    key_routes,
    look_routes,
    session_routes,
    user_routes,
)
from sextant.web.state import ServerState
from sextant.web.templating import redirect, render, sign_in_url

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, state: ServerState) -> None:
    app.state.accounts = Accounts.create(
        state.workspace.metadata, state.keys, state.workspace.project.config.secret_key, state.local_token
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (session_routes, user_routes, group_routes, folder_routes, key_routes, audit_routes, api_docs_routes):
        app.include_router(module.router)
    app.include_router(look_routes.router)
    app.include_router(dashboard_routes.router)
    app.include_router(builder_routes.router)


def error_page(request: Request, error: SextantError) -> Response:
    """What a page request sees for an error: the sign-in page for SignInRequired, else a page that says
    what went wrong."""
    if isinstance(error, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("HX-Request"):
            # htmx would swap a followed redirect into part of the page; make it load the sign-in page instead.
            return Response(status_code=401, headers={"HX-Redirect": sign_in_url(target)})
        return redirect(request, sign_in_url(target) if request.method == "GET" else sign_in_url("/"))
    return render(request, "error.html", {"status": error.status, "message": error.message}, status=error.status)
