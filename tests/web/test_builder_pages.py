"""The insight builder's pages (`sextant.web.builder_routes`) over a small hand-written journey: a spec in
the URL is drawn, tabled and filled into the form; a submitted form becomes the spec in the URL; the CSV is
the API's rows; Viewers are refused; the save forms carry the CSRF token.

- alice: Signed Up Mon 6 May 09:00, Search 10:00 (plan pro; for account acme, whose plan is enterprise),
  Clicked Result 11:00
- bob: Signed Up Mon 6 May 12:00, Search Tue 7 May 09:00 (plan free; for account globex, plan free)
- carol: Signed Up Wed 8 May 09:00, nothing else
- the instance "quiet" is known from a license and never pinged
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from sextant import instances
from sextant.auth import audit
from sextant.errors import QueryError
from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import TrackingPlan
from sextant.insights.runner import parse_spec, run_query, runner_class
from sextant.insights.scan import QueryContext
from sextant.metadata.models import Role
from sextant.warehouse.tables import INSTANCE_ACCOUNTS
from sextant.web.charts import chart_spec, chart_types
from tests.auth.accounts import AccountsApp, Browser, accounts_app
from tests.conftest import T0, ingest, journeys_for

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
JOURNEYS: dict[str, Any] = {
    "alice": [
        ("Signed Up", T0),
        (
            "Search",
            T0 + HOUR,
            {
                "properties": {"plan": "pro"},
                "groups": {"account": "acme"},
                "group_properties": {"account": {"plan": "enterprise"}},
            },
        ),
        ("Clicked Result", T0 + 2 * HOUR),
    ],
    "bob": [
        ("Signed Up", T0 + 3 * HOUR),
        (
            "Search",
            T0 + DAY,
            {
                "properties": {"plan": "free"},
                "groups": {"account": "globex"},
                "group_properties": {"account": {"plan": "free"}},
            },
        ),
    ],
    "carol": [("Signed Up", T0 + 2 * DAY)],
}
RANGE = {"date_from": "2024-05-01", "date_to": "2024-05-17"}
FUNNEL: dict[str, Any] = {
    "kind": "funnel",
    **RANGE,
    "steps": [{"event": "Signed Up"}, {"event": "Search"}, {"event": "Clicked Result"}],
    "window": {"value": 1, "unit": "day"},
}
SPECS: dict[str, dict[str, Any]] = {
    "segmentation": {"kind": "segmentation", **RANGE, "series": [{"event": "Search", "math": "total"}]},
    "funnel": FUNNEL,
    "retention": {
        "kind": "retention",
        "date_from": "2024-05-06",
        "date_to": "2024-05-09",
        "interval": "day",
        "start": {"event": "Signed Up"},
        "return": {"event": "Search"},
        "periods": 3,
    },
    "stickiness": {"kind": "stickiness", **RANGE, "interval": "week"},
    "lifecycle": {"kind": "lifecycle", **RANGE, "interval": "week"},
    "active_users": {"kind": "active_users", **RANGE},
    "paths": {"kind": "paths", **RANGE, "start_event": "Signed Up", "steps": 3},
    "instances": {"kind": "instances", **RANGE, "by": "telemetry_status"},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccountsApp]:
    with accounts_app(tmp_path_factory.mktemp("builder")) as opened:
        ingest(EventStore(opened.workspace.project, opened.workspace.warehouse), journeys_for(JOURNEYS))
        known = instances.link_rows(opened.workspace.project.name, [("quiet", "acct-1", None)], "license")
        opened.workspace.warehouse.insert(INSTANCE_ACCOUNTS, known)
        yield opened


@pytest.fixture(scope="module")
def creator(site: AccountsApp) -> Browser:
    return site.client(Role.CREATOR)


def expected(site: AccountsApp, spec: dict[str, Any]) -> dict[str, Any]:
    """The insight's result from the engine itself, not through the web app."""
    project = site.workspace.project
    context = QueryContext(
        site.workspace.warehouse, project.name, project.config.timezone, TrackingPlan(), dt.datetime.now(dt.UTC)
    )
    result: dict[str, Any] = run_query(spec, context).result
    return result


def page_url(kind: str, spec: dict[str, Any] | str, **extra: str) -> str:
    text = spec if isinstance(spec, str) else json.dumps(spec)
    return f"/insights/{kind}?" + urlencode({"spec": text, **extra})


