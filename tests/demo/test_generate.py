"""The demo company's data: deterministic, the right shape, and with the behaviour it claims."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
import urllib.parse
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sextant import demo

END = dt.date(2026, 11, 21)
EVENTS = 60_000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> demo.DemoFiles:
    return demo.generate(tmp_path_factory.mktemp("demo"), events=EVENTS, seed=3, end=END)


@pytest.fixture(scope="module")
def events(files: demo.DemoFiles) -> list[dict[str, object]]:
    return pa.concat_tables(pq.read_table(path) for path in files.events).to_pylist()


def digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(path.read_bytes() for path in paths)).hexdigest()


def every_file(files: demo.DemoFiles) -> list[Path]:
    return [*files.events, files.pings, *files.business]


def test_the_same_seed_gives_the_same_files(tmp_path: Path, files: demo.DemoFiles) -> None:
    again = demo.generate(tmp_path / "again", events=EVENTS, seed=3, end=END)
    assert digest(every_file(again)) == digest(every_file(files))
    other = demo.generate(tmp_path / "other", events=EVENTS, seed=4, end=END)
    assert digest(other.events) != digest(files.events)


def test_events_have_the_native_import_columns_and_size(files: demo.DemoFiles, events: list[dict[str, object]]) -> None:
    schema = pq.read_schema(files.events[0])
    assert schema.names == [
        "event",
        "timestamp",
        "distinct_id",
        "user_id",
        "device_id",
        "insert_id",
        "session_id",
        "properties",
        "person_properties",
        "groups",
    ]
    assert schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert 0.95 * EVENTS <= len(events) <= 1.05 * EVENTS
    start = dt.datetime.combine(END - dt.timedelta(days=89), dt.time(), dt.UTC)
    stop = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), dt.UTC)
    assert all(start <= event["timestamp"] < stop for event in events)


def test_visitors_sign_up_after_viewing_sign_up_and_are_identified_from_then_on(
    events: list[dict[str, object]],
) -> None:
    viewed: dict[object, dt.datetime] = {}
    signed_up: dict[object, dt.datetime] = {}
    for event in events:
        if event["event"] == "Viewed Sign Up":
            viewed.setdefault(event["device_id"], event["timestamp"])  # type: ignore[arg-type]
        if event["event"] == "Signed Up":
            signed_up[event["user_id"]] = event["timestamp"]  # type: ignore[assignment]
            assert viewed[event["device_id"]] <= event["timestamp"]  # type: ignore[operator]
            assert event["distinct_id"] == event["user_id"] and str(event["device_id"]).startswith("anon-")
    assert signed_up
    for event in events:
        if event["user_id"] is not None and event["user_id"] in signed_up:
            assert event["timestamp"] >= signed_up[event["user_id"]]  # no user id before sign-up
    funnel = [sum(1 for event in events if event["event"] == name) for name in ("Viewed Sign Up", "Signed Up")]
    assert funnel[0] > funnel[1] > 0


def test_weekly_retention_decays(events: list[dict[str, object]]) -> None:
    signup: dict[object, dt.datetime] = {}
    for event in events:
        if event["event"] == "Signed Up":
            signup[event["user_id"]] = event["timestamp"]  # type: ignore[assignment]
    weeks: dict[object, set[int]] = defaultdict(set)
    for event in events:
        if event["user_id"] in signup:
            weeks[event["user_id"]].add((event["timestamp"] - signup[event["user_id"]]).days // 7)  # type: ignore[operator]

    def rate(week: int) -> float:
        eligible = [user for user, start in signup.items() if (END - start.date()).days >= 7 * (week + 1)]
        return sum(1 for user in eligible if week in weeks[user]) / len(eligible)

    assert rate(1) > rate(4) > 0.05


def test_the_ab_variant_clicks_more(events: list[dict[str, object]]) -> None:
    searches: dict[bool, int] = defaultdict(int)
    clicks: dict[bool, int] = defaultdict(int)
    for event in events:
        flags = json.loads(str(event["properties"])).get("feature_flags")
        if flags is None:
            continue
        variant = flags["search-ranking-v2"]
        searches[variant] += event["event"] == "Search Submitted"
        clicks[variant] += event["event"] == "Search Result Clicked"
    assert clicks[True] / searches[True] > clicks[False] / searches[False]


def test_searches_carry_the_seed_argument_shape(events: list[dict[str, object]]) -> None:
    search = next(e for e in events if e["event"] == "Search Submitted" and e["user_id"])
    argument = json.loads(str(search["properties"]))["argument"]
    assert isinstance(argument["code_search"]["results"]["results_count"], int)
    assert any(e["distinct_id"] == "backend" for e in events)
    assert any(str(e["event"]).startswith("ViewRepogroup:") for e in events)


def test_about_three_in_a_thousand_events_are_retries(events: list[dict[str, object]]) -> None:
    ids = [event["insert_id"] for event in events]
    repeated = len(ids) - len(set(ids))
    assert 0.001 * len(ids) < repeated < 0.006 * len(ids)


def test_instances_ping_every_30_minutes_except_without_telemetry(files: demo.DemoFiles) -> None:
    pings = pq.read_table(files.pings).to_pylist()
    by_site: dict[str, list[dt.datetime]] = defaultdict(list)
    for ping in pings:
        by_site[str(ping["site_id"])].append(ping["timestamp"])  # type: ignore[arg-type]
        assert ping["telemetry_level"] in ("critical", "full", "full+events")
        assert ping["wau"] <= ping["mau"] <= ping["total_users"]  # type: ignore[operator]
        if ping["telemetry_level"] == "critical":
            assert ping["active_today"] is None and ping["site_activity"] is None
        else:
            assert ping["active_today"] <= ping["wau"]  # type: ignore[operator]
    for times in by_site.values():
        times.sort()
        assert {later - earlier for earlier, later in itertools.pairwise(times)} <= {dt.timedelta(minutes=30)}
    with next(path for path in files.business if path.name == "licenses.csv").open() as handle:
        licensed = {row["site_id"] for row in csv.DictReader(handle)}
    assert licensed - set(by_site), "some licensed instances send no telemetry at all"


def properties(event: dict[str, object]) -> dict[str, Any]:
    return dict(json.loads(str(event["properties"])))


def business_rows(files: demo.DemoFiles, name: str) -> list[dict[str, str]]:
    with next(path for path in files.business if path.name == name).open() as handle:
        return list(csv.DictReader(handle))


def test_page_views_carry_referrers_and_campaign_utm_parameters(events: list[dict[str, object]]) -> None:
    views = [properties(event) for event in events if event["event"] == "Viewed Page"]
    assert all(view["url"].startswith("https://") for view in views)
    assert len({view["referrer"] for view in views if view["referrer"]}) >= 3
    queries = [urllib.parse.parse_qs(urllib.parse.urlsplit(view["url"]).query) for view in views]
    campaigns = [query for query in queries if query]
    assert campaigns and all(set(query) == {"utm_source", "utm_medium", "utm_campaign"} for query in campaigns)
    assert len({query["utm_campaign"][0] for query in campaigns}) >= 2


def test_signed_up_persons_carry_a_plan_and_their_ab_variant(events: list[dict[str, object]]) -> None:
    person: dict[object, dict[str, Any]] = {
        event["user_id"]: json.loads(str(event["person_properties"]))
        for event in events
        if event["event"] == "Signed Up"
    }
    assert len({properties["plan"] for properties in person.values()}) >= 3
    assert {properties["ab_search_ranking_v2"] for properties in person.values()} == {True, False}
    # The variant a person holds is the one their events record.
    flagged = [event for event in events if event["user_id"] in person and "feature_flags" in properties(event)]
    assert flagged, "no event of a signed-up person records its variant"
    for event in flagged:
        variant = properties(event)["feature_flags"]["search-ranking-v2"]
        assert variant == person[event["user_id"]]["ab_search_ranking_v2"]


def test_organizations_are_groups_of_crm_accounts(files: demo.DemoFiles, events: list[dict[str, object]]) -> None:
    organizations = Counter(json.loads(str(event["groups"])).get("organization") for event in events)
    del organizations[None]
    assert len(organizations) >= 5
    accounts = {row["organization_id"] for row in business_rows(files, "crm_accounts.csv")}
    assert set(organizations) <= accounts


def test_instances_have_several_deployment_types_and_versions_that_only_go_up(files: demo.DemoFiles) -> None:
    pings = sorted(pq.read_table(files.pings).to_pylist(), key=lambda ping: ping["timestamp"])
    assert len({ping["deployment_type"] for ping in pings}) >= 3
    assert len({ping["version"] for ping in pings}) >= 3
    versions: dict[object, list[tuple[int, ...]]] = defaultdict(list)
    for ping in pings:
        versions[ping["site_id"]].append(tuple(int(part) for part in str(ping["version"]).split(".")))
    assert all(found == sorted(found) for found in versions.values())
    assert any(len(set(found)) > 1 for found in versions.values())  # some instances upgraded


def test_business_files_link_licenses_tickets_and_nps_responses_to_crm_accounts(files: demo.DemoFiles) -> None:
    accounts = business_rows(files, "crm_accounts.csv")
    ids = {row["account_id"] for row in accounts}
    assert len(ids) == len(accounts) and all(int(row["seats"]) > 0 for row in accounts)
    licenses = business_rows(files, "licenses.csv")
    assert licenses and {row["account_id"] for row in licenses} <= ids
    pinging = {str(site) for site in pq.read_table(files.pings, columns=["site_id"]).column(0).to_pylist()}
    assert {row["site_id"] for row in licenses} & pinging, "some licensed instances send telemetry"
    tickets = business_rows(files, "support_tickets.csv")
    assert tickets and {row["account_id"] for row in tickets} <= ids
    for ticket in tickets:
        assert ticket["priority"] in ("p0", "p1", "p2", "p3")
        created = dt.datetime.fromisoformat(ticket["created_at"])
        assert (ticket["status"] == "solved") == bool(ticket["solved_at"])
        assert not ticket["solved_at"] or dt.datetime.fromisoformat(ticket["solved_at"]) > created
    responses = business_rows(files, "nps_responses.csv")
    assert responses and {row["account_id"] for row in responses} <= ids
    assert {int(row["score"]) for row in responses} <= set(range(11))
    assert len({int(row["score"]) for row in responses}) >= 5
