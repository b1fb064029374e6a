"""The metadata database fixtures of the accounts tests (SQLite, and a fresh PostgreSQL database per test),
plus one user per role and their principals."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit, folders, users
from sextant.auth.permissions import AuthenticatedBy, Principal
from sextant.metadata.models import Role
from tests.auth.conftest import BACKENDS, metadata, metadata_url, postgres_reason

__all__ = ["BACKENDS", "metadata", "metadata_url", "postgres_reason"]


@pytest.fixture
def people(metadata: sessionmaker[Session]) -> dict[Role, Principal]:
    made = {}
    for role in Role:
        user = users.create_user(
            metadata, f"{role.value}@example.com", "a long enough password", actor=audit.COMMAND_LINE, role=role
        )
        made[role] = users.principal_for(metadata, user, AuthenticatedBy.SESSION)
    return made


def personal_folder_id(metadata: sessionmaker[Session], person: Principal) -> int:
    assert person.user_id is not None
    return folders.personal_folder(metadata, person.user_id).id
