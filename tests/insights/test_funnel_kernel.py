"""The compiled per-actor pass of funnels on tiny hand-built groups of events (times are plain numbers)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.insights import funnel_kernel

STEP_0, STEP_1, STEP_2 = 1, 2, 4  # bit masks
EXCLUSION_0 = 1


@dataclass(frozen=True)
class FunnelEvent:
    steps: int
    exclusions: int
    value: str | None


@dataclass(frozen=True)
class Group:
    time: int
    events: tuple[FunnelEvent, ...]


@dataclass(frozen=True)
class Exclusion:
    from_step: int
    to_step: int


@dataclass(frozen=True)
class Attempt:
    entry_time: int
    reached: tuple[int, ...]  # the earliest time of each step reached
    excluded: bool
    values: tuple[str | None, ...]


def event(steps: int = 0, exclusions: int = 0, value: str | None = None) -> FunnelEvent:
    return FunnelEvent(steps, exclusions, value)


def groups(*timed: tuple[int, Sequence[FunnelEvent]]) -> list[Group]:
    return [Group(time, tuple(events)) for time, events in timed]


def arrays(events: Sequence[FunnelEvent], dictionary: list[str]) -> tuple[np.ndarray, ...]:
    steps = np.array([item.steps for item in events], np.int64)
    exclusions = np.array([item.exclusions for item in events], np.int64)
    values = np.array([-1 if item.value is None else dictionary.index(item.value) for item in events], np.int64)
    return steps, exclusions, values


def run(
    actor_groups: list[Group],
    step_count: int = 3,
    *,
    order: str = "ordered",
    window: int = 100,
    exclusions: Sequence[Exclusion] = (),
    entry_from: int = 0,
    entry_to: int = 1000,
) -> list[Attempt]:
    events = [item for group in actor_groups for item in group.events]
    times = np.array([group.time for group in actor_groups for _ in group.events], np.int64)
    dictionary = sorted({item.value for item in events if item.value is not None})
    steps, exclusion_masks, values = arrays(events, dictionary)
    found = funnel_kernel.run(
        np.array([0, len(events)], np.int64),
        times,
        steps,
        exclusion_masks,
        values,
        np.zeros(len(events), np.int64),
        step_count=step_count,
        window=window,
        order=order,
        exclusion_from=np.array([item.from_step for item in exclusions], np.int64),
        exclusion_to=np.array([item.to_step for item in exclusions], np.int64),
        periods=np.array([entry_from, entry_to], np.int64),
        attribution=funnel_kernel.Attribution(),
        best_only=False,
    )
    return [
        Attempt(
            int(found.entry_time[index]),
            tuple(int(time) for time in found.times[index, : found.reached[index]]),
            bool(found.excluded[index]),
            tuple(None if code < 0 else dictionary[code] for code in found.values[index, : found.reached[index]]),
        )
        for index in range(len(found.reached))
    ]


def max_advance(events: Sequence[FunnelEvent], first_step: int, step_count: int) -> int:
    steps, _, _ = arrays(events, [])
    owner = np.empty(len(events), np.int64)
    held = np.zeros(len(events), np.int64)
    return int(funnel_kernel._max_advance(steps, held, 0, 0, len(events), -1, first_step, step_count, owner))


def reached(found: list[Attempt]) -> list[tuple[int, ...]]:
    return [attempt.reached for attempt in found]


# max_advance: matching the events of one group to consecutive steps


def test_a_greedy_choice_would_leave_a_step_unfilled() -> None:
    # The first event fits steps 1 and 2, the second only step 1: giving the first to step 1 strands step 2.
    assert max_advance([event(STEP_1 | STEP_2), event(STEP_1)], 1, 3) == 2
    assert max_advance([event(STEP_0 | STEP_1), event(STEP_1 | STEP_2), event(STEP_0)], 0, 3) == 3


def test_each_event_fills_at_most_one_step() -> None:
    assert max_advance([event(STEP_1 | STEP_2)], 1, 3) == 1
    assert max_advance([event(STEP_1 | STEP_2), event(STEP_1 | STEP_2)], 1, 3) == 2
    assert max_advance([event(STEP_2)], 1, 3) == 0  # steps must be consecutive from the first one
    assert max_advance([event(STEP_1), event(STEP_2)], 1, 2) == 1  # and stop at the last step


# Ordered and strict funnels


def test_events_of_the_entry_time_fill_the_next_steps_in_any_arrangement() -> None:
    # Listed in the "wrong" order: step 2 before step 1. Only the step 0 event can enter.
    found = run(groups((5, [event(STEP_2), event(STEP_1), event(STEP_0)])))
    assert reached(found) == [(5, 5, 5)]


def test_a_tie_group_later_on_is_matched_without_a_greedy_mistake() -> None:
    found = run(groups((0, [event(STEP_0)]), (7, [event(STEP_1 | STEP_2), event(STEP_1)])))
    assert reached(found) == [(0, 7, 7)]


def test_the_entry_event_fills_step_0_only() -> None:
    # Steps 0 and 1 are the same event: one event alone is one step; two tied events are two attempts.
    both = STEP_0 | STEP_1
    assert reached(run(groups((0, [event(both)])), 2)) == [(0,)]
    assert reached(run(groups((0, [event(both), event(both)])), 2)) == [(0, 0), (0, 0)]
    assert reached(run(groups((0, [event(both)]), (3, [event(both)])), 2)) == [(0, 3), (3,)]


def test_each_step_gets_its_earliest_time() -> None:
    found = run(groups((0, [event(STEP_0)]), (2, [event(STEP_1)]), (4, [event(STEP_1)]), (6, [event(STEP_2)])))
    assert reached(found) == [(0, 2, 6)]


def test_unrelated_events_between_steps_break_only_strict_funnels() -> None:
    journey = groups((0, [event(STEP_0)]), (1, [event()]), (2, [event(STEP_1)]), (3, [event(STEP_2)]))
    assert reached(run(journey, order="ordered")) == [(0, 2, 3)]
    assert reached(run(journey, order="strict")) == [(0,)]


def test_an_unrelated_event_at_the_time_of_a_step_does_not_break_a_strict_funnel() -> None:
    journey = groups((0, [event(), event(STEP_0)]), (2, [event(STEP_1), event()]), (3, [event(STEP_2)]))
    assert reached(run(journey, order="strict")) == [(0, 2, 3)]


def test_a_strict_funnel_may_continue_from_any_arrangement_of_a_tie() -> None:
    # At time 1, steps 1 and 2 tie; the event at 2 is step 2 or step 3. Strictness needs the arrangement that
    # leaves step 2 for time 1 (so step 3 can come at time 2), not the one that stops after step 1.
    step_3 = 8
    journey = groups((0, [event(STEP_0)]), (1, [event(STEP_1), event(STEP_1 | STEP_2)]), (2, [event(STEP_2 | step_3)]))
    assert reached(run(journey, 4, order="strict")) == [(0, 1, 1, 2)]


def test_the_window_includes_its_last_moment() -> None:
    journey = groups((0, [event(STEP_0)]), (10, [event(STEP_1)]), (21, [event(STEP_2)]))
    assert reached(run(journey, window=10)) == [(0, 10)]
    assert reached(run(journey, window=9)) == [(0,)]


def test_only_entries_inside_the_date_range_start_attempts() -> None:
    journey = groups((0, [event(STEP_0)]), (5, [event(STEP_0)]), (10, [event(STEP_0)]), (12, [event(STEP_1)]))
    found = run(journey, 2, entry_from=5, entry_to=10)
    assert [(attempt.entry_time, attempt.reached) for attempt in found] == [(5, (5, 12))]


# Exclusions


def excluded(journey: list[Group], exclusion: Exclusion, order: str = "ordered") -> list[bool]:
    return [attempt.excluded for attempt in run(journey, order=order, window=10, exclusions=[exclusion])]


def test_an_exclusion_counts_strictly_between_its_steps() -> None:
    between_0_and_1 = Exclusion(0, 1)
    assert excluded(
        groups((0, [event(STEP_0)]), (1, [event(exclusions=1)]), (2, [event(STEP_1)])), between_0_and_1
    ) == [True]
    # At the same time as the from_step or the to_step: not between.
    assert excluded(groups((0, [event(STEP_0), event(exclusions=1)]), (2, [event(STEP_1)])), between_0_and_1) == [False]
    assert excluded(groups((0, [event(STEP_0)]), (2, [event(STEP_1), event(exclusions=1)])), between_0_and_1) == [False]
    # After the to_step: too late.
    assert excluded(
        groups((0, [event(STEP_0)]), (2, [event(STEP_1)]), (3, [event(exclusions=1)])), between_0_and_1
    ) == [False]


def test_an_exclusion_after_a_later_from_step() -> None:
    journey = groups((0, [event(STEP_0)]), (1, [event(exclusions=1)]), (2, [event(STEP_1)]), (3, [event(STEP_2)]))
    assert excluded(journey, Exclusion(1, 2)) == [False]  # before step 1
    journey = groups((0, [event(STEP_0)]), (2, [event(STEP_1)]), (3, [event(exclusions=1)]))
    assert excluded(journey, Exclusion(1, 2)) == [True]


def test_when_the_to_step_is_never_reached_the_window_end_closes_the_exclusion() -> None:
    assert excluded(groups((0, [event(STEP_0)]), (10, [event(exclusions=1)])), Exclusion(0, 1)) == [True]
    assert excluded(groups((0, [event(STEP_0)]), (11, [event(exclusions=1)])), Exclusion(0, 1)) == [False]


def test_an_exclusion_after_a_strict_funnel_broke_still_counts() -> None:
    # Step 2 is never reached: the exclusion event at 3 is before the window ends, whether or not the
    # strict chain already broke at 2.
    journey = groups((0, [event(STEP_0)]), (1, [event(STEP_1)]), (2, [event()]), (3, [event(exclusions=1)]))
    assert excluded(journey, Exclusion(0, 2), order="ordered") == [True]
    assert excluded(journey, Exclusion(0, 2), order="strict") == [True]


# Any order


def test_any_order_counts_steps_in_any_order_from_any_step() -> None:
    journey = groups((0, [event(STEP_2)]), (1, [event(STEP_1)]), (2, [event(STEP_0)]))
    assert [(attempt.entry_time, attempt.reached) for attempt in run(journey, order="any")] == [
        (0, (2, 2, 2)),
        (1, (2, 2)),
        (2, (2,)),
    ]


def test_any_order_needs_a_distinct_event_per_step() -> None:
    journey = groups((0, [event(STEP_0 | STEP_1)]), (4, [event(STEP_0 | STEP_1 | STEP_2)]))
    assert reached(run(journey, order="any")) == [(0, 4), (4,)]
    assert reached(run(journey, order="any", window=3)) == [(0,), (4,)]


def test_any_order_with_an_entry_of_a_later_step_only_and_no_first_step_reaches_nothing() -> None:
    assert reached(run(groups((0, [event(STEP_2)]), (1, [event(STEP_1)])), order="any")) == [(), ()]


# Breakdown values


def test_values_are_the_entry_value_then_the_smallest_value_at_each_steps_time() -> None:
    journey = groups(
        (0, [event(STEP_0, value="zeta"), event(STEP_0, value="alpha")]),
        (3, [event(STEP_1, value="mid"), event(STEP_1, value="beta"), event(STEP_2, value="last")]),
        (4, [event(STEP_2, value="aaa")]),
    )
    assert [attempt.values for attempt in run(journey)] == [("zeta", "beta", "last"), ("alpha", "beta", "last")]


# The best attempt of plain ordered funnels (no exclusions, held properties or values) is found by following
# one chain per entry; it must agree with following every chain. Both passes find a best per entry period.


@st.composite
def partitions(draw: st.DrawFn) -> list[list[tuple[int, int]]]:
    """Actors' (time, step mask) rows, sorted by time, on a coarse grid so that ties are common."""
    return [
        sorted(draw(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 15)), min_size=1, max_size=14)))
        for _ in range(draw(st.integers(1, 4)))
    ]


