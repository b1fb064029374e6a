"""Identity merges, person property operations and groups, on every engine, checked on hand-written journeys."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import orjson
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sextant.ingest.persons import apply_updates
from sextant.ingest.store import EventStore
from tests.conftest import T0, ingest, journeys_for

HOUR = dt.timedelta(hours=1)


def query(store: EventStore, duckdb_sql: str) -> list[dict[str, object]]:
    """Run SQL written for DuckDB on the store's engine."""
    return store.engine.execute(sqlglot.transpile(duckdb_sql, read="duckdb", write=store.engine.dialect)[0]).to_pylist()


def persons_of_events(store: EventStore) -> dict[str, str]:
    """event name -> person id, resolving identity at query time."""
    rows = query(
        store,
        """
        SELECT e.event, CAST(m.person_id AS VARCHAR) AS person
        FROM events AS e
        JOIN (SELECT distinct_id, arg_max(person_id, version) AS person_id FROM person_distinct_ids
              GROUP BY distinct_id) AS m ON e.distinct_id = m.distinct_id""",
    )
    return {str(row["event"]): str(row["person"]) for row in rows}


def warnings(store: EventStore) -> list[str]:
    return [
        str(row["message"])
        for row in query(store, "SELECT message FROM ingestion_warnings WHERE kind = 'merge_refused'")
    ]


def test_anonymous_events_count_for_the_person_who_signs_up_later(store: EventStore) -> None:
    ingest(
        store, journeys_for({"anon-1": [("Viewed Page", T0), ("Viewed Sign Up", T0 + HOUR, {"device_id": "anon-1"})]})
    )
    ingest(
        store,
        journeys_for(
            {
                "alice": [
                    ("Signed Up", T0 + 2 * HOUR, {"user_id": "alice", "device_id": "anon-1"}),
                    ("Search", T0 + 3 * HOUR, {"user_id": "alice"}),
                ]
            }
        ),
    )
    people = persons_of_events(store)
    assert len(set(people.values())) == 1  # retroactively one person, across batches


def test_aliases_and_previous_ids_merge_in_one_batch(store: EventStore) -> None:
    ingest(
        store,
        journeys_for(
            {
                "cookie-9": [("Viewed Page", T0)],
                "bob": [
                    ("$identify", T0 + HOUR, {"user_id": "bob", "previous_id": "cookie-9"}),
                    ("Search", T0 + 2 * HOUR),
                ],
                "carol": [("Viewed Page", T0)],
            }
        ),
    )
    rows = query(
        store,
        """
        SELECT distinct_id, CAST(arg_max(person_id, version) AS VARCHAR) AS person
        FROM person_distinct_ids GROUP BY distinct_id""",
    )
    person = {row["distinct_id"]: row["person"] for row in rows}
    assert person["cookie-9"] == person["bob"] != person["carol"]


def test_two_identified_persons_are_never_merged(store: EventStore) -> None:
    ingest(store, journeys_for({"u1": [("A", T0, {"user_id": "u1"})], "u2": [("B", T0, {"user_id": "u2"})]}))
    ingest(store, journeys_for({"u2": [("C", T0 + HOUR, {"user_id": "u2", "previous_id": "u1"})]}))
    people = persons_of_events(store)
    assert people["A"] != people["B"] == people["C"]
    assert any("both are identified persons" in message for message in warnings(store))


def test_a_shared_device_does_not_merge_its_users(store: EventStore) -> None:
    ingest(
        store,
        journeys_for(
            {
                "dana": [("Signed In", T0, {"user_id": "dana", "device_id": "kiosk-7"})],
                "erin": [("Signed In", T0 + HOUR, {"user_id": "erin", "device_id": "kiosk-7"})],
            }
        ),
    )
    rows = query(
        store,
        "SELECT distinct_id, CAST(arg_max(person_id, version) AS VARCHAR) AS person FROM "
        "person_distinct_ids GROUP BY distinct_id",
    )
    person = {row["distinct_id"]: row["person"] for row in rows}
    assert person["kiosk-7"] == person["dana"] != person["erin"]
    assert len(warnings(store)) == 1


