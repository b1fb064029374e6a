"""Self-hosted instances: their telemetry status by account, and the instance-to-account links that the
seeds keep partly by hand (licenses give most; an admin fixes the rest with the CLI or the API).

Telemetry status: `none` for a known instance that never pinged, `critical` or `full` from its pings,
and `full+events` when its users' events arrived in the last 30 days (events grouped by `instance`).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
import sqlglot
from sqlglot import exp

from sextant.errors import IngestError
from sextant.warehouse.engine import Engine

LEVELS = ("none", "critical", "full", "full+events")

_STATUS = """
WITH latest AS (
    SELECT site_id, arg_max(version, state_version) AS version,
        arg_max(deployment_type, state_version) AS deployment_type,
        arg_max(installer_email, state_version) AS installer_email,
        arg_max(total_users, state_version) AS total_users, arg_max(dau, state_version) AS dau,
        arg_max(wau, state_version) AS wau, arg_max(mau, state_version) AS mau,
        arg_max(versions_behind, state_version) AS versions_behind,
        arg_max(telemetry_level, state_version) AS level, max(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM instances WHERE project = $project GROUP BY site_id
), links AS (
    SELECT site_id, arg_max(account_id, version) AS account_id, arg_max(telemetry_level, version) AS agreed_level
    FROM instance_accounts WHERE project = $project GROUP BY site_id
), with_events AS (
    SELECT DISTINCT json_extract_string(groups, '$.instance') AS site_id FROM events
    WHERE project = $project AND timestamp >= $since AND groups LIKE '%"instance"%'
)
SELECT COALESCE(latest.site_id, links.site_id) AS site_id, links.account_id, links.agreed_level,
    latest.version, latest.versions_behind, latest.deployment_type, latest.installer_email, latest.total_users,
    latest.dau, latest.wau, latest.mau, latest.first_seen, latest.last_seen,
    CASE WHEN latest.site_id IS NULL THEN 'none'
         WHEN latest.level = 'critical' THEN 'critical'
         WHEN with_events.site_id IS NOT NULL THEN 'full+events'
         ELSE 'full' END AS telemetry_status
FROM latest
FULL OUTER JOIN links ON latest.site_id = links.site_id
LEFT JOIN with_events ON latest.site_id = with_events.site_id
ORDER BY site_id
"""


def status_query() -> exp.Select:
    """The query of `status`, with placeholders `project` and `since` (events from then on make `full+events`)."""
    query = sqlglot.parse_one(_STATUS, read="duckdb")
    assert isinstance(query, exp.Select)
    return query


def status(engine: Engine, project: str, now: dt.datetime | None = None) -> pa.Table:
    """Every known instance with its account, version, usage and telemetry status."""
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=30)
    return engine.execute(status_query(), {"project": project, "since": since})


def agreed_levels(engine: Engine, project: str) -> dict[str, str]:
    """Site id -> the telemetry level agreed for it, for instances that have one."""
    rows = status(engine, project).select(["site_id", "agreed_level"]).to_pylist()
    return {row["site_id"]: row["agreed_level"] for row in rows if row["agreed_level"]}


def link_rows(project: str, links: list[tuple[str, str | None, str | None]], source: str) -> pa.Table:
    """Rows for `instance_accounts` from (site id, account id, agreed telemetry level); the newest row wins."""
    for site_id, _, level in links:
        if not site_id:
            raise IngestError("each link needs a site_id")
        if level is not None and level not in LEVELS:
            raise IngestError(f"telemetry level must be one of {', '.join(LEVELS)}, not {level!r}")
    now = dt.datetime.now(dt.UTC)
    version = int(now.timestamp() * 1_000_000)
    return pa.table(
        {
            "project": [project] * len(links),
            "site_id": [site for site, _, _ in links],
            "account_id": pa.array([account for _, account, _ in links], pa.string()),
            "telemetry_level": pa.array([level for _, _, level in links], pa.string()),
            "source": [source] * len(links),
            "updated_at": pa.array([now] * len(links), pa.timestamp("us", tz="UTC")),
            "version": pa.array(range(version, version + len(links)), pa.int64()),
        }
    )


def links_from_licenses(path: Path) -> list[tuple[str, str | None, str | None]]:
    """(site id, account id, None) from a licenses export with `site_id` and `account_id` columns."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"site_id", "account_id"} - set(reader.fieldnames or [])
        if missing:
            raise IngestError(f"{path.name} needs the columns site_id and account_id (missing: {sorted(missing)})")
        return [(row["site_id"], row["account_id"] or None, None) for row in reader if row["site_id"]]
