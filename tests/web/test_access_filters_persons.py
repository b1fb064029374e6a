"""Row-level access filters on the persons insight and the event catalog: a group that sees only events from
the eu region finds only persons with such an event, sees only those events in a timeline, and gets catalog
volumes, names and group properties worked out from those events alone, each checked against the same figures
computed in Python from the allowed rows; a user outside the group sees every row."""

from __future__ import annotations

import datetime as dt
import html
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sextant.ingest.store import EventStore
from sextant.metadata.models import Role
from sextant.web import builder_routes
from tests.auth.accounts import AccountsApp, Browser, accounts_app
from tests.conftest import ingest, journeys_for
from tests.web.test_access_filters import bearer, restrict

# The catalog counts the last 30 days before the request; no event is within two days of that boundary.
NOW = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
EUROPE = {"type": "event", "key": "region", "operator": "eq", "value": "eu"}
HIDDEN_GROUPS = {"account": "acct-hidden", "instance": "site-1"}


class Row:
    """One event of the world, as the reference reads it."""

    def __init__(self, person: str, event: str, at: dt.datetime, region: str) -> None:
        self.person, self.event, self.at, self.region = person, event, at, region

    def document(self) -> tuple[str, dt.datetime, dict[str, Any]]:
        number = int(self.person[-2:])
        properties: dict[str, Any] = {"region": self.region}
        if self.event == "Search":
            properties["query"] = f"q{number}"
        if self.event == "Billing Viewed":
            properties["card_brand"] = "visa"
        extra: dict[str, Any] = {
            "properties": properties,
            "person_updates": {"$set": {"email": f"{self.person}@example.com", "plan": plan(self.person)}},
        }
        if number % 4 == 0:
            extra["groups"] = HIDDEN_GROUPS
            extra["group_properties"] = {"account": {"secret_field": "x"}, "instance": {"version": "1.0"}}
        else:
            extra["groups"] = {"account": f"acct-{number % 2}"}
            extra["group_properties"] = {"account": {"tier": "gold"}}
        return (self.event, self.at, extra)


def plan(person: str) -> str:
    return "team" if int(person[-2:]) % 3 == 0 else "free"


def _world() -> list[Row]:
    """Twelve persons with events at random hours of the last 40 days (none from 28 to 32 days ago). Every
    fourth person has only us events (and the only events of the hidden account and of any instance); the
    others have events in both regions. Billing is only ever viewed from the us."""
    chance = random.Random(20240601)
    hours = [*range(1, 28 * 24), *range(32 * 24, 40 * 24)]
    rows = []
    for number in range(12):
        person = f"person-{number:02d}"
        for index, hour in enumerate(sorted(chance.sample(hours, chance.randint(3, 10)))):
            region = "us" if number % 4 == 0 or chance.random() < 0.5 else "eu"
            event = "Signed Up" if index == 0 else "Billing Viewed" if region == "us" and hour % 3 == 0 else "Search"
            rows.append(Row(person, event, NOW - dt.timedelta(hours=hour), region))
    return rows


ROWS = _world()
ALLOWED = [row for row in ROWS if row.region == "eu"]
PERSONS = {row.person for row in ROWS}
VISIBLE = {row.person for row in ALLOWED}


def volumes(rows: list[Row]) -> dict[str, int]:
    """The reference catalog: each event name seen in `rows`, with its rows of the last 30 days."""
    since = NOW - dt.timedelta(days=30)
    return {name: sum(1 for row in rows if row.event == name and row.at >= since) for name in {r.event for r in rows}}


def timeline(rows: list[Row], person: str) -> list[tuple[str, str]]:
    """(event, time) of a person's rows, newest first, as the timeline lists them."""
    mine = sorted((row for row in rows if row.person == person), key=lambda row: (-row.at.timestamp(), row.event))
    return [(row.event, row.at.isoformat()) for row in mine]


class Site:
    def __init__(self, opened: AccountsApp) -> None:
        self.app = opened
        journeys: dict[str, list[Any]] = {}
        for row in ROWS:
            journeys.setdefault(row.person, []).append(row.document())
        ingest(EventStore(opened.workspace.project, opened.workspace.warehouse), journeys_for(journeys))
        self.eu_id = opened.add_user("eu@example.com", Role.CREATOR)
        restrict(opened, self.eu_id, "Europe", EUROPE)
        self.eu = bearer(opened, self.eu_id)
        self.everyone = bearer(opened, opened.user_ids[Role.CREATOR])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with accounts_app(tmp_path_factory.mktemp("access-persons")) as opened:
        yield Site(opened)


def query(client: Browser, spec: dict[str, Any]) -> dict[str, Any]:
    dates = {
        "date_from": f"{NOW - dt.timedelta(days=60):%Y-%m-%d}",
        "date_to": f"{NOW + dt.timedelta(days=1):%Y-%m-%d}",
    }
    response = client.post("/api/v1/query", json={"kind": "persons", **dates, **spec})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def found(client: Browser, spec: dict[str, Any] | None = None) -> set[str]:
    """The distinct ids of the persons a search finds (each person here has one)."""
    persons = query(client, spec or {})["result"]["persons"]
    return {distinct for person in persons for distinct in person["distinct_ids"]}


