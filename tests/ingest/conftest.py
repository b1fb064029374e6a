"""What writes to the warehouse (the store, the importer, the writer thread) runs on every engine, the ClickHouse
server transport included; the rest of the ingest suite (identity rules, vendor formats) runs on the engines in
process, as the big suites do, to keep CI short."""

from __future__ import annotations

import pytest

from tests.conftest import ENGINES, IN_PROCESS_ENGINES

ON_EVERY_ENGINE = {"test_store", "test_importer", "test_compaction"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        module = metafunc.module.__name__.rpartition(".")[2]
        engines = ENGINES if module in ON_EVERY_ENGINE else IN_PROCESS_ENGINES
        metafunc.parametrize("engine_name", engines, indirect=True)


@pytest.fixture
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
