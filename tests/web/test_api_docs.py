"""The API reference page: its Swagger UI comes from the package, never from a CDN."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sextant.metadata.models import Role
from tests.auth.accounts import accounts_app

VENDOR = Path(__file__).resolve().parents[2] / "src" / "sextant" / "web" / "static" / "vendor"


def test_the_api_reference_loads_swagger_from_the_package(tmp_path: Path) -> None:
    with accounts_app(tmp_path) as site:
        viewer = site.client(Role.VIEWER)
        page = viewer.get("/api/docs")
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert "/static/vendor/swagger-ui-bundle.js" in assets and "/static/vendor/swagger-ui.css" in assets
        assert all(asset.startswith("/static/") for asset in assets), assets
        assert "validator.swagger.io" not in page.text and '"validatorUrl": null' in page.text
        for asset in assets:
            assert viewer.get(asset).status_code == 200, asset
        assert viewer.get("/openapi.json").json()["info"]["title"] == "Sextant"
    readme = (VENDOR / "swagger.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"{hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()}  {name}" in readme