def entry_periods(entry_to: int, cuts: list[int]) -> list[int]:
    """Bounds of periods from 0 to `entry_to`, cut at `cuts` (those inside)."""
    return [0, *sorted({cut for cut in cuts if 0 < cut < entry_to}), entry_to]


Summary = tuple[int, int, tuple[int, ...]]  # steps reached, -entry time, step times


def summary(found: funnel_kernel.Attempts, slot: int, periods: list[int]) -> tuple[tuple[int, int], Summary]:
    """The (partition, period) of the attempt at `slot`, and what it reached."""
    reach, entry = int(found.reached[slot]), int(found.entry_time[slot])
    key = (int(found.partition[slot]), bisect.bisect_right(periods, entry) - 1)
    return key, (reach, -entry, tuple(found.times[slot, :reach].tolist()))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    actors=partitions(),
    window=st.integers(0, 6),
    step_count=st.integers(2, 4),
    entry_to=st.integers(1, 13),
    cuts=st.lists(st.integers(1, 12), max_size=4),
)
def test_the_best_ordered_attempt_of_each_period_matches_the_best_of_all_attempts(
    actors: list[list[tuple[int, int]]], window: int, step_count: int, entry_to: int, cuts: list[int]
) -> None:
    rows = [row for actor in actors for row in actor]
    starts = np.cumsum([0, *(len(actor) for actor in actors)]).astype(np.int64)
    times = np.array([time for time, _ in rows], np.int64)
    steps = np.array([mask & ((1 << step_count) - 1) for _, mask in rows], np.int64)
    zeros = np.zeros(len(rows), np.int64)
    periods = entry_periods(entry_to, cuts)

    def follow(best_only: bool) -> funnel_kernel.Attempts:
        return funnel_kernel.run(
            starts, times, steps, zeros, zeros - 1, zeros, step_count=step_count, window=window, order="ordered",
            exclusion_from=np.zeros(0, np.int64), exclusion_to=np.zeros(0, np.int64),
            periods=np.array(periods, np.int64), attribution=funnel_kernel.Attribution(), best_only=best_only,
        )  # fmt: skip

    every = follow(best_only=False)
    expected: dict[tuple[int, int], Summary] = {}
    for slot in range(len(every.reached)):
        key, candidate = summary(every, slot, periods)
        if candidate[0] > 0 and (key not in expected or candidate[:2] > expected[key][:2]):
            expected[key] = candidate
    greedy = funnel_kernel.best_ordered(starts, times, steps, np.array(periods, np.int64), step_count, window)
    kept = follow(best_only=True)
    for found in (greedy, kept):
        bests = [summary(found, slot, periods) for slot in found.best.tolist()]
        assert dict(bests) == expected and len(bests) == len(expected)


