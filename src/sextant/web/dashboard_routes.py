"""Pages for dashboards: the list, a new dashboard, a dashboard's grid of tiles (each loads on its own with
htmx, while the server already runs every tile's query on a thread pool), dashboard filters that anyone may
apply for themselves through the query string, a tile's CSV, and the edits of people with edit rights:
tiles (add, move, resize, retitle, remove), default filters, auto-refresh, duplicate and delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sextant.auth import folders
from sextant.auth.dependencies import accounts_of, require
from sextant.auth.errors import NotFound
from sextant.auth.permissions import Action, Principal
from sextant.content import dashboards, looks, tiles
from sextant.content.access import ContentError, may_view
from sextant.content.filters import DashboardFilters, from_query, parse_filters
from sextant.content.layout import COLUMNS
from sextant.content.markdown import to_html
from sextant.content.results import TileQuery, tile_query
from sextant.errors import SextantError
from sextant.insights.runner import QueryResult
from sextant.metadata.models import Dashboard, Folder, Tile, TileKind
from sextant.web.look_routes import (
    csv_response,
    explore_url,
    parse_spec_text,
    result_view,
    runner_of,
    writable_folders,
)
from sextant.web.templating import page_router, redirect, render

router = page_router()
Viewer = Annotated[Principal, Depends(require(Action.VIEW_CONTENT))]
Downloader = Annotated[Principal, Depends(require(Action.DOWNLOAD))]
Creator = Annotated[Principal, Depends(require(Action.CREATE_CONTENT))]
ROW_PIXELS = 80  # the height of one grid row; keep in step with .dashboard-grid in sextant.css
OPERATORS = ("eq", "neq", "contains", "regex", "gt", "lt", "in", "is_set", "not_set")


@dataclass(frozen=True)
class TileView:
    """A tile as the page shows it."""

    tile: Tile
    title: str
    query: TileQuery | None  # None for text tiles and looks the user may not see
    hidden: bool  # a look in a folder that is not shared with the user
    explore_url: str | None


@router.get("/dashboards")
async def dashboards_page(request: Request, user: Viewer) -> Response:
    by_folder = await run_in_threadpool(dashboards.visible_dashboards, accounts_of(request).metadata, user)
    return render(request, "dashboards/list.html", {"section": "dashboards", "by_folder": by_folder})


@router.get("/dashboards/new")
async def new_dashboard_page(request: Request, user: Creator) -> Response:
    writable = await run_in_threadpool(writable_folders, request, user)
    return render(request, "dashboards/new.html", {"section": "dashboards", "folders": writable})


@router.post("/dashboards")
async def create_dashboard(
    request: Request,
    user: Creator,
    folder_id: Annotated[int, Form()],
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    metadata = accounts_of(request).metadata
    created = await run_in_threadpool(
        lambda: dashboards.create_dashboard(
            metadata, name=name, description=description, folder_id=folder_id, actor=user
        )
    )
    return redirect(request, f"/dashboards/{created.id}?edit=1", f"Created the dashboard {created.name}; add tiles.")


@router.get("/dashboards/{dashboard_id}")
async def dashboard_page(request: Request, dashboard_id: int, user: Viewer, edit: bool = False) -> Response:
    metadata = accounts_of(request).metadata
    dashboard = await run_in_threadpool(dashboards.get_dashboard, metadata, dashboard_id, user)
    editable = await run_in_threadpool(dashboards.may_edit_dashboard, metadata, dashboard, user)
    error = None
    defaults = parse_filters(dashboard.filters)
    try:
        filters = from_query(_params(request), defaults)
    except ContentError as problem:
        filters, error = defaults, problem.message
    known = await run_in_threadpool(_folders_by_id, request)
    views = [_tile_view(dashboard, tile, filters, user, known) for tile in dashboard.tiles]
    runner = runner_of(request)
    # Tiles whose answer is cached come with the page; the others' queries start now, and the tiles' own
    # requests pick up the runs.
    ready: dict[int, dict[str, Any]] = {}
    for view in views:
        if view.query is None:
            continue
        cached = runner.insights.cached(view.query.spec, access_filters=user.access_filters)
        if cached is None:
            runner.submit(view.query.spec, user.access_filters)
        else:
            ready[view.tile.id] = _result_context(view, cached)
    context: dict[str, Any] = {
        "ready": ready,
        "section": "dashboards",
        "dashboard": dashboard,
        "folder": known.get(dashboard.folder_id),
        "tiles": views,
        "filters": filters,
        "filter_rows": [*filters.filters, None],
        "filter_query": urlencode(filters.query()) if filters != defaults else "",
        "saved_query": filters.query(),
        "differs_from_saved": filters != defaults,
        "filter_error": error,
        "operators": OPERATORS,
        "editable": editable,
        "editing": editable and edit,
        "columns": COLUMNS,
        "row_pixels": ROW_PIXELS,
        "to_html": to_html,
    }
    if editable and edit:
        context["looks"] = await run_in_threadpool(looks.visible_looks, metadata, user)
        context["folders"] = await run_in_threadpool(writable_folders, request, user)
    return render(request, "dashboards/dashboard.html", context)


@router.get("/dashboards/{dashboard_id}/tiles/{tile_id}")
async def tile_body(request: Request, dashboard_id: int, tile_id: int, user: Viewer) -> Response:
    """A tile's chart and table under the filters of the query string (htmx loads it into the tile)."""
    view, _ = await _tile_for(request, dashboard_id, tile_id, user)
    context: dict[str, Any] = {"tile": view}
    if view.query is not None:
        try:
            result = await run_in_threadpool(runner_of(request).result, view.query.spec, user.access_filters)
            context |= _result_context(view, result)
        except SextantError as error:
            context["error"] = error.message
    return render(request, "dashboards/_tile_body.html", context)


