"""Writing events: dedup, person snapshots, the user_days rollup and warnings, on every engine."""

from __future__ import annotations

import datetime as dt
import json

from sqlglot import exp

from sextant.ingest.store import EventStore
from tests.conftest import T0, ingest, journeys_for

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def rows(store: EventStore, sql: str) -> list[dict[str, object]]:
    return store.engine.execute(sql).to_pylist()


def event_names(store: EventStore) -> list[str]:
    return [row["event"] for row in rows(store, "SELECT event FROM events ORDER BY timestamp, event")]


def test_duplicates_within_and_across_batches_are_stored_once(store: EventStore) -> None:
    first = ingest(
        store,
        journeys_for(
            {
                "alice": [
                    ("Signed Up", T0, {"insert_id": "a"}),
                    ("Signed Up", T0, {"insert_id": "a"}),
                    ("Search", T0 + HOUR, {"insert_id": "b"}),
                    ("Search", T0 + HOUR),
                ],
            }
        ),
    )
    assert (first.stored, first.duplicates) == (3, 1)
    again = ingest(
        store,
        journeys_for(
            {
                "alice": [
                    ("Signed Up", T0, {"insert_id": "a"}),
                    ("Search", T0 + HOUR, {"insert_id": "b"}),
                    ("Search", T0 + HOUR),
                ],
            }
        ),
    )
    assert (again.stored, again.duplicates) == (1, 2)  # the event without insert_id cannot be recognised
    assert event_names(store) == ["Signed Up", "Search", "Search", "Search"]


def test_dedup_window_is_measured_on_event_timestamps(store: EventStore) -> None:
    window = dt.timedelta(seconds=store.project.config.ingest.dedup_window)
    ingest(store, journeys_for({"bob": [("Ping", T0, {"insert_id": "p"})]}))
    inside = ingest(store, journeys_for({"bob": [("Ping", T0 + window, {"insert_id": "p"})]}))
    outside = ingest(
        store, journeys_for({"bob": [("Ping", T0 + window + dt.timedelta(seconds=1), {"insert_id": "p"})]})
    )
    assert (inside.stored, outside.stored) == (0, 1)
    # Within one batch the same rule holds.
    batch = ingest(
        store,
        journeys_for(
            {
                "carol": [
                    ("Ping", T0, {"insert_id": "q"}),
                    ("Ping", T0 + 2 * window, {"insert_id": "q"}),
                    ("Ping", T0 + dt.timedelta(seconds=5), {"insert_id": "q"}),
                ]
            }
        ),
    )
    assert (batch.stored, batch.duplicates) == (2, 1)


def test_person_properties_snapshot_is_as_of_each_event(store: EventStore) -> None:
    ingest(
        store,
        journeys_for(
            {
                "alice": [
                    ("Viewed Page", T0 - HOUR),
                    ("Signed Up", T0, {"person_properties": {"plan": "free", "email": "a@example.com"}}),
                    ("Search", T0 + HOUR),
                    ("Upgraded", T0 + 2 * HOUR, {"person_properties": {"plan": "pro"}}),
                    ("Search", T0 + 3 * HOUR),
                ],
            }
        ),
    )
    ingest(store, journeys_for({"alice": [("Search", T0 + 4 * HOUR)]}))
    snapshots = [
        (row["event"], json.loads(row["person_properties"]))
        for row in rows(store, "SELECT event, person_properties FROM events ORDER BY timestamp")
    ]
    assert snapshots == [
        ("Viewed Page", {}),
        ("Signed Up", {"plan": "free", "email": "a@example.com"}),
        ("Search", {"plan": "free", "email": "a@example.com"}),
        ("Upgraded", {"plan": "pro", "email": "a@example.com"}),
        ("Search", {"plan": "pro", "email": "a@example.com"}),
        ("Search", {"plan": "pro", "email": "a@example.com"}),  # a later batch starts from the stored state
    ]
    latest = rows(store, "SELECT properties, version FROM persons ORDER BY version DESC LIMIT 1")[0]
    assert json.loads(str(latest["properties"])) == {"plan": "pro", "email": "a@example.com"}


