"""Reading timelines' sorted runs of rows, compiled with numba: where each event's rows are, whether they
are in order, ranges of persons to share out among the cores, and merging runs into person and time order.

Timelines keep each event's rows sorted by (person, time), one event after another, so a scan of a few
events returns a few sorted runs. A question can follow its events' runs side by side (funnel_runs,
retention_kernel), or merge them into each person's sequence: a pass over the rows, not a sort.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]

# More runs than one per this many rows means the rows are not in runs worth merging: they are sorted instead.
ROWS_PER_RUN = 8
# Splitting fewer rows than this among the cores costs more than it saves.
ROWS_PER_RANGE = 4096


def sorted_runs(codes: npt.NDArray[np.integer], times: npt.NDArray[np.integer]) -> Int64Array:
    """The first row of each maximal run of rows in (code, time) order, then the row count."""
    return _run_starts(codes, times)


def merged_order(codes: npt.NDArray[np.integer], times: npt.NDArray[np.integer], runs: Int64Array) -> Int64Array:
    """The stable order of the rows by (code, time), given `runs` as `sorted_runs` finds them."""
    order = np.empty(codes.shape[0], np.int64)
    if codes.shape[0] == 0:
        return order
    chunks = numba.get_num_threads() * 8
    low, high = int(codes.min()), int(codes.max()) + 1
    bounds = np.unique(np.linspace(low, high, chunks + 1).astype(np.int64))
    _merge(codes, times, runs, bounds, order)
    return order


def event_runs(event_codes: npt.NDArray[np.integer], wanted: list[int | None]) -> Int64Array | None:
    """The rows (first, end) of each wanted event code, in rows sorted by event code as timelines give them;
    None when they are not sorted so. An event the build does not hold (None) has no rows."""
    if not (event_codes[1:] >= event_codes[:-1]).all():
        return None
    runs = np.zeros((len(wanted), 2), np.int64)
    for index, code in enumerate(wanted):
        if code is not None:
            runs[index] = np.searchsorted(event_codes, np.array([code, code + 1], event_codes.dtype))
    return runs


def in_person_order(persons: npt.NDArray[np.integer], times: Int64Array, runs: Int64Array) -> bool:
    """Whether each run of rows (first, end) is sorted by person, then time."""
    return bool(_in_person_order(persons, times, runs, numba.get_num_threads() * 4))


def person_ranges(persons: npt.NDArray[np.integer], runs: Int64Array, ranges: int | None = None) -> Int64Array:
    """About `ranges` ranges of the persons of the first run, to be shared out among the cores (by default
    16 per core, so that uneven ranges even out, but none of fewer than ROWS_PER_RANGE rows): per range
    boundary and run, the run's first row at or after it. Runs in person order only."""
    leading = persons[runs[0, 0] : runs[0, 1]]
    if ranges is None:
        ranges = max(1, min(numba.get_num_threads() * 16, len(leading) // ROWS_PER_RANGE))
    low = int(leading[0]) if len(leading) else 0
    high = int(leading[-1]) + 1 if len(leading) else 1
    bounds = np.unique(np.linspace(low, high, ranges + 1).astype(np.int64))
    cut = np.empty((len(bounds), len(runs)), np.int64)
    for index, (first, end) in enumerate(runs):
        cut[:, index] = first + np.searchsorted(persons[first:end], bounds)
    return cut


@numba.njit(cache=True, inline="always")
def first_at_least(persons, row, stop, person):  # type: ignore[no-untyped-def]
    """The first row from `row` (before `stop`) whose person is at least `person`, in rows sorted by person:
    a galloping search, so that passing many rows costs little."""
    if row >= stop:
        return stop
    step = 1
    while row + step < stop and persons[row + step] < person:
        row += step
        step *= 2
    if persons[row] >= person:
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
def _in_person_order(persons, times, runs, parts):  # type: ignore[no-untyped-def]
    """Each run is checked in `parts` equal parts, all at once."""
    disordered = np.zeros(runs.shape[0] * parts, np.bool_)
    for task in numba.prange(runs.shape[0] * parts):
        first, end = runs[task // parts, 0], runs[task // parts, 1]
        size = (end - first + parts - 1) // parts
        begin = first + (task % parts) * size
        for row in range(max(first + 1, begin), min(end, begin + size)):
            if persons[row] < persons[row - 1] or (persons[row] == persons[row - 1] and times[row] < times[row - 1]):
                disordered[task] = True
                break
    return not disordered.any()


@numba.njit(cache=True, nogil=True)
def _run_starts(codes, times):  # type: ignore[no-untyped-def]
    starts = [0]
    for row in range(1, codes.shape[0]):
        if codes[row] < codes[row - 1] or (codes[row] == codes[row - 1] and times[row] < times[row - 1]):
            starts.append(row)
    starts.append(codes.shape[0])
    return np.array(starts, np.int64)


@numba.njit(cache=True, parallel=True, nogil=True)
def _merge(codes, times, runs, bounds, order):  # type: ignore[no-untyped-def]
    """A merge per range of codes [bounds[c], bounds[c + 1]): the ranges' rows are disjoint and their places
    in the output known, so each range is merged on its own. Codes are counted to find where each code's rows
    go; then the runs are placed one after another, each run's rows of a code merged by time into the rows
    of that code placed so far. Equal times keep the order of their runs, which is the order they came in."""
    run_count = runs.shape[0] - 1
    chunks = bounds.shape[0] - 1
    cut = np.empty((chunks + 1, run_count), np.int64)  # per bound and run: the run's first row at that code
    for run in range(run_count):
        first, last = runs[run], runs[run + 1]
        cut[:, run] = first + np.searchsorted(codes[first:last], bounds)
    offsets = np.zeros(chunks + 1, np.int64)
    for chunk in range(chunks):
        offsets[chunk + 1] = offsets[chunk] + (cut[chunk + 1] - cut[chunk]).sum()
    for chunk in numba.prange(chunks):
        low = bounds[chunk]
        placed = np.zeros(bounds[chunk + 1] - low + 1, np.int64)  # per code: its first place, then its end
        for run in range(run_count):
            for row in range(cut[chunk, run], cut[chunk + 1, run]):
                placed[codes[row] - low + 1] += 1
        placed[0] = offsets[chunk]
        for code in range(1, placed.shape[0]):
            placed[code] += placed[code - 1]
        filled = placed[:-1].copy()  # per code: the end of its rows placed so far
        for run in range(run_count):
            row, last = cut[chunk, run], cut[chunk + 1, run]
            while row < last:
                code = codes[row] - low
                segment_end = row + 1
                while segment_end < last and codes[segment_end] - low == code:
                    segment_end += 1
                _merge_rows(order, times, placed[code], filled[code], row, segment_end)
                filled[code] += segment_end - row
                row = segment_end


@numba.njit(cache=True, inline="always")
def _merge_rows(order, times, begin, end, first, last):  # type: ignore[no-untyped-def]
    """Merge rows first..last-1 (in time order) into order[begin:end] (in time order), from the back, so that
    they end in order[begin:end + last - first]; on equal times the rows already there come first."""
    kept, row, write = end - 1, last - 1, end + last - first - 1
    while row >= first:
        if kept >= begin and times[order[kept]] > times[row]:
            order[write] = order[kept]
            kept -= 1
        else:
            order[write] = row
            row -= 1
        write -= 1
