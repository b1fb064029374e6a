"""What is particular to the ClickHouse engines: the session settings both transports keep, and how the server
transport (over HTTP, to the chDB-backed stand-in of tests/clickhouse_http.py) opens its warehouse."""

from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path

import pyarrow as pa
import pytest

from sextant.errors import WarehouseError
from sextant.warehouse.clickhouse_engine import SESSION_SETTINGS
from sextant.warehouse.engine import connect
from tests import clickhouse_http
from tests.conftest import warehouse_url


@pytest.mark.parametrize("engine_name", ["chdb", "clickhouse"])
def test_both_transports_keep_the_session_settings(tmp_path: Path, engine_name: str) -> None:
    engine = connect(warehouse_url(engine_name, tmp_path))
    for cursor in (engine, engine.cursor()):
        for name, value in SESSION_SETTINGS.items():
            query = f"SELECT toInt64(getSetting('{name}')) AS value"
            assert cursor.execute(query).to_pylist() == [{"value": value}], name
    engine.close()


def _with_credentials(url: str, user: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    quoted = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
    return parts._replace(netloc=f"{quoted}@{parts.hostname}:{parts.port}").geturl()


def test_credentials_in_the_url_reach_the_server(tmp_path: Path) -> None:
    url = clickhouse_http.database_url(tmp_path)
    user, password = "sextant", clickhouse_http.USERS["sextant"]
    engine = connect(_with_credentials(url, user, password))
    assert engine.execute("SELECT currentDatabase() AS name").to_pylist() == [{"name": url.rsplit("/", 1)[1]}]
    engine.close()
    with pytest.raises(WarehouseError, match=r"AUTHENTICATION_FAILED.*user and password in the warehouse URL"):
        connect(_with_credentials(url, user, password + "?"))


def test_a_missing_database_or_server_is_a_warehouse_error(tmp_path: Path) -> None:
    url = clickhouse_http.database_url(tmp_path)
    with pytest.raises(
        WarehouseError, match=r"cannot open the ClickHouse warehouse no_such_database .*UNKNOWN_DATABASE"
    ):
        connect(url.rsplit("/", 1)[0] + "/no_such_database")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WarehouseError, match=f"cannot open the ClickHouse warehouse sextant at 127.0.0.1:{port}"):
        connect(f"clickhouse://127.0.0.1:{port}/sextant")


def test_cursors_of_a_server_engine_reuse_the_connections_of_closed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a connection costs round trips, and a question takes a cursor for each of its queries."""
    import clickhouse_connect

    opened: list[object] = []
    get_client = clickhouse_connect.get_client

    def counted(**settings: object) -> object:
        opened.append(get_client(**settings))
        return opened[-1]

    monkeypatch.setattr(clickhouse_connect, "get_client", counted)
    engine = connect(warehouse_url("clickhouse", tmp_path))
    two_at_once = [engine.cursor(), engine.cursor()]
    for number, cursor in enumerate(two_at_once):
        assert cursor.execute(f"SELECT {number} AS n").to_pylist() == [{"n": number}]
        cursor.close()
    for number in range(10):
        cursor = engine.cursor()
        incoming = pa.table({"n": [number]})
        assert cursor.execute("SELECT n FROM incoming", tables={"incoming": incoming}).to_pylist() == [{"n": number}]
        cursor.close()
    assert len(opened) == 3  # the engine's own and the two cursors' that were open at once
    engine.close()
