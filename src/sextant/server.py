"""Running the server, and finding a server that already owns a project's warehouse."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass

import httpx
import orjson
import uvicorn

from sextant import logs
from sextant.errors import ConfigError
from sextant.insights import warm_up
from sextant.project import Project
from sextant.web.app import create_app
from sextant.workspace import Workspace


@dataclass(frozen=True)
class RunningServer:
    url: str
    local_token: str
    pid: int


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MIN_SECRET_KEY_LENGTH = 32


def check_secret_key(project: Project, host: str) -> None:
    """Sessions and CSRF tokens are signed with the secret key; off loopback a missing or short one is refused."""
    if is_loopback(host):
        return
    key = project.config.secret_key or ""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        problem = "without a secret key" if not key else f"with a secret key of {len(key)} characters"
        raise ConfigError(
            f"refusing to listen on {host} {problem}; set secret_key in {project.directory / 'sextant.yaml'} "
            f"to a random string of at least {MIN_SECRET_KEY_LENGTH} characters (e.g. the output of "
            "`openssl rand -hex 32`), or listen on 127.0.0.1 only"
        )


def serve(directory: str, host: str | None = None, port: int | None = None) -> None:
    project = Project.load(directory)
    host = host or project.config.server.host
    port = port or project.config.server.port
    check_secret_key(project, host)
    if running_server(project):
        raise ConfigError(f"a Sextant server already serves {project.directory}; stop it first")
    logs.configure()
    workspace = Workspace.open(project.directory)
    token = secrets.token_urlsafe(32)
    app = create_app(workspace, local_token=token)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    write_server_file(project, RunningServer(url, token, os.getpid()))
    warm_up.start()  # the first questions need the insight passes compiled
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        project.server_file.unlink(missing_ok=True)
        workspace.close()


def write_server_file(project: Project, server: RunningServer) -> None:
    """Tell CLI commands on this machine where the server that owns the warehouse is (`running_server`).
    Only the project's owner may read the file: the local token lets its holder write events."""
    project.state_dir.mkdir(exist_ok=True)
    info = {"url": server.url, "pid": server.pid, "local_token": server.local_token}
    descriptor = os.open(project.server_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(orjson.dumps(info))


def running_server(project: Project) -> RunningServer | None:
    """The server that owns the project's warehouse, if one is alive."""
    try:
        info = orjson.loads(project.server_file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    try:
        os.kill(int(info["pid"]), 0)
        httpx.get(f"{info['url']}/healthz", timeout=2).raise_for_status()
    except (OSError, KeyError, ValueError, httpx.HTTPError):
        return None
    return RunningServer(info["url"], info["local_token"], int(info["pid"]))
