"""Lodestar Cloud's users: a deterministic simulation of a code-search product's event stream.

Visitors arrive over the period (more later, as the company grows), view pages from referrers and
campaigns, and some sign up, search and click results. Signed-up users come back week after week with a
decaying, plan-dependent probability. An A/B test ("search-ranking-v2") makes the variant click more.
Rows are drawn as integer codes from one numpy Generator and turned into events in DuckDB, so ten
million events take seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sextant.ingest import scratch

PLANS = ["free", "pro", "team", "enterprise"]
PLAN_SHARES = [0.78, 0.13, 0.07, 0.02]
PLAN_RETENTION = np.array([0.85, 1.2, 1.35, 1.5])
COUNTRIES = ["US", "DE", "GB", "IN", "FR", "CA", "BR", "NL", "JP", "AU"]
COUNTRY_SHARES = [0.38, 0.1, 0.09, 0.12, 0.06, 0.06, 0.05, 0.05, 0.05, 0.04]
REFERRERS = [
    "https://www.google.com/",
    "",
    "https://github.com/",
    "https://news.ycombinator.com/",
    "https://x.com/",
    "https://www.reddit.com/r/programming/",
    "https://duckduckgo.com/",
    "https://www.bing.com/",
]
REFERRER_SHARES = [0.38, 0.24, 0.14, 0.08, 0.05, 0.05, 0.03, 0.03]
# (utm_campaign, utm_source, utm_medium); the first is "no campaign"
CAMPAIGNS = [
    ("", "", ""),
    ("launch-week", "twitter", "social"),
    ("code-search-ebook", "hubspot", "email"),
    ("devtools-newsletter", "newsletter", "email"),
    ("conference-2024", "event", "offline"),
]
CAMPAIGN_SHARES = [0.72, 0.1, 0.08, 0.06, 0.04]
PAGES = ["/", "/search", "/pricing", "/docs", "/blog/structural-search", "/changelog", "/enterprise"]
PAGE_SHARES = [0.3, 0.2, 0.15, 0.15, 0.08, 0.06, 0.06]
LANGUAGES = ["go", "python", "typescript", "java", "rust", "ruby", "c++", "kotlin"]
TERMS = [
    "func main",
    "http.Handler",
    "useEffect",
    "TODO",
    "panic(",
    "context.Context",
    "async def",
    "SELECT",
    "import React",
    "unsafe",
    "retry",
    "deadline exceeded",
    "Dockerfile",
    "errors.Is",
    "@Override",
    "impl Drop",
]
REPOS = [
    "golang/go",
    "kubernetes/kubernetes",
    "facebook/react",
    "python/cpython",
    "rust-lang/rust",
    "lodestar/lodestar",
    "django/django",
    "torvalds/linux",
    "hashicorp/terraform",
    "microsoft/vscode",
]
REPOGROUPS = ["python", "golang", "android", "kubernetes", "stanford", "cncf"]
PATTERNS = ["literal", "regexp", "structural", "keyword"]
PATTERN_SHARES = [0.55, 0.2, 0.05, 0.2]

# Event names by code. Codes 0-9 are a working session's events (Search Submitted opens every session).
EVENTS = [
    "Search Submitted",
    "Search Result Clicked",
    "Viewed Repository",
    "Viewed Blob",
    "Code Intel Hover",
    "Go To Definition",
    "Viewed Page",
    "Created Saved Search",
    "Batch Change Created",
    "ViewRepogroup",
    "Viewed Sign Up",
    "Signed Up",
    "Signed In",
    "Upgraded Plan",
]
SESSION_WEIGHTS = np.array([0.30, 0.17, 0.14, 0.14, 0.09, 0.06, 0.06, 0.015, 0.005, 0.01])
CLICK_LIFT = 1.12  # the A/B variant's relative click-through
ACTIVATION = 0.8  # share of sign-ups with a working session in their first week
VIEWED_PAGE, VIEWED_SIGN_UP, SIGNED_UP, SIGNED_IN, UPGRADED = 6, 10, 11, 12, 13
BACKEND_VISITOR = -2  # searches the backend logs under the anonymous id "backend"


@dataclass(frozen=True)
class Users:
    """The signed-up users, for the business data."""

    user_ids: list[str]
    emails: list[str]
    plans: list[str]
    organizations: list[str]  # "" when none


@dataclass
class _Rows:
    """Drawn events as integer codes; `device` is -1 for the visitor's own device, else an extra device."""

    parts: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {name: [] for name in ("event", "second", "visitor", "user", "device")}
    )

    def add(
        self,
        event: np.ndarray | int,
        second: np.ndarray,
        visitor: np.ndarray | int,
        user: np.ndarray | int,
        device: np.ndarray | int = -1,
    ) -> None:
        count = len(second)
        for name, values in (
            ("event", event),
            ("second", second),
            ("visitor", visitor),
            ("user", user),
            ("device", device),
        ):
            self.parts[name].append(np.broadcast_to(np.asarray(values, dtype=np.int64), count))

    def column(self, name: str) -> np.ndarray:
        return np.concatenate(self.parts[name])

    @property
    def count(self) -> int:
        return sum(len(part) for part in self.parts["second"])


