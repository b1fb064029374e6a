"""Dashboard filters: a date range and property filters that apply to every tile of a dashboard. A tile's
effective spec is its own spec with the dashboard's dates in place of its own and the dashboard's property
filters added to its own filters (AND).

Editors save a dashboard's default filters; anyone who may view it can apply others for themselves through
the page's query string (`date_from`, `date_to`, and `filter_type`, `filter_key`, `filter_operator`,
`filter_value` repeated once per property filter; `in` takes comma-separated values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, ValidationError, model_validator

from sextant.content.access import ContentError
from sextant.insights.spec import InsightSpec, PropertyFilter, StrictModel, problems

# Present in a query string that carries filters, so that "no filters" can be told from "the defaults".
APPLIED = "filtered"
_FILTER_FIELDS = ("filter_type", "filter_key", "filter_operator", "filter_value")


class DashboardFilters(StrictModel):
    date_from: str | None = None
    date_to: str | None = None
    filters: list[PropertyFilter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dates(self) -> DashboardFilters:
        # The same rules as a spec's dates: checked by the spec model itself.
        InsightSpec(kind="dashboard", date_from=self.date_from or "-30d", date_to=self.date_to)
        return self

    @property
    def empty(self) -> bool:
        return not (self.date_from or self.date_to or self.filters)

    def apply(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The spec that a tile showing `spec` runs under these filters."""
        effective = dict(spec)
        if self.date_from:
            effective["date_from"] = self.date_from
            effective.pop("date_to", None)
        if self.date_to:
            effective["date_to"] = self.date_to
        if self.filters:
            added = [item.model_dump(mode="json", exclude_none=True) for item in self.filters]
            effective["filters"] = [*spec.get("filters", []), *added]
        return effective

    def query(self) -> list[tuple[str, str]]:
        """These filters as query-string pairs (the form of `from_query`)."""
        pairs = [(APPLIED, "1")]
        if self.date_from:
            pairs.append(("date_from", self.date_from))
        if self.date_to:
            pairs.append(("date_to", self.date_to))
        for item in self.filters:
            value = item.value
            text = ",".join(str(part) for part in value) if isinstance(value, list) else _text(value)
            pairs += [
                ("filter_type", item.type),
                ("filter_key", item.key),
                ("filter_operator", item.operator),
                ("filter_value", text),
            ]
        return pairs


def parse_filters(body: Any) -> DashboardFilters:
    """Saved filters (JSON) as a model; errors name the field."""
    try:
        return DashboardFilters.model_validate(body or {})
    except (ValidationError, ValueError) as error:
        raise ContentError(f"invalid dashboard filters: {_message(error)}") from None


def from_query(params: Mapping[str, Sequence[str]], defaults: DashboardFilters) -> DashboardFilters:
    """The filters of a page's query string, or `defaults` when it carries none."""
    if not params.get(APPLIED):
        return defaults
    columns = [list(params.get(name, [])) for name in _FILTER_FIELDS]
    rows = max((len(column) for column in columns), default=0)
    filters = []
    for index in range(rows):
        kind, key, operator, value = (column[index] if index < len(column) else "" for column in columns)
        if not key.strip():
            continue  # an empty row of the form
        item: dict[str, Any] = {"type": kind or "event", "key": key.strip(), "operator": operator or "eq"}
        if item["operator"] == "in":
            item["value"] = [part.strip() for part in value.split(",") if part.strip()]
        elif item["operator"] not in ("is_set", "not_set"):
            item["value"] = value
        filters.append(item)
    body = {
        "date_from": _first(params, "date_from"),
        "date_to": _first(params, "date_to"),
        "filters": filters,
    }
    return parse_filters(body)


def _first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or [""]
    return values[0].strip() or None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return problems(error, "filters")
    return str(error)
