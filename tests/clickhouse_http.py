"""A stand-in ClickHouse server for the tests: the part of ClickHouse's HTTP interface that clickhouse-connect
uses, answered by chDB (ClickHouse's own engine) in a subprocess, so that the `clickhouse://` engine talks
real HTTP to something where no ClickHouse server can be installed.

Run as `python tests/clickhouse_http.py DIRECTORY USERS_JSON`: it prints its port, and stops when its stdin closes.
"""

from __future__ import annotations

import atexit
import base64
import email.parser
import email.policy
import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Request parameters that belong to the HTTP interface; every other parameter is a setting of the query.
HTTP_PARAMETERS = {
    "query",
    "database",
    "default_format",
    "session_id",
    "session_timeout",
    "session_check",
    "query_id",
    "user",
    "password",
    "quota_key",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "stacktrace",
    "role",
    "client_protocol_version",
    "close_session",
}
# Statements that answer with a result (and may therefore be sent with GET, which ClickHouse runs read-only).
RESULT_STATEMENTS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK"}
# ClickHouse's exceptionCodeToHTTPStatus, by error name; any other error is a 500.
_ERRORS_BY_STATUS = {
    401: "REQUIRED_PASSWORD",
    403: "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED",
    400: """BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE
        CANNOT_PARSE_QUOTED_STRING CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER
        CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
        CANNOT_PARSE_IPV4 CANNOT_PARSE_IPV6 CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN
        ILLEGAL_COLUMN UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST TOO_BIG_AST
        UNEXPECTED_AST_STRUCTURE SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE""",
    404: """UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE UNKNOWN_DATABASE
        UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION UNKNOWN_FORMAT
        UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE""",
    413: "QUERY_IS_TOO_LARGE",
    501: "NOT_IMPLEMENTED",
    503: "SOCKET_TIMEOUT CANNOT_OPEN_FILE CANNOT_SCHEDULE_TASK",
    411: "HTTP_LENGTH_REQUIRED",
    408: "TIMEOUT_EXCEEDED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
STATUS_BY_ERROR = {name: status for status, names in _ERRORS_BY_STATUS.items() for name in names.split()}
CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "XML": "application/xml; charset=UTF-8",
}
BINARY_FORMATS = {"Native", "Arrow", "ArrowStream", "Parquet", "RowBinary", "RowBinaryWithNamesAndTypes", "ORC"}
# Response encodings in ClickHouse's order of preference (chooseHTTPCompressionMethod), those this stand-in has.
RESPONSE_ENCODINGS = ("zstd", "lz4", "gzip", "deflate")

_INSERT_WITH_DATA = re.compile(
    rb"\A\s*INSERT\s+INTO\s+(?:TABLE\s+)?[^\s(]+\s*(?:\([^)]*\))?\s*(?P<format>FORMAT\s+(?P<name>\w+))",
    re.IGNORECASE,
)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*\Z", re.IGNORECASE)
_LEADING_NOISE = re.compile(r"\A(?:\s+|\(|--[^\n]*\n?|/\*.*?\*/)+", re.DOTALL)


