"""Reading instance pings: the seeds' update-check fields, string scalars, critical telemetry, versions."""

from __future__ import annotations

import pytest

from sextant.errors import IngestError
from sextant.ingest import pings
from sextant.project import TelemetrySettings

CRITICAL = TelemetrySettings().critical_fields


def test_update_check_fields_are_renamed_and_scalars_may_be_strings() -> None:
    ping = pings.read(
        {
            "site": "site-1",
            "version": "5.2.1",
            "deployType": "kubernetes",
            "totalUsers": "120",
            "activeToday": "31",
            "siteActivity": '{"searches": 40}',
            "growthStatistics": {"users": 120},
            "installerEmail": "it@acme.test",
        },
        CRITICAL,
    )
    assert ping == {
        "site_id": "site-1",
        "version": "5.2.1",
        "deployment_type": "kubernetes",
        "total_users": 120,
        "dau": 31,
        "site_activity": {"searches": 40},
        "growth_statistics": {"users": 120},
        "installer_email": "it@acme.test",
        "telemetry_level": "full",
    }


@pytest.mark.parametrize(
    ("ping", "message"),
    [
        ({"version": "5.0.0"}, "site_id is required"),
        ({"site_id": "s", "version": ""}, "version is required"),
        ({"site_id": "s", "version": "5.0.0", "totalUsers": "many"}, "total_users must be a number"),
        ({"site_id": "s", "version": "5.0.0", "siteActivity": "{oops"}, "site_activity must be JSON"),
        ({"site_id": "s", "version": "5.0.0", "telemetry_level": "most"}, "telemetry_level must be one of"),
        ([1], "must be a JSON object"),
    ],
)
def test_bad_pings_say_what_is_wrong(ping: object, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        pings.read(ping, CRITICAL)


def test_critical_telemetry_keeps_only_critical_fields_even_when_more_are_sent() -> None:
    sent = {"site_id": "s", "version": "5.0.0", "total_users": 9, "dau": 3, "repos": 40, "site_activity": {"a": 1}}
    declared = pings.read({**sent, "telemetry_level": "critical"}, CRITICAL)
    agreed = pings.read(sent, CRITICAL, agreed_level="critical")  # the agreement wins over the ping
    assert declared == agreed == {"site_id": "s", "version": "5.0.0", "total_users": 9, "telemetry_level": "critical"}


def test_versions_behind_the_releases() -> None:
    releases = ["5.0.0", "5.1.0", "5.2.0", "v5.3.1", "nightly"]
    assert pings.newest(releases) == "v5.3.1"
    assert [pings.versions_behind(version, releases) for version in ("5.3.1", "5.1.0", "4.9.9", "dev")] == [
        0,
        2,
        4,
        None,
    ]
    assert pings.versions_behind("5.0.0", []) is None
