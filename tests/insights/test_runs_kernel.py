"""Merging sorted runs of rows into person and time order, against a stable sort."""

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
