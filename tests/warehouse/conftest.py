"""The warehouse suite runs on every engine, the ClickHouse server transport included."""

from __future__ import annotations

import pytest

from tests.conftest import ENGINES


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
