"""Who may do what: the one role x action table, the signed-in principal, and folder rights.

Every route checks an `Action` through `sextant.auth.dependencies.require`; content in folders is
further checked with `can_view` / `can_edit`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sextant.insights.spec import Filter
from sextant.metadata.models import Access, Folder, FolderKind, Role


class Action(enum.Enum):
    VIEW_CONTENT = "view dashboards, looks and the catalog it can see"
    CHANGE_OWN_FILTERS = "change filters for itself"
    DOWNLOAD = "download results"
    MANAGE_OWN_KEYS = "create and revoke its own personal API keys"
    CREATE_CONTENT = "create and edit looks, dashboards and cohorts"
    SHARE_CONTENT = "move content into shared folders"
    RUN_QUERIES = "run ad-hoc queries and SQL"
    MANAGE_USERS = "create users, change roles, deactivate, reset passwords"
    MANAGE_GROUPS = "create groups and change their members"
    MANAGE_FOLDERS = "create shared folders and grant them to groups"
    MANAGE_KEYS = "create and revoke ingest keys and anyone's personal keys"
    MANAGE_SETTINGS = "change project settings"
    VIEW_AUDIT_LOG = "read the audit log"


_VIEWER = {Action.VIEW_CONTENT, Action.CHANGE_OWN_FILTERS, Action.DOWNLOAD, Action.MANAGE_OWN_KEYS}
_CREATOR = _VIEWER | {Action.CREATE_CONTENT, Action.SHARE_CONTENT, Action.RUN_QUERIES}
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.CREATOR: frozenset(_CREATOR),
    Role.ADMIN: frozenset(Action),
}


def allowed(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]


class AuthenticatedBy(enum.Enum):
    SESSION = "session"  # a browser's signed cookie; its unsafe requests carry a CSRF token
    PERSONAL_KEY = "personal key"
    LOCAL_TOKEN = "local token"  # the CLI on the server's machine


@dataclass(frozen=True)
class Principal:
    """Who a request acts as. `user_id` is None for the CLI's local token and for personal keys made before
    users existed (they act as a Creator). `access_filters` are the row-level filters that every query of
    the principal runs under (`sextant.auth.access`); none for the CLI and for keys without a user."""

    user_id: int | None
    email: str
    name: str
    role: Role
    group_ids: frozenset[int]
    authenticated_by: AuthenticatedBy
    access_filters: tuple[Filter, ...] = ()

    def can(self, action: Action) -> bool:
        return allowed(self.role, action)

    @property
    def label(self) -> str:
        """How the audit log names this principal."""
        return self.email


def _granted(principal: Principal, folder: Folder, accesses: set[Access]) -> bool:
    return any(grant.group_id in principal.group_ids and grant.access in accesses for grant in folder.grants)


def can_view(principal: Principal, folder: Folder) -> bool:
    """Admins see every folder, users their own personal folder, and members of a granted group a shared one."""
    if principal.role is Role.ADMIN:
        return True
    if folder.kind is FolderKind.PERSONAL:
        return folder.owner_id is not None and folder.owner_id == principal.user_id
    return _granted(principal, folder, {Access.VIEW, Access.EDIT})


def can_edit(principal: Principal, folder: Folder) -> bool:
    """Changing what is in a folder also needs a role that creates content: Viewers edit nothing."""
    if not principal.can(Action.CREATE_CONTENT):
        return False
    if principal.role is Role.ADMIN:
        return True
    if folder.kind is FolderKind.PERSONAL:
        return folder.owner_id is not None and folder.owner_id == principal.user_id
    return _granted(principal, folder, {Access.EDIT})
