"""The README's two fresh-machine commands are the ones CI and users run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert command in (ROOT / "README.md").read_text()


def test_the_readme_gives_the_demo_command() -> None:
    assert (
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/sextant demo" in (ROOT / "README.md").read_text()
    )


def test_docs_links_in_the_readme_exist() -> None:
    import re

    for link in re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text()):
        assert (ROOT / link).exists(), link
