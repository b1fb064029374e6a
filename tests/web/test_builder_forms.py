"""The builder form's two directions (`sextant.web.builder_forms`): a spec filled into the form and the form
submitted as it is gives the spec back, for group-property filters and for the instances kind; rows the
person edits give the spec they say."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import MultiDict

from sextant.insights.runner import parse_spec
from sextant.web.builder_forms import BuilderForm, form_from_spec, spec_from_form

GROUP_PLAN = {"type": "group", "group_type": "account", "key": "plan", "operator": "eq", "value": "enterprise"}


def submitted(form: BuilderForm) -> MultiDict:
    """The fields a browser sends for the form as `builder/page.html` shows it (every filter row has a
    group type field, empty unless the row is a group filter)."""
    fields: list[tuple[str, Any]] = [("date_range", form.date_range), ("date_from", form.date_from)]
    fields += [("date_to", form.date_to), ("interval", form.interval)]
    for row in form.filters:
        fields += [("filter_type", row.type), ("filter_group_type", row.group_type), ("filter_key", row.key)]
        fields += [("filter_operator", row.operator), ("filter_value", row.value)]
    fields += [("breakdown_type", form.breakdown_type), ("breakdown_key", form.breakdown_key)]
    fields += [("series_event", row.event) for row in form.series]
    fields += [("series_math", row.math) for row in form.series]
    fields += [("series_property", row.property) for row in form.series]
    fields += [("step_event", event) for event in form.steps]
    fields += [("window_value", str(form.window_value)), ("window_unit", form.window_unit), ("order", form.order)]
    fields += [("by", form.by)]
    return MultiDict(fields)


def round_trip(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["kind"]
    return spec_from_form(kind, submitted(form_from_spec(kind, spec)), base=spec)


SEARCHES = {
    "kind": "segmentation",
    "date_from": "-30d",
    "interval": "week",
    "series": [{"event": "Search", "math": "total"}],
}


@pytest.mark.parametrize(
    "filters",
    [
        [GROUP_PLAN],
        [{**GROUP_PLAN, "group_type": "instance", "key": "deployment", "operator": "in", "value": ["helm", "k8s"]}],
        [{**GROUP_PLAN, "operator": "gt", "key": "seats", "value": 10}],
        [{"type": "group", "group_type": "account", "key": "plan", "operator": "is_set"}],
        [
            {"type": "event", "key": "query", "operator": "contains", "value": "sql"},
            GROUP_PLAN,
            {"type": "person", "key": "country", "operator": "neq", "value": "FR"},
        ],
    ],
    ids=["eq", "in", "gt", "is_set", "mixed"],
)
def test_group_filters_go_through_the_form_unchanged(filters: list[dict[str, Any]]) -> None:
    spec = {**SEARCHES, "filters": filters}
    form = form_from_spec("segmentation", spec)
    assert form.kept == []  # editable in the form, not only kept from the spec
    assert [row.group_type for row in form.filters] == [item.get("group_type", "") for item in filters]
    assert round_trip(spec) == spec
    parse_spec(round_trip(spec))


def test_a_group_row_filled_in_the_form_becomes_a_group_filter() -> None:
    form = form_from_spec("funnel", None)
    fields = submitted(form)
    fields = MultiDict(
        [(key, value) for key, value in fields.multi_items() if not key.startswith("filter_")]
        + [
            ("step_event", "Signed Up"),
            ("step_event", "Search"),
            ("filter_type", "event"),
            ("filter_group_type", ""),
            ("filter_key", "query"),
            ("filter_operator", "is_set"),
            ("filter_value", ""),
            ("filter_type", "group"),
            ("filter_group_type", " account "),
            ("filter_key", "plan"),
            ("filter_operator", "in"),
            ("filter_value", "pro, enterprise"),
        ]
    )
    spec = spec_from_form("funnel", fields)
    assert spec["filters"] == [
        {"type": "event", "key": "query", "operator": "is_set"},
        {"type": "group", "group_type": "account", "key": "plan", "operator": "in", "value": ["pro", "enterprise"]},
    ]
    parse_spec(spec)


def test_a_group_row_without_a_group_type_is_left_for_the_engine_to_refuse() -> None:
    fields = MultiDict(
        [("filter_type", "group"), ("filter_key", "plan"), ("filter_operator", "eq"), ("filter_value", "pro")]
    )
    spec = spec_from_form("lifecycle", fields)
    assert spec["filters"] == [{"type": "group", "group_type": "", "key": "plan", "operator": "eq", "value": "pro"}]
    with pytest.raises(Exception, match="needs `group_type`"):
        parse_spec(spec)


@pytest.mark.parametrize("by", ["deployment_type", "version", "versions_behind", "telemetry_status"])
def test_instances_go_through_the_form_unchanged(by: str) -> None:
    spec = {"kind": "instances", "date_from": "2024-04-01", "date_to": "2024-05-10", "by": by}
    form = form_from_spec("instances", spec)
    assert (form.by, form.date_range, form.date_from) == (by, "custom", "2024-04-01")
    assert round_trip(spec) == spec
    relative = {"kind": "instances", "date_from": "-90d", "by": by}
    assert round_trip(relative) == relative
    parse_spec(round_trip(spec))


def test_a_new_instances_form_counts_by_telemetry_status_and_has_no_filters_or_interval() -> None:
    spec = spec_from_form("instances", submitted(form_from_spec("instances", None)))
    assert spec == {"kind": "instances", "date_from": "-30d", "by": "telemetry_status"}
    parse_spec(spec)
