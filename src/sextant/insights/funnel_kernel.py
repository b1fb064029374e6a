"""The per-actor pass of the funnel, compiled with numba: from each entry event, how far an attempt gets
within the window, and when it first reaches each step; and the counted attempts' durations per step.

The rules (docs/insights.md, "Funnels"):
- Events with equal timestamps form a group. Events of one group may fill consecutive steps in any
  arrangement; each event fills at most one step (a bipartite matching per group). A step's time is the
  earliest time any chain reaches it.
- `ordered`: later steps come at the same time or later. `strict`: also, no other event of the actor happens
  strictly between two consecutive steps. `any`: the steps may come in any order within the window.
- An attempt is excluded when an exclusion event happens strictly after its `from_step` and before its
  `to_step` (or, when that step is never reached, before the window ends).

Input rows are sorted by partition (an actor) and time. Each row has a bitmask of the steps it matches, a
bitmask of the exclusions it matches, a breakdown value code (codes sort like the values; -1 for none) and
a code of its held property values: an attempt's steps are filled only by rows with its entry's held code,
while every row of the actor counts as an event in between (strict order) and as an exclusion.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numba
import numpy as np
import numpy.typing as npt

from sextant.insights import allocation

ORDERS = {"ordered": 0, "strict": 1, "any": 2}
ATTRIBUTIONS = {"first_touch": 0, "last_touch": 1, "step": 2}
Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Attribution:
    """Which step's value an attempt's breakdown value is, and the code that stands for "step not reached"."""

    kind: str = "first_touch"  # first_touch, last_touch or step
    step: int = 0
    unreached: int = -1


@dataclass(frozen=True)
class Attempts:
    """One row per attempt: its partition, entry time, how many steps it reached, whether it was excluded,
    per step the earliest time and the smallest value code among the events filling it then, and its
    attributed value code. `best` holds the rows of the best attempts, one per partition and entry period
    with a counted attempt, in row order."""

    partition: Int64Array
    entry_time: Int64Array
    reached: Int64Array
    excluded: npt.NDArray[np.bool_]
    times: Int64Array  # attempts x steps; meaningful below `reached`
    values: Int64Array  # attempts x steps
    attributed: Int64Array
    best: Int64Array


def run(
    starts: Int64Array,
    times: Int64Array,
    steps: Int64Array,
    exclusions: Int64Array,
    values: Int64Array,
    held: Int64Array,
    *,
    step_count: int,
    window: int,
    order: str,
    exclusion_from: Int64Array,
    exclusion_to: Int64Array,
    periods: Int64Array,
    attribution: Attribution,
    best_only: bool,
) -> Attempts:
    """The attempts of every partition. `starts` holds each partition's first row, then the row count.
    Attempts enter in [periods[0], periods[-1]); each partition's best attempt (most steps, then earliest
    entry, then smallest value, no value last) is found in each entry period [periods[i], periods[i + 1]).

    With `best_only`, only the attempts that were their period's best when made are kept (a later one may
    beat them: `best` names the final ones), and a partition's later entries of a period are skipped once an
    attempt of that period reached every step: they could only tie on steps and lose on entry time. Without
    it, every attempt is made."""
    entering = (steps != 0) if order == "any" else (steps & 1) != 0
    in_range = entering & (times >= periods[0]) & (times < periods[-1])
    count = int(in_range.sum())
    # Left uninitialised: the pass writes every field it later reads (step fields below `reached` only),
    # and with `best_only` it reuses the slot of each attempt that did not become its period's best.
    partition = np.empty(count, np.int64)
    entry_time = np.empty(count, np.int64)
    reached = np.empty(count, np.int64)
    excluded = np.empty(count, np.bool_)
    step_times = allocation.kept((count, step_count), np.dtype(np.int64))  # attempts x steps: often large
    step_values = allocation.kept((count, step_count), np.dtype(np.int64))
    attributed = np.empty(count, np.int64)
    best = np.empty(count, np.int64)
    found, bests = _all_attempts(
        starts, times, steps, exclusions, values, held, in_range, periods, step_count, window, ORDERS[order],
        exclusion_from, exclusion_to, partition, entry_time, reached, excluded, step_times, step_values,
        ATTRIBUTIONS[attribution.kind], attribution.step, attribution.unreached, attributed, best, best_only,
    )  # fmt: skip
    return Attempts(
        partition[:found], entry_time[:found], reached[:found], excluded[:found], step_times[:found],
        step_values[:found], attributed[:found], best[:bests],
    )  # fmt: skip


def best_ordered(
    starts: Int64Array,
    times: Int64Array,
    steps: Int64Array,
    periods: Int64Array,
    step_count: int,
    window: int,
) -> Attempts:
    """Each partition's best attempt in each entry period (as `run` with `best_only` finds them) in an
    ordered funnel without exclusions, held properties or breakdown values. `starts` and `periods` as in
    `run`; times are in the unit of `periods`.

    There, an attempt that is further along can always do what one behind it can, so following each entry's
    single furthest chain (the most steps each tie group can fill, at the earliest group that can fill the
    next step) gives what following every chain gives, with no scan of the window per entry. Partitions are
    independent, so they are shared out among the cores."""
    # Each partition has a place per period, up to one per row: one period (the steps view) gives one place
    # per partition.
    places = np.zeros(starts.shape[0], np.int64)
    np.cumsum(np.minimum(np.diff(starts), len(periods) - 1), out=places[1:])
    count = int(places[-1])
    partition = np.empty(count, np.int64)
    entry_time = np.empty(count, np.int64)
    reached = np.zeros(count, np.int64)  # stays 0 for places without an entry
    step_times = allocation.kept((count, step_count), np.dtype(np.int64))
    chunks = numba.get_num_threads() * 16
    _greedy_pass(
        starts, times, steps, periods, step_count, window, chunks, places, partition, entry_time, reached, step_times
    )
    kept = np.flatnonzero(reached > 0)
    found = len(kept)
    return Attempts(
        partition=partition[kept],
        entry_time=entry_time[kept],
        reached=reached[kept],
        excluded=np.zeros(found, np.bool_),
        times=step_times[kept],
        values=np.broadcast_to(np.int64(-1), (found, step_count)),
        attributed=np.full(found, -1, np.int64),
        best=np.arange(found),
    )


@numba.njit(cache=True, parallel=True, nogil=True)
def _greedy_pass(  # type: ignore[no-untyped-def]
    starts, times, steps, periods, step_count, window, chunks, places, partition, entry_time, reached, step_times
):  # fmt: skip
    """An entry at a later time than another reaches each step no earlier than the other's chain did (the
    rows of its chain were there for the other too). So its search for a step starts where an earlier search
    for that step stopped (`found`), whatever the entries' periods, and once a search ran out of rows, no
    entry at a later time gets further. Entries at the same time do not follow this: each can use the other's
    row for a later step. Partition p's bests go to places[p] on, one per period with an entry."""
    partitions = starts.shape[0] - 1
    entry_from, entry_to, last_period = periods[0], periods[-1], periods.shape[0] - 1
    owner = np.empty(times.shape[0], np.int64)  # scratch of the matching; partitions own disjoint rows
    no_held = np.zeros(times.shape[0], np.int64)
    chunk_size = (partitions + chunks - 1) // chunks
    for chunk in numba.prange(chunks):
        current = np.empty(step_count, np.int64)
        found = np.empty(step_count, np.int64)  # per step: no row before it, from the last search, fills it
        for part in range(chunk * chunk_size, min(partitions, (chunk + 1) * chunk_size)):
            first, last = starts[part], starts[part + 1]
            place = places[part]  # of the period's best
            best_reach = 0
            period = 1  # entries are before periods[period]
            found[:] = first
            previous_entry = -1
            stop_after = times[last - 1]  # no entry after it can beat the period's best
            for row in range(first, last):
                if not (steps[row] & 1) or times[row] < entry_from:
                    continue
                start_time = times[row]
                if start_time >= periods[period]:
                    if start_time >= entry_to:
                        break
                    while start_time >= periods[period]:
                        period += 1
                    if best_reach > 0:
                        place += 1
                    best_reach = 0  # a later period's attempts compete among themselves
                    stop_after = times[last - 1]
                if start_time > stop_after:
                    if period == last_period:
                        break
                    continue
                if start_time == previous_entry:
                    found[:] = first
                previous_entry = start_time
                deadline = start_time + window
                position = _group_end(times, row, last)
                state = 1 + _max_advance(
                    steps, no_held, 0, _group_begin(times, row, first), position, row, 1, step_count, owner
                )
                for step in range(state):
                    current[step] = start_time
                while state < step_count:
                    next_row = max(position, found[state])
                    while next_row < last and times[next_row] <= deadline and not (steps[next_row] >> state) & 1:
                        next_row += 1
                    found[state] = next_row
                    if next_row == last:
                        stop_after = start_time  # later entries get no further, so not past the best
                        break
                    if times[next_row] > deadline:
                        break
                    begin = _group_begin(times, next_row, position)
                    end = _group_end(times, next_row, last)
                    advance = _max_advance(steps, no_held, 0, begin, end, -1, state, step_count, owner)
                    for step in range(state, state + advance):
                        current[step] = times[begin]
                    state += advance
                    position = end
                if state > best_reach:
                    best_reach = state
                    partition[place] = part
                    entry_time[place] = start_time
                    reached[place] = state
                    step_times[place, :state] = current[:state]
                if state == step_count:
                    if period == last_period:
                        break
                    stop_after = start_time  # later entries of the period could only tie and enter later


