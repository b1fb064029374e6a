"""Row-level access filters through the web app: a group that sees only persons on the team plan, and every
data path (builder page and CSV, look page and CSV, dashboard tiles and tile CSV, `POST /api/v1/query` with a
personal key, cohorts) checked against counts worked out in Python over only the allowed rows, while a user
outside the group sees every row. Also the results cache, Admins, two groups, and the group page's form."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from sextant.auth import access, audit, groups
from sextant.auth.keys import create_key
from sextant.ingest.store import EventStore
from sextant.metadata.models import KeyKind, Role
from tests.auth.accounts import AccountsApp, Browser, accounts_app
from tests.conftest import ingest, journeys_for

FIRST_DAY = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
DAYS = 10
SHARED = 1  # the Shared folder every project starts with
TEAM = {"type": "person", "key": "plan", "operator": "eq", "value": "team"}


def _world() -> tuple[dict[str, str | None], dict[str, list[tuple[str, dt.datetime]]]]:
    """Twelve persons, a third on the team plan, the rest free, odd numbers in the eu region, plus a backend
    sender with neither; each with a sign-up and searches at random hours of the first ten days of May (the
    project's time zone is UTC)."""
    chance = random.Random(20240501)
    plans: dict[str, str | None] = {
        f"person-{number:02d}": "team" if number % 3 == 0 else "free" for number in range(12)
    }
    plans["backend"] = None
    events: dict[str, list[tuple[str, dt.datetime]]] = {}
    for person in plans:
        hours = sorted(chance.sample(range(DAYS * 24), chance.randint(2, 9)))
        names = ["Signed Up"] + ["Search"] * (len(hours) - 1)
        events[person] = [(name, FIRST_DAY + dt.timedelta(hours=hour)) for name, hour in zip(names, hours, strict=True)]
    return plans, events


PLANS, EVENTS = _world()
TEAM_PERSONS = {person for person, plan in PLANS.items() if plan == "team"}
EUROPE = {person for person in PLANS if person != "backend" and int(person[-2:]) % 2 == 1}
EVERYONE = set(PLANS)


def spec(date_to: str = "2024-05-10") -> dict[str, Any]:
    """Searches a day, as events and as persons; tests that need a query nobody ran yet change `date_to`."""
    return {
        "kind": "segmentation",
        "date_from": "2024-05-01",
        "date_to": date_to,
        "series": [{"event": "Search", "math": "total"}, {"event": "Search", "math": "unique"}],
    }


def searches_by_day(persons: set[str], date_to: str = "2024-05-10") -> dict[str, tuple[int, int]]:
    """The reference: (searches, persons who searched) per day, from the journeys of `persons` alone."""
    last = dt.date.fromisoformat(date_to)
    total: Counter[dt.date] = Counter()
    who: dict[dt.date, set[str]] = {}
    for person in persons:
        for name, at in EVENTS[person]:
            if name == "Search" and at.date() <= last:
                total[at.date()] += 1
                who.setdefault(at.date(), set()).add(person)
    days = [FIRST_DAY.date() + dt.timedelta(days=offset) for offset in range((last - FIRST_DAY.date()).days + 1)]
    return {day.isoformat(): (total[day], len(who.get(day, ()))) for day in days}


def as_counts(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Rows of a segmentation table or CSV as (searches, persons) per day."""
    return {str(row["bucket"])[:10]: (int(row["A: Search (total)"]), int(row["B: Search (unique)"])) for row in rows}


def csv_counts(response: Any) -> dict[str, tuple[int, int]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return as_counts(list(csv.DictReader(io.StringIO(response.text))))


def table_counts(page: str, table_class: str) -> dict[str, tuple[int, int]]:
    """The results table of a page (`list builder-table` in the builder, `list result` in looks and tiles)."""
    table = re.search(rf'<table class="{table_class}">(.*?)</table>', page, re.S)
    assert table, page[:800]
    header = [html.unescape(cell) for cell in re.findall(r"<th>(.*?)</th>", table.group(1), re.S)]
    rows = [
        dict(
            zip(header, (html.unescape(cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)), strict=True)
        )
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
        if "<td>" in row
    ]
    return as_counts(rows)


def api_counts(response: Any) -> dict[str, tuple[int, int]]:
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    total, unique = (line["data"] for line in result["series"])
    return {str(label)[:10]: (a, b) for label, a, b in zip(result["labels"], total, unique, strict=True)}


def bearer(site: AccountsApp, user_id: int) -> Browser:
    """A client without cookies that sends a personal API key of the user."""
    secret = create_key(site.workspace.metadata, KeyKind.PERSONAL, "tests", user_id=user_id, actor="test").secret
    return Browser(site.app, headers={"Authorization": f"Bearer {secret}"})


def restrict(site: AccountsApp, user_id: int, name: str = "Team customers", item: dict[str, Any] = TEAM) -> int:
    """A group with one access filter, added through the group page, with the user as its member."""
    admin = site.client(Role.ADMIN)
    created = admin.post_form("/admin/groups", {"name": name}, follow_redirects=False)
    group = int(created.headers["location"].rsplit("/", 1)[1])
    form = {"type": item["type"], "key": item["key"], "operator": item["operator"], "value": item["value"]}
    added = admin.post_form(f"/admin/groups/{group}/access-filters", form, follow_redirects=False)
    assert added.status_code == 303, added.text
    groups.add_member(site.workspace.metadata, group, user_id, actor=audit.COMMAND_LINE)
    return group


def person_properties(person: str) -> dict[str, str | None]:
    return {"plan": PLANS[person], "region": "eu" if person in EUROPE else "us"}


class Site:
    """The app over the world, a Creator restricted to the team plan and an unrestricted Creator."""

    def __init__(self, opened: AccountsApp) -> None:
        self.app = opened
        documents = journeys_for(
            {
                person: [(name, at, {"person_updates": {"$set": person_properties(person)}}) for name, at in steps]
                if PLANS[person]
                else steps
                for person, steps in EVENTS.items()
            }
        )
        ingest(EventStore(opened.workspace.project, opened.workspace.warehouse), documents)
        self.team_id = opened.add_user("team@example.com", Role.CREATOR)
        self.group = restrict(opened, self.team_id)
        self.team = Browser(opened.app).sign_in("team@example.com")
        self.everyone = opened.client(Role.CREATOR)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with accounts_app(tmp_path_factory.mktemp("access")) as opened:
        yield Site(opened)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Site]:
    """A site of its own, for tests that change groups and filters."""
    with accounts_app(tmp_path) as opened:
        yield Site(opened)


def test_the_world_has_rows_that_the_filter_hides() -> None:
    # Otherwise the comparisons below could not tell a restricted user from an unrestricted one.
    restricted, unrestricted = searches_by_day(TEAM_PERSONS), searches_by_day(EVERYONE)
    assert sum(total for total, _ in restricted.values()) > 0
    assert all(restricted[day][0] <= unrestricted[day][0] for day in restricted)
    assert sum(total for total, _ in restricted.values()) < sum(total for total, _ in unrestricted.values())


def test_the_builder_page_and_its_csv(site: Site) -> None:
    query = urlencode({"spec": orjson.dumps(spec()).decode()})
    for client, persons in ((site.team, TEAM_PERSONS), (site.everyone, EVERYONE)):
        page = client.get(f"/insights/segmentation?{query}")
        assert page.status_code == 200, page.text
        assert table_counts(page.text, "list builder-table") == searches_by_day(persons)
        assert csv_counts(client.get(f"/insights/segmentation/download.csv?{query}")) == searches_by_day(persons)


def test_a_look_and_its_csv(site: Site) -> None:
    form = {"name": "Searches", "folder_id": SHARED, "spec": orjson.dumps(spec("2024-05-09")).decode()}
    created = site.everyone.post_form("/looks", form, follow_redirects=False)
    look = int(created.headers["location"].rsplit("/", 1)[1])
    for client, persons in ((site.team, TEAM_PERSONS), (site.everyone, EVERYONE)):
        expected = searches_by_day(persons, "2024-05-09")
        assert table_counts(client.get(f"/looks/{look}").text, "list result") == expected
        assert csv_counts(client.get(f"/looks/{look}/download.csv")) == expected


def test_dashboard_tiles_and_their_csv(site: Site) -> None:
    created = site.everyone.post_form("/dashboards", {"name": "Search", "folder_id": SHARED}, follow_redirects=False)
    board = int(re.search(r"/dashboards/(\d+)", created.headers["location"]).group(1))  # type: ignore[union-attr]
    tile_spec = orjson.dumps(spec("2024-05-08")).decode()
    added = site.everyone.post_form(f"/dashboards/{board}/tiles", {"kind": "insight", "spec": tile_spec})
    assert added.status_code == 200, added.text
    for client, persons in ((site.team, TEAM_PERSONS), (site.everyone, EVERYONE)):
        page = client.get(f"/dashboards/{board}")  # starts every tile's query, under the viewer's filters
        tile = int(re.findall(r'data-tile="(\d+)"', page.text)[0])
        expected = searches_by_day(persons, "2024-05-08")
        body = client.get(f"/dashboards/{board}/tiles/{tile}")
        assert table_counts(body.text, "list result") == expected
        assert csv_counts(client.get(f"/dashboards/{board}/tiles/{tile}/download.csv")) == expected
        # The dashboard's own filters add to the access filters.
        window = urlencode({"filtered": 1, "date_from": "2024-05-03", "date_to": "2024-05-06"})
        narrowed = csv_counts(client.get(f"/dashboards/{board}/tiles/{tile}/download.csv?{window}"))
        assert narrowed == {day: counts for day, counts in expected.items() if "2024-05-03" <= day <= "2024-05-06"}
    # Both answers are cached now: the page draws each user's own with it.
    for client, persons in ((site.team, TEAM_PERSONS), (site.everyone, EVERYONE)):
        page = client.get(f"/dashboards/{board}").text
        assert 'hx-trigger="load"' not in page
        assert table_counts(page, "list result") == searches_by_day(persons, "2024-05-08")


def test_the_query_api_with_a_personal_key(site: Site) -> None:
    restricted = bearer(site.app, site.team_id)
    unrestricted = bearer(site.app, site.app.user_ids[Role.CREATOR])
    body = spec("2024-05-07")
    assert api_counts(restricted.post("/api/v1/query", json=body)) == searches_by_day(TEAM_PERSONS, "2024-05-07")
    assert api_counts(unrestricted.post("/api/v1/query", json=body)) == searches_by_day(EVERYONE, "2024-05-07")


@pytest.mark.parametrize("first", ["unrestricted", "restricted"])
def test_the_results_cache_keeps_each_users_rows_apart(site: Site, first: str) -> None:
    restricted = bearer(site.app, site.team_id)
    unrestricted = bearer(site.app, site.app.user_ids[Role.CREATOR])
    date_to = "2024-05-05" if first == "unrestricted" else "2024-05-04"  # a query no other test ran
    order = [(unrestricted, EVERYONE), (restricted, TEAM_PERSONS)]
    for client, persons in order if first == "unrestricted" else order[::-1]:
        response = client.post("/api/v1/query", json=spec(date_to))
        assert response.json()["cached"] is False
        assert api_counts(response) == searches_by_day(persons, date_to)
    # The same user asking again is answered from the cache, with the same rows.
    again = restricted.post("/api/v1/query", json=spec(date_to))
    assert again.json()["cached"] is True and api_counts(again) == searches_by_day(TEAM_PERSONS, date_to)


def distinct_ids(site: Site, person_ids: list[str]) -> set[str]:
    """The distinct ids of persons (cohorts list person ids), looked up by a user who sees everyone."""
    search = {"kind": "persons", "date_from": "2024-05-01", "date_to": "2024-05-10"}
    found = bearer(site.app, site.app.user_ids[Role.CREATOR]).post("/api/v1/query", json=search).json()
    by_id = {entry["person_id"]: entry["distinct_ids"] for entry in found["result"]["persons"]}
    return {distinct for person in person_ids for distinct in by_id[person]}


def test_cohorts_from_a_query_and_a_cohorts_persons(site: Site) -> None:
    funnel = {
        "kind": "funnel",
        "date_from": "2024-05-01",
        "date_to": "2024-05-10",
        "steps": [{"event": "Signed Up"}, {"event": "Search"}],
        "window": {"value": 30, "unit": "day"},
        "persons": {"step": 1},
    }
    # Every journey is a sign-up followed by searches, so every person converts.
    mine = site.team.post(
        "/api/v1/cohorts",
        json={"name": "Team searchers", "from_query": funnel},
        headers={"X-CSRF-Token": site.team.csrf},
    )
    assert mine.status_code == 201, mine.text
    # The cohort holds only the persons the restricted user saw: a user who sees everyone finds no others in it.
    listed = site.everyone.get(f"/api/v1/cohorts/{mine.json()['id']}/persons").json()["persons"]
    assert distinct_ids(site, listed) == TEAM_PERSONS
    # A cohort saved by someone who sees everyone lists, to a restricted user, only the persons they may see.
    theirs = site.everyone.post(
        "/api/v1/cohorts",
        json={"name": "All searchers", "from_query": funnel},
        headers={"X-CSRF-Token": site.everyone.csrf},
    )
    cohort = theirs.json()["id"]
    assert distinct_ids(site, site.everyone.get(f"/api/v1/cohorts/{cohort}/persons").json()["persons"]) == EVERYONE
    assert distinct_ids(site, site.team.get(f"/api/v1/cohorts/{cohort}/persons").json()["persons"]) == TEAM_PERSONS


def test_persons_searches_and_timelines_read_only_allowed_persons(site: Site) -> None:
    restricted = bearer(site.app, site.team_id)
    search = {"kind": "persons", "date_from": "2024-05-01", "date_to": "2024-05-10"}
    found = restricted.post("/api/v1/query", json=search).json()["result"]["persons"]
    assert {distinct for entry in found for distinct in entry["distinct_ids"]} == TEAM_PERSONS
    # One person's timeline reads events, under the filters: a person the user may not see has none.
    timeline = restricted.post("/api/v1/query", json={**search, "person": "person-01"})
    assert timeline.status_code == 200 and timeline.json()["result"]["events"] == []
    own = restricted.post("/api/v1/query", json={**search, "person": "person-03"}).json()["result"]["events"]
    assert len(own) == len(EVENTS["person-03"])
    # Instance telemetry is no person's, event's or group's row: the filters cannot say which to show.
    for refused in (restricted.post("/api/v1/query", json={"kind": "instances"}), restricted.get("/api/v1/instances")):
        assert refused.status_code == 400 and "access filters cannot restrict" in refused.json()["message"]


def test_admins_are_restricted_too_and_a_removed_filter_stops_at_once(fresh: Site) -> None:
    admin_id = fresh.app.user_ids[Role.ADMIN]
    admin = fresh.app.client(Role.ADMIN)
    groups.add_member(fresh.app.workspace.metadata, fresh.group, admin_id, actor=audit.COMMAND_LINE)
    query = urlencode({"spec": orjson.dumps(spec()).decode()})
    download = f"/insights/segmentation/download.csv?{query}"
    assert csv_counts(admin.get(download)) == searches_by_day(TEAM_PERSONS)
    # The admin removes the filter on the group page; the same sessions see every row on their next request.
    (row,) = access.group_filters(fresh.app.workspace.metadata, fresh.group)
    removed = admin.post_form(f"/admin/groups/{fresh.group}/access-filters/{row.id}/remove", follow_redirects=False)
    assert removed.status_code == 303
    assert csv_counts(admin.get(download)) == searches_by_day(EVERYONE)
    assert csv_counts(fresh.team.get(download)) == searches_by_day(EVERYONE)
    logged = [entry.action for entry in audit.entries(fresh.app.workspace.metadata, action="group")]
    assert logged[:3] == ["group.remove_access_filter", "group.add_member", "group.add_member"]
    assert "group.add_access_filter" in logged


def test_the_filters_of_two_groups_add_up(fresh: Site) -> None:
    query = urlencode({"spec": orjson.dumps(spec()).decode()})
    download = f"/insights/segmentation/download.csv?{query}"
    restrict(fresh.app, fresh.team_id, "Europe", {"type": "person", "key": "region", "operator": "eq", "value": "eu"})
    assert csv_counts(fresh.team.get(download)) == searches_by_day(TEAM_PERSONS & EUROPE)
    restrict(fresh.app, fresh.team_id, "Free plan", {**TEAM, "value": "free"})  # team AND free: no row passes
    assert csv_counts(fresh.team.get(download)) == searches_by_day(set())
    assert csv_counts(fresh.everyone.get(download)) == searches_by_day(EVERYONE)


def test_deleting_the_group_drops_its_filters(fresh: Site) -> None:
    query = urlencode({"spec": orjson.dumps(spec()).decode()})
    download = f"/insights/segmentation/download.csv?{query}"
    admin = fresh.app.client(Role.ADMIN)
    assert admin.post_form(f"/admin/groups/{fresh.group}/delete", follow_redirects=False).status_code == 303
    assert access.group_filters(fresh.app.workspace.metadata, fresh.group) == []
    assert csv_counts(fresh.team.get(download)) == searches_by_day(EVERYONE)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"type": "person", "key": "", "operator": "eq", "value": "team"}, "key"),
        ({"type": "person", "key": "plan", "operator": "eq", "value": ""}, "needs a value"),
        ({"type": "person", "key": "seats", "operator": "gt", "value": "many"}, "needs a number"),
        ({"type": "person", "key": "plan", "operator": "regex", "value": "("}, "not a regular expression"),
        ({"type": "group", "key": "tier", "operator": "eq", "value": "gold"}, "group_type"),
        ({"type": "cohort", "key": "plan", "operator": "eq", "value": "team"}, "type"),
        ({"type": "person", "key": "plan", "operator": "like", "value": "team"}, "operator"),
    ],
)
def test_the_group_page_shows_what_is_wrong_with_a_filter(site: Site, form: dict[str, str], message: str) -> None:
    admin = site.app.client(Role.ADMIN)
    response = admin.post_form(f"/admin/groups/{site.group}/access-filters", form)
    assert response.status_code == 400
    shown = re.search(r'<p class="error" role="alert">([^<]*)</p>', response.text)
    assert shown and message in html.unescape(shown.group(1)), response.text[:500]
    assert f'value="{html.escape(form["key"])}"' in response.text  # what was typed stays in the form
    assert len(access.group_filters(site.app.workspace.metadata, site.group)) == 1


def test_the_group_page_lists_adds_and_needs_the_csrf_token(fresh: Site) -> None:
    admin = fresh.app.client(Role.ADMIN)
    url = f"/admin/groups/{fresh.group}/access-filters"
    form = {"type": "group", "group_type": "account", "key": "tier", "operator": "in", "value": "gold, silver"}
    assert admin.post(url, data=form, follow_redirects=False).status_code == 403  # no CSRF token
    assert admin.post_form(url, form, follow_redirects=False).status_code == 303
    page = html.unescape(admin.get(f"/admin/groups/{fresh.group}").text)
    assert "person property <code>plan</code>" in page and "<code>team</code>" in page
    assert "group (account) property <code>tier</code>" in page and "<code>gold, silver</code>" in page
    stored = [row.filter for row in access.group_filters(fresh.app.workspace.metadata, fresh.group)]
    assert [item.model_dump(exclude_none=True) for item in stored][1] == {
        "type": "group",
        "group_type": "account",
        "key": "tier",
        "operator": "in",
        "value": ["gold", "silver"],
    }
    builtin = admin.post_form("/admin/groups/1/access-filters", {"key": "plan", "value": "team"})
    assert builtin.status_code == 400 and "built in" in builtin.text