@pytest.mark.parametrize("placeholder", ["undefined", "null", "0", "anonymous"])
def test_placeholder_ids_are_never_linked(store: EventStore, placeholder: str) -> None:
    ingest(
        store,
        journeys_for(
            {
                "fay": [("A", T0, {"user_id": "fay", "device_id": placeholder})],
                "gus": [("B", T0, {"user_id": "gus", "device_id": placeholder})],
            }
        ),
    )
    people = persons_of_events(store)
    assert people["A"] != people["B"]
    assert any("placeholder" in message for message in warnings(store))


def test_merged_persons_keep_both_properties_and_the_identified_ones_win(store: EventStore) -> None:
    ingest(
        store,
        journeys_for(
            {
                "anon-5": [("Viewed Page", T0, {"person_properties": {"utm_source": "hn", "plan": "trial"}})],
                "hana": [("Signed In", T0, {"user_id": "hana", "person_properties": {"plan": "pro"}})],
            }
        ),
    )
    ingest(store, journeys_for({"hana": [("Search", T0 + HOUR, {"user_id": "hana", "device_id": "anon-5"})]}))
    rows = query(store, "SELECT person_properties FROM events WHERE event = 'Search'")
    assert json.loads(str(rows[0]["person_properties"])) == {"utm_source": "hn", "plan": "pro"}


def test_person_operations_apply_in_order_and_snapshot_each_event(store: EventStore) -> None:
    steps = [
        {"person_updates": {"$set": {"plan": "free"}, "$set_once": {"first_seen": "mon"}, "$add": {"logins": 1}}},
        {"person_updates": {"$set_once": {"first_seen": "tue"}, "$add": {"logins": 2}, "$append": {"tags": "a"}}},
        {"person_updates": {"$prepend": {"tags": ["z"]}, "$append": {"tags": ["b", "c"]}}},
        {"person_updates": {"$remove": {"tags": "b"}, "$unset": ["plan"]}},
        {"person_properties": {"plan": "team"}, "person_updates": {"$add": {"logins": 1}}},
    ]
    ingest(store, journeys_for({"ivy": [(f"E{n}", T0 + n * HOUR, extra) for n, extra in enumerate(steps)]}))
    rows = query(store, "SELECT event, person_properties FROM events ORDER BY timestamp")
    snapshots = [json.loads(str(row["person_properties"])) for row in rows]
    assert snapshots == [
        {"plan": "free", "first_seen": "mon", "logins": 1},
        {"plan": "free", "first_seen": "mon", "logins": 3, "tags": ["a"]},
        {"plan": "free", "first_seen": "mon", "logins": 3, "tags": ["z", "a", "b", "c"]},
        {"first_seen": "mon", "logins": 3, "tags": ["z", "a", "c"]},
        {"first_seen": "mon", "logins": 4, "tags": ["z", "a", "c"], "plan": "team"},
    ]


def test_repeated_additions_are_not_collapsed(store: EventStore) -> None:
    add = {"person_updates": {"$add": {"searches": 1}}}
    ingest(store, journeys_for({"jo": [("S", T0, add), ("S", T0 + HOUR, add), ("S", T0 + 2 * HOUR, add)]}))
    rows = query(store, "SELECT person_properties FROM events ORDER BY timestamp")
    assert [json.loads(str(row["person_properties"]))["searches"] for row in rows] == [1, 2, 3]


def test_unknown_person_operations_are_rejected() -> None:
    from sextant.ingest.normalize import Context, normalize_documents
    from sextant.project import IngestSettings

    batch = normalize_documents(
        journeys_for({"k": [("A", T0, {"person_updates": {"$increment": {"x": 1}}})]}),
        Context(T0, "api", IngestSettings()),
    )
    assert batch.rejections[0].field == "person_updates"
    assert "$increment" in batch.rejections[0].reason


def test_group_properties_update_the_named_group(store: EventStore) -> None:
    ingest(
        store,
        journeys_for(
            {
                "kim": [
                    (
                        "Joined",
                        T0,
                        {"groups": {"organization": "org_1"}, "group_properties": {"organization": {"name": "Acme"}}},
                    ),
                    (
                        "Upgraded",
                        T0 + HOUR,
                        {"groups": {"organization": "org_1"}, "group_properties": {"organization": {"plan": "team"}}},
                    ),
                    ("Orphan", T0 + HOUR, {"group_properties": {"organization": {"plan": "x"}}}),
                    ("Seen", T0, {"groups": {"instance": "site-9"}}),
                ]
            }
        ),
    )
    rows = query(
        store,
        """
        SELECT group_type, group_key, arg_max(properties, version) AS properties FROM groups
        GROUP BY group_type, group_key ORDER BY group_type""",
    )
    assert [(row["group_type"], row["group_key"], json.loads(str(row["properties"]))) for row in rows] == [
        ("instance", "site-9", {}),
        ("organization", "org_1", {"name": "Acme", "plan": "team"}),
    ]
    kinds = [row["kind"] for row in query(store, "SELECT kind FROM ingestion_warnings")]
    assert "group_properties_ignored" in kinds