class ClickHouseError(Exception):
    """An error answered as ClickHouse does: a code, a name and a message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")
        self.code, self.name = code, name

    @classmethod
    def from_chdb(cls, error: Exception) -> ClickHouseError:
        text = str(error).strip()
        code = re.search(r"Code: (\d+)", text)
        name = re.search(r"\(([A-Z0-9_]+)\)\s*\Z", text)
        message = re.sub(r"\A.*?DB::Exception: ", "", text)
        message = re.sub(r"\.?\s*\([A-Z0-9_]+\)\s*\Z", "", message)
        return cls(int(code.group(1)) if code else 1001, name.group(1) if name else "STD_EXCEPTION", message)


@dataclass
class Request:
    method: str
    path: str
    parameters: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class ChDBServer:
    """Runs each request on one chDB connection, one at a time, with ClickHouse's per-request settings,
    current database and per-session temporary tables."""

    def __init__(self, directory: Path, users: dict[str, str]) -> None:
        import chdb

        self.directory = directory
        self.users = users  # name -> password
        self.connection = chdb.connect(str(directory / "data"))
        self.lock = threading.Lock()
        self.version = self._scalar("SELECT version()")
        self.timezone = self._scalar("SELECT timezone()")
        self.applied_settings: dict[str, str] = {}
        self.current_database = "default"
        # chDB has one session; the temporary tables of the session that ran last are live, those of the others
        # wait in a stash database until their session runs again.
        self.live_session: str | None = None
        self.connection.query("CREATE DATABASE IF NOT EXISTS _stand_in_sessions")
        self.stashed: dict[str, list[str]] = {}
        self.busy_sessions: set[str] = set()
        self.busy_lock = threading.Lock()

    def _scalar(self, sql: str) -> str:
        return bytes(self.connection.query(sql, "TabSeparated").bytes()).decode().strip()

    def answer(self, request: Request) -> Response:
        query_id = request.parameters.get("query_id") or str(uuid.uuid4())
        session = request.parameters.get("session_id")
        try:
            if request.path.rstrip("/") == "/ping":
                return Response(200, {"Content-Type": "text/html; charset=UTF-8"}, b"Ok.\n")
            if request.path != "/":
                raise ClickHouseError(
                    404, "UNKNOWN_TYPE_OF_QUERY", f"There is no handle {request.path} (the stand-in knows / and /ping)"
                )
            self._authenticate(request)
            if session:
                with self.busy_lock:
                    if session in self.busy_sessions:
                        raise ClickHouseError(
                            373, "SESSION_IS_LOCKED", f"Session {session} is locked by a concurrent client"
                        )
                    self.busy_sessions.add(session)
            try:
                return self._run(request, query_id, session)
            except ClickHouseError:
                raise
            except Exception as error:  # a fault of the stand-in itself: say so, as the server would
                raise ClickHouseError(1001, "STD_EXCEPTION", f"The chDB stand-in failed: {error!r}") from error
            finally:
                if session:
                    with self.busy_lock:
                        self.busy_sessions.discard(session)
        except ClickHouseError as error:
            body = f"{error} (version {self.version} (chDB stand-in))\n".encode()
            headers = {
                "Content-Type": "text/plain; charset=UTF-8",
                "X-ClickHouse-Exception-Code": str(error.code),
                "X-ClickHouse-Query-Id": query_id,
            }
            return Response(STATUS_BY_ERROR.get(error.name, 500), headers, body)

    def _authenticate(self, request: Request) -> None:
        user = request.parameters.get("user") or request.headers.get("x-clickhouse-user") or "default"
        password = request.parameters.get("password") or request.headers.get("x-clickhouse-key") or ""
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        if self.users.get(user) != password:
            raise ClickHouseError(
                516,
                "AUTHENTICATION_FAILED",
                f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
            )

    def _run(self, request: Request, query_id: str, session: str | None) -> Response:
        parameters = dict(request.parameters)
        body = _decoded_body(request)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parameters.update(_form_fields(request.headers["content-type"], body))
            body = b""
        for name in ("decompress", "compress"):
            if parameters.get(name, "0") not in {"0", ""}:
                raise ClickHouseError(48, "NOT_IMPLEMENTED", f"The chDB stand-in does not implement {name}=1")
        statement, data = _statement_and_data(parameters.get("query", ""), body)
        if not statement.strip():
            if request.method == "GET":
                return Response(200, {"Content-Type": "text/html; charset=UTF-8"}, b"Ok.\n")
            raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query")
        kind = _statement_kind(statement)
        if request.method == "GET" and kind not in RESULT_STATEMENTS and kind != "SET":
            raise ClickHouseError(
                164,
                "READONLY",
                "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. "
                "You should use method POST for modifying queries",
            )
        settings = {
            name: value
            for name, value in parameters.items()
            if name not in HTTP_PARAMETERS and not name.startswith("param_")
        }
        query_parameters = {name[6:]: value for name, value in parameters.items() if name.startswith("param_")}
        database = parameters.get("database") or request.headers.get("x-clickhouse-database") or "default"
        output_format = "TabSeparated"
        if kind in RESULT_STATEMENTS:
            trailing = _TRAILING_FORMAT.search(statement)
            requested = parameters.get("default_format") or request.headers.get("x-clickhouse-format")
            output_format = trailing.group(1) if trailing else (requested or "TabSeparated")
        with self.lock:
            self._enter_session(session or f"anonymous-{query_id}")
            self._apply_settings(settings)
            self._use_database(database)
            result = self._execute(statement, data, output_format, query_parameters)
        payload = bytes(result.bytes()) if kind in RESULT_STATEMENTS else b""
        summary = {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "written_rows": str(result.rows_written()),
            "written_bytes": str(result.bytes_written()),
            "total_rows_to_read": "0",
            "result_rows": str(result.rows_read() if kind in RESULT_STATEMENTS else result.rows_written()),
            "result_bytes": str(len(payload)),
            "elapsed_ns": str(int(result.elapsed() * 1e9)),
        }
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": settings.get("session_timezone") or self.timezone,
            "X-ClickHouse-Summary": json.dumps(summary, separators=(",", ":")),
            "X-ClickHouse-Server-Display-Name": "chdb-stand-in",
            "Content-Type": "text/plain; charset=UTF-8",
        }
        if kind in RESULT_STATEMENTS:
            headers["X-ClickHouse-Format"] = output_format
            headers["Content-Type"] = _content_type(output_format)
        if payload and settings.get("enable_http_compression", "0") not in {"0", ""}:
            accepted = request.headers.get("accept-encoding", "")
            encoding = next((name for name in RESPONSE_ENCODINGS if name in accepted), None)
            if encoding:
                headers["Content-Encoding"] = encoding
                payload = _compress(payload, encoding)
        return Response(200, headers, payload)

    def _execute(self, statement: str, data: bytes | None, output_format: str, parameters: dict[str, str]) -> Any:
        infile = None
        try:
            if data is not None:
                # An INSERT whose data follows in the request: ClickHouse's input format reads it, from a file.
                descriptor, infile = tempfile.mkstemp(dir=self.directory, suffix=".insert")
                with os.fdopen(descriptor, "wb") as file:
                    file.write(data)
                match = _INSERT_WITH_DATA.match(statement.encode())
                assert match is not None
                head = statement.encode()[: match.start("format")].decode()
                statement = f"{head} FROM INFILE '{infile}' FORMAT {match.group('name').decode()}"
            return self.connection.query(statement, output_format, params=parameters or None)
        except Exception as error:
            raise ClickHouseError.from_chdb(error) from None
        finally:
            if infile:
                os.unlink(infile)

    def _apply_settings(self, settings: dict[str, str]) -> None:
        """Make the connection's settings the defaults plus `settings`, as for a query of its own."""
        for name in [name for name in self.applied_settings if name not in settings]:
            self.connection.query(f"SET {_identifier(name)} = DEFAULT")
            del self.applied_settings[name]
        for name, value in settings.items():
            if self.applied_settings.get(name) != value:
                try:
                    self.connection.query(f"SET {_identifier(name)} = {_string(value)}")
                except Exception as error:
                    raise ClickHouseError.from_chdb(error) from None
                self.applied_settings[name] = value

    def _use_database(self, database: str) -> None:
        if database != self.current_database:
            try:
                self.connection.query(f"USE {_identifier(database)}")
            except Exception as error:
                raise ClickHouseError.from_chdb(error) from None
            self.current_database = database

    def _enter_session(self, session: str) -> None:
        """Swap the live temporary tables for those of `session`, so that sessions do not see each other's."""
        if session == self.live_session:
            return
        # One name per line (TabSeparated escapes a newline inside a value, so names cannot be joined by one).
        live = self._scalar("SELECT name FROM system.tables WHERE is_temporary")
        if live and self.live_session is not None:
            names = live.splitlines()
            for name in names:
                stash = _identifier(f"{_session_key(self.live_session)}_{name}")
                self.connection.query(
                    f"CREATE TABLE _stand_in_sessions.{stash} ENGINE = Memory AS SELECT * FROM {_identifier(name)}"
                )
                self.connection.query(f"DROP TEMPORARY TABLE {_identifier(name)}")
            self.stashed[self.live_session] = names
        for name in self.stashed.pop(session, []):
            stash = f"_stand_in_sessions.{_identifier(f'{_session_key(session)}_{name}')}"
            self.connection.query(
                f"CREATE TEMPORARY TABLE {_identifier(name)} ENGINE = Memory AS SELECT * FROM {stash}"
            )
            self.connection.query(f"DROP TABLE {stash}")
        self.live_session = session


