"""The plain ordered funnel over the steps' runs of rows, against the kernel that follows every attempt
(times are plain numbers; each person's events are (time, event) pairs, the events being step numbers or
an event of no step)."""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.insights import funnel_kernel, funnel_runs, runs_kernel
from sextant.insights.runs_kernel import JoinedRuns

OTHER = 99  # an event of no step
Best = dict[tuple[int, int], tuple[int, int, tuple[int, ...]]]  # (person, period) -> steps, entry, step times


def build_rows(persons: dict[int, list[tuple[int, int]]], steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each step's rows by person and time, one step after another, as the steps' queries give them, and
    each step's run of rows (first, end)."""
    rows = sorted((event, person, time) for person, events in persons.items() for time, event in events)
    rows = [row for row in rows if row[0] < steps]
    numbers = np.array([person for _, person, _ in rows], np.int32)
    times = np.array([time for _, _, time in rows], np.int64)
    ends = np.searchsorted([event for event, _, _ in rows], np.arange(steps), side="right")
    return numbers, times, np.stack([np.concatenate([[0], ends[:-1]]), ends], 1).astype(np.int64)


def joined(numbers: np.ndarray, times: np.ndarray, runs: np.ndarray) -> contextlib.AbstractContextManager[JoinedRuns]:
    """The rows joined as the steps' query results are (`runs_kernel.joined_runs`), each run one chunk."""
    chunks = [(numbers[first:end], times[first:end]) for first, end in runs.tolist()]
    return runs_kernel.joined_runs(
        [persons for persons, _ in chunks], [run_times for _, run_times in chunks], list(range(len(runs))), len(runs)
    )


def period_of(periods: Sequence[int], time: int) -> int:
    return bisect.bisect_right(periods, time) - 1


def best_by_runs(
    persons: dict[int, list[tuple[int, int]]],
    steps: int,
    window: int,
    periods: Sequence[int],
    ranges: int | None = None,
) -> Best:
    numbers, times, runs = build_rows(persons, steps)
    with joined(numbers, times, runs) as rows:
        found = funnel_runs.best_attempts(rows.starts, rows.times, np.array(periods, np.int64), window, ranges)
    entering = sorted(
        {
            (person, period_of(periods, time))
            for person, events in persons.items()
            for time, event in events
            if event == 0 and periods[0] <= time < periods[-1]
        }
    )
    assert len(found.reached) == len(entering)
    return {
        key: (int(found.reached[slot]), int(found.entry_time[slot]), tuple(found.times[slot, : found.reached[slot]]))
        for slot, key in enumerate(entering)
    }


def best_of_every_attempt(
    persons: dict[int, list[tuple[int, int]]], steps: int, window: int, periods: Sequence[int]
) -> Best:
    """Each person's best attempt in each period, chosen among every attempt that the kernel following
    every attempt makes (rows in person and time order, each with the bitmask of its step)."""
    order = sorted(persons)
    rows = [(time, event) for person in order for time, event in sorted(persons[person])]
    starts = np.cumsum([0, *(len(persons[person]) for person in order)]).astype(np.int64)
    times = np.array([time for time, _ in rows], np.int64)
    masks = np.array([1 << event if event < steps else 0 for _, event in rows], np.int64)
    zeros = np.zeros(len(rows), np.int64)
    every = funnel_kernel.run(
        starts, times, masks, zeros, zeros - 1, zeros, step_count=steps, window=window, order="ordered",
        exclusion_from=np.zeros(0, np.int64), exclusion_to=np.zeros(0, np.int64),
        periods=np.array(periods, np.int64), attribution=funnel_kernel.Attribution(), best_only=False,
    )  # fmt: skip
    best: Best = {}
    for slot in range(len(every.reached)):
        reach, entry = int(every.reached[slot]), int(every.entry_time[slot])
        key = (order[int(every.partition[slot])], period_of(periods, entry))
        if reach > best.get(key, (0,))[0]:  # attempts come in entry order: the earliest wins a tie
            best[key] = (reach, entry, tuple(every.times[slot, :reach].tolist()))
    return best


@st.composite
def logs(draw: st.DrawFn) -> tuple[dict[int, list[tuple[int, int]]], int]:
    """Persons with sparse numbers, each with events on a coarse grid (so that ties and window ends are hit)."""
    steps = draw(st.integers(2, 5))
    events = st.sampled_from([*range(steps), OTHER])
    persons = draw(
        st.dictionaries(
            st.integers(1, 40), st.lists(st.tuples(st.integers(0, 12), events), min_size=1, max_size=12), max_size=8
        )
    )
    return persons, steps


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    log=logs(),
    window=st.integers(0, 6),
    entry_from=st.integers(0, 3),
    entry_to=st.integers(1, 13),
    cuts=st.lists(st.integers(1, 12), max_size=4),
    ranges=st.sampled_from([1, 2, 3, 32]),
)
def test_the_runs_give_the_best_of_every_attempt_in_each_period(
    log: tuple[dict[int, list[tuple[int, int]]], int],
    window: int,
    entry_from: int,
    entry_to: int,
    cuts: list[int],
    ranges: int,
) -> None:
    """Entries in [entry_from, entry_to), in one period or cut into several; persons are shared out in one
    range or several (a range per person, or none for most)."""
    persons, steps = log
    periods = [entry_from, *sorted({cut for cut in cuts if entry_from < cut < entry_to}), entry_to]
    expected = best_of_every_attempt(persons, steps, window, periods)
    assert best_by_runs(persons, steps, window, periods, ranges) == expected


