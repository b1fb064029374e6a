"""Admin pages for users: list, create, change role, deactivate or reactivate, reset a password.

Row changes answer htmx requests with the changed row, and plain form posts with a redirect."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import users
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.errors import AccountError
from sextant.auth.passwords import generate_password
from sextant.auth.permissions import Action, Principal
from sextant.metadata.models import Role, User
from sextant.web.templating import page_router, redirect, render

router = page_router()
Admin = Annotated[Principal, Depends(require(Action.MANAGE_USERS))]


@router.get("/admin")
async def admin_home(request: Request, user: Admin) -> Response:
    return redirect(request, "/admin/users")


@router.get("/admin/users")
async def users_page(request: Request, user: Admin) -> Response:
    return await _users_page(request)


@router.post("/admin/users")
async def create_user(
    request: Request,
    user: Admin,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[Role, Form()] = Role.VIEWER,
    password: Annotated[str, Form()] = "",
) -> Response:
    chosen = password or generate_password()
    metadata = accounts_of(request).metadata
    try:
        created = await run_in_threadpool(
            lambda: users.create_user(metadata, email, chosen, actor=user, name=name, role=role)
        )
    except AccountError as error:
        return await _users_page(request, error=error.message, status=400)
    # Shown once, here: the password is stored only as its hash.
    return await _users_page(request, created=created, password=None if password else chosen)


@router.post("/admin/users/{user_id}/role")
async def change_role(request: Request, user_id: int, user: Admin, role: Annotated[Role, Form()]) -> Response:
    metadata = accounts_of(request).metadata
    changed = await run_in_threadpool(lambda: users.set_role(metadata, user_id, role, actor=user))
    return _row_or_redirect(request, changed, f"{changed.email} is now {role.value}.")


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate(request: Request, user_id: int, user: Admin) -> Response:
    metadata = accounts_of(request).metadata
    changed = await run_in_threadpool(lambda: users.set_active(metadata, user_id, False, actor=user))
    return _row_or_redirect(request, changed, f"{changed.email} is deactivated and signed out.")


@router.post("/admin/users/{user_id}/activate")
async def activate(request: Request, user_id: int, user: Admin) -> Response:
    metadata = accounts_of(request).metadata
    changed = await run_in_threadpool(lambda: users.set_active(metadata, user_id, True, actor=user))
    return _row_or_redirect(request, changed, f"{changed.email} is active again.")


@router.post("/admin/users/{user_id}/password")
async def reset_password(request: Request, user_id: int, user: Admin) -> Response:
    password = generate_password()
    metadata = accounts_of(request).metadata
    changed = await run_in_threadpool(lambda: users.reset_password(metadata, user_id, password, actor=user))
    return await _users_page(request, reset=changed, password=password)


async def _users_page(
    request: Request,
    *,
    created: User | None = None,
    reset: User | None = None,
    password: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    listed = await run_in_threadpool(users.list_users, accounts_of(request).metadata)
    context = {
        "users": listed,
        "roles": list(Role),
        "created": created,
        "reset": reset,
        "password": password,
        "error": error,
    }
    return render(request, "admin/users.html", context, status)


def _row_or_redirect(request: Request, changed: User, notice: str) -> Response:
    if request.headers.get("HX-Request"):
        return render(request, "admin/_user_row.html", {"row": changed, "roles": list(Role), "row_notice": notice})
    return redirect(request, "/admin/users", notice)
