"""The API reference (OpenAPI schema and its Swagger page), for signed-in users and key holders only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from sextant.auth.dependencies import CurrentUser
from sextant.web.templating import page_router

router = APIRouter(include_in_schema=False)
pages = page_router()


@router.get("/openapi.json")
async def openapi_schema(request: Request, user: CurrentUser) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@pages.get("/api/docs")
async def api_docs(user: CurrentUser) -> HTMLResponse:
    # Swagger UI is vendored (static/vendor/swagger.md): installations may have no internet.
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Sextant API",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},
    )


router.include_router(pages)
