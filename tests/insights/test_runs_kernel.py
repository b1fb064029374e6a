"""Joining runs of rows that arrive in chunks, and merging sorted runs into person and time order, against a
stable sort."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.insights import runs_kernel
from sextant.insights.timeline import person_order


@st.composite
def runs_of_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Up to six runs, each sorted by (person, time), one after another; persons and times repeat."""
    codes: list[int] = []
    times: list[int] = []
    for _ in range(draw(st.integers(0, 6))):
        rows = sorted(draw(st.lists(st.tuples(st.integers(-3, 30), st.integers(0, 5)), max_size=40)))
        codes += [code for code, _ in rows]
        times += [time for _, time in rows]
    return np.array(codes, np.int64), np.array(times, np.int64)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rows=runs_of_rows())
def test_merging_the_runs_gives_the_stable_sort(rows: tuple[np.ndarray, np.ndarray]) -> None:
    codes, times = rows
    runs = runs_kernel.sorted_runs(codes, times)
    assert runs[0] == 0 and runs[-1] == len(codes)
    for first, end in itertools.pairwise(runs):
        keys = list(zip(codes[first:end], times[first:end], strict=True))
        assert keys == sorted(keys)
    assert runs_kernel.merged_order(codes, times, runs).tolist() == np.lexsort((times, codes)).tolist()


def test_person_order_is_none_for_ordered_rows_and_merges_a_few_long_runs() -> None:
    codes = np.array([1, 1, 2, 3], np.int64)
    times = np.array([0, 5, 1, 1], np.int64)
    assert person_order(codes, times) is None
    # Two runs of 20 rows (persons 0..9, two times each): the merge gives the same order as a stable sort.
    persons = np.repeat(np.arange(10), 2)
    codes = np.concatenate([persons, persons])
    times = np.concatenate([np.tile([0, 3], 10), np.tile([1, 3], 10)])
    order = person_order(codes, times)
    assert order is not None and order.tolist() == np.lexsort((times, codes)).tolist()


def chunks_of(runs: list[list[tuple[int, int]]], size: int) -> tuple[list[np.ndarray], list[np.ndarray], list[int]]:
    """Runs of (person, time) rows cut into chunks of up to `size` rows, some of them empty."""
    persons, times, chunk_runs = [], [], []
    for number, rows in enumerate(runs):
        for start in [*range(0, len(rows), size), len(rows)]:
            part = rows[start : start + size]
            persons.append(np.array([person for person, _ in part], np.int32))
            times.append(np.array([time for _, time in part], np.int64))
            chunk_runs.append(number)
    return persons, times, chunk_runs


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    runs=st.lists(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 3)), max_size=12), min_size=1, max_size=4),
    size=st.integers(1, 5),
)
def test_joined_runs_copy_every_row_and_tell_whether_each_run_is_in_order(
    runs: list[list[tuple[int, int]]], size: int
) -> None:
    with runs_kernel.joined_runs(*chunks_of(runs, size), len(runs)) as joined:
        rows = list(zip(joined.persons().tolist(), joined.times.tolist(), strict=True))
        assert rows == [row for rows in runs for row in rows]
        lengths = [len(rows) for rows in runs]
        spans = [[sum(lengths[:index]), sum(lengths[: index + 1])] for index in range(len(runs))]
        assert joined.runs.tolist() == spans
        assert joined.in_order == all(rows == sorted(rows) for rows in runs)
        if joined.in_order:  # where each person's rows begin in each run, up to one past the highest person
            highest = max((person for rows in runs for person, _ in rows), default=-1)
            expected = [
                [first + sum(1 for row in rows if row[0] < person) for person in range(highest + 2)]
                for (first, _), rows in zip(spans, runs, strict=True)
            ]
            assert joined.starts.tolist() == expected


def test_a_run_out_of_order_across_its_chunks_is_found() -> None:
    # Each chunk is sorted; the run is not, where its second chunk begins. The next run may start lower.
    runs = [[(1, 0), (5, 0), (2, 0), (3, 0)], [(0, 0)]]
    with runs_kernel.joined_runs(*chunks_of(runs, 2), 2) as joined:
        assert not joined.in_order
    with runs_kernel.joined_runs(*chunks_of([sorted(runs[0]), runs[1]], 2), 2) as joined:
        assert joined.in_order


def test_joined_runs_lend_their_memory_to_one_join_at_a_time() -> None:
    runs = [[(person, 0) for person in range(1000)]]
    chunks = chunks_of(runs, 300)
    with runs_kernel.joined_runs(*chunks, 1) as first, runs_kernel.joined_runs(*chunks, 1) as second:
        assert not np.shares_memory(first.starts, second.starts)
        assert not np.shares_memory(first.times, second.times)
        assert first.persons().tolist() == second.persons().tolist() == list(range(1000))


def test_where_persons_rows_begin_is_found_across_blocks_of_persons_and_chunks() -> None:
    # Persons numbered up to 300,000 (several blocks of persons), most without rows, in chunks of 1,000 rows;
    # the second run has no rows at all, the third one only persons from the second block on.
    rng = np.random.default_rng(5)
    first = np.sort(rng.choice(300_000, 20_000)).astype(np.int32)
    third = np.sort(rng.choice(np.arange(70_000, 200_000), 5_000)).astype(np.int32)
    runs = [[(int(person), 0) for person in first], [], [(int(person), 0) for person in third]]
    with runs_kernel.joined_runs(*chunks_of(runs, 1_000), 3) as joined:
        assert joined.in_order
        everyone = np.arange(int(first.max()) + 2)
        assert joined.starts[0].tolist() == np.searchsorted(first, everyone).tolist()
        assert joined.starts[1].tolist() == [len(first)] * len(everyone)
        assert joined.starts[2].tolist() == (len(first) + np.searchsorted(third, everyone)).tolist()
