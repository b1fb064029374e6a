"""The insight builder in Chromium, as a Creator uses it: build a funnel by picking events in the form, see
its chart and table, reload its link, and download its CSV. Expected numbers come from the journeys in
`dataset.py`: alice, bob, carol and dave signed up; all but dave searched within a day; alice and carol
clicked a result."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page

from sextant.auth import audit, users
from sextant.insights.funnel import FunnelRunner
from sextant.insights.segmentation import SegmentationRunner
from sextant.metadata.models import Role
from tests.conftest import LiveServer

EMAIL = "builder-creator@example.com"
PASSWORD = "correct horse battery staple"
BARS = '#chart svg [aria-roledescription="bar"]'


@pytest.fixture(scope="module")
def creator(live_server: LiveServer) -> str:
    metadata = live_server.workspace.metadata  # type: ignore[attr-defined]
    if users.find_user(metadata, EMAIL) is None:
        users.create_user(metadata, EMAIL, PASSWORD, actor=audit.COMMAND_LINE, role=Role.CREATOR)
    return EMAIL


def sign_in(page: Page, live_server: LiveServer, email: str, next_path: str) -> None:
    page.goto(f"{live_server.url}{next_path}")  # sends a signed-out person to the sign-in page
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}{next_path}")


def drawn_bars(page: Page) -> list[str]:
    """The accessible labels of the funnel's bars, once the chart is drawn."""
    page.wait_for_selector("#chart[data-drawn=true]")
    labels: list[str] = page.eval_on_selector_all(BARS, "bars => bars.map(bar => bar.getAttribute('aria-label'))")
    return labels


def table_rows(page: Page) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        ".builder-table tbody tr", "rows => rows.map(row => [...row.cells].map(cell => cell.textContent.trim()))"
    )
    return rows


def test_a_creator_builds_a_funnel_reloads_it_and_downloads_its_csv(
    page: Page, live_server: LiveServer, creator: str
) -> None:
    sign_in(page, live_server, creator, "/insights/funnel")
    steps = page.get_by_label("Step", exact=True)
    steps.nth(0).fill("Signed Up")
    steps.nth(1).fill("Search")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Step", exact=True).nth(2).fill("Clicked Result")
    page.get_by_label("Dates", exact=True).select_option("custom")
    page.get_by_label("From", exact=True).fill("2024-05-01")
    page.get_by_label("To", exact=True).fill("2024-05-17")
    page.get_by_role("button", name="Run").click()

    bars = drawn_bars(page)
    assert len(bars) == 3
    assert [row[1:3] for row in table_rows(page)] == [["Signed Up", "4"], ["Search", "3"], ["Clicked Result", "2"]]
    spec: dict[str, Any] = json.loads(parse_qs(urlsplit(page.url).query)["spec"][0])
    assert [step["event"] for step in spec["steps"]] == ["Signed Up", "Search", "Clicked Result"]
    assert (spec["date_from"], spec["date_to"]) == ("2024-05-01", "2024-05-17")

    # The URL holds the whole view: opening it again draws the same chart.
    page.reload()
    assert drawn_bars(page) == bars
    assert page.get_by_label("Step", exact=True).nth(2).input_value() == "Clicked Result"

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    downloaded = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(
        f"{live_server.url}/api/v1/query", data=json.dumps(spec), headers={"X-CSRF-Token": token or ""}
    )
    assert answer.ok, answer.text()
    expected = FunnelRunner.rows(answer.json()["result"])
    assert downloaded == [{key: "" if value is None else str(value) for key, value in row.items()} for row in expected]
    assert [row["count"] for row in downloaded] == ["4", "3", "2"]


def test_changing_the_chart_type_redraws_at_once(page: Page, live_server: LiveServer, creator: str) -> None:
    spec = {
        "kind": "funnel",
        "date_from": "2024-05-01",
        "date_to": "2024-05-17",
        "steps": [{"event": "Signed Up"}, {"event": "Clicked Result"}],
    }
    sign_in(page, live_server, creator, "/insights")
    page.goto(f"{live_server.url}/insights/funnel?{urlencode({'spec': json.dumps(spec)})}")
    assert len(drawn_bars(page)) == 2
    page.get_by_role("combobox", name="Chart").select_option("number")
    page.wait_for_url("**chart=number**")
    page.wait_for_selector("#chart[data-drawn=true]")
    texts = page.eval_on_selector_all("#chart svg text", "nodes => nodes.map(node => node.textContent)")
    assert "50.0%" in texts and "2 of 4 users converted" in texts


def test_a_creator_filters_on_a_group_property_picked_from_suggestions(
    page: Page, live_server: LiveServer, creator: str
) -> None:
    sign_in(page, live_server, creator, "/insights/segmentation")
    page.get_by_label("Series event").fill("Search")
    page.get_by_label("Dates", exact=True).select_option("custom")
    page.get_by_label("From", exact=True).fill("2024-05-01")
    page.get_by_label("To", exact=True).fill("2024-05-17")
    page.get_by_role("button", name="Add filter").click()
    row = page.locator(".builder-filter").last
    assert row.get_by_label("Group type").is_hidden()
    row.get_by_label("Filter on").select_option("group")
    # The catalog suggests the group types, and then the properties of the one typed in.
    page.wait_for_selector("#group-types[data-loaded=true]", state="attached")
    suggested = page.eval_on_selector_all("#group-types option", "options => options.map(option => option.value)")
    assert suggested == ["account"]
    row.get_by_label("Group type").fill("account")
    key = row.get_by_label("Filter property")
    assert key.get_attribute("list") == "group-properties-account"
    names = page.eval_on_selector_all(
        "#group-properties-account option", "options => options.map(option => option.value)"
    )
    assert names == ["plan"]
    key.fill("plan")
    row.get_by_label("Filter value").fill("enterprise")
    page.get_by_role("button", name="Run").click()
    page.wait_for_url("**spec=**")

    spec: dict[str, Any] = json.loads(parse_qs(urlsplit(page.url).query)["spec"][0])
    group_filter = {"type": "group", "group_type": "account", "key": "plan", "operator": "eq", "value": "enterprise"}
    assert spec["filters"] == [group_filter]
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(
        f"{live_server.url}/api/v1/query", data=json.dumps(spec), headers={"X-CSRF-Token": token or ""}
    )
    assert answer.ok, answer.text()
    expected = SegmentationRunner.rows(answer.json()["result"])
    shown = table_rows(page)
    columns = list(expected[0])
    assert shown == [[str(row[column]) for column in columns] for row in expected]
    # alice's two searches and carol's one were for acme, on the enterprise plan; bob's were not.
    assert sum(int(line[1]) for line in shown) == 3
    # The page shows the filter again as a group filter.
    page.reload()
    row = page.locator(".builder-filter").first
    assert row.get_by_label("Filter on").input_value() == "group"
    assert row.get_by_label("Group type").input_value() == "account" and row.get_by_label("Group type").is_visible()
