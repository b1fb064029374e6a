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

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Reached:
    """Per person with an entry in range: the entry time of their best attempt, its steps reached and the
    time it reached each (meaningful below `reached`)."""

    entry_time: Int64Array
    reached: Int64Array
    times: Int64Array  # persons x steps


def step_runs(codes: npt.NDArray[np.integer], step_codes: list[int | None]) -> Int64Array | None:
    """Each step's rows as a range (first row, end) of rows sorted by code, or None when the rows are not
    sorted by code. A step whose event the build does not hold (None) gets no rows."""
    if not (codes[1:] >= codes[:-1]).all():
        return None
    runs = np.zeros((len(step_codes), 2), np.int64)
    for step, code in enumerate(step_codes):
        if code is not None:
            runs[step] = np.searchsorted(codes, np.array([code, code + 1], codes.dtype))
    return runs


def best_attempts(
    persons: npt.NDArray[np.integer],
    times: Int64Array,
    runs: Int64Array,
    entry_from: int,
    entry_to: int,
    window: int,
) -> Reached | None:
    """Each person's best attempt (most steps, then earliest entry) from the steps' `runs` of rows; None
    when a run is not in (person, time) order. Entries are in [entry_from, entry_to); a step may come at the
    same time as the previous one or later, up to `window` after the entry (all in `times`' unit)."""
    entries = persons[runs[0, 0] : runs[0, 1]]
    low = int(entries[0]) if len(entries) else 0
    high = int(entries[-1]) + 1 if len(entries) else 1
    bounds = np.unique(np.linspace(low, high, numba.get_num_threads() * 16 + 1).astype(np.int64))
    cut = np.empty((len(bounds), len(runs)), np.int64)  # per bound and step: the run's first row of that person
    for step, (first, end) in enumerate(runs):
        cut[:, step] = first + np.searchsorted(persons[first:end], bounds)
    entering = np.zeros(len(bounds) - 1, np.int64)
    if not _checked(persons, times, runs, cut[:, 0], entering):
        return None
    offsets = np.zeros(len(bounds), np.int64)
    offsets[1:] = np.cumsum(entering)
    entry_time = np.empty(offsets[-1], np.int64)
    reached = np.empty(offsets[-1], np.int64)
    step_times = np.empty((offsets[-1], len(runs)), np.int64)
    _pass(persons, times, cut, offsets, entry_from, entry_to, window, entry_time, reached, step_times)
    kept = reached > 0  # persons whose every entry event is outside the range are left out
    if kept.all():
        return Reached(entry_time, reached, step_times)
    return Reached(entry_time[kept], reached[kept], step_times[kept])


@numba.njit(cache=True, parallel=True, nogil=True)
def _checked(persons, times, runs, entry_cut, entering):  # type: ignore[no-untyped-def]
    """Whether each run's rows are sorted by person, then time, and the entry step's ranges of rows
    [entry_cut[c], entry_cut[c + 1]) cover its run (the searches that made them assumed the order); on the
    way, how many persons each of those ranges holds (in `entering`). Every other step's rows are checked
    in as many equal parts, all at once."""
    if entry_cut[0] != runs[0, 0] or entry_cut[-1] != runs[0, 1]:
        return False
    parts = entering.shape[0]
    disordered = np.zeros(runs.shape[0] * parts, np.bool_)
    for task in numba.prange(runs.shape[0] * parts):
        step, part = task // parts, task % parts
        if step == 0:
            begin, end = entry_cut[part], entry_cut[part + 1]
        else:
            size = (runs[step, 1] - runs[step, 0] + parts - 1) // parts
            begin = min(runs[step, 1], runs[step, 0] + part * size)
            end = min(runs[step, 1], begin + size)
        for row in range(begin, end):
            if row > runs[step, 0] and _out_of_order(persons, times, row):
                disordered[task] = True
                break
            if step == 0 and (row == begin or persons[row] != persons[row - 1]):
                entering[part] += 1
    return not disordered.any()


@numba.njit(cache=True, inline="always")
def _out_of_order(persons, times, row):  # type: ignore[no-untyped-def]
    """Whether `row` comes before the row above it by (person, time)."""
    return persons[row] < persons[row - 1] or (persons[row] == persons[row - 1] and times[row] < times[row - 1])


@numba.njit(cache=True, inline="always")
def _first_at_least(persons, row, stop, person):  # type: ignore[no-untyped-def]
    """The first row from `row` (before `stop`) whose person is at least `person`: a galloping search, so that
    passing many rows costs little."""
    if row >= stop:
        return stop
    step = 1
    while row + step < stop and persons[row + step] < person:
        row += step
        step *= 2
    if row < stop and persons[row] >= person:
        return row
    low, high = row + 1, min(row + step, stop)  # persons[row] < person; the answer is in (row, high]
    while low < high:
        middle = (low + high) // 2
        if persons[middle] < person:
            low = middle + 1
        else:
            high = middle
    return low


@numba.njit(cache=True, parallel=True, nogil=True)
def _pass(persons, times, cut, offsets, entry_from, entry_to, window, entry_time, reached, step_times):  # type: ignore[no-untyped-def]
    """Per range of persons (in parallel), per person of the entry step: follow each entry's chain. A step's
    rows of the person are looked for only when a chain gets that far."""
    steps = cut.shape[1]
    for chunk in numba.prange(cut.shape[0] - 1):
        stop = cut[chunk + 1]
        found = cut[chunk].copy()  # per step: no row before it can fill the step for this or a later entry
        looked_up = np.full(steps, -1, np.int64)  # per step: the person whose rows `found` is among
        current = np.empty(steps, np.int64)
        out = offsets[chunk]
        row = cut[chunk, 0]
        while row < stop[0]:
            person = persons[row]
            first = row
            row = _first_at_least(persons, row, stop[0], person + 1)
            best = 0
            previous_entry = 0
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
                current[0] = start_time
                state = 1
                ran_out = False
                for step in range(1, steps):
                    scan = found[step]
                    if looked_up[step] != out:
                        scan = _first_at_least(persons, scan, stop[step], person)
                        looked_up[step] = out
                    while scan < stop[step] and persons[scan] == person and times[scan] < current[step - 1]:
                        scan += 1
                    found[step] = scan
                    if scan == stop[step] or persons[scan] != person:
                        ran_out = True  # and so for every later entry
                        break
                    if times[scan] > deadline:
                        break
                    current[step] = times[scan]
                    state += 1
                if state > best:
                    best = state
                    entry_time[out] = start_time
                    step_times[out, :state] = current[:state]
                if state == steps or ran_out:
                    break
            reached[out] = best
            out += 1
