"""Lodestar's business data, as the files its CRM, license server, support desk and survey tool export:
accounts with seats and ARR, licenses that link self-hosted instances to accounts, support tickets and
NPS responses. Later connectors load them next to the events.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from sextant.demo.telemetry import Instances

NAME_FIRST = [
    "Acme",
    "Blue",
    "North",
    "Quantum",
    "Silver",
    "Bright",
    "Iron",
    "Nimbus",
    "Vertex",
    "Cedar",
    "Atlas",
    "Harbor",
    "Summit",
    "Pioneer",
    "Lumen",
    "Orbit",
    "Granite",
    "Beacon",
    "Crimson",
    "Evergreen",
]
NAME_SECOND = [
    "Logistics",
    "Health",
    "Bank",
    "Robotics",
    "Foods",
    "Energy",
    "Media",
    "Systems",
    "Labs",
    "Insurance",
    "Motors",
    "Analytics",
    "Payments",
    "Games",
    "Telecom",
    "Retail",
    "Biotech",
    "Aerospace",
]
INDUSTRIES = ["Financial services", "Healthcare", "Technology", "Retail", "Manufacturing", "Media", "Public sector"]
REGIONS = ["NA", "EMEA", "APAC", "LATAM"]
OWNERS = ["Dana Whitfield", "Marcus Ode", "Priya Raman", "Tom Becker", "Lucia Ferraro"]
STAGES = ["customer", "customer", "customer", "prospect", "churned"]
SUBJECTS = [
    "Search results missing for a repository",
    "Upgrade to 5.3 fails on helm",
    "SSO login loop",
    "Code intel not working for Java",
    "Slow search on monorepo",
    "License seat count wrong",
    "Batch change stuck in processing",
    "How to configure a Perforce code host",
]
COMMENTS = [
    "Search is fast and accurate",
    "Code navigation saves us hours",
    "Setup was painful",
    "Great support team",
    "Pricing is confusing",
    "We would like better Perforce support",
    "",
]


def write(
    directory: Path, rng: np.random.Generator, end: dt.date, organizations: list[str], instances: Instances
) -> list[Path]:
    """Write the business CSV files and return their paths."""
    accounts = len(organizations) + len(instances.site_ids) // 2
    account_ids = [f"001A{number:08d}" for number in range(1, accounts + 1)]
    names = sorted({f"{first} {second}" for first in NAME_FIRST for second in NAME_SECOND})
    chosen = rng.choice(len(names), size=accounts, replace=accounts > len(names))
    seats = np.maximum(5, rng.lognormal(4.2, 1.1, size=accounts)).astype(int)
    created = [end - dt.timedelta(days=int(days)) for days in rng.integers(30, 1500, size=accounts)]
    paths = [
        _csv(
            directory / "crm_accounts.csv",
            [
                "account_id",
                "name",
                "organization_id",
                "industry",
                "region",
                "seats",
                "arr_usd",
                "owner",
                "stage",
                "created_date",
            ],
            [
                [
                    account_ids[i],
                    names[chosen[i]] + ("" if i < len(names) else f" {i}"),
                    organizations[i] if i < len(organizations) else "",
                    INDUSTRIES[rng.integers(len(INDUSTRIES))],
                    REGIONS[rng.integers(len(REGIONS))],
                    seats[i],
                    int(seats[i] * rng.integers(150, 600)),
                    OWNERS[rng.integers(len(OWNERS))],
                    STAGES[rng.integers(len(STAGES))],
                    created[i].isoformat(),
                ]
                for i in range(accounts)
            ],
        ),
    ]
    # Two thirds of the instances are licensed to an account; the rest are free installs.
    licensed = [index for index in range(len(instances.site_ids)) if rng.random() < 0.67]
    paths.append(
        _csv(
            directory / "licenses.csv",
            ["license_key", "account_id", "site_id", "seats", "plan", "starts_on", "expires_on"],
            [
                [
                    f"lic_{rng.integers(16**10):010x}",
                    account_ids[min(len(organizations) + index // 2, accounts - 1)],
                    instances.site_ids[index],
                    int(rng.integers(20, 2000)),
                    ["business", "enterprise", "enterprise-plus"][rng.integers(3)],
                    (end - dt.timedelta(days=int(rng.integers(30, 700)))).isoformat(),
                    (end + dt.timedelta(days=int(rng.integers(-60, 400)))).isoformat(),
                ]
                for index in licensed
            ],
        )
    )
    tickets = accounts * 3
    opened = [
        dt.datetime.combine(end, dt.time(), dt.UTC) - dt.timedelta(minutes=int(minutes))
        for minutes in rng.integers(0, 90 * 1440, size=tickets)
    ]
    paths.append(
        _csv(
            directory / "support_tickets.csv",
            [
                "ticket_id",
                "account_id",
                "created_at",
                "priority",
                "status",
                "subject",
                "first_response_minutes",
                "solved_at",
            ],
            [
                [
                    100000 + number,
                    account_ids[rng.integers(accounts)],
                    opened[number].isoformat(),
                    ["p0", "p1", "p2", "p3"][rng.choice(4, p=[0.03, 0.17, 0.5, 0.3])],
                    status := ["solved", "solved", "solved", "open", "pending"][rng.integers(5)],
                    SUBJECTS[rng.integers(len(SUBJECTS))],
                    int(rng.lognormal(4, 1)),
                    (opened[number] + dt.timedelta(hours=int(rng.integers(1, 200)))).isoformat()
                    if status == "solved"
                    else "",
                ]
                for number in range(tickets)
            ],
        )
    )
    responses = accounts * 2
    paths.append(
        _csv(
            directory / "nps_responses.csv",
            ["response_id", "account_id", "user_email", "score", "comment", "submitted_at"],
            [
                [
                    f"nps_{number:06d}",
                    account_ids[account := int(rng.integers(accounts))],
                    f"engineer{number}@{account_ids[account].lower()}.example.com",
                    int(rng.choice(11, p=[0.02, 0.02, 0.02, 0.03, 0.03, 0.05, 0.08, 0.15, 0.22, 0.2, 0.18])),
                    COMMENTS[rng.integers(len(COMMENTS))],
                    (end - dt.timedelta(days=int(rng.integers(0, 90)))).isoformat(),
                ]
                for number in range(responses)
            ],
        )
    )
    return paths


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path
