"""The demo's admin, Creator and Viewer: created once, given fresh passwords on every run."""

from __future__ import annotations

from pathlib import Path

from sextant.auth import users
from sextant.demo.accounts import ensure_demo_users
from sextant.metadata import database
from sextant.metadata.models import Role


def test_demo_users_exist_once_with_each_role_and_new_passwords_each_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    database.upgrade(url)
    metadata = database.connect(url)
    first = ensure_demo_users(metadata)
    assert [account.role for account in first] == [Role.ADMIN, Role.CREATOR, Role.VIEWER]
    second = ensure_demo_users(metadata)
    assert [account.id for account in second] == [account.id for account in first]
    assert len(users.list_users(metadata)) == 3
    for old, new in zip(first, second, strict=True):
        assert old.password != new.password
        assert users.authenticate(metadata, new.email, old.password, address="test") is None
        assert users.authenticate(metadata, new.email, new.password, address="test") is not None
    metadata.kw["bind"].dispose()
