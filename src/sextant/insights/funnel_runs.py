"""The plain ordered funnel over person timelines, compiled with numba: each step's events side by side,
with no merge of the steps' rows into one sequence per person.

Timelines keep each event's rows sorted by (person, time), one event after another. When every step is a
different single event (no exclusions, held properties or breakdown), no event can fill two steps, so an
attempt's furthest chain takes, for each step, the step's first event at or after the previous step's time
within the window; and since a later entry's chain is nowhere earlier, each step's search resumes where the
previous entry's stopped. A person's work is one walk over their rows of the steps' events, whether it
looks for their best attempt in the whole range or in each of several periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from sextant.insights import allocation, runs_kernel

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Reached:
    """Per person and entry period with an entry: the entry time of the best attempt, its steps reached and
    the time it reached each (meaningful below `reached`)."""

    entry_time: Int64Array
    reached: Int64Array
    times: Int64Array  # persons and periods x steps


def best_attempts(
    starts: npt.NDArray[np.integer],
    times: Int64Array,
    periods: Int64Array,
    window: int,
    ranges: int | None = None,
) -> Reached:
    """Each person's best attempt (most steps, then earliest entry) in each entry period, from the steps'
    runs of rows: step k's rows of person p are times[starts[k, p]:starts[k, p + 1]], in time order
    (`runs_kernel.JoinedRuns`). Period i holds the entries in [periods[i], periods[i + 1]); a step may come at
    the same time as the previous one or later, up to `window` after the entry (all in `times`' unit). The
    results are in person order, then period order. The persons are shared out among the cores in about
    `ranges` ranges (`runs_kernel.person_bounds`)."""
    people = starts.shape[1] - 1
    # A person has a best in at most each period, and at most one per entry row: one period (the steps view)
    # gives one place per person with entry rows, as the results need.
    places = np.minimum(starts[0, 1:] - starts[0, :-1], len(periods) - 1)
    bounds = runs_kernel.person_bounds(people, ranges)
    # Each range's first place in the output: the places of the persons before it.
    before = np.zeros(people + 1, np.int64)
    np.cumsum(places, out=before[1:])
    count = int(before[-1])
    entry_time = np.empty(count, np.int64)
    reached = np.empty(count, np.int64)
    step_times = allocation.kept((count, starts.shape[0]), np.dtype(np.int64))  # often over glibc's threshold
    _pass(starts, times, bounds, before[bounds], periods, window, entry_time, reached, step_times)
    kept = reached > 0  # places left over: periods without an entry, or entries outside the range
    if kept.all():
        return Reached(entry_time, reached, step_times)
    return Reached(entry_time[kept], reached[kept], step_times[kept])


@numba.njit(cache=True, parallel=True, nogil=True)
def _pass(starts, times, bounds, first_out, periods, window, entry_time, reached, step_times):  # type: ignore[no-untyped-def]
    """Per range of persons (in parallel), per person with rows of the entry step: follow each entry's
    chain, keeping the best of each period. A step's rows of the person are looked at only when a chain gets
    that far."""
    steps = starts.shape[0]
    entry_from, entry_to, last_period = periods[0], periods[-1], periods.shape[0] - 1
    for chunk in numba.prange(bounds.shape[0] - 1):
        found = np.empty(steps, np.int64)  # per step: no row before it can fill the step for this or a later entry
        end = np.empty(steps, np.int64)  # per step: the end of the person's rows
        current = np.empty(steps, np.int64)  # the chain's time of each step
        chain = np.empty(steps, np.int64)  # the chain's row of each step
        out = first_out[chunk]
        for person in range(bounds[chunk], bounds[chunk + 1]):
            first, last = starts[0, person], starts[0, person + 1]
            if first == last:
                continue
            places_end = out + min(last - first, last_period)
            for step in range(1, steps):
                found[step] = starts[step, person]
                end[step] = starts[step, person + 1]
            best = 0  # the steps of the period's best attempt, which is at `out`
            period = 1  # entries are before periods[period]
            settled = False  # no later entry of the period can beat its best
            previous_entry = 0
            chained = 0  # steps the previous entry's chain reached
            for entry in range(first, last):
                start_time = times[entry]
                if start_time < entry_from:
                    continue
                if start_time >= periods[period]:
                    if start_time >= entry_to:
                        break
                    # A later period's attempts compete among themselves. What `found` and the previous
                    # chain tell holds for every later entry, whatever its period.
                    while start_time >= periods[period]:
                        period += 1
                    if best > 0:
                        reached[out] = best
                        out += 1
                    best = 0
                    settled = False
                elif settled:
                    continue
                if best > 0 and start_time == previous_entry:
                    continue  # the same chain as the entry before it, which wins on nothing
                previous_entry = start_time
                deadline = start_time + window
                if best > 0:
                    # Only a chain that gets further than the best wins, so it needs an event of step `best`
                    # within this entry's window: that is looked for first, as a chain would look for it. A
                    # later entry's chain reaches every step no earlier than an earlier entry's did, so that
                    # event also comes no earlier than the best chain's step `best - 1`.
                    probe = _first_from(times, found, end, best, max(start_time, step_times[out, best - 1]))
                    if probe == end[best]:
                        # Nor does any later entry have one: no later entry of this period wins.
                        if period == last_period:
                            break
                        settled = True
                        continue
                    if times[probe] > deadline:
                        continue
                current[0] = start_time
                state = 1
                ran_out = False
                while state < steps:
                    step = state
                    scan = _first_from(times, found, end, step, current[step - 1])
                    if scan == end[step]:
                        ran_out = True  # and so for every later entry
                        break
                    if step < chained and scan == chain[step]:
                        # The previous entry's chain from here on: its rows, within this later window too.
                        state = chained
                        continue
                    if times[scan] > deadline:
                        break
                    current[step] = times[scan]
                    chain[step] = scan
                    state += 1
                chained = state
                if state > best:
                    best = state
                    entry_time[out] = start_time
                    step_times[out, :state] = current[:state]
                if state == steps or ran_out:
                    if period == last_period:
                        break
                    settled = True
            if best > 0:
                reached[out] = best
                out += 1
            while out < places_end:  # periods without an entry
                reached[out] = 0
                out += 1


@numba.njit(cache=True, inline="always")
def _first_from(times, found, end, step, since):  # type: ignore[no-untyped-def]
    """The person's first row of `step` at or after `since` (or the end of their rows of it), searched from
    where the last search of that step stopped; `found` keeps the place. A later search of the person's
    step looks for a time no earlier, so the rows passed are passed for good."""
    scan = found[step]
    while scan < end[step] and times[scan] < since:
        scan += 1
    found[step] = scan
    return scan
