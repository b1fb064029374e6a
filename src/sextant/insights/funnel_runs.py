"""The plain ordered funnel over person timelines, compiled with numba: each step's events side by side,
with no merge of the steps' rows into one sequence per person.

Timelines keep each event's rows sorted by (person, time), one event after another. When every step is a
different single event (no exclusions, held properties or breakdown), no event can fill two steps, so an
attempt's furthest chain takes, for each step, the step's first event at or after the previous step's time
within the window; and since a later entry's chain is nowhere earlier, each step's search resumes where the
previous entry's stopped. A person's work is one walk over their rows of the steps' events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from sextant.insights import runs_kernel

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Reached:
    """Per person with an entry in range: the entry time of their best attempt, its steps reached and the
    time it reached each (meaningful below `reached`)."""

    entry_time: Int64Array
    reached: Int64Array
    times: Int64Array  # persons x steps


def best_attempts(
    persons: npt.NDArray[np.integer],
    times: Int64Array,
    runs: Int64Array,
    entry_from: int,
    entry_to: int,
    window: int,
    ranges: int | None = None,
) -> Reached:
    """Each person's best attempt (most steps, then earliest entry) from the steps' `runs` of rows, each
    sorted by person, then time. Entries are in [entry_from, entry_to); a step may come at the same time as
    the previous one or later, up to `window` after the entry (all in `times`' unit). Persons are shared
    out among the cores in `ranges` (`runs_kernel.person_ranges`)."""
    cut = runs_kernel.person_ranges(persons, runs, ranges)
    offsets = np.zeros(len(cut), np.int64)
    offsets[1:] = np.cumsum(_entering_persons(persons, cut[:, 0]))
    entry_time = np.empty(offsets[-1], np.int64)
    reached = np.empty(offsets[-1], np.int64)
    step_times = np.empty((offsets[-1], len(runs)), np.int64)
    _pass(persons, times, cut, offsets, entry_from, entry_to, window, entry_time, reached, step_times)
    kept = reached > 0  # persons whose every entry event is outside the range are left out
    if kept.all():
        return Reached(entry_time, reached, step_times)
    return Reached(entry_time[kept], reached[kept], step_times[kept])


@numba.njit(cache=True, parallel=True, nogil=True)
def _entering_persons(persons, cut):  # type: ignore[no-untyped-def]
    """Per range of persons, how many persons the entry step's rows [cut[c], cut[c + 1]) hold."""
    counts = np.zeros(cut.shape[0] - 1, np.int64)
    for chunk in numba.prange(cut.shape[0] - 1):
        count = 0  # counted here, not in `counts`, whose neighbouring cells other cores write to
        for row in range(cut[chunk], cut[chunk + 1]):
            if row == cut[chunk] or persons[row] != persons[row - 1]:
                count += 1
        counts[chunk] = count
    return counts


@numba.njit(cache=True, parallel=True, nogil=True)
def _pass(persons, times, cut, offsets, entry_from, entry_to, window, entry_time, reached, step_times):  # type: ignore[no-untyped-def]
    """Per range of persons (in parallel), per person of the entry step: follow each entry's chain. A step's
    rows of the person are looked for only when a chain gets that far."""
    steps = cut.shape[1]
    for chunk in numba.prange(cut.shape[0] - 1):
        stop = cut[chunk + 1]
        found = cut[chunk].copy()  # per step: no row before it can fill the step for this or a later entry
        looked_up = np.full(steps, -1, np.int64)  # per step: the person whose rows `found` is among
        current = np.empty(steps, np.int64)  # the chain's time of each step
        chain = np.empty(steps, np.int64)  # the chain's row of each step
        out = offsets[chunk]
        row = cut[chunk, 0]
        while row < stop[0]:
            person = persons[row]
            first = row
            row = runs_kernel.first_at_least(persons, row, stop[0], person + 1)
            best = 0
            previous_entry = 0
            chained = 0  # steps the previous entry's chain reached
            for entry in range(first, row):
                start_time = times[entry]
                if start_time < entry_from:
                    continue
                if start_time >= entry_to:
                    break
                if best > 0 and start_time == previous_entry:
                    continue  # the same chain as the entry before it, which wins on nothing
                previous_entry = start_time
                deadline = start_time + window
                if best > 0:
                    # Only a chain that gets further than the best wins, so it needs an event of step `best`
                    # within this entry's window: that is looked for first, as a chain would look for it. A
                    # later entry's chain reaches every step no earlier than an earlier entry's did, so that
                    # event also comes no earlier than the best chain's step `best - 1`.
                    since = max(start_time, step_times[out, best - 1])
                    probe = _first_from(persons, times, found, looked_up, stop, best, person, out, since)
                    if probe == stop[best] or persons[probe] != person:
                        break  # nor does any later entry have one
                    if times[probe] > deadline:
                        continue
                current[0] = start_time
                state = 1
                ran_out = False
                while state < steps:
                    step = state
                    scan = _first_from(persons, times, found, looked_up, stop, step, person, out, current[step - 1])
                    if scan == stop[step] or persons[scan] != person:
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
                    break
            reached[out] = best
            out += 1


@numba.njit(cache=True, inline="always")
def _first_from(persons, times, found, looked_up, stop, step, person, out, since):  # type: ignore[no-untyped-def]
    """The person's first row of `step` at or after `since` (or the first row past their rows of it),
    searched from where the last search of that step stopped; `found` keeps the place. A later search of the
    person's step looks for a time no earlier, so the rows passed are passed for good."""
    scan = found[step]
    if looked_up[step] != out:  # the first search of this person's rows of the step
        scan = runs_kernel.first_at_least(persons, scan, stop[step], person)
        looked_up[step] = out
    while scan < stop[step] and persons[scan] == person and times[scan] < since:
        scan += 1
    found[step] = scan
    return scan