def table_of(page: str) -> list[list[str]]:
    """The results table as text: the header row, then each row."""
    table = re.search(r'<table class="list builder-table">(.*?)</table>', page, re.S)
    assert table, "the page has no results table"
    return [
        [html.unescape(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    ]


def embedded_chart(page: str) -> Any:
    found = re.search(r'<script type="application/json" id="chart-spec">(.*?)</script>', page, re.S)
    return json.loads(found.group(1)) if found else None


def field_values(page: str, name: str) -> list[str]:
    form = page.split('id="builder-form"', 1)[1].split("</form>", 1)[0]
    form = re.sub(r"<template>.*?</template>", "", form, flags=re.S)  # blank rows for adding
    return [html.unescape(value) for value in re.findall(rf'name="{name}" value="([^"]*)"', form)]


def selected(page: str, name: str) -> str:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    choice = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    assert choice, f"nothing selected in {name}"
    return choice.group(1)


def text_of(value: Any) -> str:
    """How the page shows a value of `rows()`."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(round(value, 4))
    return str(value)


def test_the_funnel_page_draws_the_spec_in_its_url(site: AccountsApp, creator: Browser) -> None:
    response = creator.get(page_url("funnel", FUNNEL))
    assert response.status_code == 200, response.text
    # Everyone signed up; alice and bob searched within a day; only alice clicked a result.
    assert table_of(response.text) == [
        ["step", "event", "count", "from_previous", "from_first", "median_seconds"],
        ["0", "Signed Up", "3", "1.0", "1.0", ""],
        ["1", "Search", "2", "0.6667", "0.6667", str(float((3600 + 75600) // 2))],
        ["2", "Clicked Result", "1", "0.5", "0.3333", "3600.0"],
    ]
    result = expected(site, FUNNEL)
    assert embedded_chart(response.text) == chart_spec(FUNNEL, result, "funnel")
    assert field_values(response.text, "step_event") == ["Signed Up", "Search", "Clicked Result"]
    assert field_values(response.text, "window_value") == ["1"]
    assert selected(response.text, "window_unit") == "day"
    assert selected(response.text, "date_range") == "custom"
    assert field_values(response.text, "date_from") == ["2024-05-01"]
    assert field_values(response.text, "date_to") == ["2024-05-17"]
    assert selected(response.text, "chart") == "funnel"
    # The chart sits above the table, and the SQL of each query is there to open.
    assert response.text.index('id="chart"') < response.text.index("builder-table")
    assert "<summary>View SQL</summary>" in response.text and "SELECT" in response.text.upper()


@pytest.mark.parametrize("kind", list(SPECS))
def test_every_kind_shows_the_engine_rows_and_default_chart(site: AccountsApp, creator: Browser, kind: str) -> None:
    spec = SPECS[kind]
    response = creator.get(page_url(kind, spec))
    assert response.status_code == 200, response.text
    result = expected(site, spec)
    rows = runner_class(kind).rows(result)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    assert table_of(response.text) == [columns] + [[text_of(row.get(column)) for column in columns] for row in rows]
    assert rows, f"the journey gives {kind} no rows: the test would prove nothing"
    default = chart_types(spec, result).default
    assert embedded_chart(response.text) == chart_spec(spec, result, default)


def test_the_chart_in_the_url_is_drawn(site: AccountsApp, creator: Browser) -> None:
    response = creator.get(page_url("funnel", FUNNEL, chart="number"))
    assert embedded_chart(response.text) == chart_spec(FUNNEL, expected(site, FUNNEL), "number")
    assert selected(response.text, "chart") == "number"
    table = creator.get(page_url("funnel", FUNNEL, chart="table"))
    assert embedded_chart(table.text) is None and len(table_of(table.text)) == 4
    unsuited = creator.get(page_url("funnel", FUNNEL, chart="heatmap"))
    assert unsuited.status_code == 200 and "cannot be drawn as &#39;heatmap&#39;; showing funnel" in unsuited.text


def test_the_form_fills_kind_fields_from_the_spec(creator: Browser) -> None:
    spec = {
        **SPECS["retention"],
        "filters": [{"type": "person", "key": "plan", "operator": "in", "value": ["pro", "free"]}],
        "breakdown": {"type": "event", "key": "plan"},
    }
    page = creator.get(page_url("retention", spec)).text
    assert field_values(page, "start_event") == ["Signed Up"]
    assert field_values(page, "return_event") == ["Search"]
    assert field_values(page, "periods") == ["3"]
    assert selected(page, "interval") == "day"
    assert selected(page, "filter_type") == "person" and selected(page, "filter_operator") == "in"
    assert field_values(page, "filter_key") == ["plan"] and field_values(page, "filter_value") == ["pro, free"]
    assert field_values(page, "breakdown_key") == ["plan"]
    paths = creator.get(page_url("paths", SPECS["paths"])).text
    assert field_values(paths, "start_event") == ["Signed Up"] and field_values(paths, "path_steps") == ["3"]


def submitted(client: Browser, kind: str, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Submit a builder form; the spec (and the other parameters) of the URL it sends the browser to."""
    response = client.get(
        f"/insights/{kind}?" + urlencode({"builder": "1", **fields}, doseq=True), follow_redirects=False
    )
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == f"/insights/{kind}"
    query = parse_qs(location.query)
    return json.loads(query.pop("spec")[0]), query


def test_a_submitted_form_becomes_the_spec_in_the_url(creator: Browser) -> None:
    spec, rest = submitted(
        creator,
        "funnel",
        {
            "step_event": ["Signed Up", "", "Search"],  # a blank row is left out
            "window_value": "2",
            "window_unit": "hour",
            "order": "strict",
            "filter_type": ["event", "person"],
            "filter_key": ["plan", "country"],
            "filter_operator": ["neq", "is_set"],
            "filter_value": ["free", ""],
            "breakdown_type": "person",
            "breakdown_key": "plan",
            "date_range": "-7d",
            "interval": "week",
            "chart": "number",
            "from_dashboard": "12",
        },
    )
    assert spec == {
        "kind": "funnel",
        "date_from": "-7d",
        "interval": "week",
        "filters": [
            {"type": "event", "key": "plan", "operator": "neq", "value": "free"},
            {"type": "person", "key": "country", "operator": "is_set"},
        ],
        "breakdown": {"type": "person", "key": "plan"},
        "steps": [{"event": "Signed Up"}, {"event": "Search"}],
        "window": {"value": 2, "unit": "hour"},
        "order": "strict",
    }
    assert rest == {"chart": ["number"], "from_dashboard": ["12"]}
    parse_spec(spec)  # the engine takes it


def test_a_submitted_form_keeps_what_it_does_not_show(creator: Browser) -> None:
    base = {
        **FUNNEL,
        "steps": [{"event": "Signed Up", "filters": [{"key": "plan", "value": "pro"}]}, {"event": "Search"}],
        "exclusions": [{"event": "Logged Out", "from_step": 0, "to_step": 1}],
        "filters": [{"operator": "or", "filters": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}],
    }
    spec, _ = submitted(
        creator,
        "funnel",
        {
            "base": json.dumps(base),
            "step_event": ["Signed Up", "Clicked Result"],
            "date_range": "custom",
            "date_from": "2024-05-02",
            "date_to": "",
        },
    )
    assert spec["steps"] == [
        {"event": "Signed Up", "filters": [{"key": "plan", "value": "pro"}]},
        {"event": "Clicked Result"},
    ]
    assert spec["exclusions"] == base["exclusions"]
    assert spec["filters"] == base["filters"]
    assert spec["date_from"] == "2024-05-02" and "date_to" not in spec


@pytest.mark.parametrize(
    ("kind", "fields", "part"),
    [
        (
            "segmentation",
            {
                "series_event": ["Search", "Search"],
                "series_math": ["total", "avg"],
                "series_property": ["", "results"],
                "formula": "A / B",
            },
            {
                "series": [
                    {"event": "Search", "math": "total"},
                    {"event": "Search", "math": "avg", "property": "results"},
                ],
                "formula": "A / B",
            },
        ),
        (
            "retention",
            {"start_event": "Signed Up", "return_event": "Search", "periods": "5", "interval": "month"},
            {"start": {"event": "Signed Up"}, "return": {"event": "Search"}, "periods": 5, "interval": "month"},
        ),
        (
            "stickiness",
            {"active_event": ["Search", ""], "cumulative": "1", "interval": "month"},
            {"events": ["Search"], "cumulative": True, "interval": "month"},
        ),
        ("lifecycle", {"active_event": [""], "interval": "day"}, {"interval": "day"}),
        ("active_users", {"interval": "week"}, {}),
        ("instances", {"by": "versions_behind", "interval": "week"}, {"by": "versions_behind"}),
        (
            "paths",
            {"end_event": "Clicked Result", "path_steps": "4", "start_event": ""},
            {"end_event": "Clicked Result", "steps": 4},
        ),
    ],
)
def test_each_kind_form_gives_its_fields(
    creator: Browser, kind: str, fields: dict[str, Any], part: dict[str, Any]
) -> None:
    spec, _ = submitted(creator, kind, {"date_range": "-30d", **fields})
    assert spec == {"kind": kind, "date_from": "-30d", **part}
    parse_spec(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "funnel", "steps": [{"event": "Signed Up"}]}, None),
        ({"kind": "funnel", "steps": [{"event": "A"}, {"event": "B"}], "date_from": "yesterday"}, None),
        ('{"kind": "funnel", ', "the spec is not JSON"),
        (
            {"kind": "retention", "start": {"event": "A"}, "return": {"event": "B"}},
            "but the spec is a 'retention' spec",
        ),
    ],
)
def test_an_invalid_spec_shows_the_engine_message(creator: Browser, spec: Any, message: str | None) -> None:
    response = creator.get(page_url("funnel", spec))
    assert response.status_code == 400
    if message is None:
        with pytest.raises(QueryError) as error:
            parse_spec(spec)
        message = error.value.message
    shown = re.search(r'<p class="error" role="alert">([^<]*)</p>', response.text)
    assert shown and message in html.unescape(shown.group(1)), response.text
    assert "Traceback" not in response.text and 'id="builder-form"' in response.text
    # The spec is there to fix, as it was given.
    textarea = re.search(r'<textarea name="spec"[^>]*>(.*?)</textarea>', response.text, re.S)
    assert textarea
    shown = html.unescape(textarea.group(1))
    assert shown == spec if isinstance(spec, str) else json.loads(shown) == spec