def test_a_step_at_the_end_of_the_window_counts_and_one_after_it_does_not() -> None:
    persons = {1: [(0, 0), (5, 1), (9, 2)], 2: [(0, 0), (6, 1)], 3: [(2, 0), (2, 1), (2, 2)]}
    assert best_by_runs(persons, 3, window=5, periods=[0, 10]) == {
        (1, 0): (2, 0, (0, 5)),
        (2, 0): (1, 0, (0,)),
        (3, 0): (3, 2, (2, 2, 2)),  # events at one time fill consecutive steps
    }


def test_a_later_entry_wins_when_only_it_gets_further() -> None:
    persons = {1: [(0, 0), (3, 0), (4, 1), (20, 1), (21, 2)]}
    assert best_by_runs(persons, 3, window=5, periods=[0, 30]) == {(1, 0): (2, 0, (0, 4))}
    assert best_by_runs(persons, 3, window=20, periods=[0, 30]) == {(1, 0): (3, 3, (3, 4, 21))}
    assert best_by_runs(persons, 3, window=21, periods=[0, 30]) == {(1, 0): (3, 0, (0, 4, 21))}
    # Entries before the range do not start attempts, but the steps of a later entry may come after it.
    assert best_by_runs(persons, 3, window=18, periods=[1, 4]) == {(1, 0): (3, 3, (3, 4, 21))}


def test_each_period_has_the_best_of_the_attempts_entered_in_it() -> None:
    # Person 1 converts from 0 and enters again at 12 without converting; person 2 enters at 1, and converts
    # from a second entry at 11: over the whole range each is best at their conversion, but from 10 on, the
    # entry at 12 is person 1's best and the one at 11 person 2's.
    persons = {1: [(0, 0), (2, 1), (12, 0)], 2: [(1, 0), (11, 0), (13, 1)]}
    assert best_by_runs(persons, 2, window=5, periods=[0, 20]) == {(1, 0): (2, 0, (0, 2)), (2, 0): (2, 11, (11, 13))}
    assert best_by_runs(persons, 2, window=5, periods=[0, 10, 20]) == {
        (1, 0): (2, 0, (0, 2)),
        (1, 1): (1, 12, (12,)),
        (2, 0): (1, 1, (1,)),
        (2, 1): (2, 11, (11, 13)),
    }


def test_a_step_without_rows_is_never_reached() -> None:
    numbers, times, runs = build_rows({1: [(0, 0), (1, 2)]}, 3)
    assert runs.tolist() == [[0, 1], [1, 1], [1, 2]]
    with joined(numbers, times, runs) as rows:
        found = funnel_runs.best_attempts(rows.starts, rows.times, np.array([0, 10], np.int64), 5)
    assert found.reached.tolist() == [1]
