"""Users, groups, folders, keys and the audit log in the metadata database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit, folders, groups, keys, users
from sextant.auth.errors import AccountError, NotFound
from sextant.auth.permissions import AuthenticatedBy, can_edit, can_view
from sextant.metadata import database
from sextant.metadata.models import Access, ApiKey, FolderKind, KeyKind, Role
from tests.auth.conftest import BACKENDS

PASSWORD = "correct horse battery"


def actions(metadata: sessionmaker[Session]) -> list[str]:
    return [entry.action for entry in reversed(audit.entries(metadata, limit=1000))]


@BACKENDS
def test_a_new_user_is_a_viewer_with_a_personal_folder_in_all_users(metadata: sessionmaker[Session]) -> None:
    ada = users.create_user(metadata, " Ada@Example.com ", PASSWORD, actor=audit.COMMAND_LINE, name="Ada")
    assert (ada.email, ada.role, ada.active, ada.name) == ("ada@example.com", Role.VIEWER, True, "Ada")
    assert ada.password_hash.startswith("$argon2id$") and PASSWORD not in ada.password_hash
    own = folders.personal_folder(metadata, ada.id)
    assert own.kind is FolderKind.PERSONAL and own.owner_id == ada.id
    everyone = next(group for group in groups.list_groups(metadata) if group.builtin)
    assert everyone.name == "All Users" and everyone.members == 1
    who = users.principal_for(metadata, ada, AuthenticatedBy.SESSION)
    shared = next(folder for folder in folders.list_folders(metadata, FolderKind.SHARED) if folder.name == "Shared")
    assert can_view(who, shared) and not can_edit(who, shared)  # a Viewer sees the Shared folder, edits nothing
    assert {folder.name for folder in folders.visible_folders(metadata, who)} == {"Ada's folder", "Shared"}
    with pytest.raises(AccountError, match="already a user"):
        users.create_user(metadata, "ada@example.com", PASSWORD, actor=audit.COMMAND_LINE)
    with pytest.raises(AccountError, match="10 characters"):
        users.create_user(metadata, "bob@example.com", "short", actor=audit.COMMAND_LINE)
    with pytest.raises(AccountError, match="not an email"):
        users.create_user(metadata, "bob", PASSWORD, actor=audit.COMMAND_LINE)
    assert actions(metadata) == ["user.create"]


@BACKENDS
def test_sign_in_roles_deactivation_and_password_resets(metadata: sessionmaker[Session]) -> None:
    admin = users.create_user(metadata, "root@example.com", PASSWORD, actor=audit.COMMAND_LINE, role=Role.ADMIN)
    ada = users.create_user(metadata, "ada@example.com", PASSWORD, actor=audit.COMMAND_LINE)
    assert users.authenticate(metadata, "ADA@example.com", PASSWORD, address="10.0.0.1") is not None
    assert users.get_user(metadata, ada.id).last_sign_in is not None
    assert users.authenticate(metadata, "ada@example.com", "wrong password", address="10.0.0.1") is None
    assert users.authenticate(metadata, "nobody@example.com", PASSWORD, address="10.0.0.1") is None

    assert users.set_role(metadata, ada.id, Role.CREATOR, actor="test").role is Role.CREATOR
    with pytest.raises(AccountError, match="last admin"):
        users.set_role(metadata, admin.id, Role.VIEWER, actor="test")
    with pytest.raises(AccountError, match="last admin"):
        users.set_active(metadata, admin.id, False, actor="test")

    deactivated = users.set_active(metadata, ada.id, False, actor="test")
    assert deactivated.session_epoch == ada.session_epoch + 1
    assert users.authenticate(metadata, "ada@example.com", PASSWORD, address="10.0.0.1") is None
    users.set_active(metadata, ada.id, True, actor="test")
    reset = users.reset_password(metadata, ada.id, "a brand new password", actor="test")
    assert reset.session_epoch == ada.session_epoch + 3  # deactivated, reactivated, reset: each ends sessions
    assert users.authenticate(metadata, "ada@example.com", PASSWORD, address="10.0.0.1") is None
    assert users.authenticate(metadata, "ada@example.com", "a brand new password", address="10.0.0.1") is not None
    with pytest.raises(NotFound):
        users.set_role(metadata, 999, Role.ADMIN, actor="test")

    failed = [entry for entry in audit.entries(metadata, action="sign_in.failed")]
    assert {entry.detail["reason"] for entry in failed} == {"wrong password", "unknown email", "deactivated"}
    assert all(entry.detail["address"] == "10.0.0.1" for entry in failed)
    assert actions(metadata) == [
        "user.create",
        "user.create",
        "sign_in",
        "sign_in.failed",
        "sign_in.failed",
        "user.role",
        "user.deactivate",
        "sign_in.failed",
        "user.activate",
        "user.password_reset",
        "sign_in.failed",
        "sign_in",
    ]
    role_change = audit.entries(metadata, action="user.role")[0]
    assert role_change.detail == {"email": "ada@example.com", "old": "viewer", "new": "creator"}
    assert role_change.actor == "test" and role_change.target == f"user:{ada.id}"


@BACKENDS
def test_groups_and_folder_grants_decide_who_sees_a_shared_folder(metadata: sessionmaker[Session]) -> None:
    ada = users.create_user(metadata, "ada@example.com", PASSWORD, actor="test", role=Role.CREATOR)
    bob = users.create_user(metadata, "bob@example.com", PASSWORD, actor="test", role=Role.CREATOR)
    sales = groups.create_group(metadata, "Sales", actor="test")
    with pytest.raises(AccountError, match="already a group"):
        groups.create_group(metadata, "Sales", actor="test")
    groups.add_member(metadata, sales.id, ada.id, actor="test")
    groups.add_member(metadata, sales.id, ada.id, actor="test")  # twice is once
    assert [member.email for member in groups.members(metadata, sales.id)] == ["ada@example.com"]
    everyone = next(group for group in groups.list_groups(metadata) if group.builtin)
    with pytest.raises(AccountError, match="built in"):
        groups.remove_member(metadata, everyone.id, ada.id, actor="test")

    pipeline = folders.create_shared_folder(metadata, "Pipeline", actor="test")
    folders.set_grant(metadata, pipeline.id, sales.id, Access.VIEW, actor="test")

    def rights(user_id: int) -> tuple[bool, bool]:
        who = users.principal_for(metadata, users.get_user(metadata, user_id), AuthenticatedBy.SESSION)
        folder = folders.get_folder(metadata, pipeline.id)
        return can_view(who, folder), can_edit(who, folder)

    assert rights(ada.id) == (True, False) and rights(bob.id) == (False, False)
    folders.set_grant(metadata, pipeline.id, sales.id, Access.EDIT, actor="test")
    assert rights(ada.id) == (True, True)
    groups.remove_member(metadata, sales.id, ada.id, actor="test")
    assert rights(ada.id) == (False, False)
    groups.add_member(metadata, sales.id, bob.id, actor="test")
    assert rights(bob.id) == (True, True)
    groups.delete_group(metadata, sales.id, actor="test")  # its grants go with it
    assert rights(bob.id) == (False, False) and folders.get_folder(metadata, pipeline.id).grants == []
    with pytest.raises(AccountError, match="personal folders"):
        folders.set_grant(metadata, folders.personal_folder(metadata, ada.id).id, everyone.id, Access.VIEW, actor="t")

    grant = audit.entries(metadata, action="folder.grant")
    assert [(entry.detail["old"], entry.detail["new"]) for entry in reversed(grant)] == [
        (None, "view"),
        ("view", "edit"),
    ]
    assert {entry.action for entry in audit.entries(metadata, action="group")} == {
        "group.create",
        "group.add_member",
        "group.remove_member",
        "group.delete",
    }


@BACKENDS
def test_personal_keys_belong_to_users_and_key_changes_are_audited(metadata: sessionmaker[Session]) -> None:
    ada = users.create_user(metadata, "ada@example.com", PASSWORD, actor="test")
    mine = keys.create_key(metadata, KeyKind.PERSONAL, "laptop", user_id=ada.id, actor="test")
    keys.create_key(metadata, KeyKind.INGEST, "web", actor="test")
    assert [key.name for key in keys.list_keys(metadata, user_id=ada.id)] == ["laptop"]
    owner = keys.KeyChecker(metadata).lookup(mine.secret)
    assert owner is not None and owner.user_id == ada.id and owner.kind is KeyKind.PERSONAL
    keys.revoke_key(metadata, mine.id, actor="test")
    assert keys.KeyChecker(metadata).lookup(mine.secret) is None
    assert actions(metadata)[-3:] == ["key.create", "key.create", "key.revoke"]


@BACKENDS
def test_the_migration_keeps_old_keys_and_goes_down_and_up_again(metadata_url: str) -> None:
    config = database.alembic_config(metadata_url)
    command.upgrade(config, "0002")
    engine = sa.create_engine(metadata_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO api_keys (kind, name, prefix, secret_hash, created_at) "
                "VALUES ('PERSONAL', 'old', 'sx_personal_abcd', 'h1', :now)"
            ),
            {"now": dt.datetime.now(dt.UTC)},
        )
    command.upgrade(config, "head")
    sessions = database.connect(metadata_url)
    with sessions() as session:
        old = session.scalars(sa.select(ApiKey)).one()
        assert old.name == "old" and old.user_id is None
    # Rows made after the migration's own rows get fresh ids (PostgreSQL's sequences were moved on).
    created = folders.create_shared_folder(sessions, "Next", actor="test")
    assert created.id > 1 and groups.create_group(sessions, "Next", actor="test").id > 1
    sessions.kw["bind"].dispose()
    command.downgrade(config, "0002")
    assert "users" not in sa.inspect(engine).get_table_names()
    assert "user_id" not in {column["name"] for column in sa.inspect(engine).get_columns("api_keys")}
    command.upgrade(config, "head")
    assert {"users", "groups", "group_members", "folders", "folder_grants", "audit_log"} <= set(
        sa.inspect(engine).get_table_names()
    )
    engine.dispose()