def _result_context(view: TileView, result: QueryResult) -> dict[str, Any]:
    """What dashboards/_tile_body.html needs to show a tile's result."""
    assert view.query is not None
    height = max(120, view.tile.h * ROW_PIXELS - 150)
    return {"tile": view, "view": result_view(view.query, result, title=view.title, height=height)}


@router.get("/dashboards/{dashboard_id}/tiles/{tile_id}/download.csv")
async def download_tile(request: Request, dashboard_id: int, tile_id: int, user: Downloader) -> Response:
    """Every row of a tile's result under the filters of the query string."""
    view, _ = await _tile_for(request, dashboard_id, tile_id, user)
    if view.query is None:
        raise NotFound("this tile has no query to download (a text tile, or a look not shared with you)")
    result = await run_in_threadpool(runner_of(request).result, view.query.spec, user.access_filters)
    return csv_response(result, view.title)


@router.post("/dashboards/{dashboard_id}/edit")
async def edit_dashboard(
    request: Request,
    dashboard_id: int,
    user: Creator,
    folder_id: Annotated[int, Form()],
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(
        lambda: dashboards.update_dashboard(
            metadata, dashboard_id, name=name, description=description, folder_id=folder_id, actor=user
        )
    )
    return _back(request, dashboard_id, "Saved the dashboard's name, description and folder.")


@router.post("/dashboards/{dashboard_id}/filters")
async def save_filters(request: Request, dashboard_id: int, user: Creator) -> Response:
    """Save the filters in the form as the ones everyone sees when they open the dashboard."""
    form = await request.form()
    params = {key: [str(value) for value in form.getlist(key)] for key in form}
    filters = from_query({**params, "filtered": ["1"]}, DashboardFilters())
    metadata = accounts_of(request).metadata
    await run_in_threadpool(dashboards.set_filters, metadata, dashboard_id, filters, user)
    return redirect(request, f"/dashboards/{dashboard_id}", "Saved these filters as the dashboard's defaults.")


@router.post("/dashboards/{dashboard_id}/refresh")
async def set_refresh(
    request: Request, dashboard_id: int, user: Creator, seconds: Annotated[str, Form()] = ""
) -> Response:
    """`seconds` between reloads of every tile while the page is open; empty turns auto-refresh off."""
    try:
        chosen = int(seconds) if seconds.strip() else None
    except ValueError:
        raise ContentError(f"auto-refresh is a number of seconds, not {seconds!r}") from None
    await run_in_threadpool(dashboards.set_refresh, accounts_of(request).metadata, dashboard_id, chosen, user)
    return _back(request, dashboard_id, "Auto-refresh is off." if chosen is None else f"Tiles reload every {chosen} s.")


@router.post("/dashboards/{dashboard_id}/duplicate")
async def duplicate_dashboard(
    request: Request,
    dashboard_id: int,
    user: Creator,
    folder_id: Annotated[int | None, Form()] = None,
    name: Annotated[str, Form()] = "",
) -> Response:
    """A copy in the chosen folder (default: the user's personal folder when it may not edit the original's)."""
    metadata = accounts_of(request).metadata
    copy = await run_in_threadpool(
        lambda: dashboards.duplicate_dashboard(
            metadata, dashboard_id, folder_id=folder_id, name=name.strip() or None, actor=user
        )
    )
    return redirect(request, f"/dashboards/{copy.id}", f"Made {copy.name}.")


@router.post("/dashboards/{dashboard_id}/delete")
async def delete_dashboard(request: Request, dashboard_id: int, user: Creator) -> Response:
    await run_in_threadpool(dashboards.delete_dashboard, accounts_of(request).metadata, dashboard_id, user)
    return redirect(request, "/dashboards", "Deleted the dashboard; its looks are still in Looks.")


@router.post("/dashboards/{dashboard_id}/tiles")
async def add_tile(
    request: Request,
    dashboard_id: int,
    user: Creator,
    kind: Annotated[Literal["look", "insight", "text"], Form()] = "look",
    look_id: Annotated[int | None, Form()] = None,
    text: Annotated[str, Form()] = "",
    spec: Annotated[str, Form()] = "",
    chart: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    """Add a tile at the bottom: a look (`look_id`), an inline insight (`spec`, `chart`) or text (`text`)."""
    metadata = accounts_of(request).metadata
    if kind == "look":
        if look_id is None:
            raise ContentError("choose a look to add")
        chosen = look_id
        await run_in_threadpool(lambda: tiles.add_look_tile(metadata, dashboard_id, chosen, user, title=title))
    elif kind == "insight":
        parsed = parse_spec_text(spec)
        await run_in_threadpool(
            lambda: tiles.add_insight_tile(metadata, dashboard_id, parsed, user, chart=chart, title=title)
        )
    else:
        await run_in_threadpool(tiles.add_text_tile, metadata, dashboard_id, text, user)
    return _back(request, dashboard_id, "Added a tile.")


@router.post("/dashboards/{dashboard_id}/tiles/{tile_id}/move")
async def move_tile(
    request: Request,
    dashboard_id: int,
    tile_id: int,
    user: Creator,
    direction: Annotated[Literal["up", "down", "left", "right"] | None, Form()] = None,
    x: Annotated[int | None, Form()] = None,
    y: Annotated[int | None, Form()] = None,
) -> Response:
    """One cell in `direction` (the buttons), or to column `x` and row `y` (dragging, in dashboard.js)."""
    metadata = accounts_of(request).metadata
    if direction is not None:
        await run_in_threadpool(tiles.move_tile, metadata, dashboard_id, tile_id, direction, user)
    elif x is not None and y is not None:
        await run_in_threadpool(lambda: tiles.place_tile(metadata, dashboard_id, tile_id, user, x=x, y=y))
    else:
        raise ContentError("say where to move the tile: a direction, or a column x and a row y")
    return _back(request, dashboard_id)


@router.post("/dashboards/{dashboard_id}/tiles/{tile_id}/resize")
async def resize_tile(
    request: Request,
    dashboard_id: int,
    tile_id: int,
    user: Creator,
    width: Annotated[int, Form()] = 0,
    height: Annotated[int, Form()] = 0,
    w: Annotated[int | None, Form()] = None,
    h: Annotated[int | None, Form()] = None,
) -> Response:
    """`width` and `height` are changes in columns and rows (such as 1 or -1, the buttons); `w` and `h` are
    a new size in columns and rows (dragging, in dashboard.js)."""
    metadata = accounts_of(request).metadata
    if w is not None or h is not None:
        await run_in_threadpool(lambda: tiles.place_tile(metadata, dashboard_id, tile_id, user, w=w, h=h))
    else:
        await run_in_threadpool(tiles.resize_tile, metadata, dashboard_id, tile_id, width, height, user)
    return _back(request, dashboard_id)


@router.post("/dashboards/{dashboard_id}/tiles/{tile_id}/edit")
async def edit_tile(
    request: Request,
    dashboard_id: int,
    tile_id: int,
    user: Creator,
    title: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    metadata = accounts_of(request).metadata
    await run_in_threadpool(lambda: tiles.update_tile(metadata, dashboard_id, tile_id, user, title=title, text=text))
    return _back(request, dashboard_id, "Saved the tile.")


@router.post("/dashboards/{dashboard_id}/tiles/{tile_id}/delete")
async def remove_tile(request: Request, dashboard_id: int, tile_id: int, user: Creator) -> Response:
    await run_in_threadpool(tiles.remove_tile, accounts_of(request).metadata, dashboard_id, tile_id, user)
    return _back(request, dashboard_id, "Removed the tile.")


async def _tile_for(
    request: Request, dashboard_id: int, tile_id: int, user: Principal
) -> tuple[TileView, DashboardFilters]:
    metadata = accounts_of(request).metadata
    dashboard = await run_in_threadpool(dashboards.get_dashboard, metadata, dashboard_id, user)
    tile = next((each for each in dashboard.tiles if each.id == tile_id), None)
    if tile is None:
        raise NotFound(f"the dashboard {dashboard.name!r} has no tile with id {tile_id}")
    filters = from_query(_params(request), parse_filters(dashboard.filters))
    # Only a look's folder decides whether the user may see a tile.
    known = await run_in_threadpool(_folders_by_id, request) if tile.look is not None else {}
    return _tile_view(dashboard, tile, filters, user, known), filters


def _tile_view(
    dashboard: Dashboard, tile: Tile, filters: DashboardFilters, user: Principal, known: dict[int, Folder]
) -> TileView:
    look = tile.look
    hidden = look is not None and not may_view(user, known[look.folder_id])
    title = tile.title or (look.name if look is not None else "")
    query = None if hidden else tile_query(tile, filters)
    link = None
    if query is not None:
        look_id = look.id if tile.kind is TileKind.LOOK and look is not None else None
        link = explore_url(query, look_id=look_id, dashboard_id=dashboard.id)
    return TileView(tile, title, query, hidden, link)


def _params(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params}


def _folders_by_id(request: Request) -> dict[int, Folder]:
    return {item.id: item for item in folders.list_folders(accounts_of(request).metadata)}


def _back(request: Request, dashboard_id: int, notice: str | None = None) -> Response:
    """Back to the dashboard in edit mode, after an edit."""
    return redirect(request, f"/dashboards/{dashboard_id}?edit=1", notice)
