"""Test helpers for anything behind sign-in: a project with one user per role, the real app, and
TestClients that are signed in (with the CSRF token at hand for posts).

    def test_something(site: AccountsApp) -> None:
        viewer = site.client(Role.VIEWER)
        assert viewer.get("/admin/users").status_code == 403
        site.client(Role.ADMIN).post_form("/admin/groups", {"name": "Sales"})
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant.auth import audit, users
from sextant.metadata.models import Role
from sextant.web.app import create_app
from sextant.workspace import Workspace

PASSWORD = "correct horse battery staple"
EMAILS = {role: f"{role.value}@example.com" for role in Role}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Browser(TestClient):
    """A TestClient that keeps its session's CSRF token and sends it with every post."""

    csrf: str = ""

    def sign_in(self, email: str, password: str = PASSWORD) -> Browser:
        page = self.get("/sign-in")
        response = self.post(
            "/sign-in",
            data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        self.csrf = csrf_from(self.get("/account").text)
        return self

    def post_form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


@dataclass
class AccountsApp:
    workspace: Workspace
    app: FastAPI
    user_ids: dict[Role, int]

    def client(self, role: Role | None = None, **kwargs: Any) -> Browser:
        """A new client with its own cookies, signed in as the user of `role` (anonymous for None)."""
        browser = Browser(self.app, **kwargs)
        return browser.sign_in(EMAILS[role]) if role else browser

    def add_user(self, email: str, role: Role = Role.VIEWER, password: str = PASSWORD) -> int:
        return users.create_user(self.workspace.metadata, email, password, actor=audit.COMMAND_LINE, role=role).id


@contextmanager
def accounts_app(tmp_path: Path) -> Iterator[AccountsApp]:
    workspace, _ = Workspace.initialize(tmp_path / "project", name="acme")
    ids = {
        role: users.create_user(workspace.metadata, EMAILS[role], PASSWORD, actor=audit.COMMAND_LINE, role=role).id
        for role in Role
    }
    site = AccountsApp(workspace, create_app(workspace), ids)
    # One client runs the app's lifespan (the ingestion pipeline) for all the others.
    try:
        with TestClient(site.app):
            yield site
    finally:
        workspace.close()