@numba.njit(cache=True, nogil=True)
def _all_attempts(  # type: ignore[no-untyped-def]
    starts, times, steps, exclusions, values, held, in_range, periods, step_count, window, order,
    exclusion_from, exclusion_to, partition, entry_time, reached, excluded, step_times, step_values,
    attribution, attribution_step, unreached, attributed, best, best_only,
):  # fmt: skip
    """Every attempt (or with `best_only`, the ones that were their period's best when made) and, into
    `best`, the row of each partition's best in each period; how many of each there are."""
    found = 0
    bests = 0
    last_period = periods.shape[0] - 1
    owner = np.empty(times.shape[0], np.int64)
    for part in range(starts.shape[0] - 1):
        first, last = starts[part], starts[part + 1]
        chosen = -1  # the period's best so far
        period = 1  # entries are before periods[period]
        for row in range(first, last):
            if not in_range[row]:
                continue
            if times[row] >= periods[period]:
                while times[row] >= periods[period]:
                    period += 1
                if chosen >= 0:
                    best[bests] = chosen
                    bests += 1
                chosen = -1
            if best_only and chosen >= 0 and reached[chosen] == step_count and times[row] > entry_time[chosen]:
                if period == last_period:
                    break
                continue
            partition[found] = part
            entry_time[found] = times[row]
            if order == 2:
                reach, out = _any_order(times, steps, values, held, row, first, last, step_count, window, owner,
                                        step_times[found], step_values[found])  # fmt: skip
                reached[found] = reach
                excluded[found] = out
            else:
                reach, out = _ordered(times, steps, exclusions, values, held, row, first, last, step_count, window,
                                      order == 1, exclusion_from, exclusion_to, owner,
                                      step_times[found], step_values[found])  # fmt: skip
                reached[found] = reach
                excluded[found] = out
            if attribution == 0:
                step = 0
            elif attribution == 1:
                step = max(reach - 1, 0)
            else:
                step = attribution_step
            attributed[found] = step_values[found, step] if step < reach else unreached
            wins = (
                reach > 0
                and not excluded[found]
                and (chosen < 0 or _better(found, chosen, reached, entry_time, attributed))
            )
            if wins:
                chosen = found
            if wins or not best_only:
                found += 1
        if chosen >= 0:
            best[bests] = chosen
            bests += 1
    return found, bests