def test_apply_updates_reference() -> None:
    assert apply_updates({"n": "text"}, {"$add": {"n": 1}}) == {"n": "text"}  # non-numbers are left alone
    assert apply_updates({}, {"$unset": {"a": "-"}}) == {}  # Amplitude sends $unset as an object


# An event of the random journeys below: (person, hour, {"$set": ...} and/or {"$add": ...} or nothing).
Step = tuple[str, int, dict[str, dict[str, object]]]
steps = st.lists(
    st.tuples(
        st.sampled_from(["p0", "p1", "p2"]),
        st.integers(min_value=0, max_value=3),  # few hours, so that many events share a timestamp
        st.fixed_dictionaries(
            {},
            optional={
                "$set": st.dictionaries(st.sampled_from(["plan", "team"]), st.sampled_from(["a", "b"]), max_size=2),
                "$add": st.dictionaries(st.sampled_from(["logins"]), st.integers(min_value=1, max_value=3), max_size=1),
            },
        ),
    ),
    max_size=12,
)
_examples = itertools.count()


def expected_snapshots(batches: list[list[Step]]) -> tuple[list[list[dict[str, object]]], dict[str, dict[str, object]]]:
    """A pure-Python replay of the documented rule: within a batch, events apply in timestamp then arrival
    order, each sees its own update; a batch starts from the stored properties. Returns each event's
    snapshot (in arrival order, per batch) and each person's final properties."""
    state: dict[str, dict[str, object]] = {}
    snapshots = []
    for batch in batches:
        seen: list[dict[str, object]] = [{} for _ in batch]
        for index in sorted(range(len(batch)), key=lambda i: (batch[i][1], i)):
            person, _, updates = batch[index]
            properties = dict(state.get(person, {}))
            properties.update(updates.get("$set", {}))
            for key, amount in updates.get("$add", {}).items():
                current = properties.get(key, 0)
                properties[key] = current + amount if isinstance(current, int) else current
            if updates:
                state[person] = properties
            seen[index] = dict(properties)
        snapshots.append(seen)
    return snapshots, state


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=steps, second=steps)
def test_snapshots_follow_a_replay_of_the_updates_in_event_order(
    store: EventStore, first: list[Step], second: list[Step]
) -> None:
    example = next(_examples)  # each example has persons of its own in the shared store
    for number, batch in enumerate([first, second]):
        if batch:
            ingest(
                store,
                [
                    orjson.dumps(
                        {
                            "event": "E",
                            "distinct_id": f"x{example}-{person}",
                            "timestamp": (T0 + hour * HOUR).isoformat(),
                            "insert_id": f"x{example}-{number}-{index}",
                            **({"person_updates": updates} if updates else {}),
                        }
                    ).decode()
                    for index, (person, hour, updates) in enumerate(batch)
                ],
            )
    expected, final = expected_snapshots([first, second])
    stored = {
        str(row["insert_id"]): json.loads(str(row["person_properties"]))
        for row in query(store, f"SELECT insert_id, person_properties FROM events WHERE insert_id LIKE 'x{example}-%'")
    }
    for number, snapshots in enumerate(expected):
        for index, snapshot in enumerate(snapshots):
            assert stored[f"x{example}-{number}-{index}"] == snapshot
    persons = query(
        store,
        f"""
        SELECT m.distinct_id, arg_max(p.properties, p.version) AS properties
        FROM persons AS p
        JOIN (SELECT distinct_id, arg_max(person_id, version) AS person_id FROM person_distinct_ids
              WHERE distinct_id LIKE 'x{example}-%' GROUP BY distinct_id) AS m ON p.person_id = m.person_id
        GROUP BY m.distinct_id
        """,
    )
    assert {str(row["distinct_id"]): json.loads(str(row["properties"])) for row in persons} == {
        f"x{example}-{person}": final.get(person, {}) for batch in (first, second) for person, _, _ in batch
    }
