"""Fixtures for accounts: a metadata database on SQLite and on the local PostgreSQL service (a database of
its own per test, dropped afterwards), and a web app with one signed-in client per role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from sextant.metadata import database
from tests.auth.accounts import AccountsApp, accounts_app

POSTGRES_URL = os.environ.get("SEXTANT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # any failure to connect means: no PostgreSQL service here
        return f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(error).__name__}); set SEXTANT_TEST_POSTGRES_URL"
    return None


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_reason()


@pytest.fixture
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_reason: str | None) -> Iterator[str]:
    """An empty metadata database: SQLite in a temporary file, or a fresh PostgreSQL database."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
        return
    if postgres_reason:
        pytest.skip(postgres_reason)
    name = f"sextant_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def metadata(metadata_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated metadata database (see `metadata_url`; parametrize it indirectly for PostgreSQL)."""
    database.upgrade(metadata_url)
    sessions = database.connect(metadata_url)
    yield sessions
    sessions.kw["bind"].dispose()


BACKENDS = pytest.mark.parametrize("metadata_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AccountsApp]:
    with accounts_app(tmp_path) as opened:
        yield opened