@numba.njit(cache=True)
def _better(one, other, reached, entry_time, attributed):  # type: ignore[no-untyped-def]
    """Whether attempt `one` beats `other`: more steps, then an earlier entry, then a smaller value (none last)."""
    if reached[one] != reached[other]:
        return reached[one] > reached[other]
    if entry_time[one] != entry_time[other]:
        return entry_time[one] < entry_time[other]
    mine, theirs = attributed[one], attributed[other]
    if mine < 0 or theirs < 0:
        return theirs < 0 <= mine
    return mine < theirs


@numba.njit(cache=True)
def _group_begin(times, row, first):  # type: ignore[no-untyped-def]
    begin = row
    while begin > first and times[begin - 1] == times[row]:
        begin -= 1
    return begin


@numba.njit(cache=True)
def _group_end(times, row, last):  # type: ignore[no-untyped-def]
    end = row
    while end < last and times[end] == times[row]:
        end += 1
    return end


@numba.njit(cache=True)
def _max_advance(steps, held, want, begin, end, skip, first_step, step_count, owner):  # type: ignore[no-untyped-def]
    """How many consecutive steps from `first_step` distinct rows in [begin, end) (except `skip`, and only
    rows whose held code is `want`) can fill: Kuhn's augmenting paths, found breadth-first over steps."""
    rows = end - begin - (1 if begin <= skip < end else 0)
    if rows == 0:
        return 0
    if rows == 1:
        row = begin if begin != skip else begin + 1
        usable = held[row] == want and first_step < step_count
        return 1 if usable and (steps[row] >> first_step) & 1 else 0
    for row in range(begin, end):
        owner[row] = -1
    reached = 0
    parent = np.empty(step_count, np.int64)
    via = np.empty(step_count, np.int64)
    seen_step = np.zeros(step_count, np.bool_)
    seen_row = np.zeros(end - begin, np.bool_)
    queue = np.empty(step_count, np.int64)
    for step in range(first_step, step_count):
        seen_step[:] = False
        seen_row[:] = False
        head, tail = 0, 1
        queue[0] = step
        seen_step[step] = True
        parent[step] = -1
        augmented = False
        while head < tail and not augmented:
            current = queue[head]
            head += 1
            for row in range(begin, end):
                if row == skip or seen_row[row - begin] or held[row] != want or not (steps[row] >> current) & 1:
                    continue
                seen_row[row - begin] = True
                holder = owner[row]
                if holder == -1:
                    owner[row] = current  # the free row goes to `current`; each step up the path takes over
                    while parent[current] != -1:
                        given = via[current]
                        current = parent[current]
                        owner[given] = current
                    augmented = True
                    break
                if not seen_step[holder]:
                    seen_step[holder] = True
                    parent[holder] = current
                    via[holder] = row
                    queue[tail] = holder
                    tail += 1
        if not augmented:
            break
        reached += 1
    return reached


