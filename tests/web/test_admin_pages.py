"""The admin pages: users, groups, folders and the audit log, as an admin uses them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sextant.auth import audit, folders, groups, users
from sextant.metadata.models import Access, FolderKind, Role
from tests.auth.accounts import EMAILS, AccountsApp, accounts_app


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AccountsApp]:
    with accounts_app(tmp_path) as opened:
        yield opened


def shown_secret(html: str) -> str:
    match = re.search(r'<code class="copy">([^<]+)</code>', html)
    assert match, "no secret on the page"
    return match.group(1)


def test_an_admin_creates_a_user_who_is_a_viewer_and_signs_in_with_the_password_shown_once(
    site: AccountsApp,
) -> None:
    admin = site.client(Role.ADMIN)
    page = admin.post_form("/admin/users", {"email": "newbie@example.com", "name": "New Bie"})
    assert page.status_code == 200 and "Created newbie@example.com (viewer)" in page.text
    password = shown_secret(page.text)
    assert password not in admin.get("/admin/users").text  # shown only once
    created = users.find_user(site.workspace.metadata, "newbie@example.com")
    assert created is not None and created.role is Role.VIEWER and created.name == "New Bie"
    assert folders.personal_folder(site.workspace.metadata, created.id).name == "New Bie's folder"
    newbie = site.client().sign_in("newbie@example.com", password)
    assert "You are signed in as a viewer" in newbie.get("/").text

    chosen = admin.post_form(
        "/admin/users", {"email": "pat@example.com", "role": "creator", "password": "pats password"}
    )
    assert "Created pat@example.com (creator)" in chosen.text and '<code class="copy">' not in chosen.text
    again = admin.post_form("/admin/users", {"email": "pat@example.com"})
    assert again.status_code == 400 and "already a user" in again.text


def test_changing_a_role_with_htmx_returns_the_row_and_without_it_redirects(site: AccountsApp) -> None:
    admin = site.client(Role.ADMIN)
    viewer_id = site.user_ids[Role.VIEWER]
    row = admin.post(
        f"/admin/users/{viewer_id}/role",
        data={"role": "creator"},
        headers={"HX-Request": "true", "X-CSRF-Token": admin.csrf},
    )
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="user-{viewer_id}"')
    assert '<option value="creator" selected>' in row.text and "is now creator" in row.text
    assert users.get_user(site.workspace.metadata, viewer_id).role is Role.CREATOR
    plain = admin.post_form(f"/admin/users/{viewer_id}/role", {"role": "viewer"}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/admin/users"
    assert f"{EMAILS[Role.VIEWER]} is now viewer." in admin.get("/admin/users").text
    last_admin = admin.post_form(f"/admin/users/{site.user_ids[Role.ADMIN]}/role", {"role": "viewer"})
    assert last_admin.status_code == 400 and "last admin" in last_admin.text


def test_deactivating_signs_the_user_out_and_reactivating_lets_them_back(site: AccountsApp) -> None:
    admin, creator = site.client(Role.ADMIN), site.client(Role.CREATOR)
    creator_id = site.user_ids[Role.CREATOR]
    admin.post_form(f"/admin/users/{creator_id}/deactivate")
    assert creator.get("/", follow_redirects=False).status_code == 303
    assert "deactivated" in admin.get("/admin/users").text
    admin.post_form(f"/admin/users/{creator_id}/activate")
    site.client(Role.CREATOR)


def test_resetting_a_password_shows_the_new_one_once(site: AccountsApp) -> None:
    admin = site.client(Role.ADMIN)
    page = admin.post_form(f"/admin/users/{site.user_ids[Role.VIEWER]}/password")
    assert "their sessions are signed out" in page.text
    site.client().sign_in(EMAILS[Role.VIEWER], shown_secret(page.text))
    assert admin.post_form("/admin/users/999/password").status_code == 404


def test_groups_get_members_and_lose_them(site: AccountsApp) -> None:
    admin = site.client(Role.ADMIN)
    created = admin.post_form("/admin/groups", {"name": "Sales"})
    assert created.status_code == 200 and "Group: Sales" in created.text and "Created the group Sales." in created.text
    sales = next(group for group in groups.list_groups(site.workspace.metadata) if group.name == "Sales")
    admin.post_form(f"/admin/groups/{sales.id}/members", {"user_id": site.user_ids[Role.VIEWER]})
    page = admin.get(f"/admin/groups/{sales.id}")
    assert EMAILS[Role.VIEWER] in page.text.split("Add a member")[0]
    assert [member.email for member in groups.members(site.workspace.metadata, sales.id)] == [EMAILS[Role.VIEWER]]
    admin.post_form(f"/admin/groups/{sales.id}/members/{site.user_ids[Role.VIEWER]}/remove")
    assert groups.members(site.workspace.metadata, sales.id) == []
    assert admin.post_form("/admin/groups", {"name": "Sales"}).status_code == 400
    everyone = next(group for group in groups.list_groups(site.workspace.metadata) if group.builtin)
    builtin = admin.post_form(f"/admin/groups/{everyone.id}/members/{site.user_ids[Role.VIEWER]}/remove")
    assert builtin.status_code == 400 and "every user belongs to it" in builtin.text
    admin.post_form(f"/admin/groups/{sales.id}/delete")
    assert "Sales" not in admin.get("/admin/groups").text


def test_shared_folders_are_granted_to_groups(site: AccountsApp) -> None:
    metadata = site.workspace.metadata
    admin = site.client(Role.ADMIN)
    sales = groups.create_group(metadata, "Sales", actor="test")
    page = admin.post_form("/admin/folders", {"name": "Pipeline"})
    assert "Folder: Pipeline" in page.text
    pipeline = next(folder for folder in folders.list_folders(metadata, FolderKind.SHARED) if folder.name == "Pipeline")
    admin.post_form(f"/admin/folders/{pipeline.id}/grants", {"group_id": sales.id, "access": "view"})
    assert [(grant.group_id, grant.access) for grant in folders.get_folder(metadata, pipeline.id).grants] == [
        (sales.id, Access.VIEW)
    ]
    listing = admin.get("/admin/folders").text
    assert re.search(r"Pipeline</a></td>\s*<td>Sales</td>", listing)
    admin.post_form(f"/admin/folders/{pipeline.id}/grants", {"group_id": sales.id, "access": "none"})
    assert folders.get_folder(metadata, pipeline.id).grants == []
    invalid = admin.post_form(f"/admin/folders/{pipeline.id}/grants", {"group_id": sales.id, "access": "own"})
    assert invalid.status_code == 422
    admin.post_form(f"/admin/folders/{pipeline.id}/rename", {"name": "Deals"})
    assert folders.get_folder(metadata, pipeline.id).name == "Deals"


def test_the_audit_log_page_lists_changes_newest_first_and_filters(site: AccountsApp) -> None:
    admin = site.client(Role.ADMIN)
    admin.post_form("/admin/groups", {"name": "Sales"})
    page = admin.get("/admin/audit").text
    listed = re.findall(r"<code>([a-z_.]+)</code>", page)
    assert listed[0] == "group.create" and "sign_in" in listed and listed.count("user.create") == 3
    assert EMAILS[Role.ADMIN] in page and audit.COMMAND_LINE in page
    filtered = re.findall(r"<code>([a-z_.]+)</code>", admin.get("/admin/audit?action=user").text)
    assert filtered == ["user.create"] * 3
