"""What every insight shares through the event scan: property filters and their operators, AND/OR groups,
counting groups instead of persons, person properties as of the event or now, the tracking plan's
query-time transformations, and access filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sextant.ingest.tracking_plan import TrackingPlan, Transformations
from sextant.insights.runner import run_query
from sextant.insights.scan import QueryContext
from sextant.insights.spec import PropertyFilter
from tests.conftest import T0
from tests.insights.conftest import InsightProject

HOUR = dt.timedelta(hours=1)
RANGE = {"date_from": "2024-05-06", "date_to": "2024-05-06"}


def load(project: InsightProject) -> None:
    def event(name: str, who: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
        return {"event": name, "distinct_id": who, "timestamp": at.isoformat(), **fields}

    project.ingest(
        [
            event("Search", "ann", T0, properties={"query": "repo:acme/api", "results": 12, "lang": "go"},
                  groups={"account": "acme"}, person_updates={"$set": {"plan": "free"}}),
            event("Search", "ann", T0 + HOUR, properties={"query": "TODO", "results": 0}, groups={"account": "acme"}),
            event("Search", "bo", T0 + HOUR, properties={"query": "fix bug", "results": 3, "lang": "Python"},
                  groups={"account": "globex"}, person_updates={"$set": {"plan": "pro"}}),
            event("Search", "cy", T0 + 2 * HOUR, properties={"results": 7.5}),
            event("Upgraded", "ann", T0 + 3 * HOUR, person_updates={"$set": {"plan": "pro"}}),
            event("Legacy Search", "bo", T0 + 4 * HOUR, properties={"lang": "go"}),
        ]
    )  # fmt: skip


def total(project: InsightProject, series: dict[str, Any], **spec: Any) -> Any:
    result = project.query({"kind": "segmentation", **RANGE, "series": [series], **spec})
    return result["series"][0]["total"]


SEARCHES = {"event": "Search"}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"key": "lang", "operator": "eq", "value": "go"}, 1),
        ({"key": "lang", "operator": "neq", "value": "go"}, 3),  # events without the property count as not equal
        ({"key": "query", "operator": "contains", "value": "ACME"}, 1),  # contains ignores case
        ({"key": "query", "operator": "regex", "value": "^(TODO|fix)"}, 2),
        ({"key": "results", "operator": "gt", "value": 3}, 2),
        ({"key": "results", "operator": "lt", "value": 3}, 1),
        ({"key": "results", "operator": "eq", "value": 7.5}, 1),  # numbers compare as numbers
        ({"key": "lang", "operator": "in", "value": ["go", "Python"]}, 2),
        ({"key": "lang", "operator": "is_set"}, 2),
        ({"key": "lang", "operator": "not_set"}, 2),
    ],
)
def test_each_operator(project: InsightProject, condition: dict[str, Any], expected: int) -> None:
    load(project)
    assert total(project, SEARCHES, filters=[condition]) == expected


def test_and_or_groups(project: InsightProject) -> None:
    load(project)
    either = {
        "operator": "or",
        "filters": [{"key": "lang", "value": "go"}, {"key": "results", "operator": "lt", "value": 1}],
    }
    assert total(project, SEARCHES, filters=[either]) == 2
    assert total(project, SEARCHES, filters=[either, {"key": "query", "operator": "contains", "value": "todo"}]) == 1


def test_person_properties_as_of_the_event_or_now(project: InsightProject) -> None:
    load(project)
    pro = [{"type": "person", "key": "plan", "value": "pro"}]
    # ann was on the free plan when she searched and upgraded later.
    assert total(project, SEARCHES, filters=pro) == 1
    assert total(project, SEARCHES, filters=pro, person_properties="current") == 3


def test_counting_accounts_instead_of_persons(project: InsightProject) -> None:
    load(project)
    assert total(project, {**SEARCHES, "math": "unique"}) == 3
    # cy's search belongs to no account and is left out.
    assert total(project, {**SEARCHES, "math": "unique"}, count_by="account") == 2
    assert total(project, {**SEARCHES, "math": "unique_group", "group_type": "account"}) == 2


def test_compare_to_previous_answers_the_same_question_for_the_period_before(project: InsightProject) -> None:
    load(project)
    result = project.query({"kind": "segmentation", "date_from": "2024-05-07", "date_to": "2024-05-07",
                            "series": [SEARCHES], "compare_to_previous": False})  # fmt: skip
    assert result["series"][0]["total"] == 0
    context = QueryContext(project.engine, project.project.name, "Europe/Berlin", TrackingPlan(), T0 + 48 * HOUR)
    spec = {"kind": "segmentation", "date_from": "2024-05-07", "date_to": "2024-05-07", "series": [SEARCHES],
            "compare_to_previous": True}  # fmt: skip
    answer = run_query(spec, context)
    assert answer.result["series"][0]["total"] == 0 and answer.previous is not None
    assert answer.previous["series"][0]["total"] == 4 and answer.previous["labels"] == ["2024-05-06"]


def test_hourly_buckets_are_local_hours(project: InsightProject) -> None:
    load(project)
    result = project.query({"kind": "segmentation", **RANGE, "interval": "hour", "series": [SEARCHES]})
    # 09:00 UTC is 11:00 in Berlin.
    assert result["labels"][0] == "2024-05-06 00:00:00" and len(result["labels"]) == 24
    data = dict(zip(result["labels"], result["series"][0]["data"], strict=True))
    assert (data["2024-05-06 11:00:00"], data["2024-05-06 12:00:00"], data["2024-05-06 13:00:00"]) == (1, 2, 1)


def test_the_tracking_plans_query_time_transformations(project: InsightProject) -> None:
    load(project)
    plan = TrackingPlan(
        transformations=Transformations(
            merge_events={"Any Search": ["Search", "Legacy Search"]},
            hide_events=["Upgraded"],
            rename_values={"lang": {"go": "Go"}},
        )
    )
    context = QueryContext(project.engine, project.project.name, "Europe/Berlin", plan, T0 + 48 * HOUR)

    def answer(spec: dict[str, Any]) -> dict[str, Any]:
        return run_query({"kind": "segmentation", **RANGE, **spec}, context).result

    assert answer({"series": [{"event": "Any Search"}]})["series"][0]["total"] == 5
    assert answer({"series": [{"event": "Search"}]})["series"][0]["total"] == 0  # merged away
    assert answer({"series": [{"event": None}]})["series"][0]["total"] == 5  # Upgraded is hidden
    by_lang = answer({"series": [{"event": "Any Search"}], "breakdown": {"key": "lang"}})["series"]
    assert {line["breakdown_value"]: line["total"] for line in by_lang} == {"Go": 2, "Python": 1, "$none": 2}


def test_access_filters_apply_to_every_query(project: InsightProject) -> None:
    load(project)
    only_go = [PropertyFilter(type="event", key="lang", operator="eq", value="go")]
    context = QueryContext(
        project.engine, project.project.name, "Europe/Berlin", TrackingPlan(), T0 + 48 * HOUR, access_filters=only_go
    )
    segmentation = run_query({"kind": "segmentation", **RANGE, "series": [{"event": None}]}, context).result
    assert segmentation["series"][0]["total"] == 2
    funnel = {"kind": "funnel", **RANGE, "steps": [{"event": "Search"}, {"event": "Legacy Search"}]}
    # Without the filter bo converts (Search, then Legacy Search); with it only his Legacy Search is visible.
    assert [step["count"] for step in project.query(funnel)["results"][0]["steps"]] == [3, 1]
    assert [step["count"] for step in run_query(funnel, context).result["results"][0]["steps"]] == [1, 0]
    assert run_query({"kind": "active_users", **RANGE}, context).result["dau"] == [2]


def test_access_filters_read_person_properties_as_of_the_event_whatever_the_query_asks(
    project: InsightProject,
) -> None:
    """Otherwise a restricted caller could widen their rows by asking for current person properties."""
    load(project)
    pro = [PropertyFilter(type="person", key="plan", operator="eq", value="pro")]
    context = QueryContext(
        project.engine, project.project.name, "Europe/Berlin", TrackingPlan(), T0 + 48 * HOUR, access_filters=pro
    )
    searches = {"kind": "segmentation", **RANGE, "series": [SEARCHES]}
    # ann searched twice on the free plan and upgraded later: only bo's search passes as of the event.
    for mode in ("as_of_event", "current"):
        assert run_query({**searches, "person_properties": mode}, context).result["series"][0]["total"] == 1