def test_a_page_without_a_spec_is_an_empty_form(creator: Browser) -> None:
    page = creator.get("/insights/funnel").text
    assert field_values(page, "step_event") == ["", ""]
    assert "builder-table" not in page and "Save as look" not in page
    # Autocomplete offers the catalog's events and properties.
    assert all(f'<option value="{event}">' in page for event in ("Signed Up", "Search", "Clicked Result"))
    assert '<datalist id="property-names"><option value="plan">' in page
    listing = creator.get("/insights").text
    assert all(f'href="/insights/{kind}"' in listing for kind in SPECS)
    assert creator.get("/insights/persons").status_code == 404


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("kind", list(SPECS))
def test_the_csv_has_the_rows_of_the_api_result(creator: Browser, kind: str) -> None:
    spec = SPECS[kind]
    download = creator.get(f"/insights/{kind}/download.csv?" + urlencode({"spec": json.dumps(spec)}))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(
        rf'attachment; filename="sextant-{kind}-\d{{8}}-\d{{8}}\.csv"', download.headers["content-disposition"]
    )
    api = creator.post("/api/v1/query", json=spec, headers={"X-CSRF-Token": creator.csrf})
    assert api.status_code == 200, api.text
    rows = runner_class(kind).rows(api.json()["result"])
    as_text = [{key: "" if value is None else str(value) for key, value in row.items()} for row in rows]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    assert csv_rows(download.text) == [{column: row.get(column, "") for column in columns} for row in as_text]
    assert download.text.splitlines()[0] == ",".join(columns)