@numba.njit(cache=True)
def _smallest_value(steps, values, held, want, begin, end, step):  # type: ignore[no-untyped-def]
    smallest = -1
    for row in range(begin, end):
        fills = (steps[row] >> step) & 1 and held[row] == want
        if fills and values[row] >= 0 and (smallest == -1 or values[row] < smallest):
            smallest = values[row]
    return smallest


@numba.njit(cache=True)
def _ordered(  # type: ignore[no-untyped-def]
    times, steps, exclusions, values, held, entry, first, last, step_count, window, strict,
    exclusion_from, exclusion_to, owner, step_times, step_values,
):  # fmt: skip
    want = held[entry]
    start_time = times[entry]
    deadline = start_time + window
    group_begin = _group_begin(times, entry, first)
    group_end = _group_end(times, entry, last)
    advance = _max_advance(steps, held, want, group_begin, group_end, entry, 1, step_count, owner)
    reached = 1 + advance
    for step in range(reached):
        step_times[step] = start_time
    step_values[0] = values[entry]
    for step in range(1, reached):
        step_values[step] = _smallest_value(steps, values, held, want, group_begin, group_end, step)
    states = np.int64(0)
    for state in range(1, reached + 1):
        states |= np.int64(1) << state
    row = group_end
    while row < last and times[row] <= deadline:
        end = _group_end(times, row, last)
        if states != 0:
            following = np.int64(0)
            for state in range(1, step_count + 1):
                if not (states >> state) & 1:
                    continue
                if state == step_count:
                    following |= np.int64(1) << state
                    continue
                reach = _max_advance(steps, held, want, row, end, -1, state, step_count, owner)
                if reach == 0 and not strict:
                    following |= np.int64(1) << state
                for extra in range(1, reach + 1):
                    following |= np.int64(1) << (state + extra)
            for state in range(reached + 1, step_count + 1):
                if (following >> state) & 1:
                    for step in range(reached, state):
                        step_times[step] = times[row]
                        step_values[step] = _smallest_value(steps, values, held, want, row, end, step)
                    reached = state
            states = following
        elif exclusion_from.shape[0] == 0:
            break
        mask = np.int64(0)
        for member in range(row, end):
            mask |= exclusions[member]
        for index in range(exclusion_from.shape[0]):
            started = exclusion_from[index] < reached and step_times[exclusion_from[index]] < times[row]
            if (mask >> index) & 1 and started and exclusion_to[index] >= reached:
                return reached, True
        row = end
    return reached, False


