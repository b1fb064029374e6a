"""Telemetry pings from self-hosted instances: reading the update-check ping and the generic form,
keeping only the fields an instance's telemetry level allows (`telemetry.critical_fields` for critical
telemetry), comparing versions with the releases, and turning stored pings into instance states.

A ping becomes a native `$ping` event from the source "pings" (distinct id and group `instance` = the site
id), so it shares the events' durability, dedup and spool; the writer stores it in `pings` and `instances`
instead of `events`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa

from sextant.errors import IngestError
from sextant.ingest import scratch
from sextant.warehouse import state, tables
from sextant.warehouse.engine import Engine

PING_EVENT = "$ping"
# The seeds' update-check field names, as Sextant names them.
ALIASES = {
    "site": "site_id",
    "siteID": "site_id",
    "siteId": "site_id",
    "deployType": "deployment_type",
    "deploy_type": "deployment_type",
    "totalUsers": "total_users",
    "activeToday": "dau",
    "active_today": "dau",
    "installerEmail": "installer_email",
    "siteActivity": "site_activity",
    "growthStatistics": "growth_statistics",
    "codeHosts": "code_hosts",
    "totalRepos": "repos",
    "hasRepos": "has_repos",
    "licenseKey": "license_key",
    "telemetryLevel": "telemetry_level",
    "weeklyActiveUsers": "wau",
    "monthlyActiveUsers": "mau",
}
INTEGER_FIELDS = ("total_users", "repos", "dau", "wau", "mau")
JSON_FIELDS = ("site_activity", "growth_statistics", "code_hosts")
# What an instance may declare; "full+events" instances also send their users' events.
LEVELS = ("critical", "full", "full+events")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def read(payload: object, critical_fields: Iterable[str], agreed_level: str | None = None) -> dict[str, Any]:
    """One ping as a dict of Sextant field names, with only the fields its telemetry level allows.
    `agreed_level` is the level set for the instance, which wins over what the ping declares."""
    if not isinstance(payload, dict):
        raise IngestError("a ping must be a JSON object")
    ping: dict[str, Any] = {
        ALIASES.get(str(key), str(key)): value for key, value in payload.items() if key != "api_key"
    }
    for required in ("site_id", "version"):
        if not isinstance(ping.get(required), str | int) or str(ping[required]).strip() == "":
            raise IngestError(f'{required} is required (a string), e.g. {{"site_id": "…", "version": "5.3.1"}}')
        ping[required] = str(ping[required]).strip()
    for name in INTEGER_FIELDS:
        if name in ping and ping[name] is not None:
            try:
                ping[name] = int(float(ping[name]))  # scalars may arrive as strings
            except (TypeError, ValueError):
                raise IngestError(f"{name} must be a number, not {ping[name]!r}") from None
    for name in JSON_FIELDS:
        if isinstance(ping.get(name), str):
            try:
                ping[name] = orjson.loads(ping[name])
            except orjson.JSONDecodeError:
                raise IngestError(f"{name} must be JSON, not {ping[name][:40]!r}") from None
    level = agreed_level or ping.get("telemetry_level") or "full"
    if level not in LEVELS:
        raise IngestError(f"telemetry_level must be one of {', '.join(LEVELS)}, not {level!r}")
    if level == "critical":
        allowed = set(critical_fields)
        ping = {key: value for key, value in ping.items() if key in allowed}
    ping["telemetry_level"] = level
    return ping


def document(ping: dict[str, Any]) -> str:
    """The native event for a ping."""
    fields = {key: value for key, value in ping.items() if key != "timestamp"}
    event: dict[str, Any] = {
        "event": PING_EVENT,
        "distinct_id": ping["site_id"],
        "properties": fields,
        "groups": {"instance": ping["site_id"]},
    }
    if ping.get("timestamp") is not None:
        event["timestamp"] = ping["timestamp"]
        event["insert_id"] = f"ping:{ping['site_id']}:{ping['timestamp']}"
    return orjson.dumps(event).decode()


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def newest(releases: Iterable[str]) -> str | None:
    known = [(parsed, release) for release in releases if (parsed := parse_version(release))]
    return max(known)[1] if known else None


def versions_behind(version: str, releases: Iterable[str]) -> int | None:
    """How many known releases are newer than `version` (None for a version that is not x.y.z)."""
    current = parse_version(version)
    releases = list(releases)
    if current is None or not releases:
        return None
    return sum(1 for release in releases if (parsed := parse_version(release)) and parsed > current)


SOURCE = "pings"


def rows(batch: pa.Table, engine: Engine, project: str, releases: list[str]) -> tuple[pa.Table, pa.Table]:
    """Rows for `pings` and new `instances` states, from stored `$ping` events (timestamp, received_at,
    properties)."""
    pings = scratch.run(
        """
        SELECT $project AS project, properties->>'site_id' AS site_id, timestamp, received_at,
            properties->>'version' AS version, properties->>'telemetry_level' AS telemetry_level,
            properties AS payload
        FROM batch
        """,
        {"batch": batch},
        {"project": project},
    )
    latest = scratch.run(
        """
        SELECT site_id, arg_max(payload, timestamp) AS payload, min(timestamp) AS first_seen,
            max(timestamp) AS last_seen
        FROM pings GROUP BY site_id
        """,
        {"pings": pings},
    )
    current = _current_instances(engine, project, latest.select(["site_id"]))
    states = scratch.run(
        """
        SELECT $project AS project, latest.site_id, payload->>'version' AS version,
            payload->>'deployment_type' AS deployment_type, payload->>'installer_email' AS installer_email,
            TRY_CAST(payload->>'total_users' AS BIGINT) AS total_users, TRY_CAST(payload->>'repos' AS BIGINT) AS repos,
            CAST(payload->'code_hosts' AS VARCHAR) AS code_hosts, TRY_CAST(payload->>'dau' AS BIGINT) AS dau,
            TRY_CAST(payload->>'wau' AS BIGINT) AS wau, TRY_CAST(payload->>'mau' AS BIGINT) AS mau,
            payload->>'telemetry_level' AS telemetry_level,
            least(latest.first_seen, current.first_seen) AS first_seen,
            greatest(latest.last_seen, current.last_seen) AS last_seen,
            COALESCE(current.state_version + 1, 0) AS state_version
        FROM latest LEFT JOIN current USING (site_id)
        """,
        {"latest": latest, "current": current},
        {"project": project},
    )
    behind = [versions_behind(version, releases) for version in states.column("version").to_pylist()]
    states = states.append_column("versions_behind", pa.array(behind, pa.int64()))
    return pings, states


def _current_instances(engine: Engine, project: str, site_ids: pa.Table) -> pa.Table:
    return state.latest(engine, tables.INSTANCES, project, site_ids, ["first_seen", "last_seen"])
