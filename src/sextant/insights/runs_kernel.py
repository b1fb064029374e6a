"""Reading timelines' sorted runs of rows, compiled with numba: joining the chunks they arrive in (checking
their order and noting where each person's rows are in each run), and merging runs into person and time
order.

Timelines keep each event's rows sorted by (person, time), one event after another, so a scan of a few
events returns a few sorted runs. A question can follow its events' runs side by side, each person's rows
found by their number (funnel_runs, retention_kernel), or merge them into each person's sequence: a pass
over the rows, not a sort.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from sextant.insights import allocation

Int64Array = npt.NDArray[np.int64]

# Where persons' rows begin is worked out in blocks of this many persons, on every core.
_PERSONS_PER_BLOCK = 1 << 16
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
    bounds = np.unique(np.linspace(low, high, chunks + 1).astype(codes.dtype))
    _merge(codes, times, runs, bounds, order)
    return order


@dataclass(frozen=True)
class JoinedRuns:
    """Runs joined from their chunks: all times, each run's rows (first, end), whether every run is sorted
    by person, then time, and, when it is, where each person's rows are in each run: run k's rows of person
    p are starts[k, p]:starts[k, p + 1] (persons are numbered from 0 up)."""

    times: Int64Array
    runs: Int64Array
    in_order: bool
    starts: npt.NDArray[np.integer]  # runs x (the highest person + 2); 32-bit under 2**31 rows, which halves its writes
    person_chunks: list[npt.NDArray[np.integer]]

    def persons(self) -> npt.NDArray[np.integer]:
        """Every row's person, joined when asked: only questions that sort the rows need them."""
        if not self.person_chunks:
            return np.zeros(0, np.int64)
        return np.concatenate(self.person_chunks)


def person_bounds(people: int, ranges: int | None = None) -> Int64Array:
    """Bounds of about `ranges` ranges of the person numbers [0, people), to share out among the cores (by
    default 16 per core, so that uneven ranges even out)."""
    if ranges is None:
        ranges = numba.get_num_threads() * 16
    return np.unique(np.linspace(0, people, max(1, ranges) + 1).astype(np.int64))


@contextlib.contextmanager
def joined_runs(
    person_chunks: list[npt.NDArray[np.integer]], time_chunks: list[Int64Array], chunk_runs: list[int], run_count: int
) -> Iterator[JoinedRuns]:
    """Runs that arrive in chunks (a query's result each, in Arrow batches), joined: copied once, checked for
    order while copying, and indexed by person. `chunk_runs` gives each chunk's run, in order. The arrays
    are lent for the `with` block only."""
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
    rows = int(offsets[-1])
    # In order, each run's highest person is its last row's.
    people = max((int(chunk[-1]) for chunk in person_chunks), default=-1) + 2
    starts_shape = (run_count, max(people, 1))
    with contextlib.ExitStack() as lending:
        times = lending.enter_context(allocation.lent((rows,), np.dtype(np.int64)))
        starts = lending.enter_context(allocation.lent(starts_shape, np.dtype(np.int32 if rows < 2**31 else np.int64)))
        in_order = True
        if person_chunks:
            chunk_run = np.asarray(chunk_runs, np.int64)
            starts_run = np.ones(len(sizes), np.bool_)  # whether a chunk is the first of its run
            starts_run[1:] = chunk_run[1:] != chunk_run[:-1]
            in_order = bool(
                _copy_checked(
                    numba.typed.List(person_chunks), numba.typed.List(time_chunks), offsets, chunk_run, starts_run,
                    times, runs, starts,
                )
            )  # fmt: skip
        else:
            starts[:] = runs[:, :1]
        yield JoinedRuns(times, runs, in_order, starts, person_chunks)


@numba.njit(cache=True, parallel=True, nogil=True)
def _copy_checked(person_chunks, time_chunks, offsets, chunk_run, starts_run, times, runs, starts):  # type: ignore[no-untyped-def]
    """Copy each chunk's times into place (all at once) and check its rows' order, from the last row of the
    chunk before it when both are of one run; and note where each person's rows begin in each run (`starts`, which
    is meaningful only when every run is in order; out of order, it is written within its bounds)."""
    disordered = np.zeros(len(person_chunks), np.bool_)
    highest = starts.shape[1] - 1  # one past the highest person
    blocks = (highest + _PERSONS_PER_BLOCK - 1) // _PERSONS_PER_BLOCK
    for task in numba.prange(starts.shape[0] * blocks):
        run, block = task // blocks, task % blocks
        starts[run, block * _PERSONS_PER_BLOCK : (block + 1) * _PERSONS_PER_BLOCK] = -1  # not known yet
    for task in numba.prange(offsets.shape[0] - 1):
        chunk = np.int64(task)  # typed lists take signed indexes; prange counts unsigned
        chunk_persons, chunk_times = person_chunks[chunk], time_chunks[chunk]
        base = offsets[chunk]
        previous_person, previous_time = chunk_persons[0], chunk_times[0]
        if not starts_run[chunk]:
            last = person_chunks[chunk - 1].shape[0] - 1
            previous_person, previous_time = person_chunks[chunk - 1][last], time_chunks[chunk - 1][last]
        shared = 0  # the rows of the person whose rows began in the chunk before
        while not starts_run[chunk] and shared < chunk_persons.shape[0] and chunk_persons[shared] == previous_person:
            shared += 1
        for row in range(chunk_persons.shape[0]):
            person, time = chunk_persons[row], chunk_times[row]
            if person < previous_person or (person == previous_person and time < previous_time):
                disordered[chunk] = True
            previous_person, previous_time = person, time
            times[base + row] = time
        # Each person's first row, written last: from the chunk's end back, with no test per row.
        run_starts = starts[chunk_run[chunk]]
        for row in range(chunk_persons.shape[0] - 1, shared - 1, -1):
            run_starts[min(max(np.int64(chunk_persons[row]), 0), highest)] = base + row
    for task in numba.prange(starts.shape[0] * blocks):
        # A person without rows begins where the next person with rows does; past the highest, the run ends.
        # Each block of persons looks for the first start after it, which is known or -1 whatever the other
        # blocks have done so far.
        run, block = task // blocks, task % blocks
        low, high = block * _PERSONS_PER_BLOCK, min((block + 1) * _PERSONS_PER_BLOCK, highest)
        following = runs[run, 1]
        for later in range(high, highest):
            if starts[run, later] >= 0:
                following = starts[run, later]
                break
        run_starts = starts[run]
        for person in range(high - 1, low - 1, -1):  # with no branch: whether a person has rows is random
            value = run_starts[person]
            following = value if value >= 0 else following
            run_starts[person] = following
    starts[:, highest] = runs[:, 1]
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