@numba.njit(cache=True)
def _any_order(  # type: ignore[no-untyped-def]
    times, steps, values, held, entry, first, last, step_count, window, owner, step_times, step_values,
):  # fmt: skip
    """Steps in any order: step k counts once steps 0..k each have their own row within the window, from the
    entry's whole group onward."""
    want = held[entry]
    deadline = times[entry] + window
    group_begin = _group_begin(times, entry, first)
    reached = 0
    row = group_begin
    while row < last and times[row] <= deadline and reached < step_count:
        end = _group_end(times, row, last)
        reach = _max_advance(steps, held, want, group_begin, end, -1, 0, step_count, owner)
        for step in range(reached, reach):
            step_times[step] = times[row]
            step_values[step] = _smallest_value(steps, values, held, want, row, end, step)
        reached = max(reached, reach)
        row = end
    if reached > 0:
        step_values[0] = values[entry]
    return reached, False


@dataclass(frozen=True)
class StepStatistics:
    """Per step, the attempts that reached it, and from step 1 on the median, mean and 90th percentile of
    their durations since the previous step and since the first (NaN where no attempt reached the step)."""

    counts: Int64Array
    since_previous: npt.NDArray[np.float64]  # steps x (median, mean, p90)
    since_first: npt.NDArray[np.float64]


def step_statistics(reached: Int64Array, times: Int64Array, step_count: int) -> StepStatistics:
    """The statistics of attempts that reached `reached` steps at `times` (attempts x steps). Quantiles
    interpolate linearly between the closest ranks, as numpy's do; the median is the 0.5 quantile."""
    # The attempts are shared out among the cores in parts; per part and step, how many reached the step.
    bounds = np.linspace(0, len(reached), numba.get_num_threads() + 1).astype(np.int64)
    ended = np.array([np.bincount(reached[low:high], minlength=step_count + 1) for low, high in pairwise(bounds)])
    part_counts = np.cumsum(ended[:, ::-1], axis=1)[:, ::-1][:, 1:]  # parts x steps: reached more than k steps
    counts = part_counts.sum(axis=0).astype(np.int64)
    # Step k's durations since the previous step are in [offsets[k], offsets[k + 1]), each part's after the
    # parts before it; those since the first step follow, in the same order.
    offsets = np.zeros(2 * step_count + 1, np.int64)
    offsets[2 : step_count + 1] = np.cumsum(counts[1:])
    offsets[step_count + 1 :] = offsets[step_count] + offsets[1 : step_count + 1]
    starts = offsets[:step_count] + np.cumsum(part_counts, axis=0) - part_counts
    # Per set of durations and quantile, the two ranks it interpolates between, side by side.
    sizes = np.diff(offsets)
    position = np.array([0.5, 0.9])[None, :] * np.maximum(sizes[:, None] - 1, 0)
    below = np.floor(position).astype(np.int64)
    ranks = np.stack([below, np.minimum(below + 1, np.maximum(sizes[:, None] - 1, 0))], axis=2).reshape(len(sizes), -1)
    found = np.zeros(ranks.shape, np.int64)
    totals = np.zeros(2 * step_count, np.float64)
    with allocation.lent((int(offsets[-1]),), np.dtype(np.int64)) as durations:
        extremes = _fill_durations(reached, times, bounds, starts.astype(np.int64), offsets[step_count], durations)
        _select_ranks(durations, offsets, int(extremes[:, 0].min()), int(extremes[:, 1].max()), ranks, found, totals)
    low, high = found[:, 0::2], found[:, 1::2]
    quantiles = low + (high - low) * (position - below)
    with np.errstate(invalid="ignore", divide="ignore"):
        summaries = np.stack([quantiles[:, 0], totals / sizes, quantiles[:, 1]], axis=1)
    summaries[sizes == 0] = np.nan
    return StepStatistics(counts, summaries[:step_count], summaries[step_count:])


# The durations are counted in 2**16 buckets of their range, so that the few around each pair of ranks are
# found in one more pass, and only they are put in place.
_BUCKET_BITS = 16
# Durations are summed in integers this many at a time: durations of up to 2**47 microseconds (4.4 years)
# cannot overflow.
_SUMMED_AT_ONCE = 1 << 16


