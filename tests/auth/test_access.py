"""Access filters of groups in the metadata database, on SQLite and PostgreSQL: what a user's principal
carries, how the filters of several groups combine, the audit log, and the migration that adds them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import access, audit, groups, users
from sextant.auth.errors import AccountError, NotFound
from sextant.auth.permissions import AuthenticatedBy
from sextant.insights.spec import PropertyFilter
from sextant.metadata import database
from sextant.metadata.models import AccessFilter, Role
from tests.auth.conftest import BACKENDS

PASSWORD = "correct horse battery"
TEAM = PropertyFilter(type="person", key="plan", value="team")
EUROPE = PropertyFilter(type="person", key="region", operator="in", value=["eu", "uk"])


def filters_of(metadata: sessionmaker[Session], user_id: int) -> tuple[object, ...]:
    return users.principal_for(metadata, users.get_user(metadata, user_id), AuthenticatedBy.SESSION).access_filters


@BACKENDS
def test_a_users_filters_are_all_of_its_groups_filters(metadata: sessionmaker[Session]) -> None:
    ada = users.create_user(metadata, "ada@example.com", PASSWORD, actor="test", role=Role.ADMIN).id
    bob = users.create_user(metadata, "bob@example.com", PASSWORD, actor="test").id
    customers = groups.create_group(metadata, "Team customers", actor="test").id
    europe = groups.create_group(metadata, "Europe", actor="test").id
    access.add_group_filter(metadata, customers, TEAM, actor="test")
    access.add_group_filter(metadata, europe, EUROPE, actor="test")
    assert filters_of(metadata, ada) == () and filters_of(metadata, bob) == ()

    groups.add_member(metadata, customers, ada, actor="test")  # Admins are restricted like anyone else
    groups.add_member(metadata, customers, bob, actor="test")
    groups.add_member(metadata, europe, bob, actor="test")
    assert filters_of(metadata, ada) == (TEAM,)
    assert filters_of(metadata, bob) == (TEAM, EUROPE)

    groups.remove_member(metadata, customers, bob, actor="test")
    assert filters_of(metadata, bob) == (EUROPE,)
    (row,) = access.group_filters(metadata, europe)
    access.remove_group_filter(metadata, europe, row.id, actor="test")
    assert filters_of(metadata, bob) == ()
    with pytest.raises(NotFound, match="no access filter"):
        access.remove_group_filter(metadata, customers, row.id, actor="test")
    with pytest.raises(AccountError, match="built in"):
        access.add_group_filter(metadata, 1, TEAM, actor="test")  # All Users

    groups.delete_group(metadata, customers, actor="test")
    assert filters_of(metadata, ada) == ()
    with metadata() as session:
        assert session.scalars(sa.select(AccessFilter)).all() == []
    logged = [(entry.action, entry.detail.get("filter")) for entry in audit.entries(metadata, action="group")][::-1]
    assert [action for action, _ in logged if "access_filter" in action] == [
        "group.add_access_filter",
        "group.add_access_filter",
        "group.remove_access_filter",
    ]
    assert ("group.add_access_filter", {"type": "person", "key": "plan", "operator": "eq", "value": "team"}) in logged


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        (("person", " plan ", "eq", " team "), {"type": "person", "key": "plan", "operator": "eq", "value": "team"}),
        (
            ("event", "lang", "in", "go, rust,"),
            {"type": "event", "key": "lang", "operator": "in", "value": ["go", "rust"]},
        ),
        (("person", "email", "is_set", "ignored"), {"type": "person", "key": "email", "operator": "is_set"}),
        (("person", "seats", "gt", "10"), {"type": "person", "key": "seats", "operator": "gt", "value": "10"}),
    ],
)
def test_a_filter_from_the_forms_fields(fields: tuple[str, str, str, str], stored: dict[str, object]) -> None:
    assert access.property_filter(*fields).model_dump(exclude_none=True) == stored


def test_a_filter_of_a_group_property_needs_its_group_type() -> None:
    with pytest.raises(AccountError, match="group_type"):
        access.property_filter("group", "tier", "eq", "gold")
    made = access.property_filter("group", "tier", "eq", "gold", " account ")
    assert made.group_type == "account"


@BACKENDS
def test_the_migration_adds_the_table_and_goes_down_and_up_again(metadata_url: str) -> None:
    config = database.alembic_config(metadata_url)
    command.upgrade(config, "0004")
    engine = sa.create_engine(metadata_url)
    assert "access_filters" not in sa.inspect(engine).get_table_names()
    command.upgrade(config, "head")
    sessions = database.connect(metadata_url)
    group = groups.create_group(sessions, "Team customers", actor="test").id
    access.add_group_filter(sessions, group, TEAM, actor="test")
    assert [row.filter for row in access.group_filters(sessions, group)] == [TEAM]
    sessions.kw["bind"].dispose()
    command.downgrade(config, "0004")
    assert "access_filters" not in sa.inspect(engine).get_table_names()
    command.upgrade(config, "head")
    assert {column["name"] for column in sa.inspect(engine).get_columns("access_filters")} == {
        "id",
        "group_id",
        "filter",
        "created_at",
    }
    engine.dispose()
