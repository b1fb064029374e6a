"""Signing in and out: redirects to the sign-in page, cookies, CSRF, rate limits, and sessions that end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sextant.auth import audit, users
from sextant.metadata.models import Role
from tests.auth.accounts import EMAILS, PASSWORD, AccountsApp, Browser, accounts_app, csrf_from


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AccountsApp]:
    with accounts_app(tmp_path) as opened:
        yield opened


def test_pages_send_anonymous_people_to_sign_in_and_the_api_answers_401(site: AccountsApp) -> None:
    anonymous = site.client()
    home = anonymous.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/sign-in?next=/"
    deep = anonymous.get("/admin/users?page=2", follow_redirects=False)
    assert deep.headers["location"] == "/sign-in?next=/admin/users%3Fpage%3D2"
    htmx = anonymous.post("/admin/users/1/role", data={"role": "admin"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")
    api = anonymous.get("/api/v1/catalog")
    assert api.status_code == 401 and api.json()["error"] == "SignInRequired"
    page = anonymous.get("/sign-in?next=/keys")
    assert page.status_code == 200 and 'name="next" value="/keys"' in page.text and "Sign in" in page.text


def test_signing_in_sets_a_signed_http_only_lax_cookie_and_goes_to_next(site: AccountsApp) -> None:
    browser = site.client()
    token = csrf_from(browser.get("/sign-in").text)
    response = browser.post(
        "/sign-in",
        data={"email": "ADMIN@example.com", "password": PASSWORD, "csrf_token": token, "next": "/keys"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/keys"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sextant_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    page = browser.get("/")
    assert page.status_code == 200 and "Welcome, admin" in page.text
    assert 'hx-headers=\'{"X-CSRF-Token"' in page.text  # htmx requests carry the token
    for link in ("/insights", "/dashboards", "/looks", "/admin/users", "/sign-out"):
        assert link in page.text
    assert [entry.action for entry in audit.entries(site.workspace.metadata, action="sign_in")] == ["sign_in"]


def test_over_https_the_cookie_is_secure(site: AccountsApp) -> None:
    browser = Browser(site.app, base_url="https://testserver")
    token = csrf_from(browser.get("/sign-in").text)
    response = browser.post(
        "/sign-in",
        data={"email": EMAILS[Role.VIEWER], "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_next_never_leaves_the_site(site: AccountsApp, target: str) -> None:
    browser = site.client()
    token = csrf_from(browser.get("/sign-in").text)
    response = browser.post(
        "/sign-in",
        data={"email": EMAILS[Role.VIEWER], "password": PASSWORD, "csrf_token": token, "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_the_admin_link_is_for_admins_only(site: AccountsApp) -> None:
    assert "/admin/users" not in site.client(Role.VIEWER).get("/").text
    assert "/admin/users" not in site.client(Role.CREATOR).get("/").text


def test_a_wrong_password_is_refused_and_audited(site: AccountsApp) -> None:
    browser = site.client()
    token = csrf_from(browser.get("/sign-in").text)
    response = browser.post(
        "/sign-in", data={"email": EMAILS[Role.VIEWER], "password": "not it at all", "csrf_token": token}
    )
    assert response.status_code == 401 and "The email or password is wrong." in response.text
    assert "sextant_session" not in response.headers.get("set-cookie", "")
    (failed,) = audit.entries(site.workspace.metadata, action="sign_in.failed")
    assert failed.detail["reason"] == "wrong password" and failed.actor == EMAILS[Role.VIEWER]


def test_after_five_failures_even_the_right_password_waits(site: AccountsApp) -> None:
    browser = site.client()
    token = csrf_from(browser.get("/sign-in").text)
    form = {"email": EMAILS[Role.CREATOR], "csrf_token": token}
    for _ in range(5):
        assert browser.post("/sign-in", data={**form, "password": "wrong guess"}).status_code == 401
    refused = browser.post("/sign-in", data={**form, "password": PASSWORD}, follow_redirects=False)
    assert refused.status_code == 429
    assert "too many failed sign-ins; try again in 5 minutes" in refused.text
    assert 250 <= int(refused.headers["Retry-After"]) <= 300
    # Another person at another address is not locked out by this.
    other = Browser(site.app, client=("10.9.9.9", 5000)).sign_in(EMAILS[Role.VIEWER])
    assert other.get("/").status_code == 200


def test_every_form_post_needs_the_sessions_csrf_token(site: AccountsApp) -> None:
    browser = site.client()
    page = browser.get("/sign-in")
    no_token = browser.post("/sign-in", data={"email": EMAILS[Role.ADMIN], "password": PASSWORD})
    assert no_token.status_code == 403 and "security token" in no_token.text
    someone_elses = csrf_from(site.client().get("/sign-in").text)
    forged = browser.post(
        "/sign-in", data={"email": EMAILS[Role.ADMIN], "password": PASSWORD, "csrf_token": someone_elses}
    )
    assert forged.status_code == 403
    assert csrf_from(page.text) != someone_elses

    admin = site.client(Role.ADMIN)
    refused = admin.post("/admin/users", data={"email": "mallory@example.com"})
    assert refused.status_code == 403
    assert users.find_user(site.workspace.metadata, "mallory@example.com") is None
    assert admin.post("/sign-out").status_code == 403
    # htmx sends the token in a header instead of a field.
    by_header = admin.post(
        "/admin/groups", data={"name": "Sales"}, headers={"X-CSRF-Token": admin.csrf}, follow_redirects=False
    )
    assert by_header.status_code == 303
    # A token from before sign-in does not work after it.
    assert admin.post("/admin/groups", data={"name": "Ops", "csrf_token": csrf_from(page.text)}).status_code == 403


def test_signing_out_ends_the_session(site: AccountsApp) -> None:
    browser = site.client(Role.VIEWER)
    response = browser.post_form("/sign-out", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"
    assert 'sextant_session=""' in response.headers["set-cookie"]
    assert browser.get("/", follow_redirects=False).status_code == 303
    assert "You are signed out." in browser.get("/sign-in").text
    assert [entry.actor for entry in audit.entries(site.workspace.metadata, action="sign_out")] == [EMAILS[Role.VIEWER]]


def test_deactivation_and_password_resets_end_existing_sessions(site: AccountsApp) -> None:
    viewer, creator = site.client(Role.VIEWER), site.client(Role.CREATOR)
    users.set_active(site.workspace.metadata, site.user_ids[Role.VIEWER], False, actor="test")
    assert viewer.get("/", follow_redirects=False).status_code == 303
    users.reset_password(site.workspace.metadata, site.user_ids[Role.CREATOR], "another password", actor="test")
    assert creator.get("/", follow_redirects=False).status_code == 303
    site.client().sign_in(EMAILS[Role.CREATOR], "another password")


def test_changing_your_own_password(site: AccountsApp) -> None:
    browser = site.client(Role.VIEWER)
    elsewhere = site.client(Role.VIEWER)
    wrong = browser.post_form("/account/password", {"current": "nope", "new": "a new password!"})
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    short = browser.post_form("/account/password", {"current": PASSWORD, "new": "short"})
    assert short.status_code == 400 and "10 characters" in short.text
    changed = browser.post_form("/account/password", {"current": PASSWORD, "new": "a new password!"})
    assert changed.status_code == 200 and "Your password is changed" in changed.text
    assert browser.get("/account").status_code == 200  # this session carries on
    assert elsewhere.get("/account", follow_redirects=False).status_code == 303  # the others end
    site.client().sign_in(EMAILS[Role.VIEWER], "a new password!")
