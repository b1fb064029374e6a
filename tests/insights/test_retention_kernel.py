"""The per-person pass of retention over the start and return events' runs of rows, against the pass over
each person's merged rows, and a hand-counted case (times are plain numbers; a period is 10 of them)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.insights import retention_kernel, runs_kernel

START, RETURN = 0, 1
PERIOD = 10


def runs_layout(persons: dict[int, list[tuple[int, int]]], same_event: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows as timelines keep them (by event, person, time), joined as the queries' results are: the times,
    and where each person's rows of the start event and of the return event begin; with `same_event`, the
    start and the return are one event, whose rows serve as both."""
    events = [START] if same_event else [START, RETURN]
    runs = [
        sorted((person, time) for person, rows in persons.items() for time, kind in rows if same_event or kind == event)
        for event in events
    ]
    person_chunks = [np.array([person for person, _ in rows], np.int64) for rows in runs]
    time_chunks = [np.array([time for _, time in rows], np.int64) for rows in runs]
    with runs_kernel.joined_runs(person_chunks, time_chunks, list(range(len(runs))), len(runs)) as joined:
        assert joined.in_order
        return joined.times.copy(), joined.starts[[0, -1]].copy()


def merged_layout(persons: dict[int, list[tuple[int, int]]], same_event: bool) -> tuple[np.ndarray, ...]:
    """Each person's rows in time order, with whether each is a start and a return."""
    rows = sorted((person, time, event) for person, events in persons.items() for time, event in events)
    numbers = np.array([person for person, _, _ in rows], np.int64)
    times = np.array([time for _, time, _ in rows], np.int64)
    is_start = np.array([same_event or event == START for _, _, event in rows], np.bool_)
    is_return = np.array([same_event or event == RETURN for _, _, event in rows], np.bool_)
    change = np.ones(len(rows), np.bool_)
    change[1:] = numbers[1:] != numbers[:-1]
    starts = np.append(np.flatnonzero(change), len(rows)).astype(np.int64)
    return starts, times, is_start, is_return


def both_ways(
    persons: dict[int, list[tuple[int, int]]], same_event: bool, ranges: int | None = None, **settings_: Any
) -> tuple[Any, Any]:
    run_times, run_starts = runs_layout(persons, same_event)
    by_runs = retention_kernel.count_runs(run_starts, run_times // PERIOD, run_times, ranges=ranges, **settings_)
    starts, times, is_start, is_return = merged_layout(persons, same_event)
    merged = retention_kernel.count(starts, times // PERIOD, times, is_start, is_return, **settings_)
    return by_runs, merged


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    persons=st.dictionaries(
        st.integers(1, 30),
        st.lists(st.tuples(st.integers(0, 60), st.sampled_from([START, RETURN])), min_size=1, max_size=10),
        max_size=8,
    ),
    same_event=st.booleans(),
    first_time=st.booleans(),
    rolling=st.booleans(),
    range_from=st.integers(0, 20),
    range_length=st.integers(1, 40),
    columns=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)).map(sorted).map(tuple), min_size=1, max_size=4),
    ranges=st.sampled_from([1, 2, 3, 32]),
)
def test_the_runs_count_as_the_merged_rows_do(
    persons: dict[int, list[tuple[int, int]]],
    same_event: bool,
    first_time: bool,
    rolling: bool,
    range_from: int,
    range_length: int,
    columns: list[tuple[int, int]],
    ranges: int,
) -> None:
    """Persons are shared out in one range or several (a range per person, or none for most)."""
    by_runs, merged = both_ways(
        persons,
        same_event,
        ranges,
        first_time=first_time,
        first_cohort=range_from // PERIOD,
        cohorts=(range_from + range_length - 1) // PERIOD - range_from // PERIOD + 1,
        range_from=range_from,
        range_to=range_from + range_length,
        rolling_length=PERIOD if rolling else 0,
        columns=columns,
    )
    assert by_runs.sizes.tolist() == merged.sizes.tolist()
    assert by_runs.returned.tolist() == merged.returned.tolist()


def test_each_person_returns_with_their_own_events() -> None:
    # Person 1 starts in period 0 and returns in period 1; person 2 starts in period 0 and returns in
    # periods 2 and 3; person 3 only returns.
    persons = {1: [(0, START), (12, RETURN)], 2: [(5, START), (25, RETURN), (31, RETURN)], 3: [(15, RETURN)]}
    by_runs, merged = both_ways(
        persons,
        False,
        first_time=True,
        first_cohort=0,
        cohorts=1,
        range_from=0,
        range_to=10,
        rolling_length=0,
        columns=[(1, 1), (2, 2), (3, 3)],
    )
    assert by_runs.sizes.tolist() == merged.sizes.tolist() == [2]
    assert by_runs.returned.tolist() == merged.returned.tolist() == [[1, 1, 1]]
