"""Dashboard filters: how they change a tile's spec, and how they travel in a query string."""

from __future__ import annotations

import pytest

from sextant.content.access import ContentError
from sextant.content.filters import DashboardFilters, from_query, parse_filters

SPEC = {"kind": "funnel", "date_from": "-30d", "date_to": "2024-05-31", "filters": [{"key": "os", "value": "mac"}]}


def test_dates_replace_the_tiles_and_property_filters_are_added() -> None:
    filters = parse_filters({"date_from": "2024-05-07", "filters": [{"type": "person", "key": "plan", "value": "pro"}]})
    assert filters.apply(SPEC) == {
        "kind": "funnel",
        "date_from": "2024-05-07",  # and no date_to: up to now, as a spec without one
        "filters": [{"key": "os", "value": "mac"}, {"type": "person", "key": "plan", "operator": "eq", "value": "pro"}],
    }
    assert parse_filters({"date_to": "2024-05-08"}).apply(SPEC)["date_to"] == "2024-05-08"
    assert DashboardFilters().apply(SPEC) == SPEC and DashboardFilters().empty
    assert SPEC["date_to"] == "2024-05-31"  # the tile's own spec is left alone


def test_query_strings_round_trip_and_defaults_apply_without_one() -> None:
    filters = parse_filters(
        {
            "date_from": "-7d",
            "filters": [
                {"key": "country", "operator": "in", "value": ["DE", "FR"]},
                {"key": "x", "operator": "is_set"},
            ],
        }
    )
    params: dict[str, list[str]] = {}
    for name, value in filters.query():
        params.setdefault(name, []).append(value)
    assert from_query(params, DashboardFilters()) == filters
    assert from_query({}, filters) == filters
    assert from_query({"filtered": ["1"], "filter_key": [""], "filter_value": [""]}, filters) == DashboardFilters()


def test_bad_filters_say_what_is_wrong() -> None:
    with pytest.raises(ContentError, match="is not a date"):
        parse_filters({"date_from": "last tuesday"})
    with pytest.raises(ContentError, match="needs a number"):
        from_query(
            {"filtered": ["1"], "filter_key": ["n"], "filter_operator": ["gt"], "filter_value": ["many"]},
            DashboardFilters(),
        )
