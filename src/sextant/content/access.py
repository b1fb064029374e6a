"""Who may view and change content: the folder's rights (`can_view` / `can_edit`) and the role table.

Service functions take an actor: a `Principal`, whose rights are checked, or a label such as
`audit.COMMAND_LINE` for the `sextant` command working on the project's own files, which may do anything.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sextant.auth.errors import NotFound, PermissionDenied
from sextant.auth.permissions import Action, Principal, can_edit, can_view
from sextant.errors import SextantError
from sextant.metadata.models import Folder, FolderKind

Actor = Principal | str


class ContentError(SextantError):
    """A look, dashboard or tile change that cannot be made as asked (no name, a tile of another dashboard)."""

    status = 400


def folder(session: Session, folder_id: int) -> Folder:
    found = session.get(Folder, folder_id)
    if found is None:
        raise NotFound(f"there is no folder with id {folder_id}")
    return found


def may_view(actor: Actor, where: Folder) -> bool:
    return not isinstance(actor, Principal) or can_view(actor, where)


def may_edit(actor: Actor, where: Folder) -> bool:
    return not isinstance(actor, Principal) or can_edit(actor, where)


def check_view(actor: Actor, where: Folder, what: str) -> None:
    if not may_view(actor, where):
        raise PermissionDenied(f"{what} is in the folder {where.name!r}, which is not shared with you")


def check_edit(actor: Actor, where: Folder, what: str) -> None:
    """Editing needs a role that creates content and edit rights on the folder; putting content into a
    shared folder also needs a role that shares."""
    if not may_edit(actor, where):
        raise PermissionDenied(f"you may not change {what} in the folder {where.name!r}; ask its owner or an admin")
    if isinstance(actor, Principal) and where.kind is FolderKind.SHARED and not actor.can(Action.SHARE_CONTENT):
        raise PermissionDenied(f"your role ({actor.role.value}) may not put content into shared folders")


def clean_name(name: str, what: str) -> str:
    name = name.strip()
    if not name:
        raise ContentError(f"a {what} needs a name")
    if len(name) > 200:
        raise ContentError(f"a {what}'s name may be at most 200 characters")
    return name
