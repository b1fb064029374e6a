"""The insight builder: a page per insight kind whose URL holds the whole spec (`?spec=<JSON>&chart=<type>`),
the chart above the results table, the generated SQL, and the full result as CSV. Queries run through
the same service (and results cache) as `POST /api/v1/query`; building needs a role that runs ad-hoc
queries (Creator or Admin)."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sextant import catalog
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.errors import NotFound
from sextant.auth.folders import visible_folders
from sextant.auth.permissions import Action, Principal, can_edit
from sextant.content.results import csv_chunks
from sextant.errors import QueryError
from sextant.insights.runner import QueryResult, runner_class
from sextant.insights.spec import Filter
from sextant.web import builder_forms as forms
from sextant.web.charts import chart_spec, chart_types
from sextant.web.state import ServerState
from sextant.web.templating import page_router, redirect, render

router = page_router()
Builder = Annotated[Principal, Depends(require(Action.RUN_QUERIES))]
TABLE_ROWS = 1000  # the page shows this many rows; the CSV has them all
CATALOG_CACHE_SIZE = 16
# Query parameters that say where the builder was opened from; they stay in the URL as the spec changes.
CONTEXT_PARAMETERS = ("look", "from_dashboard")


@router.get("/insights")
async def insight_kinds(request: Request, user: Builder) -> Response:
    return render(
        request, "builder/index.html", {"section": "insights", "kinds": forms.KINDS, "descriptions": forms.DESCRIPTIONS}
    )


@router.get("/insights/{kind}")
async def builder_page(request: Request, kind: str, user: Builder) -> Response:
    """With `spec`: the insight's chart, table and SQL. Without it: the form, and a submitted form is
    turned into its spec and sent to the URL that holds it."""
    _check_kind(kind)
    parameters = request.query_params
    if "spec" not in parameters and parameters.get("builder"):
        spec = forms.spec_from_form(kind, parameters, _json_or_none(parameters.get("base")))
        return redirect(request, builder_url(kind, spec, parameters.get("chart"), _context_of(request)))
    state: ServerState = request.app.state.sextant
    view = BuilderView(
        kind=kind, context=_context_of(request), chart=parameters.get("chart") or None, text=parameters.get("spec", "")
    )
    status = 200
    if "spec" in parameters:
        try:
            view.spec = _spec_of(kind, parameters["spec"])
            view.result = await run_in_threadpool(state.insights.query, view.spec, access_filters=user.access_filters)
        except QueryError as error:
            view.error, status = error.message, error.status
    return await _builder_page(request, user, state, view, status)


@router.get("/insights/{kind}/download.csv")
async def download_csv(request: Request, kind: str, user: Builder, spec: str = "") -> Response:
    """Every row of the result as CSV: the rows of the page's table, without its limit."""
    _check_kind(kind)
    state: ServerState = request.app.state.sextant
    parsed = _spec_of(kind, spec)
    result = await run_in_threadpool(state.insights.query, parsed, access_filters=user.access_filters)
    rows = runner_class(kind).rows(result.result)
    filename = f"sextant-{kind}-{result.date_from:%Y%m%d}-{result.date_to:%Y%m%d}.csv"
    return StreamingResponse(
        csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def builder_url(
    kind: str, spec: dict[str, Any], chart: str | None = None, context: dict[str, str] | None = None
) -> str:
    """The link that reproduces a builder view."""
    query = {"spec": orjson.dumps(spec).decode()}
    if chart:
        query["chart"] = chart
    query |= context or {}
    return f"/insights/{kind}?{urlencode(query)}"


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in the order they first appear (rows of a breakdown may differ)."""
    return list(dict.fromkeys(key for row in rows for key in row))


@dataclass
class BuilderView:
    """What a builder page shows: the kind, the spec from the URL and its result or error."""

    kind: str
    context: dict[str, str]
    chart: str | None = None
    text: str = ""  # the spec as the URL has it, shown for editing when it is not even JSON
    spec: dict[str, Any] | None = None
    result: QueryResult | None = None
    error: str | None = None


async def _builder_page(
    request: Request, user: Principal, state: ServerState, view: BuilderView, status: int
) -> Response:
    kind, spec = view.kind, view.spec
    events, properties = await run_in_threadpool(_catalog_names, state, user.access_filters)
    page: dict[str, Any] = {
        "section": "insights",
        "kind": kind,
        "kind_title": forms.KINDS[kind],
        "kinds": forms.KINDS,
        "description": forms.DESCRIPTIONS[kind],
        "form": forms.form_from_spec(kind, spec),
        "options": forms,
        "spec": spec,
        "spec_text": orjson.dumps(spec, option=orjson.OPT_INDENT_2).decode() if spec else view.text,
        "spec_json": orjson.dumps(spec).decode() if spec else "",
        "error": view.error,
        "context": view.context,
        "events": events,
        "properties": properties,
        "chart_types": chart_types({"kind": kind}).types,
        "chart": view.chart,
        "result": None,
    }
    if spec is not None and view.result is not None:
        page |= _result_context(kind, spec, view)
        if user.can(Action.CREATE_CONTENT):
            page["folders"] = await run_in_threadpool(_editable_folders, request, user)
    return render(request, "builder/page.html", page, status=status)


def _result_context(kind: str, spec: dict[str, Any], view: BuilderView) -> dict[str, Any]:
    assert view.result is not None
    result = view.result
    types = chart_types(spec, result.result).types
    chart, chart_notice = view.chart or types[0], None
    if chart not in types:
        chart_notice = (
            f"A {forms.KINDS[kind].lower()} result like this cannot be drawn as {chart!r}; showing {types[0]}."
        )
        chart = types[0]
    rows = runner_class(kind).rows(result.result)
    columns = columns_of(rows)
    return {
        "result": result,
        "chart_types": types,
        "chart": chart,
        "chart_notice": chart_notice,
        "vega_spec": chart_spec(spec, result.result, chart),
        "columns": columns,
        "table": [[_cell(row.get(column)) for column in columns] for row in rows[:TABLE_ROWS]],
        "row_count": len(rows),
        "table_limit": TABLE_ROWS,
        "sql": result.sql,
        "page_url": builder_url(kind, spec, chart, view.context),
        "csv_url": f"/insights/{kind}/download.csv?{urlencode({'spec': orjson.dumps(spec).decode()})}",
    }


def _spec_of(kind: str, text: str) -> dict[str, Any]:
    """The spec in a URL: a JSON object whose kind is this page's (a missing kind is this page's)."""
    if not text.strip():
        raise QueryError(f"there is no spec: open /insights/{kind} and build one, or pass ?spec=<JSON spec>")
    try:
        spec = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise QueryError(f"the spec is not JSON ({error}); pass ?spec=<URL-encoded JSON spec>") from None
    if not isinstance(spec, dict):
        raise QueryError('the spec must be a JSON object such as {"kind": "funnel", "steps": [...]}')
    spec.setdefault("kind", kind)
    if spec["kind"] != kind:
        raise QueryError(
            f"this is the {kind} builder, but the spec is a {spec['kind']!r} spec; open it at /insights/{spec['kind']}"
        )
    return spec


def _check_kind(kind: str) -> None:
    if kind not in forms.KINDS:
        raise NotFound(f"there is no {kind!r} insight; build one of: {', '.join(forms.KINDS)}")


def _context_of(request: Request) -> dict[str, str]:
    return {name: value for name in CONTEXT_PARAMETERS if (value := request.query_params.get(name, "").strip())}


def _json_or_none(text: str | None) -> Any:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None


def _catalog_names(state: ServerState, access_filters: tuple[Filter, ...]) -> tuple[list[str], list[str]]:
    """Event and property names for the form's autocomplete, from the rows the user may read, built again only
    after a write to the warehouse (the catalog scans and samples events). The catalog samples properties from
    the last week; a project with nothing that recent (an import, a finished test) gets them from its latest week."""
    warehouse = state.workspace.warehouse
    plan = state.pipeline.plan_file.plan
    key = (
        warehouse.url,
        warehouse.generation,
        plan.model_dump_json(),
        orjson.dumps([item.model_dump(mode="json") for item in access_filters]),
    )
    names = _catalog_cache.get(key)
    if names is None:
        engine, project = warehouse.cursor(), state.workspace.project.name
        entries = catalog.build(engine, project, plan, access_filters=access_filters)
        latest = max((entry.last_seen for entry in entries if entry.last_seen), default=None)
        if latest is not None and not any(entry.properties for entry in entries):
            entries = catalog.build(
                engine, project, plan, now=latest + dt.timedelta(seconds=1), access_filters=access_filters
            )
        events = sorted(entry.event for entry in entries)
        properties = sorted({name for entry in entries for name in entry.properties})
        names = (events, properties)
        with _catalog_lock:
            if len(_catalog_cache) >= CATALOG_CACHE_SIZE:
                del _catalog_cache[next(iter(_catalog_cache))]
            _catalog_cache[key] = names
    return names


# The names of the last projects and sets of access filters asked, oldest first: restricted and unrestricted
# users taking turns each find theirs.
_catalog_cache: dict[tuple[str, int, str, bytes], tuple[list[str], list[str]]] = {}
_catalog_lock = threading.Lock()


def _editable_folders(request: Request, user: Principal) -> list[Any]:
    return [folder for folder in visible_folders(accounts_of(request).metadata, user) if can_edit(user, folder)]


def _cell(value: Any) -> str:
    """A value as the results table shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(round(value, 4))
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    return str(value)