def test_the_csv_of_a_bad_spec_says_what_is_wrong(creator: Browser) -> None:
    response = creator.get("/insights/funnel/download.csv?" + urlencode({"spec": '{"kind": "funnel"}'}))
    assert response.status_code == 400 and "invalid funnel spec" in response.text


@pytest.mark.parametrize("url", ["/insights", "/insights/funnel", page_url("funnel", FUNNEL)])
def test_viewers_may_not_build(site: AccountsApp, url: str) -> None:
    viewer = site.client(Role.VIEWER)
    response = viewer.get(url)
    assert response.status_code == 403 and "text/html" in response.headers["content-type"]
    assert "may not run ad-hoc queries" in response.text
    download = viewer.get("/insights/funnel/download.csv?" + urlencode({"spec": json.dumps(FUNNEL)}))
    assert download.status_code == 403


def post_forms(page: str) -> dict[str, str]:
    """Each post form of a page by its action, with its HTML."""
    return {
        html.unescape(action): body
        for action, body in re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
    }


def test_save_forms_post_the_spec_with_the_csrf_token(site: AccountsApp, creator: Browser) -> None:
    page = creator.get(page_url("funnel", FUNNEL, chart="number", look="7")).text
    forms = post_forms(page)
    assert {"/looks", "/looks/7/spec"} <= set(forms)
    for action in ("/looks", "/looks/7/spec"):
        body = forms[action]
        token = re.search(r'name="csrf_token" value="([^"]+)"', body)
        assert token, f"the form to {action} has no CSRF token"
        # The token is the session's: a CSRF-checked post accepts it, and refuses a made-up one.
        headers = {"X-CSRF-Token": token.group(1)}
        assert creator.post("/api/v1/query", json=FUNNEL, headers=headers).status_code == 200
        spec = re.search(r'name="spec" value="([^"]*)"', body)
        assert spec and json.loads(html.unescape(spec.group(1))) == FUNNEL
        assert 'name="chart" value="number"' in body
    refused = creator.post("/api/v1/query", json=FUNNEL, headers={"X-CSRF-Token": "made-up"})
    assert refused.status_code == 403
    assert "Exploring a copy" not in page
    # Without `look`, only "Save as look"; an admin may save too, a Viewer never sees the page.
    assert set(post_forms(creator.get(page_url("funnel", FUNNEL)).text)) >= {"/looks"}
    assert "/looks/7/spec" not in post_forms(creator.get(page_url("funnel", FUNNEL)).text)


