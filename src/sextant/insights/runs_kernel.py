"""Putting rows in person and time order by merging the sorted runs they arrive in, compiled with numba.

Timelines keep each event's rows sorted by (person, time), one event after another, so a scan of a few
events returns a few sorted runs. Merging them costs a pass over the rows, shared out among the cores by
ranges of persons; sorting them would cost many.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]

# More runs than one per this many rows means the rows are not in runs worth merging: they are sorted instead.
ROWS_PER_RUN = 8


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