def _statement_and_data(query: str, body: bytes) -> tuple[str, bytes | None]:
    """The statement, and the data of an INSERT ... FORMAT that follows it in the body (None if there is none).
    As in ClickHouse, the `query` parameter and the body are one text, joined by a line break."""
    text = (query.encode() + b"\n" + body) if query and body else (query.encode() or body)
    match = _INSERT_WITH_DATA.match(text)
    if match is None:
        return text.decode(), None
    # Data starts after the first line break that follows the format name, or after the blanks if there is none.
    rest = text[match.end() :]
    blanks = len(rest) - len(rest.lstrip())
    line_break = rest.find(b"\n", 0, blanks)
    start = match.end() + (line_break + 1 if line_break >= 0 else blanks)
    return text[: match.end()].decode(), text[start:]


def _statement_kind(statement: str) -> str:
    words = _LEADING_NOISE.sub("", statement).split(None, 1)
    return words[0].upper() if words else ""


def _content_type(output_format: str) -> str:
    if output_format in CONTENT_TYPES:
        return CONTENT_TYPES[output_format]
    if output_format in BINARY_FORMATS:
        return "application/octet-stream"
    if output_format.startswith("JSON"):
        return "application/json; charset=UTF-8"
    return "text/plain; charset=UTF-8"


