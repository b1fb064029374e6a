"""Text tiles' markdown as HTML that is safe to put in a page: raw HTML in the text is shown as text, and
links may only use http, https and mailto (and relative) addresses."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_SAFE_SCHEMES = ("http://", "https://", "mailto:", "/", "#")
_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_PARSER.validateLink = lambda url: url.strip().lower().startswith(_SAFE_SCHEMES)  # type: ignore[method-assign]


def to_html(text: str) -> Markup:
    return Markup(_PARSER.render(text))
