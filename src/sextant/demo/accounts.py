"""The demo's people: an admin, a Creator and a Viewer of Lodestar, so each role can be tried in the browser.
Each run of `sextant demo` gives them fresh passwords, printed once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit, users
from sextant.auth.passwords import generate_password
from sextant.metadata.models import Role

DEMO_USERS = (
    ("admin@lodestar.example", "Ada Admin", Role.ADMIN),
    ("creator@lodestar.example", "Cal Creator", Role.CREATOR),
    ("viewer@lodestar.example", "Vic Viewer", Role.VIEWER),
)


@dataclass(frozen=True)
class DemoAccount:
    id: int
    email: str
    role: Role
    password: str


def ensure_demo_users(metadata: sessionmaker[Session]) -> list[DemoAccount]:
    """Create the demo users, or give the existing ones new passwords."""
    accounts = []
    for email, name, role in DEMO_USERS:
        password = generate_password()
        existing = users.find_user(metadata, email)
        if existing is None:
            user = users.create_user(metadata, email, password, actor=audit.COMMAND_LINE, name=name, role=role)
        else:
            user = users.reset_password(metadata, existing.id, password, actor=audit.COMMAND_LINE)
        accounts.append(DemoAccount(user.id, user.email, user.role, password))
    return accounts
