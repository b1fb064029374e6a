"""The audit log page (admins): newest first, filtered by action, paged back by entry id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import audit
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.permissions import Action, Principal
from sextant.web.templating import page_router, render

router = page_router()
PAGE_SIZE = 100


@router.get("/admin/audit")
async def audit_page(
    request: Request,
    user: Annotated[Principal, Depends(require(Action.VIEW_AUDIT_LOG))],
    action: str = "",
    before: int | None = None,
) -> Response:
    metadata = accounts_of(request).metadata
    entries = await run_in_threadpool(
        lambda: audit.entries(metadata, limit=PAGE_SIZE, before=before, action=action or None)
    )
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    return render(request, "admin/audit.html", {"entries": entries, "action": action, "older": older})