@st.composite
def attempts(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Attempts with steps reached and their times: step gaps from a few values, or spread widely, so that
    the durations cluster in one bucket of their range, spread over many, or are all equal."""
    steps = draw(st.integers(2, 5))
    count = draw(st.integers(0, 300))
    gaps = draw(st.sampled_from([st.integers(0, 3), st.integers(0, 10**12), st.sampled_from([0, 1, 10**11])]))
    reached = draw(st.lists(st.integers(1, steps), min_size=count, max_size=count))
    times = np.zeros((count, steps), np.int64)
    for attempt in range(count):
        times[attempt] = np.cumsum([draw(st.integers(0, 10**6)), *(draw(gaps) for _ in range(steps - 1))])
    return np.array(reached, np.int64), times, steps


@settings(max_examples=200, deadline=None, derandomize=True)
@given(drawn=attempts())
def test_step_statistics_agree_with_numpy(drawn: tuple[np.ndarray, np.ndarray, int]) -> None:
    reached, times, steps = drawn
    found = funnel_kernel.step_statistics(reached, times, steps)
    assert found.counts.tolist() == [int((reached > step).sum()) for step in range(steps)]
    for step in range(steps):
        chosen = reached > step
        for summary, since in ((found.since_previous, step - 1), (found.since_first, 0)):
            durations = (times[chosen, step] - times[chosen, since]).astype(np.float64)
            if step == 0 or not len(durations):
                assert np.isnan(summary[step]).all()
                continue
            expected = [np.quantile(durations, 0.5), durations.mean(), np.quantile(durations, 0.9)]
            assert summary[step] == pytest.approx(expected, rel=1e-12)