def _decoded_body(request: Request) -> bytes:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    try:
        if encoding in {"", "identity"}:
            return request.body
        if encoding == "gzip":
            return gzip.decompress(request.body)
        if encoding == "deflate":
            return zlib.decompress(request.body)
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.decompress(request.body))
        if encoding == "zstd":
            return _zstd().decompress(request.body)
    except Exception as error:
        raise ClickHouseError(
            271, "CANNOT_DECOMPRESS", f"Cannot decompress the {encoding} request body: {error}"
        ) from None
    raise ClickHouseError(48, "NOT_IMPLEMENTED", f"The chDB stand-in does not decode Content-Encoding {encoding}")


def _compress(payload: bytes, encoding: str) -> bytes:
    if encoding == "zstd":
        return bytes(_zstd().compress(payload))
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.compress(payload))
    if encoding == "gzip":
        return gzip.compress(payload)
    return zlib.compress(payload)


def _zstd() -> Any:
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
    return zstd


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a multipart form (clickhouse-connect sends long query parameters so)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            raise ClickHouseError(48, "NOT_IMPLEMENTED", "The chDB stand-in does not implement external data")
        payload = part.get_payload(decode=True)
        fields[str(name)] = payload.decode() if isinstance(payload, bytes) else str(payload)
    return fields


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _session_key(session: str) -> str:
    return hashlib.sha1(session.encode()).hexdigest()[:16]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HTTPServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            parameters=dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        response = self.server.backend.answer(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        self.wfile.write(response.body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in {b"\r\n", b"\n", b""}:
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    backend: ChDBServer


def serve(directory: Path, users: dict[str, str]) -> None:
    """Serve on a free port of 127.0.0.1, print it, and stop when stdin closes."""
    server = _HTTPServer(("127.0.0.1", 0), _Handler)
    server.backend = ChDBServer(directory, users)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()


# The server's time zone is not UTC, as many servers' are not, so that SQL which relies on it shows up; users
# besides `default` (no password) check that credentials in warehouse URLs arrive.
SERVER_TIMEZONE = "Asia/Kolkata"
USERS = {"default": "", "sextant": "pa ss/w:rd@ü"}


class StandIn:
    """The stand-in server in a subprocess, on a temporary directory of its own."""

    def __init__(self, timezone: str = SERVER_TIMEZONE, users: dict[str, str] = USERS) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="sextant-clickhouse-"))
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(self.directory), json.dumps(users)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "TZ": timezone},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip():
            self.stop()
            raise RuntimeError("the chDB stand-in for ClickHouse did not start")
        self.port = int(line)

    def command(self, sql: str) -> bytes:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/", data=sql.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return bytes(response.read())

    def database_url(self, directory: Path) -> str:
        """A database of its own for a test directory (the same one for the same directory)."""
        digest = hashlib.sha1(str(directory).encode()).hexdigest()[:8]
        database = f"{re.sub(r'[^A-Za-z0-9_]', '_', directory.name)[:40]}_{digest}"
        self.command(f"CREATE DATABASE IF NOT EXISTS {_identifier(database)}")
        return f"clickhouse://127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


_running: StandIn | None = None
_starting = threading.Lock()


def stand_in() -> StandIn:
    """The stand-in of this test session, started on first use."""
    global _running
    with _starting:
        if _running is None:
            _running = StandIn()
            atexit.register(_running.stop)
        return _running


def database_url(directory: Path) -> str:
    return stand_in().database_url(directory)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), json.loads(sys.argv[2]))