def simulate(
    rng: np.random.Generator, events: int, start: dt.date, days: int, organizations: list[str]
) -> tuple[pa.Table, Users]:
    """About `events` cloud events between `start` and `start + days`, sorted by time, and the users."""
    rows = _Rows()
    visitors = max(50, events // 34)
    growth = np.linspace(1.0, 1.8, days)
    first_day = rng.choice(days, size=visitors, p=growth / growth.sum())
    first_second = first_day * 86400 + _hours_of_day(rng, visitors)
    viewed_signup = rng.random(visitors) < 0.58
    signed_up = viewed_signup & (rng.random(visitors) < 0.36)
    everyone = np.arange(visitors)

    # Anonymous landing: page views, then "Viewed Sign Up" for some and "Signed Up" for fewer.
    views = 1 + rng.poisson(0.9, size=visitors)
    landing = np.repeat(everyone, views)
    rows.add(
        VIEWED_PAGE,
        np.repeat(first_second, views) + _positions(views) * rng.integers(20, 80, len(landing)),
        landing,
        -1,
    )
    signup_view_second = first_second + views * 45 + rng.integers(5, 90, size=visitors)
    rows.add(VIEWED_SIGN_UP, signup_view_second[viewed_signup], everyone[viewed_signup], -1)
    user_visitor = np.flatnonzero(signed_up)
    users = len(user_visitor)
    signup_second = signup_view_second[user_visitor] + rng.integers(30, 400, size=users)
    rows.add(SIGNED_UP, signup_second, user_visitor, np.arange(users))
    returning = np.flatnonzero(~signed_up & (rng.random(visitors) < 0.22))
    back = 1 + rng.poisson(1.0, size=len(returning))
    back_visitor = np.repeat(returning, back)
    rows.add(VIEWED_PAGE, first_second[back_visitor] + rng.integers(1, 21, len(back_visitor)) * 86400, back_visitor, -1)

    # Working sessions of signed-up users, week after week, with a decaying plan-dependent return rate.
    plans = rng.choice(len(PLANS), size=users, p=PLAN_SHARES)
    variant = rng.random(users) < 0.5
    signup_day = signup_second // 86400
    weeks = (days - 1 - signup_day) // 7 + 1
    week_user = np.repeat(np.arange(users), weeks)
    week = _positions(weeks)
    return_rate = 0.15 + 0.28 * np.exp(-(np.maximum(week, 1) - 1) / 2.2)
    # Not everyone who signs up gets to a first search: some come back later, some never.
    chance = np.where(week == 0, ACTIVATION, np.minimum(0.95, return_rate * PLAN_RETENTION[plans[week_user]]))
    active = rng.random(len(week)) < chance
    active_user, active_week = week_user[active], week[active]
    active_days = np.minimum(7, 1 + rng.poisson(1.3, size=len(active_user)))
    session_user = np.repeat(active_user, active_days)
    session_week = np.repeat(active_week, active_days)
    weekday = rng.choice(7, size=len(session_user), p=[0.18, 0.18, 0.18, 0.18, 0.16, 0.06, 0.06])
    session_day = signup_day[session_user] + session_week * 7 + weekday
    session_day = np.where(session_week == 0, np.maximum(session_day, signup_day[session_user]), session_day)
    keep = session_day < days
    session_user, session_day = session_user[keep], session_day[keep]
    sessions = len(session_user)
    session_start = np.maximum(session_day * 86400 + _hours_of_day(rng, sessions), signup_second[session_user] + 60)
    # A few sessions come from another device: the user id with a new anonymous id.
    session_device = np.where(rng.random(sessions) < 0.08, np.arange(sessions), -1)

    budget = events - rows.count - int(0.05 * events)
    counts = 1 + rng.poisson(max(1.0, budget / max(1, sessions) - 1), size=sessions)
    event_session = np.repeat(np.arange(sessions), counts)
    position = _positions(counts)
    weights = np.tile(SESSION_WEIGHTS, (2, 1))
    weights[1, 1] *= CLICK_LIFT
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random(len(event_session))
    codes = (draws[:, None] > cumulative[variant[session_user[event_session]].astype(int)]).sum(axis=1)
    codes = np.where(position == 0, 0, np.minimum(codes, len(SESSION_WEIGHTS) - 1))
    second = session_start[event_session] + position * rng.integers(8, 120, size=len(event_session))
    rows.add(
        codes,
        second,
        user_visitor[session_user[event_session]],
        session_user[event_session],
        session_device[event_session],
    )
    opens = rng.random(sessions) < 0.35
    rows.add(
        SIGNED_IN,
        session_start[opens] - 5,
        user_visitor[session_user[opens]],
        session_user[opens],
        session_device[opens],
    )
    upgrades = np.flatnonzero((plans == 0) & (rng.random(users) < 0.06))
    upgrade_second = signup_second[upgrades] + rng.integers(3, max(4, days // 2), size=len(upgrades)) * 86400
    upgrades, upgrade_second = upgrades[upgrade_second < days * 86400], upgrade_second[upgrade_second < days * 86400]
    rows.add(UPGRADED, upgrade_second, user_visitor[upgrades], upgrades)
    backend = int(0.01 * events)
    rows.add(0, rng.integers(0, days * 86400, size=backend), BACKEND_VISITOR, -1)

    user_ids = [f"user-{number:07d}" for number in range(1, users + 1)]
    in_org = (plans >= 2) | ((plans == 1) & (rng.random(users) < 0.3))
    orgs = [
        organizations[index] if member else ""
        for index, member in zip(rng.integers(0, len(organizations), size=users), in_org, strict=True)
    ]
    emails = [f"dev{number:07d}@{org or 'gmail'}.example.com" for number, org in enumerate(orgs, 1)]
    lookups = {
        "visitors": pa.table(
            {
                "visitor": everyone,
                "device_key": rng.integers(0, 2**48, size=visitors),
                "country": rng.choice(len(COUNTRIES), size=visitors, p=COUNTRY_SHARES),
                "referrer": rng.choice(len(REFERRERS), size=visitors, p=REFERRER_SHARES),
                "campaign": rng.choice(len(CAMPAIGNS), size=visitors, p=CAMPAIGN_SHARES),
            }
        ),
        "users": pa.table(
            {
                "user": np.arange(users),
                "user_id": pa.array(user_ids, pa.string()),
                "plan": plans,
                "organization": pa.array(orgs, pa.string()),
                "email": pa.array(emails, pa.string()),
                "variant": variant,
                "signup_day": signup_day,
            }
        ),
        "devices": pa.table({"device": np.arange(sessions), "device_key": rng.integers(0, 2**48, size=sessions)}),
    }
    table = _assemble(rng, rows, lookups, start, days)
    return table, Users(user_ids, emails, [PLANS[plan] for plan in plans], orgs)


def _hours_of_day(rng: np.random.Generator, count: int) -> np.ndarray:
    """Seconds into the day, busiest in working hours (UTC, for a mostly American and European audience)."""
    return (np.clip(rng.normal(15.5, 4.0, size=count), 0, 23.99) * 3600).astype(np.int64)


def _positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., count-1 for each count, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts)


def _list(values: list[str]) -> str:
    """A DuckDB list literal of the (fixed, code-defined) vocabulary, indexed from 1."""
    return exp.Array(expressions=[exp.Literal.string(value) for value in values]).sql("duckdb")


def _assemble(
    rng: np.random.Generator, rows: _Rows, lookups: dict[str, pa.Table], start: dt.date, days: int
) -> pa.Table:
    """Turn the integer rows into the native import columns; the JSON is built by DuckDB."""
    count = rows.count
    epoch = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())
    seconds = np.minimum(rows.column("second"), days * 86400 - 1)
    drawn = pa.table(
        {
            "code": rows.column("event"),
            "micros": (epoch + seconds) * 1_000_000 + rng.integers(0, 1_000_000, size=count),
            "visitor": rows.column("visitor"),
            "user": rows.column("user"),
            "device": rows.column("device"),
            "page": rng.choice(len(PAGES), size=count, p=PAGE_SHARES),
            "language": rng.integers(0, len(LANGUAGES), size=count),
            "term": rng.integers(0, len(TERMS), size=count),
            "repo": rng.integers(0, len(REPOS), size=count),
            "repogroup": rng.integers(0, len(REPOGROUPS), size=count),
            "results": np.minimum(rng.lognormal(3.2, 1.4, size=count).astype(np.int64), 5000),
            "rank": 1 + rng.geometric(0.35, size=count),
            "pattern": rng.choice(len(PATTERNS), size=count, p=PATTERN_SHARES),
            "insert_key": rng.integers(0, 2**62, size=count),
        }
    )
    connection = scratch.open_connection()
    for name, table in {"drawn": drawn, **lookups}.items():
        connection.register(name, table)
    campaigns = [_list([campaign[part] for campaign in CAMPAIGNS]) for part in range(3)]
    start_text = exp.Literal.string(start.isoformat()).sql("duckdb")
    result = connection.execute(
        f"""
        WITH rows AS (
            SELECT drawn.*, {_list(EVENTS)}[code + 1] AS name,
                users.user_id, {_list(PLANS)}[users.plan + 1] AS plan, users.organization, users.email,
                users.variant, users.signup_day,
                CASE WHEN visitor = {BACKEND_VISITOR} THEN 'backend'
                     ELSE 'anon-' || lower(printf('%012x', COALESCE(devices.device_key, visitors.device_key))) END
                    AS device_id,
                {_list(COUNTRIES)}[visitors.country + 1] AS country,
                {_list(REFERRERS)}[visitors.referrer + 1] AS referrer,
                {campaigns[0]}[visitors.campaign + 1] AS utm_campaign,
                {campaigns[1]}[visitors.campaign + 1] AS utm_source,
                {campaigns[2]}[visitors.campaign + 1] AS utm_medium,
                {_list(REPOS)}[repo + 1] AS repo_name, {_list(LANGUAGES)}[language + 1] AS language_name
            FROM drawn
            LEFT JOIN visitors USING (visitor)
            LEFT JOIN users USING (user)
            LEFT JOIN devices USING (device)
        )
        SELECT
            CASE WHEN code = 9 THEN 'ViewRepogroup:' || {_list(REPOGROUPS)}[repogroup + 1] ELSE name END AS event,
            make_timestamptz(micros) AS timestamp,
            CASE WHEN user_id IS NULL THEN device_id ELSE user_id END AS distinct_id,
            user_id,
            CASE WHEN device_id = 'backend' THEN NULL ELSE device_id END AS device_id,
            'ins-' || lower(printf('%016x', insert_key)) AS insert_id,
            CASE WHEN device_id = 'backend' THEN NULL ELSE device_id || '-' || (micros // 1800000000) END AS session_id,
            CAST(json_merge_patch(CASE
                WHEN code = 0 THEN json_object(
                    'argument', json_object('code_search', json_object(
                        'query_data', json_object('query', 'repo:^github.com/' || repo_name || '$ '
                            || {_list(TERMS)}[term + 1] || ' lang:' || language_name),
                        'results', json_object('results_count', results, 'alert', NULL))),
                    'pattern_type', {_list(PATTERNS)}[pattern + 1],
                    'source', CASE WHEN device_id = 'backend' THEN 'backend' ELSE 'web' END)
                WHEN code = 1 THEN json_object('rank', rank, 'repo', repo_name)
                WHEN code IN (2, 3) THEN json_object('repo', repo_name, 'language', language_name)
                WHEN code IN (4, 5) THEN json_object('language', language_name, 'precise', rank % 3 = 0)
                WHEN code IN ({VIEWED_PAGE}, {VIEWED_SIGN_UP}, 9) THEN json_object(
                    'url', 'https://lodestar.example.com'
                        || CASE WHEN code = {VIEWED_SIGN_UP} THEN '/sign-up'
                                WHEN code = 9 THEN '/' || {_list(REPOGROUPS)}[repogroup + 1]
                                ELSE {_list(PAGES)}[page + 1] END
                        || CASE WHEN user_id IS NULL AND utm_campaign <> '' THEN '?utm_source=' || utm_source
                            || '&utm_medium=' || utm_medium || '&utm_campaign=' || utm_campaign ELSE '' END,
                    'referrer', CASE WHEN user_id IS NULL THEN referrer ELSE '' END)
                WHEN code = {UPGRADED} THEN json_object('from_plan', 'free', 'to_plan', 'pro')
                ELSE json_object() END,
                CASE WHEN user_id IS NOT NULL
                     THEN json_object('feature_flags', json_object('search-ranking-v2', variant))
                     ELSE json_object() END) AS VARCHAR) AS properties,
            CAST(CASE
                WHEN code = {SIGNED_UP} THEN json_object('email', email, 'plan', plan, 'country', country,
                    'signup_date', CAST(CAST({start_text} AS DATE) + CAST(signup_day AS INTEGER) AS VARCHAR),
                    'ab_search_ranking_v2', variant)
                WHEN code = {UPGRADED} THEN json_object('plan', 'pro') END AS VARCHAR) AS person_properties,
            CAST(CASE WHEN organization <> '' THEN json_object('organization', organization) ELSE json_object() END
                AS VARCHAR) AS groups
        FROM rows
        ORDER BY micros, insert_key
        """
    ).to_arrow_table()
    connection.close()
    return result