def test_explore_from_a_dashboard_says_it_is_a_copy(creator: Browser) -> None:
    page = creator.get(page_url("funnel", FUNNEL, from_dashboard="3")).text
    assert "Exploring a copy: the dashboard does not change until you save" in page
    # The form and the links keep where the builder was opened from.
    assert '<input type="hidden" name="from_dashboard" value="3">' in page
    link = re.search(r'<a class="button" href="([^"]+)">Link to this view</a>', page)
    assert link and parse_qs(urlsplit(html.unescape(link.group(1))).query)["from_dashboard"] == ["3"]


def test_the_link_to_this_view_reproduces_it(creator: Browser) -> None:
    first = creator.get(page_url("funnel", FUNNEL, chart="number")).text
    link = re.search(r'<a class="button" href="([^"]+)">Link to this view</a>', first)
    assert link
    again = creator.get(html.unescape(link.group(1))).text
    assert embedded_chart(again) == embedded_chart(first) and table_of(again) == table_of(first)


def test_folders_to_save_in_are_those_the_user_may_edit(site: AccountsApp, creator: Browser) -> None:
    from sextant.auth.folders import create_shared_folder

    create_shared_folder(site.workspace.metadata, "Finance only", actor=audit.COMMAND_LINE)
    page = creator.get(page_url("funnel", FUNNEL)).text
    options = re.findall(r'<option value="\d+">([^<]*)</option>', post_forms(page)["/looks"])
    assert options and "Finance only" not in options
    admin = site.client(Role.ADMIN)
    assert "Finance only" in re.findall(
        r'<option value="\d+">([^<]*)</option>', post_forms(admin.get(page_url("funnel", FUNNEL)).text)["/looks"]
    )


def form_fields(form: str) -> dict[str, str]:
    """The named inputs and the selected (or first) option of each select of a form's HTML."""
    fields = {
        name: html.unescape(value) for name, value in re.findall(r'<input[^>]*name="(\w+)" value="([^"]*)"', form)
    }
    for name, options in re.findall(r'<select name="(\w+)"[^>]*>(.*?)</select>', form, re.S):
        first = re.search(r'<option value="([^"]*)"', options)
        fields[name] = first.group(1) if first else ""
    return fields


