"""Time buckets in the project's time zone: how a query groups timestamps, and the full list of bucket labels
a result shows (empty buckets included). Weeks start on Monday."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlglot import exp

from sextant.insights.spec import DateRange, Interval
from sextant.warehouse.engine import Engine

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(instant: dt.datetime) -> int:
    """An instant as microseconds since 1970, as timestamps reach Python from the warehouse."""
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def bucket_of_timestamp(engine: Engine, timestamp: exp.Expr, interval: Interval, timezone: str) -> exp.Expr:
    if interval == "hour":
        return engine.local_hour(timestamp, timezone)
    return engine.truncate_date(engine.local_date(timestamp, timezone), interval)


def bucket_of_date(engine: Engine, date: exp.Expr, interval: Interval) -> exp.Expr:
    return engine.truncate_date(date, "day" if interval == "hour" else interval)


def start_of(day: dt.date, interval: Interval) -> dt.date:
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def next_start(day: dt.date, interval: Interval) -> dt.date:
    if interval == "week":
        return day + dt.timedelta(days=7)
    if interval == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


def end_of(day: dt.date, interval: Interval) -> dt.date:
    """The last day of the period containing `day`."""
    return next_start(start_of(day, interval), interval) - dt.timedelta(days=1)


def bucket_labels(dates: DateRange, interval: Interval) -> list[str]:
    """Every bucket the range touches, in order."""
    if interval == "hour":
        zone = zoneinfo.ZoneInfo(dates.timezone)
        labels: list[str] = []
        # The local hour the range starts in: in a zone half an hour off UTC (Asia/Kolkata), the UTC hour
        # would start half an hour early, in the local hour before.
        instant = dates.start.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)
        while instant < dates.end:
            text = label(instant.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None))
            if not labels or labels[-1] != text:
                labels.append(text)
            instant += dt.timedelta(hours=1)
        return labels
    days = []
    day = start_of(dates.first_day, interval)
    while day <= dates.last_day:
        days.append(day.isoformat())
        day = next_start(day, interval)
    return days


def incomplete(
    labels: list[str], interval: Interval, timezone: str, now: dt.datetime, counted: DateRange | None = None
) -> list[bool]:
    """Per bucket label: whether the bucket is cut short, so that its numbers cover less than a whole period:
    it has not ended by `now` or, when the query counts only the events of the range `counted`, it starts
    before that range or ends after it."""
    zone = zoneinfo.ZoneInfo(timezone)
    flags = []
    for text in labels:
        start = dt.datetime.fromisoformat(text).replace(tzinfo=zone)
        if interval == "hour":
            end = start + dt.timedelta(hours=1)
        else:
            end = dt.datetime.combine(next_start(start.date(), interval), dt.time(), zone)
        flags.append(end > now or (counted is not None and (start < counted.start or end > counted.end)))
    return flags


def label(value: object) -> str:
    """A bucket value from a query result as its label."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:00:00")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
