"""Admin pages for groups: create, delete, and add or remove members."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import groups, users
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.errors import AccountError
from sextant.auth.permissions import Action, Principal
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
    metadata = accounts_of(request).metadata
    group = await run_in_threadpool(groups.get_group, metadata, group_id)
    members = await run_in_threadpool(groups.members, metadata, group_id)
    member_ids = {member.id for member in members}
    others = [other for other in await run_in_threadpool(users.list_users, metadata) if other.id not in member_ids]
    return render(request, "admin/group.html", {"group": group, "members": members, "others": others})


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


@router.post("/admin/groups/{group_id}/delete")
async def delete_group(request: Request, group_id: int, user: Admin) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: groups.delete_group(metadata, group_id, actor=user))
    return redirect(request, "/admin/groups", "Deleted the group.")


async def _groups_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    listed = await run_in_threadpool(groups.list_groups, accounts_of(request).metadata)
    return render(request, "admin/groups.html", {"groups": listed, "error": error}, status)