@numba.njit(cache=True, parallel=True, nogil=True)
def _select_ranks(values, offsets, low, high, ranks, found, totals):  # type: ignore[no-untyped-def]
    """Per set of values [offsets[s], offsets[s + 1]) (in parallel; all of them from `low` to `high`): the
    values at `ranks[s]` (pairs of neighbouring ranks) in sorted order, into `found[s]`, and their total,
    into `totals[s]`. The values are not moved."""
    shift = 0
    while (high - low) >> shift >= (1 << _BUCKET_BITS):
        shift += 1
    for task in numba.prange(offsets.shape[0] - 1):
        totals[task] = _select_set(values[offsets[task] : offsets[task + 1]], low, shift, ranks[task], found[task])


@numba.njit(cache=True, nogil=True)
def _select_set(chosen, low, shift, ranks, found):  # type: ignore[no-untyped-def]
    """`_select_ranks` for one set of values; its total. A function of its own: numba compiles a parallel
    loop's body much more slowly (a fresh install compiles these passes on first use)."""
    counts = np.zeros((1 << _BUCKET_BITS) + 1, np.int64)
    total = 0.0
    for block in range(0, chosen.shape[0], _SUMMED_AT_ONCE):
        summed = 0  # in integers, exactly, and faster than adding floats one after another
        for value in chosen[block : block + _SUMMED_AT_ONCE]:
            counts[((value - low) >> shift) + 1] += 1
            summed += value
        total += summed
    if chosen.shape[0] == 0:
        return total
    counts = np.cumsum(counts)  # counts[b]: the values in buckets below b
    for pair in range(0, ranks.shape[0], 2):  # two neighbouring ranks, in the buckets first..last
        below, above = ranks[pair], ranks[pair + 1]
        first = np.searchsorted(counts, below, side="right") - 1
        last = np.searchsorted(counts, above, side="right") - 1
        around = np.empty(counts[last + 1] - counts[first], np.int64)
        filled = 0
        for value in chosen:
            bucket = (value - low) >> shift
            if first <= bucket <= last:
                around[filled] = value
                filled += 1
        rank = below - counts[first]
        _place(around, rank)
        found[pair] = around[rank]
        found[pair + 1] = around[rank] if above == below else around[rank + 1 :].min()
    return total


@numba.njit(cache=True, nogil=True)
def _place(values, rank):  # type: ignore[no-untyped-def]
    """Put the value of `rank` in sorted order at values[rank], the values below it before it and the others
    after it: a quickselect with three-way partitions, so that many equal values cost nothing extra (numba's
    own np.partition takes 7 s to compile)."""
    low, high = 0, values.shape[0] - 1
    while low < high:
        middle = (low + high) // 2
        a, b, c = values[low], values[middle], values[high]
        pivot = max(min(a, b), min(max(a, b), c))  # the median of the three
        less, row, more = low, low, high
        while row <= more:
            value = values[row]
            if value < pivot:
                values[row], values[less] = values[less], value
                less += 1
                row += 1
            elif value > pivot:
                values[row], values[more] = values[more], value
                more -= 1
            else:
                row += 1
        # [low, less) below the pivot, [less, more] equal to it, (more, high] above it
        if rank < less:
            high = less - 1
        elif rank > more:
            low = more + 1
        else:
            return


@numba.njit(cache=True, parallel=True, nogil=True)
def _fill_durations(reached, times, bounds, starts, since_first_offset, durations):  # type: ignore[no-untyped-def]
    """Each attempt's durations into place, per part of the attempts (in parallel); per part, the lowest and
    the highest duration."""
    extremes = np.zeros((bounds.shape[0] - 1, 2), np.int64)
    for part in numba.prange(bounds.shape[0] - 1):
        filled = starts[part].copy()
        lowest, highest = np.int64(0), np.int64(0)
        for attempt in range(bounds[part], bounds[part + 1]):
            for step in range(1, reached[attempt]):
                since_previous = times[attempt, step] - times[attempt, step - 1]
                since_first = times[attempt, step] - times[attempt, 0]
                durations[filled[step]] = since_previous
                durations[since_first_offset + filled[step]] = since_first
                lowest = min(lowest, since_previous, since_first)
                highest = max(highest, since_previous, since_first)
                filled[step] += 1
        extremes[part] = lowest, highest
    return extremes
