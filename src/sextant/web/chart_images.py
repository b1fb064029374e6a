"""Charts as images for scheduled deliveries and e-mails: the same Vega-Lite specs the pages draw, rendered
on the server by vl-convert (no browser), with the vega-lite version the vendored browser files use."""

from __future__ import annotations

import copy
from typing import Any

import vl_convert

VEGA_LITE_VERSION = "6.4"  # matches static/vendor/vega-lite.min.js
IMAGE_WIDTH = 720  # pages size charts to their container; an image needs a width of its own


def render_png(spec: dict[str, Any], *, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (`scale` 2 suits high-density screens and e-mail clients)."""
    return bytes(
        vl_convert.vegalite_to_png(_sized(spec), vl_version=VEGA_LITE_VERSION, scale=scale, allowed_base_urls=[])
    )


def render_svg(spec: dict[str, Any]) -> str:
    """The chart as an SVG document."""
    return str(vl_convert.vegalite_to_svg(_sized(spec), vl_version=VEGA_LITE_VERSION, allowed_base_urls=[]))


def _sized(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with a fixed width where it asks for its container's; data stays inlined (no URL is fetched)."""
    sized = copy.deepcopy(spec)
    if sized.get("width") == "container":
        sized["width"] = IMAGE_WIDTH
    return sized
