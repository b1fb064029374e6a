"""Admin pages for folders: shared folders, their names, and the view or edit rights granted to groups."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import folders, groups
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.errors import AccountError
from sextant.auth.permissions import Action, Principal
from sextant.metadata.models import Access, FolderKind
from sextant.web.templating import page_router, redirect, render

router = page_router()
Admin = Annotated[Principal, Depends(require(Action.MANAGE_FOLDERS))]


@router.get("/admin/folders")
async def folders_page(request: Request, user: Admin) -> Response:
    return await _folders_page(request)


@router.post("/admin/folders")
async def create_folder(request: Request, user: Admin, name: Annotated[str, Form()] = "") -> Response:
    metadata = accounts_of(request).metadata
    try:
        folder = await run_in_threadpool(lambda: folders.create_shared_folder(metadata, name, actor=user))
    except AccountError as error:
        return await _folders_page(request, error.message, 400)
    return redirect(request, f"/admin/folders/{folder.id}", f"Created the folder {folder.name}; grant it to groups.")


@router.get("/admin/folders/{folder_id}")
async def folder_page(request: Request, folder_id: int, user: Admin) -> Response:
    metadata = accounts_of(request).metadata
    folder = await run_in_threadpool(folders.get_folder, metadata, folder_id)
    granted = {grant.group_id: grant.access for grant in folder.grants}
    all_groups = await run_in_threadpool(groups.list_groups, metadata)
    context = {"folder": folder, "groups": all_groups, "granted": granted, "accesses": list(Access)}
    return render(request, "admin/folder.html", context)


@router.post("/admin/folders/{folder_id}/rename")
async def rename_folder(request: Request, folder_id: int, user: Admin, name: Annotated[str, Form()] = "") -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: folders.rename_folder(metadata, folder_id, name, actor=user))
    return redirect(request, f"/admin/folders/{folder_id}", "Renamed the folder.")


@router.post("/admin/folders/{folder_id}/grants")
async def set_grant(
    request: Request,
    folder_id: int,
    user: Admin,
    group_id: Annotated[int, Form()],
    access: Annotated[Literal["view", "edit", "none"], Form()] = "none",
) -> Response:
    """`access` is view, edit, or none (take the group's rights away)."""
    chosen = None if access == "none" else Access(access)
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: folders.set_grant(metadata, folder_id, group_id, chosen, actor=user))
    return redirect(request, f"/admin/folders/{folder_id}", "Changed the folder's rights.")


async def _folders_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    metadata = accounts_of(request).metadata
    shared = await run_in_threadpool(folders.list_folders, metadata, FolderKind.SHARED)
    personal = await run_in_threadpool(folders.list_folders, metadata, FolderKind.PERSONAL)
    group_names = {group.id: group.name for group in await run_in_threadpool(groups.list_groups, metadata)}
    context = {"shared": shared, "personal": personal, "group_names": group_names, "error": error}
    return render(request, "admin/folders.html", context, status)