def test_distinct_ids_map_to_stable_persons(store: EventStore) -> None:
    ingest(store, journeys_for({"alice": [("A", T0)], "bob": [("A", T0)]}))
    ingest(store, journeys_for({"alice": [("B", T0 + HOUR)], "dave": [("B", T0 + HOUR, {"user_id": "dave"})]}))
    mapping = rows(store, "SELECT distinct_id, CAST(person_id AS VARCHAR) AS person FROM person_distinct_ids")
    assert sorted(row["distinct_id"] for row in mapping) == ["alice", "bob", "dave"]  # each id mapped once
    assert len({row["person"] for row in mapping}) == 3
    identified = rows(store, "SELECT count(*) AS n FROM persons WHERE is_identified")
    assert identified[0]["n"] == 1  # only dave sent a user_id


def test_user_days_rollup_counts_per_project_day(store: EventStore) -> None:
    # The project is in Europe/Berlin: 22:30 UTC on 6 May is already 7 May there (UTC+2 in summer).
    late = dt.datetime(2024, 5, 6, 22, 30, tzinfo=dt.UTC)
    ingest(
        store,
        journeys_for(
            {
                "alice": [("Search", late - 2 * HOUR), ("Search", late), ("Search", late + HOUR)],
                "bob": [("Search", late)],
            }
        ),
    )
    ingest(store, journeys_for({"alice": [("Search", late + 2 * HOUR)]}))
    totals = rows(
        store,
        """
        SELECT CAST(day AS VARCHAR) AS day, distinct_id, sum(count) AS n FROM user_days
        GROUP BY day, distinct_id ORDER BY day, distinct_id""",
    )
    assert [(row["day"], row["distinct_id"], row["n"]) for row in totals] == [
        ("2024-05-06", "alice", 1),
        ("2024-05-07", "alice", 3),
        ("2024-05-07", "bob", 1),
    ]


def test_rollup_follows_daylight_saving_changes(store: EventStore) -> None:
    # Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 31 March 2024.
    before = dt.datetime(2024, 3, 30, 23, 30, tzinfo=dt.UTC)  # 00:30 on 31 March (UTC+1)
    after = dt.datetime(2024, 3, 31, 22, 30, tzinfo=dt.UTC)  # 00:30 on 1 April (UTC+2)
    ingest(store, journeys_for({"alice": [("A", before), ("A", after)]}))
    days = rows(store, "SELECT CAST(day AS VARCHAR) AS day FROM user_days ORDER BY day")
    assert [row["day"] for row in days] == ["2024-03-31", "2024-04-01"]


def test_warnings_are_stored_aggregated(store: EventStore) -> None:
    ingest(store, journeys_for({"alice": [("A", T0, {"colour": 1}), ("A", T0, {"colour": 2}), ("B", T0)]}))
    warnings = rows(store, "SELECT kind, event, field, count FROM ingestion_warnings")
    assert warnings == [{"kind": "unknown_field", "event": "A", "field": "colour", "count": 2}]


def test_checkpoint_is_recorded_with_the_batch(store: EventStore) -> None:
    from sextant.ingest.normalize import Context, normalize_documents

    assert store.checkpoint() == 0
    batch = normalize_documents(
        journeys_for({"a": [("A", T0)]}), Context(dt.datetime.now(dt.UTC), "api", store.project.config.ingest)
    )
    store.write(batch.events, checkpoint=7)
    store.write(batch.events, checkpoint=9)
    assert store.checkpoint() == 9


def test_replayed_batches_skip_stored_uuids(store: EventStore) -> None:
    from sextant.ingest.normalize import Context, normalize_documents

    batch = normalize_documents(
        journeys_for({"a": [("A", T0), ("B", T0)]}),
        Context(dt.datetime.now(dt.UTC), "api", store.project.config.ingest),
    )
    store.write(batch.events.slice(0, 1))
    result = store.write(batch.events, replayed=True)
    count = store.engine.execute(exp.select(exp.Count(this=exp.Star())).from_("events")).column(0)[0].as_py()
    if store.engine.transactional:
        # A transactional engine never stores part of a batch, so replay trusts the checkpoint.
        assert result.stored == 2
    else:
        assert (result.stored, count) == (1, 2)
