"""The server refuses a non-loopback address without a long enough secret key (sessions are signed with it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sextant.errors import ConfigError
from sextant.project import Project
from sextant.server import check_secret_key, serve


def project_with_key(tmp_path: Path, key: str | None) -> Project:
    project = Project.create(tmp_path / "p", name="p")
    return project.save(project.config.model_copy(update={"secret_key": key}))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_runs_without_a_key(tmp_path: Path, host: str) -> None:
    check_secret_key(project_with_key(tmp_path, None), host)


@pytest.mark.parametrize(("key", "problem"), [(None, "without a secret key"), ("short", "of 5 characters")])
def test_other_addresses_need_a_long_key_and_the_error_says_how_to_make_one(
    tmp_path: Path, key: str | None, problem: str
) -> None:
    project = project_with_key(tmp_path, key)
    with pytest.raises(ConfigError) as refused:
        check_secret_key(project, "0.0.0.0")
    message = refused.value.message
    assert problem in message and "sextant.yaml" in message and "openssl rand -hex 32" in message
    # `sextant serve` stops before it opens anything.
    with pytest.raises(ConfigError, match=r"refusing to listen on 192\.0\.2\.7"):
        serve(str(project.directory), host="192.0.2.7", port=1)


def test_the_generated_key_is_enough(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", name="p")
    check_secret_key(project, "0.0.0.0")
