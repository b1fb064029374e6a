"""The demo's dashboards, in the Shared folder that everyone may view: Cloud growth, Search engagement,
Instances and an A/B test. Made once; a later `sextant demo` on the same project leaves them as they are."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.content import dashboards, looks, tiles
from sextant.content.layout import COLUMNS
from sextant.metadata.models import Dashboard, Folder, FolderKind

SIGNUP_FUNNEL: dict[str, Any] = {
    "kind": "funnel",
    "date_from": "-30d",
    "steps": [
        {"event": "Viewed Sign Up"},
        {"event": "Signed Up"},
        {"event": "Search Submitted"},
        {"event": "Search Result Clicked"},
    ],
    "window": {"value": 7, "unit": "day"},
}
WEEKLY_RETENTION: dict[str, Any] = {
    "kind": "retention",
    "date_from": "-8w",
    "interval": "week",
    "start": {"event": "Signed Up"},
    "return": {"event": "Search Submitted"},
    "start_type": "first_time",
}
ACTIVE_USERS: dict[str, Any] = {"kind": "active_users", "date_from": "-90d"}
VARIANT = {"type": "person", "key": "ab_search_ranking_v2"}

# name -> (description, tiles); a tile is ("text", markdown) or ("look", name, spec, chart, width)
Tiles = list[tuple[Any, ...]]
DASHBOARDS: dict[str, tuple[str, Tiles]] = {
    "Cloud growth": (
        "Who comes, who signs up, who stays: Lodestar Cloud's growth at a glance.",
        [
            ("look", "Daily, weekly and monthly active users", ACTIVE_USERS, "line", 8),
            ("look", "DAU / WAU / MAU today", ACTIVE_USERS, "number", 4),
            (
                "look",
                "Sign-ups per week",
                {"kind": "segmentation", "date_from": "-12w", "interval": "week", "series": [{"event": "Signed Up"}]},
                "bar",
                6,
            ),
            ("look", "Sign-up funnel", SIGNUP_FUNNEL, "funnel", 6),
            ("look", "Weekly retention of new users", WEEKLY_RETENTION, "heatmap", 12),
            (
                "text",
                "**DAU/MAU** (stickiness) by month is in the table under *Daily, weekly and monthly active users*; "
                "the number tile shows today's DAU with its WAU and MAU.",
            ),
        ],
    ),
    "Search engagement": (
        "How much people search, and whether they find what they look for.",
        [
            (
                "look",
                "Searches per searching user",
                {
                    "kind": "segmentation",
                    "date_from": "-12w",
                    "interval": "week",
                    "series": [
                        {"event": "Search Submitted", "math": "total"},
                        {"event": "Search Submitted", "math": "unique"},
                    ],
                    "formula": "A / B",
                },
                "line",
                6,
            ),
            (
                "look",
                "Result clicks per 100 searches",
                {
                    "kind": "segmentation",
                    "date_from": "-12w",
                    "interval": "week",
                    "series": [{"event": "Search Result Clicked"}, {"event": "Search Submitted"}],
                    "formula": "A / B * 100",
                },
                "line",
                6,
            ),
            (
                "look",
                "Top referrers of visitors",
                {
                    "kind": "segmentation",
                    "date_from": "-4w",
                    "interval": "week",
                    "series": [{"event": "Viewed Page", "math": "unique"}],
                    "filters": [
                        {"key": "referrer", "operator": "is_set"},
                        {"key": "referrer", "operator": "neq", "value": ""},
                    ],
                    "breakdown": {"type": "event", "key": "referrer", "limit": 8},
                },
                "bar",
                12,
            ),
        ],
    ),
    "Instances": (
        "Self-hosted instances: which versions they run and what telemetry they send.",
        [
            (
                "look",
                "Instances by deployment type",
                {"kind": "instances", "date_from": "-30d", "by": "deployment_type"},
                "bar",
                4,
            ),
            (
                "look",
                "Instances by version",
                {"kind": "instances", "date_from": "-30d", "by": "version"},
                "bar",
                4,
            ),
            (
                "look",
                "Versions behind the newest release",
                {"kind": "instances", "date_from": "-30d", "by": "versions_behind"},
                "bar",
                4,
            ),
            (
                "look",
                "Telemetry status",
                {"kind": "instances", "date_from": "-30d", "by": "telemetry_status"},
                "bar",
                6,
            ),
            (
                "text",
                "**Telemetry status**: *none* for instances known from a license that never pinged, *critical* or "
                "*full* from their pings, *full+events* when their users' events reach Sextant (counted by the "
                "`instance` group below). Every instance: `sextant instances list` or `GET /api/v1/instances`.",
            ),
            (
                "look",
                "Instances sending events, per week",
                {
                    "kind": "segmentation",
                    "date_from": "-12w",
                    "interval": "week",
                    "series": [{"event": None, "math": "unique_group", "group_type": "instance"}],
                },
                "bar",
                6,
            ),
            (
                "look",
                "Searches on self-hosted instances",
                {
                    "kind": "segmentation",
                    "date_from": "-12w",
                    "interval": "week",
                    "series": [{"event": "Search Submitted", "math": "unique_group", "group_type": "instance"}],
                    "count_by": "instance",
                },
                "line",
                6,
            ),
        ],
    ),
    "A/B test": (
        "search-ranking-v2: does the new ranking turn more sign-ups into searchers who click a result?",
        [
            (
                "look",
                "Conversion by variant",
                {**SIGNUP_FUNNEL, "steps": SIGNUP_FUNNEL["steps"][1:], "breakdown": VARIANT},
                "funnel",
                8,
            ),
            (
                "text",
                "Variants come from the person property `ab_search_ranking_v2`, set at sign-up. "
                "This is a plain comparison of conversion; significance tests come with experiments.",
            ),
            (
                "look",
                "Searchers by variant",
                {
                    "kind": "segmentation",
                    "date_from": "-8w",
                    "interval": "week",
                    "series": [{"event": "Search Submitted", "math": "unique"}],
                    "breakdown": VARIANT,
                },
                "line",
                12,
            ),
        ],
    ),
}


def create_demo_dashboards(metadata: sessionmaker[Session]) -> list[Dashboard]:
    """The demo's dashboards and their looks in the Shared folder (those that do not exist yet)."""
    folder_id = _shared_folder(metadata)
    made = []
    for name, (description, items) in DASHBOARDS.items():
        if _exists(metadata, name, folder_id):
            continue
        board = dashboards.create_dashboard(
            metadata, name=name, description=description, folder_id=folder_id, actor=audit.COMMAND_LINE
        )
        x = y = row_height = 0
        for item in items:
            if item[0] == "text":
                tile = tiles.add_text_tile(metadata, board.id, item[1], audit.COMMAND_LINE)
                width = tile.w
            else:
                _, title, spec, chart, width = item
                look = looks.create_look(
                    metadata, name=title, folder_id=folder_id, spec=spec, chart=chart, actor=audit.COMMAND_LINE
                )
                tile = tiles.add_look_tile(metadata, board.id, look.id, audit.COMMAND_LINE)
            if x + width > COLUMNS:  # tiles fill rows left to right
                x, y, row_height = 0, y + row_height, 0
            tiles.place_tile(metadata, board.id, tile.id, audit.COMMAND_LINE, x=x, y=y, w=width, h=tile.h)
            x, row_height = x + width, max(row_height, tile.h)
        made.append(board)
    return made


def questions() -> list[dict[str, Any]]:
    """The specs of the dashboards' looks, each once, in the order the dashboards show them."""
    specs: list[dict[str, Any]] = []
    for _, items in DASHBOARDS.values():
        specs += [item[2] for item in items if item[0] == "look" and item[2] not in specs]
    return specs


def _shared_folder(metadata: sessionmaker[Session]) -> int:
    with metadata() as session:
        found = session.scalar(
            select(Folder.id).where(Folder.kind == FolderKind.SHARED, Folder.name == "Shared").order_by(Folder.id)
        )
    if found is None:
        raise LookupError("the project has no Shared folder; it is made by the metadata migrations")
    return found


def _exists(metadata: sessionmaker[Session], name: str, folder_id: int) -> bool:
    with metadata() as session:
        query = select(Dashboard.id).where(Dashboard.name == name, Dashboard.folder_id == folder_id)
        return session.scalar(query) is not None
