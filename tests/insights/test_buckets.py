"""Bucket labels in the project's time zone, worked out by hand: hours follow the local clock, including in
zones half an hour off UTC and on days when the clocks change."""

from __future__ import annotations

import datetime as dt

from sextant.insights.buckets import bucket_labels
from sextant.insights.spec import resolve_dates


def hours_of(day: str, timezone: str) -> list[str]:
    now = dt.datetime(2024, 12, 31, tzinfo=dt.UTC)
    return bucket_labels(resolve_dates(day, day, timezone, now), "hour")


def test_a_day_in_kolkata_has_its_own_24_hours() -> None:
    # Kolkata is UTC+5:30: 6 May starts at 18:30 UTC on 5 May, half past a UTC hour.
    assert hours_of("2024-05-06", "Asia/Kolkata") == [f"2024-05-06 {hour:02}:00:00" for hour in range(24)]


def test_a_range_starting_within_a_local_hour_starts_with_that_hour() -> None:
    # 09:00 UTC is 14:30 in Kolkata: the range touches 14:00 yesterday to 14:00 today.
    now = dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.UTC)
    labels = bucket_labels(resolve_dates("-24h", None, "Asia/Kolkata", now), "hour")
    assert (labels[0], labels[-1], len(labels)) == ("2024-05-05 14:00:00", "2024-05-06 14:00:00", 25)


def test_days_when_berlin_changes_its_clocks() -> None:
    spring = hours_of("2024-03-31", "Europe/Berlin")  # 02:00 is skipped
    assert spring == [f"2024-03-31 {hour:02}:00:00" for hour in range(24) if hour != 2]
    autumn = hours_of("2024-10-27", "Europe/Berlin")  # 02:00 comes twice, as one bucket
    assert autumn == [f"2024-10-27 {hour:02}:00:00" for hour in range(24)]


def test_days_weeks_and_months() -> None:
    dates = resolve_dates("2024-03-30", "2024-04-01", "America/Los_Angeles", dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert bucket_labels(dates, "day") == ["2024-03-30", "2024-03-31", "2024-04-01"]
    assert bucket_labels(dates, "week") == ["2024-03-25", "2024-04-01"]
    assert bucket_labels(dates, "month") == ["2024-03-01", "2024-04-01"]
