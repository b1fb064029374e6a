"""Pages for looks (saved insights): the list by folder, a look's chart and table, saving one from the
insight builder (`POST /looks`, `POST /looks/{id}/spec`), renaming, moving, deleting, and its CSV.

Also what the dashboard pages share with them: a result drawn as a chart over a table, the builder's
"Explore" link for a query, CSV responses, and the runner that runs queries on a thread pool."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import Depends, Form, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sextant.auth import folders
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.permissions import Action, Principal, can_edit
from sextant.content import dashboards, looks, tiles
from sextant.content.results import TileQuery, TileRunner, csv_chunks, result_rows
from sextant.errors import QueryError, SextantError
from sextant.insights.runner import QueryResult
from sextant.metadata.models import Folder
from sextant.web import builder_forms
from sextant.web.charts import chart_spec
from sextant.web.state import ServerState
from sextant.web.templating import page_router, redirect, render

router = page_router()
Viewer = Annotated[Principal, Depends(require(Action.VIEW_CONTENT))]
Downloader = Annotated[Principal, Depends(require(Action.DOWNLOAD))]
Creator = Annotated[Principal, Depends(require(Action.CREATE_CONTENT))]
TABLE_ROWS = 200  # rows shown under a chart; downloads have them all


def runner_of(request: Request) -> TileRunner:
    """The app's query runner for looks and tiles, made on first use."""
    runner: TileRunner | None = getattr(request.app.state, "tile_runner", None)
    if runner is None:
        state: ServerState = request.app.state.sextant
        runner = request.app.state.tile_runner = TileRunner(state.insights)
    return runner


def explore_url(query: TileQuery, *, look_id: int | None = None, dashboard_id: int | None = None) -> str | None:
    """The insight builder opened on a query, as a temporary copy: nothing is saved until someone saves.
    None for kinds the builder has no page for (persons)."""
    if query.spec["kind"] not in builder_forms.KINDS:
        return None
    params: dict[str, Any] = {"spec": orjson.dumps(query.spec).decode()}
    if query.chart:
        params["chart"] = query.chart
    if look_id is not None:
        params["look"] = look_id
    if dashboard_id is not None:
        params["from_dashboard"] = dashboard_id
    return f"/insights/{query.spec['kind']}?{urlencode(params)}"


def result_view(query: TileQuery, result: QueryResult, *, title: str, height: int | None = None) -> dict[str, Any]:
    """What `looks/_result.html` shows: the chart (None for tables), and the first rows of the table. With a
    `height` (in a dashboard tile, whose header names it) the chart has that height and no title of its own,
    unless its subtitle says more."""
    chart = chart_spec(query.spec, result.result, query.chart, title=title)
    if chart is not None and height is not None:
        if isinstance(chart.get("height"), int):
            chart["height"] = height
        if not chart["title"].get("subtitle"):  # a number's subtitle carries figures; keep its title
            del chart["title"]
    rows = result_rows(result)
    return {
        "chart": chart,
        "columns": list(dict.fromkeys(name for row in rows[:TABLE_ROWS] for name in row)),
        "rows": rows[:TABLE_ROWS],
        "total_rows": len(rows),
        "cached": result.cached,
        "date_from": result.date_from,
        "date_to": result.date_to,
    }


def csv_response(result: QueryResult, name: str) -> Response:
    filename = "".join(char if char.isalnum() or char in "-_" else "-" for char in name.lower()).strip("-")
    return StreamingResponse(
        csv_chunks(result_rows(result)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename or "result"}.csv"'},
    )


