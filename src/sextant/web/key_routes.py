"""The API keys page: everyone creates and revokes personal keys for themselves; admins also create and
revoke project ingest keys and see (and revoke) every key. A new key's secret is shown once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import keys, users
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.errors import AccountError, NotFound, PermissionDenied
from sextant.auth.permissions import Action, Principal
from sextant.metadata.models import KeyKind
from sextant.web.templating import page_router, redirect, render

router = page_router()
OwnKeys = Annotated[Principal, Depends(require(Action.MANAGE_OWN_KEYS))]
Admin = Annotated[Principal, Depends(require(Action.MANAGE_KEYS))]


@router.get("/keys")
async def keys_page(request: Request, user: OwnKeys) -> Response:
    return await _keys_page(request, user)


@router.post("/keys")
async def create_personal_key(request: Request, user: OwnKeys, name: Annotated[str, Form()] = "") -> Response:
    if user.user_id is None:
        raise AccountError("personal keys belong to a user; sign in to create one")
    metadata = accounts_of(request).metadata
    label = name.strip() or "personal key"
    created = await run_in_threadpool(
        lambda: keys.create_key(metadata, KeyKind.PERSONAL, label, user_id=user.user_id, actor=user)
    )
    return await _keys_page(request, user, created)


@router.post("/admin/keys")
async def create_ingest_key(request: Request, user: Admin, name: Annotated[str, Form()] = "") -> Response:
    metadata = accounts_of(request).metadata
    label = name.strip() or "ingest key"
    created = await run_in_threadpool(lambda: keys.create_key(metadata, KeyKind.INGEST, label, actor=user))
    return await _keys_page(request, user, created)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: int, user: OwnKeys) -> Response:
    metadata = accounts_of(request).metadata
    key = await run_in_threadpool(keys.get_key, metadata, key_id)
    if key is None:
        raise NotFound(f"there is no key with id {key_id}")
    if key.user_id != user.user_id and not user.can(Action.MANAGE_KEYS):
        raise PermissionDenied("only admins revoke keys that are not their own")
    await run_in_threadpool(lambda: keys.revoke_key(metadata, key_id, actor=user))
    accounts_of(request).keys.forget(key.secret_hash)
    return redirect(request, "/keys", f"Revoked the key {key.name}; clients using it are refused within seconds.")


async def _keys_page(request: Request, user: Principal, created: keys.CreatedKey | None = None) -> Response:
    metadata = accounts_of(request).metadata
    mine = await run_in_threadpool(lambda: keys.list_keys(metadata, user_id=user.user_id)) if user.user_id else []
    every, owners = [], {}
    if user.can(Action.MANAGE_KEYS):
        every = await run_in_threadpool(keys.list_keys, metadata)
        owners = {account.id: account.email for account in await run_in_threadpool(users.list_users, metadata)}
    return render(request, "keys.html", {"mine": mine, "every": every, "owners": owners, "created": created})
