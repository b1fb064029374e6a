"""Lodestar Server instances: self-hosted copies that ping home every 30 minutes while they run.

Each instance has an install date, sometimes a churn date, a deployment type, a version that is upgraded
now and then, and a telemetry level: "none" sends nothing, "critical" sends only what billing, updates
and security need, "full" adds aggregate usage, and "full+events" also sends user-level events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute

RELEASES = ["5.0.0", "5.0.4", "5.1.0", "5.1.2", "5.2.0", "5.2.3", "5.3.0", "5.3.1"]
DEPLOYMENTS = ["kubernetes", "helm", "docker-compose", "docker-container", "pure-docker", "server"]
DEPLOYMENT_SHARES = [0.32, 0.18, 0.24, 0.1, 0.06, 0.1]
LEVELS = ["none", "critical", "full", "full+events"]
LEVEL_SHARES = [0.15, 0.25, 0.45, 0.15]
CODE_HOSTS = ["github", "gitlab", "bitbucketServer", "gerrit", "perforce", "awsCodeCommit"]
PING_SECONDS = 1800


@dataclass(frozen=True)
class Instances:
    site_ids: list[str]
    levels: list[str]
    installer_emails: list[str]


def simulate(rng: np.random.Generator, count: int, start: dt.date, days: int) -> tuple[pa.Table, Instances]:
    """Pings of `count` instances over the period, and the instances (including those that never ping)."""
    site_ids = [_uuid(value) for value in rng.integers(0, 2**63, size=(count, 2))]
    levels = rng.choice(len(LEVELS), size=count, p=LEVEL_SHARES)
    deployment = rng.choice(len(DEPLOYMENTS), size=count, p=DEPLOYMENT_SHARES)
    installed = np.where(rng.random(count) < 0.6, 0, rng.integers(0, days, size=count)) * 86400
    installed += rng.integers(0, 86400, size=count)
    churned = np.where(rng.random(count) < 0.12, rng.integers(days // 3, days, size=count) * 86400, days * 86400)
    alive = np.maximum(0, churned - installed) // PING_SECONDS
    alive[levels == 0] = 0  # no telemetry: no pings at all
    first_release = rng.integers(0, len(RELEASES) - 2, size=count)
    upgrade_every = rng.integers(14, 60, size=count) * 86400  # some upgrade often, some rarely
    seats = np.maximum(5, rng.lognormal(4.0, 1.2, size=count)).astype(np.int64)
    repos = np.maximum(3, rng.lognormal(5.0, 1.5, size=count)).astype(np.int64)
    hosts = rng.integers(1, 2 ** len(CODE_HOSTS), size=count)

    instance = np.repeat(np.arange(count), alive)
    tick = np.concatenate([np.arange(n) for n in alive]) if alive.sum() else np.array([], dtype=np.int64)
    second = installed[instance] + tick * PING_SECONDS
    age = second - installed[instance]
    release = np.minimum(first_release[instance] + age // upgrade_every[instance], len(RELEASES) - 1)
    growth = 1 - 0.5 * np.exp(-age / (45 * 86400))  # instances grow into their seat count
    total_users = np.maximum(1, (seats[instance] * growth).astype(np.int64))
    # Usage figures move smoothly from day to day, dipping at weekends.
    day = second // 86400
    phase = rng.uniform(0, 6.28, size=count)[instance]
    weekday = (day + start.weekday()) % 7 < 5
    mau = (total_users * (0.65 + 0.08 * np.sin(day / 9 + phase))).astype(np.int64)
    wau = (mau * (0.7 + 0.05 * np.sin(day / 5 + phase))).astype(np.int64)
    dau = (wau * np.where(weekday, 0.52, 0.1)).astype(np.int64)
    level = levels[instance]
    full = level >= 2
    epoch = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())
    searches = (dau * rng.uniform(3, 12, size=len(instance))).astype(np.int64)
    pings = pa.table(
        {
            "site_id": pa.array([site_ids[index] for index in instance], pa.string()),
            "timestamp": pa.array((epoch + second) * 1_000_000, pa.timestamp("us", tz="UTC")),
            "version": pa.array([RELEASES[index] for index in release], pa.string()),
            "deployment_type": pa.array([DEPLOYMENTS[deployment[index]] for index in instance], pa.string()),
            "installer_email": pa.array([f"admin@customer{index:04d}.example.com" for index in instance], pa.string()),
            "telemetry_level": pa.array([LEVELS[value] for value in level], pa.string()),
            "total_users": total_users,
            "active_today": _nullable(dau, full),  # critical-only instances report no activity
            "wau": wau,
            "mau": mau,
            "repos": repos[instance],
            "code_hosts": pa.array(
                [
                    _json_list([CODE_HOSTS[bit] for bit in range(len(CODE_HOSTS)) if hosts[index] >> bit & 1])
                    for index in instance
                ],
                pa.string(),
            ),
            "site_activity": pa.array(
                [
                    f'{{"searches": {s}, "code_intel_actions": {s // 3}, "users_active_today": {d}}}' if f else None
                    for s, d, f in zip(searches, dau, full, strict=True)
                ],
                pa.string(),
            ),
            "growth_statistics": pa.array(
                [
                    f'{{"users": {u}, "new_users_this_week": {max(0, int(u * 0.02))}}}' if f else None
                    for u, f in zip(total_users, full, strict=True)
                ],
                pa.string(),
            ),
        }
    )
    emails = [f"admin@customer{index:04d}.example.com" for index in range(count)]
    return pings, Instances(site_ids, [LEVELS[value] for value in levels], emails)


def instance_events(rng: np.random.Generator, pings: pa.Table, events: int) -> pa.Table:
    """User-level events of the "full+events" instances, in the native import columns, grouped by instance."""
    sample = pings.filter(pa.compute.equal(pings.column("telemetry_level"), "full+events"))
    if sample.num_rows == 0 or events <= 0:
        return pa.table({})
    picks = rng.integers(0, sample.num_rows, size=events)
    site = sample.column("site_id").take(picks).to_pylist()
    users = rng.integers(1, 60, size=events)
    names = np.array(["Search Submitted", "Viewed Repository", "Viewed Blob", "Code Intel Hover"])
    micros = sample.column("timestamp").cast(pa.int64()).take(picks).to_numpy() + rng.integers(0, 1800 * 10**6, events)
    distinct = [f"{site_id[:8]}-u{user}" for site_id, user in zip(site, users, strict=True)]
    return pa.table(
        {
            "event": pa.array(names[rng.choice(len(names), size=events, p=[0.4, 0.25, 0.25, 0.1])], pa.string()),
            "timestamp": pa.array(micros, pa.timestamp("us", tz="UTC")),
            "distinct_id": pa.array(distinct, pa.string()),
            "user_id": pa.array(distinct, pa.string()),
            "device_id": pa.nulls(events, pa.string()),
            "insert_id": pa.array([f"inst-{value:016x}" for value in rng.integers(0, 2**62, size=events)], pa.string()),
            "session_id": pa.array(
                [f"{d}-{m // 1_800_000_000}" for d, m in zip(distinct, micros, strict=True)], pa.string()
            ),
            "properties": pa.array(['{"instance_hosted": true}'] * events, pa.string()),
            "person_properties": pa.nulls(events, pa.string()),
            "groups": pa.array([f'{{"instance": "{site_id}"}}' for site_id in site], pa.string()),
        }
    )


def _nullable(values: np.ndarray, present: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64(), mask=~present)


def _uuid(parts: np.ndarray) -> str:
    text = f"{int(parts[0]):016x}{int(parts[1]):016x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"


def _json_list(values: list[str]) -> str:
    return "[" + ",".join(f'"{value}"' for value in values) + "]"
