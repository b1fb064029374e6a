"""The API keys page: personal keys act as their user through the API; admins manage ingest keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sextant.auth import keys, users
from sextant.metadata.models import KeyKind, Role
from tests.auth.accounts import AccountsApp, accounts_app


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AccountsApp]:
    with accounts_app(tmp_path) as opened:
        yield opened


def created_key(html: str) -> str:
    match = re.search(r'<code class="copy">([^<]+)</code>', html)
    assert match, "no key on the page"
    return match.group(1)


def test_a_personal_key_reads_the_api_as_its_user(site: AccountsApp) -> None:
    viewer = site.client(Role.VIEWER)
    page = viewer.post_form("/keys", {"name": "notebook"})
    secret = created_key(page.text)
    assert secret.startswith("sx_personal_") and secret not in viewer.get("/keys").text
    api = site.client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/catalog", headers=bearer).status_code == 200
    refused = api.post("/api/v1/query", json={"kind": "funnel"}, headers=bearer)
    assert refused.status_code == 403 and "viewer" in refused.json()["message"]  # Viewers run no ad-hoc queries
    users.set_role(site.workspace.metadata, site.user_ids[Role.VIEWER], Role.CREATOR, actor="test")
    assert api.post("/api/v1/query", json={"kind": "funnel"}, headers=bearer).status_code == 400  # allowed, bad spec
    users.set_active(site.workspace.metadata, site.user_ids[Role.VIEWER], False, actor="test")
    gone = api.get("/api/v1/catalog", headers=bearer)
    assert gone.status_code == 401 and "deactivated" in gone.json()["message"]


def test_revoking_a_key_stops_it_at_once(site: AccountsApp) -> None:
    creator = site.client(Role.CREATOR)
    secret = created_key(creator.post_form("/keys", {"name": "laptop"}).text)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert site.client().get("/api/v1/catalog", headers=bearer).status_code == 200
    (key,) = keys.list_keys(site.workspace.metadata, user_id=site.user_ids[Role.CREATOR])
    revoked = creator.post_form(f"/keys/{key.id}/revoke")
    assert revoked.status_code == 200 and "Revoked the key laptop" in revoked.text
    assert site.client().get("/api/v1/catalog", headers=bearer).status_code == 401


def test_only_admins_revoke_other_peoples_keys_and_make_ingest_keys(site: AccountsApp) -> None:
    admin, viewer = site.client(Role.ADMIN), site.client(Role.VIEWER)
    admin_key = keys.create_key(site.workspace.metadata, KeyKind.PERSONAL, "admin's", user_id=site.user_ids[Role.ADMIN])
    assert viewer.post_form(f"/keys/{admin_key.id}/revoke").status_code == 403
    assert viewer.post_form("/admin/keys", {"name": "sneaky"}).status_code == 403
    assert "All keys" not in viewer.get("/keys").text

    page = admin.post_form("/admin/keys", {"name": "web app"})
    ingest = created_key(page.text)
    assert ingest.startswith("sx_ingest_")
    assert "All keys" in admin.get("/keys").text and "admin@example.com" in admin.get("/keys").text
    sent = site.client().post(
        "/api/v1/batch",
        json=[{"event": "Signed Up", "distinct_id": "u1"}],
        headers={"Authorization": f"Bearer {ingest}"},
    )
    assert sent.status_code == 200
    assert site.client().get("/api/v1/catalog", headers={"Authorization": f"Bearer {ingest}"}).status_code == 401
    assert admin.post_form(f"/keys/{admin_key.id}/revoke").status_code == 200
    viewer_key = keys.create_key(site.workspace.metadata, KeyKind.PERSONAL, "v", user_id=site.user_ids[Role.VIEWER])
    assert admin.post_form(f"/keys/{viewer_key.id}/revoke").status_code == 200
    assert all(key.revoked_at for key in keys.list_keys(site.workspace.metadata) if key.kind is KeyKind.PERSONAL)


def test_keys_made_before_users_act_as_a_creator_and_the_local_token_as_an_admin(site: AccountsApp) -> None:
    old = keys.create_key(site.workspace.metadata, KeyKind.PERSONAL, "from before users").secret
    api = site.client()
    assert api.post("/api/v1/query", json={}, headers={"Authorization": f"Bearer {old}"}).status_code == 400
    assert api.get("/admin/users", headers={"Authorization": f"Bearer {old}"}).status_code == 403
    local = site.app.state.sextant.local_token
    assert api.get("/admin/users", headers={"Authorization": f"Bearer {local}"}).status_code == 200
