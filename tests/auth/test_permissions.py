"""The role x action table, and folder rights by role x folder x grant."""

from __future__ import annotations

import datetime as dt

import pytest

from sextant.auth.permissions import PERMISSIONS, Action, AuthenticatedBy, Principal, allowed, can_edit, can_view
from sextant.metadata.models import Access, Folder, FolderGrant, FolderKind, Role

V, C, A = Role.VIEWER, Role.CREATOR, Role.ADMIN
# Who may do each action, written out so that any change to the table shows up here.
EXPECTED = {
    Action.VIEW_CONTENT: {V, C, A},
    Action.CHANGE_OWN_FILTERS: {V, C, A},
    Action.DOWNLOAD: {V, C, A},
    Action.MANAGE_OWN_KEYS: {V, C, A},
    Action.CREATE_CONTENT: {C, A},
    Action.SHARE_CONTENT: {C, A},
    Action.RUN_QUERIES: {C, A},
    Action.MANAGE_USERS: {A},
    Action.MANAGE_GROUPS: {A},
    Action.MANAGE_FOLDERS: {A},
    Action.MANAGE_KEYS: {A},
    Action.MANAGE_SETTINGS: {A},
    Action.VIEW_AUDIT_LOG: {A},
}


def test_every_action_is_in_the_expected_table() -> None:
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=lambda action: action.name)
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_role_x_action(role: Role, action: Action) -> None:
    assert allowed(role, action) is (role in EXPECTED[action])
    assert (action in PERMISSIONS[role]) is (role in EXPECTED[action])


def principal(role: Role, user_id: int = 1, groups: frozenset[int] = frozenset()) -> Principal:
    return Principal(user_id, f"u{user_id}@example.com", "u", role, groups, AuthenticatedBy.SESSION)


def folder(kind: FolderKind, owner: int | None = None, grants: dict[int, Access] | None = None) -> Folder:
    made = Folder(id=9, name="f", kind=kind, owner_id=owner, created_at=dt.datetime.now(dt.UTC))
    made.grants = [FolderGrant(folder_id=9, group_id=group, access=access) for group, access in (grants or {}).items()]
    return made


SALES, SUPPORT = 10, 20
# (folder, the principal's groups, the principal's id) -> (viewer view/edit, creator view/edit, admin view/edit)
GRID = [
    ("own personal folder", folder(FolderKind.PERSONAL, owner=1), frozenset(), ((1, 0), (1, 1), (1, 1))),
    ("someone else's personal folder", folder(FolderKind.PERSONAL, owner=2), frozenset(), ((0, 0), (0, 0), (1, 1))),
    ("shared, no grants", folder(FolderKind.SHARED), frozenset({SALES}), ((0, 0), (0, 0), (1, 1))),
    ("shared, view to my group", folder(FolderKind.SHARED, grants={SALES: Access.VIEW}), frozenset({SALES}),
     ((1, 0), (1, 0), (1, 1))),
    ("shared, edit to my group", folder(FolderKind.SHARED, grants={SALES: Access.EDIT}), frozenset({SALES}),
     ((1, 0), (1, 1), (1, 1))),
    ("shared, edit to another group", folder(FolderKind.SHARED, grants={SUPPORT: Access.EDIT}), frozenset({SALES}),
     ((0, 0), (0, 0), (1, 1))),
    ("shared, view to one of my groups and edit to another",
     folder(FolderKind.SHARED, grants={SALES: Access.VIEW, SUPPORT: Access.EDIT}), frozenset({SALES, SUPPORT}),
     ((1, 0), (1, 1), (1, 1))),
]  # fmt: skip


@pytest.mark.parametrize(("case", "target", "groups", "expected"), GRID, ids=[row[0] for row in GRID])
def test_folder_rights(
    case: str, target: Folder, groups: frozenset[int], expected: tuple[tuple[int, int], ...]
) -> None:
    for role, (view, edit) in zip((V, C, A), expected, strict=True):
        who = principal(role, user_id=1, groups=groups)
        assert can_view(who, target) is bool(view), (case, role)
        assert can_edit(who, target) is bool(edit), (case, role)


def test_a_key_without_a_user_owns_no_personal_folder() -> None:
    keyholder = Principal(None, "key:1", "API key", Role.CREATOR, frozenset(), AuthenticatedBy.PERSONAL_KEY)
    orphan = folder(FolderKind.PERSONAL, owner=None)
    assert not can_view(keyholder, orphan) and not can_edit(keyholder, orphan)


def test_the_table_in_docs_security_md_is_the_table_in_the_code() -> None:
    import re
    from pathlib import Path

    documented: dict[Action, set[Role]] = {}
    text = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.search(r"`[A-Z_]+`", cells[0]):
            continue
        roles = {role for role, mark in zip((V, C, A), cells[1:], strict=True) if mark == "✓"}
        for name in re.findall(r"`([A-Z_]+)`", cells[0]):
            documented[Action[name]] = roles
    assert documented == {action: set(roles) for action, roles in EXPECTED.items()}
