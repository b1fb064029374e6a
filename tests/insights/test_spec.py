"""Relative dates resolve in the project's time zone; every expected instant here was worked out by hand
(Berlin is UTC+1 in winter and UTC+2 in summer: from 31 March 2024 and from 26 March 2023)."""

from __future__ import annotations

import datetime as dt

import pytest

from sextant.errors import QueryError
from sextant.insights.runner import parse_spec, spec_schema
from sextant.insights.spec import BREAKDOWN_KINDS, resolve_dates

TIMEZONE = "Europe/Berlin"
# 12:00 on Sunday 31 March 2024 in Berlin, hours after its clocks went forward.
LAST_OF_MARCH = dt.datetime(2024, 3, 31, 10, 0, tzinfo=dt.UTC)
LAST_OF_MAY = dt.datetime(2024, 5, 31, 10, 0, tzinfo=dt.UTC)
LEAP_DAY = dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.UTC)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "date_from", "start"),
    [
        (LAST_OF_MARCH, "-24h", utc(2024, 3, 30, 10)),  # hours count back from now, not from midnight
        (LAST_OF_MARCH, "-30d", utc(2024, 2, 29, 23)),  # 1 March, 00:00 UTC+1
        (LAST_OF_MARCH, "-4w", utc(2024, 3, 2, 23)),  # 3 March
        (LAST_OF_MARCH, "today", utc(2024, 3, 30, 23)),  # midnight came before the change to summer time
        (LAST_OF_MARCH, "-1m", utc(2024, 2, 28, 23)),  # 29 February: March 31 has no February day
        (LAST_OF_MARCH, "-2m", utc(2024, 1, 30, 23)),  # 31 January
        (LAST_OF_MARCH, "-3m", utc(2023, 12, 30, 23)),  # 31 December
        (LAST_OF_MARCH, "-13m", utc(2023, 2, 27, 23)),  # 28 February 2023, not a leap year
        (LAST_OF_MARCH, "-1y", utc(2023, 3, 30, 22)),  # 31 March 2023, already summer time (UTC+2)
        (LAST_OF_MAY, "-1m", utc(2024, 4, 29, 22)),  # 30 April
        (LAST_OF_MAY, "-3m", utc(2024, 2, 28, 23)),  # 29 February
        (LAST_OF_MAY, "-12m", utc(2023, 5, 30, 22)),  # 31 May 2023
        (LEAP_DAY, "-1m", utc(2024, 1, 28, 23)),  # 29 January
        (LEAP_DAY, "-1y", utc(2023, 2, 27, 23)),  # 28 February 2023
        (LEAP_DAY, "-4y", utc(2020, 2, 28, 23)),  # 29 February 2020
    ],
)
def test_relative_date_from(now: dt.datetime, date_from: str, start: dt.datetime) -> None:
    dates = resolve_dates(date_from, None, TIMEZONE, now)
    assert (dates.start, dates.end) == (start, now)


def test_a_relative_date_to_includes_its_whole_day() -> None:
    # 29 February (31 March - 1m) ends at midnight before 1 March, UTC+1.
    dates = resolve_dates("-3m", "-1m", TIMEZONE, LAST_OF_MARCH)
    assert (dates.start, dates.end) == (utc(2023, 12, 30, 23), utc(2024, 2, 29, 23))


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(QueryError, match="must be before"):
        resolve_dates("-1m", "-2m", TIMEZONE, LAST_OF_MARCH)


@pytest.mark.parametrize("kind", ["lifecycle", "paths", "persons", "instances"])
def test_kinds_that_cannot_split_their_results_refuse_a_breakdown(kind: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse_spec({"kind": kind, "breakdown": {"type": "event", "key": "plan"}})
    assert f"invalid {kind} spec: breakdown: " in str(refused.value)
    assert "segmentation, funnel, retention, stickiness, active_users" in str(refused.value)
    schema = spec_schema()["$defs"][f"{kind.title().replace('_', '')}Spec"]["properties"]["breakdown"]
    assert schema["type"] == "null" and "stickiness" in schema["description"]


@pytest.mark.parametrize("kind", BREAKDOWN_KINDS)
def test_the_schema_offers_a_breakdown_to_the_kinds_that_take_one(kind: str) -> None:
    schema = spec_schema()["$defs"][f"{kind.title().replace('_', '')}Spec"]["properties"]["breakdown"]
    assert {"$ref": "#/$defs/Breakdown"} in schema["anyOf"]
