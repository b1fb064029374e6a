"""Reading timelines' sorted runs of rows, compiled with numba: joining the chunks they arrive in (and
checking their order), ranges of persons to share out among the cores, and merging runs into person and
time order.

Timelines keep each event's rows sorted by (person, time), one event after another, so a scan of a few
events returns a few sorted runs. A question can follow its events' runs side by side (funnel_runs,
retention_kernel), or merge them into each person's sequence: a pass over the rows, not a sort.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

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
    bounds = np.unique(np.linspace(low, high, chunks + 1).astype(codes.dtype))
    _merge(codes, times, runs, bounds, order)
    return order


@dataclass(frozen=True)
class JoinedRuns:
    """Runs joined from their chunks: all persons, all times, each run's rows (first, end), and whether
    every run is sorted by person, then time."""

    persons: npt.NDArray[np.integer]
    times: Int64Array
    runs: Int64Array
    in_order: bool


class _Buffers:
    """Memory that joined runs are copied into, lent for one question at a time and kept for the next: a
    fresh block of hundreds of megabytes costs the kernel more to map, zero and back with huge pages than
    the copy itself (an E100M funnel took 0.2 s or 0.6 s depending on it)."""

    def __init__(self, kept_bytes: int) -> None:
        self._lock = threading.Lock()
        self._free: list[npt.NDArray[np.uint8]] = []
        self._kept_bytes = kept_bytes

    def take(self, size: int) -> npt.NDArray[np.uint8]:
        with self._lock:
            # The smallest that fits; the list is kept largest first.
            fitting = [index for index, buffer in enumerate(self._free) if buffer.size >= size]
            if fitting:
                return self._free.pop(fitting[-1])
        return np.empty(size, np.uint8)

    def give(self, buffer: npt.NDArray[np.uint8]) -> None:
        with self._lock:
            kept: list[npt.NDArray[np.uint8]] = []
            for candidate in sorted([*self._free, buffer], key=len, reverse=True):
                if sum(item.size for item in kept) + candidate.size <= self._kept_bytes:
                    kept.append(candidate)  # the largest that fit, which the biggest questions need
            self._free = kept


_BUFFERS = _Buffers(kept_bytes=1 << 30)


@contextlib.contextmanager
def joined_runs(
    person_chunks: list[npt.NDArray[np.integer]], time_chunks: list[Int64Array], chunk_runs: list[int], run_count: int
) -> Iterator[JoinedRuns]:
    """Runs that arrive in chunks (a query's result each, in Arrow batches), joined: copied once, and
    checked for order while copying. `chunk_runs` gives each chunk's run, in order. The arrays are lent for
    the `with` block only."""
    # Empty chunks are left out, so that each chunk's row before it is the last of the chunk before it.
    kept = [index for index, chunk in enumerate(person_chunks) if len(chunk)]
    person_chunks = [person_chunks[index] for index in kept]
    time_chunks = [time_chunks[index] for index in kept]
    chunk_runs = [chunk_runs[index] for index in kept]
    sizes = np.array([len(chunk) for chunk in person_chunks], np.int64)
    offsets = np.zeros(len(sizes) + 1, np.int64)
    offsets[1:] = np.cumsum(sizes)
    first_chunk = np.searchsorted(np.asarray(chunk_runs, np.int64), np.arange(run_count + 1))
    runs = np.stack([offsets[first_chunk[:-1]], offsets[first_chunk[1:]]], 1)
    dtype = person_chunks[0].dtype if person_chunks else np.dtype(np.int64)
    rows = int(offsets[-1])
    person_buffer, time_buffer = _BUFFERS.take(rows * dtype.itemsize), _BUFFERS.take(rows * 8)
    try:
        persons = person_buffer[: rows * dtype.itemsize].view(dtype)
        times = time_buffer[: rows * 8].view(np.int64)
        in_order = True
        if person_chunks:
            starts_run = np.ones(len(sizes), np.bool_)  # whether a chunk is the first of its run
            starts_run[1:] = np.diff(np.asarray(chunk_runs)) != 0
            in_order = bool(
                _copy_checked(
                    numba.typed.List(person_chunks), numba.typed.List(time_chunks), offsets, starts_run, persons, times
                )
            )
        yield JoinedRuns(persons, times, runs, in_order)
    finally:
        _BUFFERS.give(person_buffer)
        _BUFFERS.give(time_buffer)


def person_ranges(persons: npt.NDArray[np.integer], runs: Int64Array, ranges: int | None = None) -> Int64Array:
    """About `ranges` ranges of the persons of the first run, to be shared out among the cores (by default
    16 per core, so that uneven ranges even out, but none of fewer than ROWS_PER_RANGE rows): per range
    boundary and run, the run's first row at or after it. Runs in person order only."""
    leading = persons[runs[0, 0] : runs[0, 1]]
    if ranges is None:
        ranges = max(1, min(numba.get_num_threads() * 16, len(leading) // ROWS_PER_RANGE))
    low = int(leading[0]) if len(leading) else 0
    high = int(leading[-1]) + 1 if len(leading) else 1
    # In the persons' own type: searching with wider numbers would convert every run to them first.
    bounds = np.unique(np.linspace(low, high, ranges + 1).astype(persons.dtype))
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
def _copy_checked(person_chunks, time_chunks, offsets, starts_run, persons, times):  # type: ignore[no-untyped-def]
    """Copy each chunk into place (all at once) and check its rows' order, from the last row of the chunk
    before it when both are of one run."""
    disordered = np.zeros(len(person_chunks), np.bool_)
    for task in numba.prange(offsets.shape[0] - 1):
        chunk = np.int64(task)  # typed lists take signed indexes; prange counts unsigned
        chunk_persons, chunk_times = person_chunks[chunk], time_chunks[chunk]
        base = offsets[chunk]
        previous_person, previous_time = chunk_persons[0], chunk_times[0]
        if not starts_run[chunk]:
            last = person_chunks[chunk - 1].shape[0] - 1
            previous_person, previous_time = person_chunks[chunk - 1][last], time_chunks[chunk - 1][last]
        for row in range(chunk_persons.shape[0]):
            person, time = chunk_persons[row], chunk_times[row]
            if person < previous_person or (person == previous_person and time < previous_time):
                disordered[chunk] = True
            previous_person, previous_time = person, time
            persons[base + row] = person
            times[base + row] = time
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
