"""`sextant users ...`, the users that `sextant init` makes, and `sextant keys create --user`."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from sextant.auth import audit, users
from sextant.cli import app
from sextant.cli.key_commands import metadata_sessions
from sextant.metadata.models import Role

runner = CliRunner()


def init(tmp_path: Path) -> tuple[str, str]:
    """A new project; returns its directory and the admin password that init printed."""
    project = str(tmp_path / "p")
    result = runner.invoke(app, ["init", project, "--admin-email", "Boss@Example.com"])
    assert result.exit_code == 0, result.output
    match = re.search(r"Admin user: boss@example\.com, password \(shown once\): (\S+)", result.output)
    assert match, result.output
    return project, match.group(1)


def test_init_creates_an_admin_who_can_sign_in(tmp_path: Path) -> None:
    project, password = init(tmp_path)
    sessions = metadata_sessions(Path(project))
    admin = users.authenticate(sessions, "boss@example.com", password, address="cli-test")
    assert admin is not None and admin.role is Role.ADMIN
    assert runner.invoke(app, ["init", str(tmp_path / "q"), "--admin-email", "nope"]).exit_code != 0
    assert not (tmp_path / "q").exists()  # the bad email was refused before anything was written


def test_users_create_list_and_set_role(tmp_path: Path) -> None:
    project, _ = init(tmp_path)
    generated = runner.invoke(app, ["users", "create", "ada@example.com", "--name", "Ada", "-p", project])
    assert generated.exit_code == 0, generated.output
    assert "Created viewer ada@example.com" in generated.output  # Viewer unless told otherwise
    password = re.search(r"Password \(shown once\): (\S+)", generated.output)
    assert password is not None
    sessions = metadata_sessions(Path(project))
    assert users.authenticate(sessions, "ada@example.com", password.group(1), address="cli-test") is not None

    chosen = runner.invoke(
        app, ["users", "create", "cal@example.com", "--role", "creator", "--password", "cals password", "-p", project]
    )
    assert chosen.exit_code == 0 and "Password" not in chosen.output
    assert runner.invoke(app, ["users", "create", "cal@example.com", "--password", "x" * 12, "-p", project]).exit_code
    assert runner.invoke(app, ["users", "create", "short@example.com", "--password", "short", "-p", project]).exit_code

    assert runner.invoke(app, ["users", "set-role", "ada@example.com", "creator", "-p", project]).exit_code == 0
    assert users.find_user(sessions, "ada@example.com").role is Role.CREATOR  # type: ignore[union-attr]
    assert runner.invoke(app, ["users", "set-role", "nobody@example.com", "admin", "-p", project]).exit_code != 0
    listed = runner.invoke(app, ["users", "list", "-p", project], env={"COLUMNS": "200"})
    assert re.search(r"ada@example\.com\s*│\s*Ada\s*│\s*creator\s*│\s*active\s*│\s*\d{4}-\d\d-\d\d", listed.output)
    assert re.search(r"boss@example\.com.*admin", listed.output)
    assert [entry.actor for entry in audit.entries(sessions, action="user.role")] == [audit.COMMAND_LINE]


def test_a_personal_key_can_be_made_for_a_user(tmp_path: Path) -> None:
    from sextant.auth.keys import list_keys

    project, _ = init(tmp_path)
    made = runner.invoke(
        app, ["keys", "create", "notebook", "--kind", "personal", "--user", "boss@example.com", "-p", project]
    )
    assert made.exit_code == 0 and "sx_personal_" in made.output
    sessions = metadata_sessions(Path(project))
    (key,) = [key for key in list_keys(sessions) if key.name == "notebook"]
    assert key.user_id == users.find_user(sessions, "boss@example.com").id  # type: ignore[union-attr]
    unknown = runner.invoke(app, ["keys", "create", "x", "--kind", "personal", "--user", "who@x.io", "-p", project])
    assert unknown.exit_code != 0