def test_save_as_look_then_save_to_look(site: AccountsApp, creator: Browser) -> None:
    page = creator.get(page_url("funnel", FUNNEL, chart="number")).text
    fields = form_fields(post_forms(page)["/looks"]) | {"name": "Sign-up funnel"}
    saved = creator.post("/looks", data=fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    look = saved.headers["location"]
    look_id = look.rsplit("/", 1)[1]
    assert "Clicked Result" in creator.get(look).text
    changed = {**FUNNEL, "steps": FUNNEL["steps"][:2]}
    again = creator.get(page_url("funnel", changed, chart="funnel", look=look_id)).text
    update = creator.post(f"/looks/{look_id}/spec", data=form_fields(post_forms(again)[f"/looks/{look_id}/spec"]))
    assert update.status_code == 200, update.text
    assert "Clicked Result" not in creator.get(look).text  # the look now has the two steps saved from the builder


def test_event_suggestions_follow_what_is_ingested(tmp_path: Any) -> None:
    with accounts_app(tmp_path) as fresh:
        client = fresh.client(Role.CREATOR)
        assert '<option value="Exported Report">' not in client.get("/insights/funnel").text
        store = EventStore(fresh.workspace.project, fresh.workspace.warehouse)
        ingest(store, journeys_for({"dana": [("Exported Report", T0, {"properties": {"format": "pdf"}})]}))
        page = client.get("/insights/funnel").text
        assert '<option value="Exported Report">' in page and '<option value="format">' in page


GROUP_FILTER = {"type": "group", "group_type": "account", "key": "plan", "operator": "eq", "value": "enterprise"}


def resubmitted(client: Browser, kind: str, page: str) -> dict[str, Any]:
    """Submit the builder form of a page as it is shown, field by field; the spec the submission asks for."""
    form = page.split('id="builder-form"', 1)[1].split("</form>", 1)[0]
    form = re.sub(r"<template>.*?</template>", "", form, flags=re.S)  # blank rows for adding
    fields: list[tuple[str, str]] = []
    for tag in re.finditer(r'<input([^>]*)>|<select name="(\w+)"[^>]*>(.*?)</select>', form, re.S):
        if tag.group(1) is not None:
            name, value = re.search(r'name="(\w+)"', tag.group(1)), re.search(r'value="([^"]*)"', tag.group(1))
            if name and value and ("checkbox" not in tag.group(1) or "checked" in tag.group(1)):
                fields.append((name.group(1), html.unescape(value.group(1))))
        else:
            options = tag.group(3)
            choice = re.search(r'<option value="([^"]*)" selected>', options) or re.search(r'value="([^"]*)"', options)
            fields.append((tag.group(2), html.unescape(choice.group(1)) if choice else ""))
    response = client.get(f"/insights/{kind}?" + urlencode(fields), follow_redirects=False)
    assert response.status_code == 303, response.text
    spec: dict[str, Any] = json.loads(parse_qs(urlsplit(response.headers["location"]).query)["spec"][0])
    return spec


def test_a_group_filter_is_shown_in_the_form_runs_and_comes_back_from_it(site: AccountsApp, creator: Browser) -> None:
    spec = {**SPECS["segmentation"], "interval": "week", "filters": [GROUP_FILTER]}
    page = creator.get(page_url("segmentation", spec)).text
    assert selected(page, "filter_type") == "group"
    assert field_values(page, "filter_group_type") == ["account"] and field_values(page, "filter_key") == ["plan"]
    assert 'list="group-properties-account"' in page and "Kept from the spec" not in page
    # Only alice's search was for an account on the enterprise plan.
    result = expected(site, spec)
    assert result == creator.post("/api/v1/query", json=spec, headers={"X-CSRF-Token": creator.csrf}).json()["result"]
    assert [sum(line["data"]) for line in result["series"]] == [1]
    rows = runner_class("segmentation").rows(result)
    assert table_of(page)[1:] == [[text_of(row.get(column)) for column in table_of(page)[0]] for row in rows]
    assert resubmitted(creator, "segmentation", page) == spec


def test_group_types_and_their_properties_are_suggested(site: AccountsApp) -> None:
    for role in (Role.VIEWER, Role.CREATOR):
        answer = site.client(role).get("/api/v1/catalog/groups")
        assert answer.status_code == 200 and answer.json() == {"groups": {"account": ["plan"]}}
    page = site.client(Role.CREATOR).get("/insights/funnel").text
    assert '<datalist id="group-types" data-catalog="/api/v1/catalog/groups">' in page


def test_the_instances_page_counts_them_by_the_chosen_dimension(site: AccountsApp, creator: Browser) -> None:
    spec = {**SPECS["instances"], "by": "deployment_type"}
    page = creator.get(page_url("instances", spec, chart="bar")).text
    assert selected(page, "by") == "deployment_type" and selected(page, "chart") == "bar"
    assert table_of(page) == [["deployment_type", "instances"], ["$none", "1"]]
    assert embedded_chart(page) == chart_spec(spec, expected(site, spec), "bar")
    # Filters and breakdowns do not apply to instances, so the form has none; what it has comes back.
    assert 'name="filter_key"' not in page and 'name="breakdown_key"' not in page and 'name="interval"' not in page
    assert resubmitted(creator, "instances", page) == spec
    assert 'href="/insights/instances"' in creator.get("/insights").text