def test_the_world_has_persons_and_events_that_the_filter_hides() -> None:
    assert VISIBLE and PERSONS - VISIBLE
    assert any(row.person in VISIBLE and row.region == "us" for row in ROWS)  # visible persons' hidden events
    assert "Billing Viewed" in volumes(ROWS) and "Billing Viewed" not in volumes(ALLOWED)
    assert 0 < sum(volumes(ALLOWED).values()) < len(ALLOWED)  # some allowed rows are older than 30 days


def test_a_persons_search_finds_only_persons_with_an_allowed_event(site: Site) -> None:
    assert found(site.eu) == VISIBLE
    assert found(site.everyone) == PERSONS
    # Text, ids and person filters search within the persons the user may see.
    assert found(site.eu, {"search": "example.com"}) == VISIBLE
    hidden = sorted(PERSONS - VISIBLE)[0]
    assert found(site.eu, {"search": hidden}) == set() and found(site.everyone, {"search": hidden}) == {hidden}
    team = {"type": "person", "key": "plan", "operator": "eq", "value": "team"}
    team_persons = {person for person in PERSONS if plan(person) == "team"}
    assert found(site.eu, {"filters": [team]}) == VISIBLE & team_persons
    assert found(site.everyone, {"filters": [team]}) == team_persons


def test_a_persons_timeline_lists_only_allowed_events(site: Site) -> None:
    for person in sorted(PERSONS):
        for client, rows in ((site.eu, ALLOWED), (site.everyone, ROWS)):
            events = query(client, {"person": person})["result"]["events"]
            shown = [(event["event"], dt.datetime.fromisoformat(event["timestamp"]).isoformat()) for event in events]
            assert shown == timeline(rows, person), person


@pytest.mark.parametrize("first", ["unrestricted", "restricted"])
def test_the_results_cache_keeps_each_users_persons_apart(site: Site, first: str) -> None:
    search = {"search": "xample" if first == "unrestricted" else "ample.co"}  # a query no other test ran
    order = [(site.everyone, PERSONS), (site.eu, VISIBLE)]
    for client, persons in order if first == "unrestricted" else order[::-1]:
        answer = query(client, search)
        assert answer["cached"] is False
        assert {d for person in answer["result"]["persons"] for d in person["distinct_ids"]} == persons
    again = query(site.eu, search)
    assert again["cached"] is True
    assert {d for person in again["result"]["persons"] for d in person["distinct_ids"]} == VISIBLE


def test_catalog_volumes_and_names_come_from_allowed_rows(site: Site) -> None:
    for client, rows in ((site.eu, ALLOWED), (site.everyone, ROWS)):
        response = client.get("/api/v1/catalog")
        assert response.status_code == 200, response.text
        entries = {entry["event"]: entry for entry in response.json()["events"]}
        assert {name: entry["volume_30d"] for name, entry in entries.items()} == volumes(rows)
        for name, entry in entries.items():
            times = [row.at for row in rows if row.event == name]
            assert dt.datetime.fromisoformat(entry["first_seen"]) == min(times)
            assert dt.datetime.fromisoformat(entry["last_seen"]) == max(times)
        recent = NOW - dt.timedelta(days=7)
        properties = {key for row in rows if row.at >= recent for key in row.document()[2]["properties"]}
        assert {key for entry in entries.values() for key in entry["properties"]} == properties
    restricted = {key for entry in site.eu.get("/api/v1/catalog").json()["events"] for key in entry["properties"]}
    assert "card_brand" not in restricted


def test_catalog_group_properties_come_from_groups_of_allowed_rows(site: Site) -> None:
    assert site.eu.get("/api/v1/catalog/groups").json() == {"groups": {"account": ["tier"]}}
    unrestricted = site.everyone.get("/api/v1/catalog/groups").json()
    assert unrestricted == {"groups": {"account": ["secret_field", "tier"], "instance": ["version"]}}


def datalist(page: str, name: str) -> list[str]:
    options = re.search(rf'<datalist id="{name}">(.*?)</datalist>', page, re.S)
    assert options, page[:500]
    return [html.unescape(value) for value in re.findall(r'<option value="([^"]*)">', options.group(1))]


@pytest.mark.parametrize("first", ["unrestricted", "restricted"])
def test_the_builders_suggestions_are_cached_per_user(site: Site, first: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder_routes, "_catalog_cache", {})
    order = [(site.everyone, ROWS), (site.eu, ALLOWED)]
    for client, rows in (order if first == "unrestricted" else order[::-1]) * 2:  # the second round is cached
        page = client.get("/insights/segmentation")
        assert page.status_code == 200, page.text
        assert datalist(page.text, "event-names") == sorted(volumes(rows))
        recent = NOW - dt.timedelta(days=7)
        properties = {key for row in rows if row.at >= recent for key in row.document()[2]["properties"]}
        assert datalist(page.text, "property-names") == sorted(properties)
    assert len(builder_routes._catalog_cache) == 2


def test_instances_are_refused_to_restricted_users(site: Site) -> None:
    for refused in (site.eu.get("/api/v1/instances"), site.eu.post("/api/v1/query", json={"kind": "instances"})):
        assert refused.status_code == 400 and "access filters cannot restrict" in refused.json()["message"]
    assert site.everyone.get("/api/v1/instances").status_code == 200
    assert site.everyone.post("/api/v1/query", json={"kind": "instances"}).status_code == 200