def parse_spec_text(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise QueryError(f'the spec is not JSON ({error}); send an insight spec such as {{"kind": "funnel"}}') from None


@router.get("/looks")
async def looks_page(request: Request, user: Viewer) -> Response:
    metadata = accounts_of(request).metadata
    by_folder = await run_in_threadpool(looks.visible_looks, metadata, user)
    writable = await run_in_threadpool(writable_folders, request, user)
    return render(request, "looks/list.html", {"section": "looks", "by_folder": by_folder, "folders": writable})


@router.post("/looks")
async def create_look(
    request: Request,
    user: Creator,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    folder_id: Annotated[int | None, Form()] = None,
    spec: Annotated[str, Form()] = "",
    chart: Annotated[str, Form()] = "",
) -> Response:
    """Save a query as a look (from the insight builder's "Save as look", or the form on /looks)."""
    metadata = accounts_of(request).metadata
    target = folder_id if folder_id is not None else await run_in_threadpool(_personal_folder_id, request, user)
    look = await run_in_threadpool(
        lambda: looks.create_look(
            metadata,
            name=name,
            description=description,
            folder_id=target,
            spec=parse_spec_text(spec),
            chart=chart,
            actor=user,
        )
    )
    return redirect(request, f"/looks/{look.id}", f"Saved the look {look.name}.")


@router.get("/looks/{look_id}")
async def look_page(request: Request, look_id: int, user: Viewer) -> Response:
    metadata = accounts_of(request).metadata
    look = await run_in_threadpool(looks.get_look, metadata, look_id, user)
    query = TileQuery(look.spec, look.chart)
    context: dict[str, Any] = {
        "section": "looks",
        "look": look,
        "explore_url": explore_url(query, look_id=look.id),
        "editable": await run_in_threadpool(looks.may_edit_look, metadata, look, user),
        "folders": await run_in_threadpool(writable_folders, request, user),
        "folder": await run_in_threadpool(folders.get_folder, metadata, look.folder_id),
        "shown_on": await run_in_threadpool(looks.dashboards_showing, metadata, look.id, user),
        "dashboards": await run_in_threadpool(dashboards.editable_dashboards, metadata, user),
        "spec_json": orjson.dumps(look.spec, option=orjson.OPT_INDENT_2).decode(),
    }
    try:
        result = await run_in_threadpool(runner_of(request).result, query.spec, user.access_filters)
        context["view"] = result_view(query, result, title=look.name)
    except SextantError as error:
        context["error"] = error.message
    return render(request, "looks/look.html", context)


@router.get("/looks/{look_id}/download.csv")
async def download_look(request: Request, look_id: int, user: Downloader) -> Response:
    look = await run_in_threadpool(looks.get_look, accounts_of(request).metadata, look_id, user)
    result = await run_in_threadpool(runner_of(request).result, look.spec, user.access_filters)
    return csv_response(result, look.name)


@router.post("/looks/{look_id}/edit")
async def edit_look(
    request: Request,
    look_id: int,
    user: Creator,
    folder_id: Annotated[int, Form()],
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(
        lambda: looks.update_look(
            metadata, look_id, name=name, description=description, folder_id=folder_id, actor=user
        )
    )
    return redirect(request, f"/looks/{look_id}", "Saved the look's name, description and folder.")


@router.post("/looks/{look_id}/spec")
async def save_look_query(
    request: Request,
    look_id: int,
    user: Creator,
    spec: Annotated[str, Form()] = "",
    chart: Annotated[str, Form()] = "",
) -> Response:
    """Save a changed query into the look; every dashboard showing it changes too."""
    metadata = accounts_of(request).metadata
    parsed = parse_spec_text(spec)
    look = await run_in_threadpool(lambda: looks.save_look_query(metadata, look_id, parsed, chart, user))
    return redirect(request, f"/looks/{look.id}", f"Saved the query to the look {look.name}.")


@router.post("/looks/{look_id}/add-to-dashboard")
async def add_to_dashboard(
    request: Request, look_id: int, user: Creator, dashboard_id: Annotated[int, Form()]
) -> Response:
    """Put the look on a dashboard as a new tile at the bottom."""
    await run_in_threadpool(tiles.add_look_tile, accounts_of(request).metadata, dashboard_id, look_id, user)
    return redirect(request, f"/dashboards/{dashboard_id}", "Added the look to the dashboard.")


@router.post("/looks/{look_id}/delete")
async def delete_look(request: Request, look_id: int, user: Creator) -> Response:
    tiles = await run_in_threadpool(looks.delete_look, accounts_of(request).metadata, look_id, user)
    removed = f" and removed it from {tiles} dashboard tile{'s' if tiles != 1 else ''}" if tiles else ""
    return redirect(request, "/looks", f"Deleted the look{removed}.")


def writable_folders(request: Request, user: Principal) -> list[Folder]:
    """The folders the user may save content into."""
    return [item for item in folders.visible_folders(accounts_of(request).metadata, user) if can_edit(user, item)]


def _personal_folder_id(request: Request, user: Principal) -> int:
    if user.user_id is None:
        raise QueryError("choose a folder (`folder_id`): the command line and old API keys have no personal folder")
    return folders.personal_folder(accounts_of(request).metadata, user.user_id).id
