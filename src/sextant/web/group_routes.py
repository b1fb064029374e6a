"""Admin pages for groups: create, delete, add or remove members, and add or remove the row-level access
filters that restrict what the members' queries read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import access, groups, users
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.errors import AccountError
from sextant.auth.permissions import Action, Principal
from sextant.web.builder_forms import OPERATORS
from sextant.web.templating import page_router, redirect, render

router = page_router()
Admin = Annotated[Principal, Depends(require(Action.MANAGE_GROUPS))]


@router.get("/admin/groups")
async def groups_page(request: Request, user: Admin) -> Response:
    return await _groups_page(request)


@router.post("/admin/groups")
async def create_group(request: Request, user: Admin, name: Annotated[str, Form()] = "") -> Response:
    metadata = accounts_of(request).metadata
    try:
        group = await run_in_threadpool(lambda: groups.create_group(metadata, name, actor=user))
    except AccountError as error:
        return await _groups_page(request, error.message, 400)
    return redirect(request, f"/admin/groups/{group.id}", f"Created the group {group.name}.")


@router.get("/admin/groups/{group_id}")
async def group_page(request: Request, group_id: int, user: Admin) -> Response:
    return await _group_page(request, group_id)


@router.post("/admin/groups/{group_id}/members")
async def add_member(request: Request, group_id: int, user: Admin, user_id: Annotated[int, Form()]) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: groups.add_member(metadata, group_id, user_id, actor=user))
    return redirect(request, f"/admin/groups/{group_id}", "Added the member.")


@router.post("/admin/groups/{group_id}/members/{user_id}/remove")
async def remove_member(request: Request, group_id: int, user_id: int, user: Admin) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: groups.remove_member(metadata, group_id, user_id, actor=user))
    return redirect(request, f"/admin/groups/{group_id}", "Removed the member.")


@router.post("/admin/groups/{group_id}/access-filters")
async def add_access_filter(
    request: Request,
    group_id: int,
    user: Admin,
    kind: Annotated[str, Form(alias="type")] = "person",
    group_type: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    operator: Annotated[str, Form()] = "eq",
    value: Annotated[str, Form()] = "",
) -> Response:
    """Restrict the group's members to the rows that pass one more property filter."""
    metadata = accounts_of(request).metadata
    try:
        item = access.property_filter(kind, key, operator, value, group_type)
        await run_in_threadpool(lambda: access.add_group_filter(metadata, group_id, item, actor=user))
    except AccountError as error:
        entered = {"type": kind, "group_type": group_type, "key": key, "operator": operator, "value": value}
        return await _group_page(request, group_id, error.message, 400, entered)
    return redirect(request, f"/admin/groups/{group_id}", "Added the access filter.")


@router.post("/admin/groups/{group_id}/access-filters/{filter_id}/remove")
async def remove_access_filter(request: Request, group_id: int, filter_id: int, user: Admin) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: access.remove_group_filter(metadata, group_id, filter_id, actor=user))
    return redirect(request, f"/admin/groups/{group_id}", "Removed the access filter.")


@router.post("/admin/groups/{group_id}/delete")
async def delete_group(request: Request, group_id: int, user: Admin) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: groups.delete_group(metadata, group_id, actor=user))
    return redirect(request, "/admin/groups", "Deleted the group.")


async def _groups_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    listed = await run_in_threadpool(groups.list_groups, accounts_of(request).metadata)
    return render(request, "admin/groups.html", {"groups": listed, "error": error}, status)


async def _group_page(
    request: Request,
    group_id: int,
    error: str | None = None,
    status: int = 200,
    entered: dict[str, str] | None = None,
) -> Response:
    metadata = accounts_of(request).metadata
    group = await run_in_threadpool(groups.get_group, metadata, group_id)
    members = await run_in_threadpool(groups.members, metadata, group_id)
    member_ids = {member.id for member in members}
    others = [other for other in await run_in_threadpool(users.list_users, metadata) if other.id not in member_ids]
    context = {
        "group": group,
        "members": members,
        "others": others,
        "access_filters": await run_in_threadpool(access.group_filters, metadata, group_id),
        "operators": OPERATORS,
        "error": error,
        "entered": entered or {"type": "person", "operator": "eq"},
    }
    return render(request, "admin/group.html", context, status)
