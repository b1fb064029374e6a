"""The parts every insight spec shares: the date range, the interval, property filters, the breakdown and
who is counted. Each insight kind extends `InsightSpec` with its own fields."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sextant.errors import QueryError

Interval = Literal["hour", "day", "week", "month"]
Operator = Literal["eq", "neq", "contains", "regex", "gt", "lt", "in", "is_set", "not_set"]
Scalar = str | int | float | bool
MAX_DAYS = 3660

_RELATIVE = re.compile(r"^-(\d+)([hdwmy])$")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropertyFilter(StrictModel):
    """A condition on an event, person or group property. Values compare as text (`eq`, `neq`, `in`,
    `contains`, `regex`) or as numbers (`gt`, `lt`)."""

    type: Literal["event", "person", "group"] = "event"
    key: str = Field(min_length=1)
    operator: Operator = "eq"
    value: Scalar | list[Scalar] | None = None
    group_type: str | None = Field(default=None, description="for group properties: account, instance, ...")

    @model_validator(mode="after")
    def _value_fits_operator(self) -> PropertyFilter:
        where = f"filter on {self.type} property {self.key!r}"
        if self.type == "group" and not self.group_type:
            raise ValueError(f"{where}: a group property filter needs `group_type`, such as account")
        if self.operator in ("is_set", "not_set"):
            if self.value is not None:
                raise ValueError(f"{where}: `{self.operator}` takes no value")
        elif self.value is None:
            raise ValueError(f"{where}: `{self.operator}` needs a value")
        elif self.operator == "in" and not isinstance(self.value, list):
            raise ValueError(f"{where}: `in` needs a list of values")
        elif self.operator != "in" and isinstance(self.value, list):
            raise ValueError(f"{where}: `{self.operator}` takes one value; use `in` for a list")
        elif self.operator in ("gt", "lt") and (isinstance(self.value, bool) or not _is_number(self.value)):
            raise ValueError(f"{where}: `{self.operator}` needs a number, not {self.value!r}")
        elif self.operator == "regex":
            try:
                re.compile(str(self.value))
            except re.error as error:
                raise ValueError(f"{where}: {self.value!r} is not a regular expression ({error})") from None
        return self


class CohortFilter(StrictModel):
    """Keeps (or, negated, drops) the members of a saved cohort."""

    type: Literal["cohort"]
    cohort: int
    negate: bool = False


class FilterGroup(StrictModel):
    """Filters combined with AND or OR; groups nest."""

    operator: Literal["and", "or"] = "and"
    filters: list[Filter] = []


Filter = Annotated[PropertyFilter | CohortFilter | FilterGroup, Field(union_mode="left_to_right")]
FilterGroup.model_rebuild()


class Breakdown(StrictModel):
    """Split results by a property (the top `limit` values by volume, the rest as "other"), or by saved
    cohorts (a person in several shows under the first one listed)."""

    type: Literal["event", "person", "group", "cohort"] = "event"
    key: str | None = Field(default=None, min_length=1)
    group_type: str | None = None
    cohorts: list[int] = []
    limit: int = Field(default=10, ge=1, le=1000)

    @model_validator(mode="after")
    def _complete(self) -> Breakdown:
        if self.type == "cohort":
            if not self.cohorts:
                raise ValueError("a cohort breakdown needs `cohorts`, a list of cohort ids")
        elif not self.key:
            raise ValueError(f"a breakdown by {self.type} property needs `key`, the property's name")
        if self.type == "group" and not self.group_type:
            raise ValueError(f"breakdown by group property {self.key!r} needs `group_type`, such as account")
        return self


class EventSelector(StrictModel):
    """One event (by its shown name; None means any event) with filters of its own."""

    event: str | None
    filters: list[Filter] = []


class InsightSpec(StrictModel):
    """Fields every insight kind takes."""

    kind: str
    date_from: str = Field(default="-30d", description="a date, a time, or relative: -24h, -30d, -4w, -3m, -1y")
    date_to: str | None = Field(default=None, description="inclusive; a date, a time or relative; default now")
    interval: Interval = "day"
    filters: list[Filter] = []
    breakdown: Breakdown | None = Field(
        default=None, description="split the results by a property's top values or by cohorts"
    )
    count_by: str = Field(default="persons", description="persons, or a group type such as account or instance")
    person_properties: Literal["as_of_event", "current"] = "as_of_event"
    compare_to_previous: bool = False

    @field_validator("date_from", "date_to")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is not None and value not in ("today", "now") and not _RELATIVE.match(value):
            try:
                dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a date; use 2024-05-01, 2024-05-01T09:00:00, today, now, or -30d, -4w, -3m"
                ) from None
        return value

    @field_validator("count_by")
    @classmethod
    def _count_by(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$-]*", value):
            raise ValueError(f"count_by {value!r} must be `persons` or a group type such as account")
        return value


BREAKDOWN_KINDS = ("segmentation", "funnel", "retention", "stickiness", "active_users")


class WithoutBreakdown(InsightSpec):
    """A kind whose results a breakdown cannot split (a lifecycle status or a path is not about one property
    value): a `breakdown` is refused rather than ignored, and the schema shows the field as null."""

    breakdown: None = Field(  # type: ignore[assignment]
        default=None, description=f"not taken by this kind; {', '.join(BREAKDOWN_KINDS)} take a breakdown"
    )

    @field_validator("breakdown", mode="before")
    @classmethod
    def _no_breakdown(cls, value: object) -> None:
        if value is not None:
            kind = cls.model_fields["kind"].default
            raise ValueError(
                f"{kind} results cannot be broken down; drop `breakdown` (the kinds that take one: "
                f"{', '.join(BREAKDOWN_KINDS)})"
            )
        return None


@dataclass(frozen=True)
class DateRange:
    """A resolved range: UTC instants [start, end) and the local dates it covers."""

    start: dt.datetime
    end: dt.datetime
    timezone: str

    @property
    def first_day(self) -> dt.date:
        return self.start.astimezone(zoneinfo.ZoneInfo(self.timezone)).date()

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(microseconds=1)).astimezone(zoneinfo.ZoneInfo(self.timezone)).date()

    def previous(self) -> DateRange:
        """The range of the same length that ends where this one starts."""
        return DateRange(self.start - (self.end - self.start), self.start, self.timezone)


def resolve_dates(date_from: str, date_to: str | None, timezone: str, now: dt.datetime) -> DateRange:
    """Dates are local to the project's time zone; a bare date `date_to` includes that whole day."""
    zone = zoneinfo.ZoneInfo(timezone)
    start = _instant(date_from, zone, now, end=False)
    end = _instant(date_to, zone, now, end=True) if date_to else now
    if end <= start:
        raise QueryError(f"date_from ({date_from}) must be before date_to ({date_to or 'now'})")
    if end - start > dt.timedelta(days=MAX_DAYS):
        raise QueryError(f"a date range may span at most {MAX_DAYS} days; narrow date_from or date_to")
    return DateRange(start, end, timezone)


def _instant(value: str, zone: zoneinfo.ZoneInfo, now: dt.datetime, *, end: bool) -> dt.datetime:
    today = now.astimezone(zone).date()
    if value == "now":
        return now
    if value == "today":
        day = today
    elif match := _RELATIVE.match(value):
        amount, unit = int(match[1]), match[2]
        if unit == "h":
            return now - dt.timedelta(hours=amount)
        day = _shift(today, amount, unit)
    else:
        parsed = dt.datetime.fromisoformat(value)
        if len(value) > 10:  # a time was given
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(dt.UTC)
        day = parsed.date()
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def _shift(day: dt.date, amount: int, unit: str) -> dt.date:
    if unit == "d":
        return day - dt.timedelta(days=amount)
    if unit == "w":
        return day - dt.timedelta(weeks=amount)
    months = day.year * 12 + day.month - 1 - (amount * 12 if unit == "y" else amount)
    year, month = divmod(months, 12)
    # The same day of the target month, or its last day when it is shorter (31 March - 1m = 29 February).
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _is_number(value: object) -> bool:
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def problems(error: ValidationError, whole: str) -> str:
    """A validation error as one line naming each wrong field (`whole` names the object itself)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or whole}: {problem['msg']}" for problem in error.errors()
    )
