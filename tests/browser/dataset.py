"""The browser tests' known dataset, and the insight specs whose charts they check. Times are UTC; the
project's time zone is Europe/Berlin, two hours ahead in May. T0 is Monday 6 May 2024, 09:00 UTC.

- alice: Signed Up Mon 6 May 09:00, Search 11:00, Clicked Result 12:00, Search Tue 7 May 09:00
- bob: Signed Up Tue 7 May 09:00, Search 14:00, Search Thu 9 May 09:00
- carol (from an ad): Signed Up Wed 8 May 09:00, Search 10:00, Clicked Result 11:00
- dave: Signed Up Tue 14 May 09:00, nothing else
- erin: Search Thu 9 May 09:00, never signed up

alice's and carol's searches are for the account acme (plan enterprise), bob's for globex (plan free).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import T0, Journey

TIMEZONE = "Europe/Berlin"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
NOW = T0 + 12 * DAY  # Sat 18 May 09:00 UTC: every period of the range has ended
RANGE = {"date_from": "2024-05-01", "date_to": "2024-05-17"}

ACME = {"groups": {"account": "acme"}, "group_properties": {"account": {"plan": "enterprise"}}}
GLOBEX = {"groups": {"account": "globex"}, "group_properties": {"account": {"plan": "free"}}}
JOURNEYS: dict[str, Journey] = {
    "alice": [
        ("Signed Up", T0),
        ("Search", T0 + 2 * HOUR, ACME),
        ("Clicked Result", T0 + 3 * HOUR),
        ("Search", T0 + DAY, ACME),
    ],
    "bob": [("Signed Up", T0 + DAY), ("Search", T0 + DAY + 5 * HOUR, GLOBEX), ("Search", T0 + 3 * DAY, GLOBEX)],
    "carol": [
        ("Signed Up", T0 + 2 * DAY, {"properties": {"utm_source": "ads"}}),
        ("Search", T0 + 2 * DAY + HOUR, ACME),
        ("Clicked Result", T0 + 2 * DAY + 2 * HOUR),
    ],
    "dave": [("Signed Up", T0 + 8 * DAY)],
    "erin": [("Search", T0 + 3 * DAY)],
}

FUNNEL: dict[str, Any] = {
    "kind": "funnel",
    **RANGE,
    "steps": [{"event": "Signed Up"}, {"event": "Search"}, {"event": "Clicked Result"}],
    "window": {"value": 1, "unit": "day"},
}
FUNNEL_BY_SOURCE: dict[str, Any] = {**FUNNEL, "breakdown": {"type": "event", "key": "utm_source"}}
# Daily cohorts of 6-9 May, seen on Fri 10 May at 14:00 local: the 6 May cohort has had periods 0-3, the
# 7 May cohort 0-2 and the 8 May cohort 0-1; no one signed up on 9 May.
RETENTION: dict[str, Any] = {
    "kind": "retention",
    "date_from": "2024-05-06",
    "date_to": "2024-05-09",
    "interval": "day",
    "start": {"event": "Signed Up"},
    "return": {"event": "Search"},
    "periods": 4,
}
RETENTION_NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)
PATHS: dict[str, Any] = {"kind": "paths", **RANGE, "start_event": "Signed Up", "steps": 3}
LIFECYCLE: dict[str, Any] = {"kind": "lifecycle", **RANGE, "interval": "week"}
ACTIVE_USERS: dict[str, Any] = {"kind": "active_users", **RANGE}
SEGMENTATION: dict[str, Any] = {"kind": "segmentation", **RANGE, "series": [{"event": "Search", "math": "total"}]}
STICKINESS: dict[str, Any] = {"kind": "stickiness", **RANGE, "interval": "week"}
