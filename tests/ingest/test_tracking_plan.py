"""The tracking plan: naming, deny list, derived properties, web analytics and the unplanned policy."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from sextant.errors import ConfigError
from sextant.ingest import normalize, tracking_plan
from sextant.ingest.normalize import Context
from sextant.ingest.store import EventStore
from sextant.ingest.tracking_plan import PlanFile, TrackingPlan, proper_case
from sextant.project import IngestSettings
from tests.conftest import T0

SETTINGS = IngestSettings()


def planned(plan: dict[str, object], *events: dict[str, object]) -> tuple[list[dict[str, object]], list[tuple]]:
    """Normalize events and apply a plan: (stored rows, (row index, field, reason) of rejections)."""
    documents = [orjson.dumps({"distinct_id": "u", "timestamp": T0.isoformat(), **event}).decode() for event in events]
    rows = normalize.with_context(pa.table({"document": documents}), Context(T0, "api", SETTINGS))
    good, bad = normalize.normalize(rows, normalize.document_input(), SETTINGS)
    assert bad.num_rows == 0
    good, refused = tracking_plan.apply(good, TrackingPlan.model_validate(plan))
    out = good.to_pylist()
    for row in out:
        row["properties"] = json.loads(row["properties"])
        row["warning_kinds"] = [warning["kind"] for warning in row["warnings"]]
    return out, [(r["row_index"], r["error_field"], r["error_reason"]) for r in refused.to_pylist()]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SearchSubmitted", "Search Submitted"),
        ("search_submitted", "Search Submitted"),
        ("search-submitted", "Search Submitted"),
        ("ViewRepogroup:python", "View Repogroup:python"),
        ("Search Submitted", "Search Submitted"),
        ("$pageview", "$pageview"),
        ("signup", "Signup"),
        ("codeIntelHoverV2", "Code Intel Hover V2"),
    ],
)
def test_proper_case(name: str, expected: str) -> None:
    assert proper_case(name) == expected


def test_names_are_stored_in_proper_case_with_the_original_kept() -> None:
    rows, _ = planned({}, {"event": "SearchSubmitted"}, {"event": "Search Submitted"})
    assert [(row["event"], row["properties"].get("$original_event")) for row in rows] == [
        ("Search Submitted", "SearchSubmitted"),
        ("Search Submitted", None),
    ]
    rows, _ = planned({"naming": {"convention": "off"}}, {"event": "SearchSubmitted"})
    assert rows[0]["event"] == "SearchSubmitted"


def test_a_derived_property_from_a_key_with_regex_characters_reaches_only_events_that_have_that_key() -> None:
    plan = {"derived": [{"property": "total", "from": "price.usd (incl+tax)?", "path": "$.amount"}]}
    rows, _ = planned(
        plan,
        {"event": "Paid", "properties": {"price.usd (incl+tax)?": {"amount": 12}}},
        {"event": "Paid", "properties": {"priceXusd (incl+tax)": {"amount": 13}}},  # a pattern would match this
        {"event": "Paid", "properties": {"price.usd": {"amount": 14}}},
    )
    assert [row["properties"].get("total") for row in rows] == [12, None, None]


def test_derived_properties_from_a_json_path_an_event_table_and_a_regex() -> None:
    plan = {
        "derived": [
            {"property": "results_count", "from": "argument", "path": "$.code_search.results.results_count"},
            {
                "property": "repogroup_name",
                "event_map": {"ViewRepogroup:python": "python", "ViewRepogroup:golang": "golang"},
            },
            {"property": "repo", "from": "url", "regex": "github\\.com/([^/?]+/[^/?]+)"},
        ]
    }
    rows, _ = planned(
        plan,
        {"event": "SearchSubmitted", "properties": {"argument": {"code_search": {"results": {"results_count": 17}}}}},
        {"event": "ViewRepogroup:golang", "properties": {"url": "https://sourcegraph.example/github.com/golang/go"}},
        {"event": "Other", "properties": {"results_count": 3}},
    )
    assert rows[0]["properties"]["results_count"] == 17
    assert rows[1]["properties"]["repogroup_name"] == "golang" and rows[1]["properties"]["repo"] == "golang/go"
    assert rows[2]["properties"]["results_count"] == 3  # a value the event already has is kept


def test_page_urls_and_referrers_are_split_for_web_analytics() -> None:
    rows, _ = planned(
        {},
        {
            "event": "$pageview",
            "properties": {
                "$current_url": "https://Docs.example.com/guide/search?utm_source=news%20letter&utm_campaign=launch#top",
                "$referrer": "https://www.google.com/search?q=x",
            },
        },
        {"event": "$pageview", "properties": {"$current_url": "https://docs.example.com/"}},
    )
    first, second = rows[0]["properties"], rows[1]["properties"]
    assert (first["$host"], first["$pathname"], first["utm_source"], first["utm_campaign"]) == (
        "Docs.example.com",
        "/guide/search",
        "news letter",
        "launch",
    )
    assert first["$referring_domain"] == "google.com" and "utm_medium" not in first
    assert second["$referring_domain"] == "$direct"


def test_denied_events_are_flagged_for_the_store_to_drop() -> None:
    rows, refused = planned(
        {"deny": ["Code Insights *", "ViewRepogroup:*"]},
        {"event": "CodeInsightsViewed"},
        {"event": "ViewRepogroup:python"},
        {"event": "Kept"},
    )
    assert [row["warning_kinds"] for row in rows] == [["denied_event"], ["denied_event"], []]
    assert refused == []


def test_denied_events_are_counted_per_name_and_not_stored(store: EventStore) -> None:
    (store.project.directory / "tracking_plan.yaml").write_text("deny: [Debug Ping]\n")
    documents = [
        orjson.dumps({"event": name, "distinct_id": "u"}).decode()
        for name in ("DebugPing", "DebugPing", "Search Submitted")
    ]
    rows = normalize.with_context(pa.table({"document": documents}), Context(T0, "api", SETTINGS))
    good, _ = normalize.normalize(rows, normalize.document_input(), SETTINGS)
    good, _ = tracking_plan.apply(good, tracking_plan.load(store.project.directory / "tracking_plan.yaml"))
    store.write(good.drop_columns(["request", "row_index"]))
    stored = store.engine.execute("SELECT event FROM events").to_pylist()
    assert stored == [{"event": "Search Submitted"}]
    counted = store.engine.execute("SELECT event, count FROM ingestion_warnings WHERE kind = 'denied_event'")
    assert counted.to_pylist() == [{"event": "Debug Ping", "count": 2}]


PLAN = {
    "events": {
        "Search Submitted": {
            "owner": "search",
            "properties": {
                "query": {"type": "string", "required": True},
                "pattern_type": {"allowed": ["literal", "regexp"]},
            },
        },
        "Old Thing": {"status": "inactive"},
    }
}


def test_flag_policy_keeps_events_and_warns() -> None:
    rows, refused = planned(
        {**PLAN, "unplanned": "flag"},
        {"event": "Search Submitted", "properties": {"query": 5, "pattern_type": "fuzzy", "x": 1}},
        {"event": "Surprise"},
        {"event": "OldThing"},
    )
    assert refused == []
    messages = {row["event"]: [warning["message"] for warning in row["warnings"]] for row in rows}
    assert messages["Search Submitted"] == [
        "property query should be a string; property pattern_type is not one of the allowed values; "
        "unplanned properties x"
    ]
    assert messages["Surprise"] == ["event Surprise is not in the tracking plan"]
    assert messages["Old Thing"] == ["event Old Thing is marked inactive in the tracking plan"]


def test_reject_policy_names_the_problem() -> None:
    rows, refused = planned(
        {**PLAN, "unplanned": "reject"},
        {"event": "Search Submitted", "properties": {}},
        {"event": "Surprise"},
        {"event": "Search Submitted", "properties": {"query": "q"}},
    )
    assert [row["event"] for row in rows] == ["Search Submitted"]
    assert refused == [
        (0, "properties", "property query is required"),
        (1, "event", "event Surprise is not in the tracking plan"),
    ]


def test_accept_policy_and_no_plan_accept_everything() -> None:
    rows, refused = planned(PLAN, {"event": "Surprise"}, {"event": "Search Submitted"})
    assert refused == [] and [row["warning_kinds"] for row in rows] == [[], []]


def test_the_plan_file_reloads_when_edited_and_errors_say_where(tmp_path: Path) -> None:
    path = tmp_path / "tracking_plan.yaml"
    plan_file = PlanFile(path)
    assert plan_file.plan.deny == []
    path.write_text("deny: [A]\n")
    assert plan_file.plan.deny == ["A"]
    path.write_text("unplanned: sometimes\n")
    with pytest.raises(ConfigError, match=r"tracking_plan\.yaml is invalid"):
        tracking_plan.load(path)


MIXED = [
    '{"event": "SearchSubmitted", "distinct_id": "u", "properties": {"query": "q", "argument": {"n": 3}}}',
    '{"event": "Viewed Page", "distinct_id": "u", "properties": {"url": "https://a.example.com/p?utm_source=x"}}',
    '{"event": "Viewed Page", "distinct_id": "u", "properties": {"url": "/relative", "referrer": ""}}',
    '{"event": "$pageview", "distinct_id": "u", "properties": {"$current_url": "https://b.example.com/",'
    ' "$host": "kept", "$referrer": "https://www.google.com/"}}',
    '{"event": "DebugPing", "distinct_id": "u"}',
    '{"event": "OldThing", "distinct_id": "u"}',
    '{"event": "Search Submitted", "distinct_id": "u", "properties": {"query": 5}}',
    '{"event": "Untouched", "distinct_id": "u", "properties": {"plain": "value"}}',
    '{"event": "Untouched", "distinct_id": "u", "properties": {"text": "mentions \\"url\\" in a value"}}',
    '{"event": "broken", "distinct_id": ',  # malformed: rejected by validation, the others are kept
    '{"event": "no one"}',
    '{"event": "Repo", "distinct_id": "u", "properties": {"path": "github.com/golang/go"}}',
]
PLANS = {
    "default": {},
    "naming, deny and derived": {
        "deny": ["Debug Ping"],
        "derived": [
            {"property": "results", "from": "argument", "path": "$.n"},
            {"property": "area", "event_map": {"Repo": "code"}},
            {"property": "repo", "from": "path", "regex": "github.com/(.*)"},
        ],
    },
    "flag": {**PLAN, "unplanned": "flag", "deny": ["Debug Ping"]},
    "reject": {**PLAN, "unplanned": "reject"},
}


@pytest.mark.parametrize("plan", PLANS.values(), ids=PLANS.keys())
def test_only_rows_the_plan_can_change_go_through_it_with_the_same_result(plan: dict[str, object]) -> None:
    rows = normalize.with_context(pa.table({"document": MIXED}), Context(T0, "api", SETTINGS))
    good, invalid = normalize.normalize(rows, normalize.document_input(), SETTINGS)
    assert sorted(invalid.column("row_index").to_pylist()) == [9, 10]
    tracking = TrackingPlan.model_validate(plan)
    fast, fast_refused = tracking_plan.apply(good, tracking)
    slow, slow_refused = tracking_plan.apply(good, tracking, every_row=True)

    def by_row(table: pa.Table) -> list[dict[str, object]]:
        return sorted(table.to_pylist(), key=lambda row: row["row_index"])

    assert fast.schema == slow.schema == good.schema
    assert by_row(fast) == by_row(slow)
    assert by_row(fast_refused) == by_row(slow_refused)
    assert fast.num_rows + fast_refused.num_rows == good.num_rows == len(MIXED) - 2
