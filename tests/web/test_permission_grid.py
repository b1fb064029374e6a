"""Every route of the app x who is asking (nobody, Viewer, Creator, Admin): allowed or refused.

`GRID` names who may use each route. A route added without a row fails `test_every_route_has_a_row`:
add the row next to your feature's routes. Values:
- PUBLIC: no session or key needed (the sign-in page, health, metrics, static files);
- INGEST: needs an ingest key, whoever is signed in; anonymous requests are refused;
- a set of roles: anonymous page requests are sent to the sign-in page and API requests get 401; signed-in
  users of other roles get 403.
Route paths are filled with SAMPLE_PARAMS; routes that validate a body before checking who asks get one
from BODIES.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from sextant.ingest.vendors import registry
from sextant.metadata.models import Role
from tests.auth.accounts import EMAILS, PASSWORD, AccountsApp, Browser, accounts_app

PUBLIC = "public"
INGEST = "ingest key"
V, C, A = Role.VIEWER, Role.CREATOR, Role.ADMIN
EVERYONE = frozenset({V, C, A})
CREATORS = frozenset({C, A})
ADMINS = frozenset({A})

GRID: dict[tuple[str, str], str | frozenset[Role]] = {
    # health, metrics, static files, sign-in
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/sign-in"): PUBLIC,
    ("POST", "/sign-in"): PUBLIC,
    # ingestion
    ("POST", "/api/v1/batch"): INGEST,
    ("POST", "/api/v1/event"): INGEST,
    ("POST", "/api/v1/internal/normalized"): INGEST,  # the CLI's local token only
    ("POST", "/api/v1/pings"): INGEST,
    ("POST", "/updates"): INGEST,
    **{("POST", path): INGEST for vendor in registry() for path in vendor.paths},
    # the API for readers
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/api/docs"): EVERYONE,
    ("GET", "/api/v1/catalog"): EVERYONE,
    ("GET", "/api/v1/catalog/groups"): EVERYONE,
    ("POST", "/api/v1/query"): CREATORS,
    ("GET", "/api/v1/query/schema"): EVERYONE,
    ("GET", "/api/v1/cohorts"): EVERYONE,
    ("POST", "/api/v1/cohorts"): CREATORS,
    ("GET", "/api/v1/cohorts/{cohort}"): EVERYONE,
    ("GET", "/api/v1/cohorts/{cohort}/persons"): EVERYONE,
    ("DELETE", "/api/v1/cohorts/{cohort}"): CREATORS,
    ("GET", "/api/v1/instances"): EVERYONE,
    ("PUT", "/api/v1/instances/{site_id}"): ADMINS,
    ("POST", "/api/v1/instances/links"): ADMINS,
    # session and account pages
    ("GET", "/"): EVERYONE,
    ("POST", "/sign-out"): EVERYONE,
    ("GET", "/account"): EVERYONE,
    ("POST", "/account/password"): EVERYONE,
    ("GET", "/keys"): EVERYONE,
    ("POST", "/keys"): EVERYONE,
    ("POST", "/keys/{key_id}/revoke"): EVERYONE,  # their own keys; admins anyone's (tests/web/test_key_pages.py)
    # the insight builder (running a spec is an ad-hoc query)
    ("GET", "/insights"): CREATORS,
    ("GET", "/insights/{kind}"): CREATORS,
    ("GET", "/insights/{kind}/download.csv"): CREATORS,
    # admin pages
    ("GET", "/admin"): ADMINS,
    ("GET", "/admin/users"): ADMINS,
    ("POST", "/admin/users"): ADMINS,
    ("POST", "/admin/users/{user_id}/role"): ADMINS,
    ("POST", "/admin/users/{user_id}/deactivate"): ADMINS,
    ("POST", "/admin/users/{user_id}/activate"): ADMINS,
    ("POST", "/admin/users/{user_id}/password"): ADMINS,
    ("GET", "/admin/groups"): ADMINS,
    ("POST", "/admin/groups"): ADMINS,
    ("GET", "/admin/groups/{group_id}"): ADMINS,
    ("POST", "/admin/groups/{group_id}/members"): ADMINS,
    ("POST", "/admin/groups/{group_id}/members/{user_id}/remove"): ADMINS,
    ("POST", "/admin/groups/{group_id}/delete"): ADMINS,
    ("POST", "/admin/groups/{group_id}/access-filters"): ADMINS,
    ("POST", "/admin/groups/{group_id}/access-filters/{filter_id}/remove"): ADMINS,
    ("GET", "/admin/folders"): ADMINS,
    ("POST", "/admin/folders"): ADMINS,
    ("GET", "/admin/folders/{folder_id}"): ADMINS,
    ("POST", "/admin/folders/{folder_id}/rename"): ADMINS,
    ("POST", "/admin/folders/{folder_id}/grants"): ADMINS,
    ("POST", "/admin/keys"): ADMINS,
    ("GET", "/admin/audit"): ADMINS,
    # looks and dashboards: anyone views and downloads what is shared with them; edits need a Creator role
    ("GET", "/looks"): EVERYONE,
    ("POST", "/looks"): CREATORS,
    ("GET", "/looks/{look_id}"): EVERYONE,
    ("GET", "/looks/{look_id}/download.csv"): EVERYONE,
    ("POST", "/looks/{look_id}/edit"): CREATORS,
    ("POST", "/looks/{look_id}/spec"): CREATORS,
    ("POST", "/looks/{look_id}/add-to-dashboard"): CREATORS,
    ("POST", "/looks/{look_id}/delete"): CREATORS,
    ("GET", "/dashboards"): EVERYONE,
    ("GET", "/dashboards/new"): CREATORS,
    ("POST", "/dashboards"): CREATORS,
    ("GET", "/dashboards/{dashboard_id}"): EVERYONE,
    ("GET", "/dashboards/{dashboard_id}/tiles/{tile_id}"): EVERYONE,
    ("GET", "/dashboards/{dashboard_id}/tiles/{tile_id}/download.csv"): EVERYONE,
    ("POST", "/dashboards/{dashboard_id}/edit"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/filters"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/refresh"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/duplicate"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/delete"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/tiles"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/tiles/{tile_id}/move"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/tiles/{tile_id}/resize"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/tiles/{tile_id}/edit"): CREATORS,
    ("POST", "/dashboards/{dashboard_id}/tiles/{tile_id}/delete"): CREATORS,
}
# Ids that do not exist: an allowed request gets 404 or 400, never a change to real data.
SAMPLE_PARAMS = {"site_id": "grid-site", "path": "sextant.css"}
SAMPLE_ID = "999999"
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/v1/instances/{site_id}"): {"account_id": "grid-account"},
    ("POST", "/api/v1/instances/links"): {"links": {}},
}


def app_routes(site: AccountsApp) -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(site.app.routes):
        if isinstance(context.original_route, Mount):
            found.append(("GET", context.path))
            continue
        found += [(method, context.path) for method in sorted(context.methods or ()) if method != "HEAD"]
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccountsApp]:
    with accounts_app(tmp_path_factory.mktemp("grid")) as opened:
        yield opened


def test_every_route_has_a_row(site: AccountsApp) -> None:
    routes = set(app_routes(site))
    missing = sorted(routes - set(GRID))
    assert not missing, "add rows to GRID in tests/web/test_permission_grid.py for: " + ", ".join(
        f'("{method}", "{path}"): <PUBLIC | INGEST | roles>' for method, path in missing
    )
    stale = sorted(set(GRID) - routes)
    assert not stale, f"GRID has rows for routes that no longer exist: {stale}"


def url_of(path: str) -> str:
    if path == "/static":
        return "/static/sextant.css"
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda match: SAMPLE_PARAMS.get(match.group(1), SAMPLE_ID), path)


def send(client: Browser, method: str, path: str, csrf: str = "") -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    body = BODIES.get((method, path))
    if body is not None:
        return client.request(method, url_of(path), json=body, headers=headers, follow_redirects=False)
    content = {} if method in ("GET", "DELETE") else {"data": {}}
    return client.request(method, url_of(path), headers=headers, follow_redirects=False, **content)


def sent_to_sign_in(response: Any) -> bool:
    return response.status_code in (302, 303) and response.headers["location"].startswith("/sign-in?next=")


ROWS = sorted(GRID.items())


@pytest.mark.parametrize(("route", "allowed"), ROWS, ids=[f"{method} {path}" for (method, path), _ in ROWS])
def test_anonymous(site: AccountsApp, route: tuple[str, str], allowed: str | frozenset[Role]) -> None:
    method, path = route
    response = send(site.client(), method, path)
    if allowed == PUBLIC:
        assert response.status_code not in (401, 403) and not sent_to_sign_in(response), response.text
    elif allowed == INGEST:
        assert response.status_code in (400, 401), response.text  # vendors answer a missing key in their ways
    elif (path.startswith("/api/") and path != "/api/docs") or path == "/openapi.json":
        assert response.status_code == 401, response.text
    else:
        assert sent_to_sign_in(response), (response.status_code, response.text[:300])


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize(("route", "allowed"), ROWS, ids=[f"{method} {path}" for (method, path), _ in ROWS])
def test_signed_in(site: AccountsApp, route: tuple[str, str], allowed: str | frozenset[Role], role: Role) -> None:
    if isinstance(allowed, str):
        return  # PUBLIC and INGEST routes do not depend on who is signed in
    method, path = route
    client = Browser(site.app).sign_in(EMAILS[role], PASSWORD)
    response = send(client, method, path, client.csrf)
    if role in allowed:
        assert response.status_code not in (401, 403) and not sent_to_sign_in(response), (
            f"{role.value} was refused {method} {path}: {response.status_code} {response.text[:300]}"
        )
    else:
        assert response.status_code == 403, f"{role.value} got {response.status_code} for {method} {path}"
