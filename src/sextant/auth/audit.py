"""The audit log: sign-ins, and changes to content, users, groups, folders, keys and permissions.

Call `record` inside the transaction that makes the change, so a change and its entry commit together.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth.permissions import Principal
from sextant.metadata.models import AuditEntry

# The actor of changes made with the `sextant` command on the project's files.
COMMAND_LINE = "command line"


def record(session: Session, actor: Principal | str, action: str, target: str = "", **detail: Any) -> None:
    """Add an entry: `actor` is the principal (or a label such as COMMAND_LINE), `action` a dotted verb
    such as "look.update", `target` what it was done to, as "kind:id"."""
    session.add(
        AuditEntry(
            at=dt.datetime.now(dt.UTC),
            actor_id=actor.user_id if isinstance(actor, Principal) else None,
            actor=actor.label if isinstance(actor, Principal) else actor,
            action=action,
            target=target,
            detail=detail,
        )
    )


def entries(
    sessions: sessionmaker[Session], *, limit: int = 100, before: int | None = None, action: str | None = None
) -> list[AuditEntry]:
    """The newest entries first; `before` (an entry id) pages back, `action` keeps one action or a prefix
    of dotted actions ("user" keeps "user.create", "user.role", ...)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if action:
        query = query.where((AuditEntry.action == action) | AuditEntry.action.startswith(action + "."))
    with sessions() as session:
        return list(session.scalars(query))
