"""The per-person pass of retention over person timelines, compiled with numba: each person's cohorts and
the periods in which they returned, counted per cohort and per column of periods.

Rows are grouped by person and sorted by time. Each row has its period bucket as an ordinal (local days,
Monday weeks or months since 1970, so that the difference of two ordinals is the calendar period between
them), its time, and whether it is a start event, a return event or both. The rules are retention.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from sextant.insights import runs_kernel

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Counts:
    sizes: Int64Array  # per cohort
    returned: Int64Array  # cohorts x columns: persons who returned in the column's periods


def count(
    starts: Int64Array,
    buckets: Int64Array,
    times: Int64Array,
    is_start: npt.NDArray[np.bool_],
    is_return: npt.NDArray[np.bool_],
    *,
    first_time: bool,
    first_cohort: int,
    cohorts: int,
    range_from: int,
    range_to: int,
    rolling_length: int,
    columns: list[tuple[int, int]],
) -> Counts:
    """`starts` holds each person's first row, then the row count. Cohorts are the buckets from
    `first_cohort` on; starts count when their time is in [range_from, range_to). `rolling_length` > 0
    measures periods as that many microseconds from the start instead of calendar periods."""
    low = np.array([column[0] for column in columns], np.int64)
    high = np.array([column[1] for column in columns], np.int64)
    sizes = np.zeros(cohorts, np.int64)
    returned = np.zeros((cohorts, len(columns)), np.int64)
    _pass(starts, buckets, times, is_start, is_return, first_time, first_cohort, range_from, range_to,
          rolling_length, low, high, sizes, returned)  # fmt: skip
    return Counts(sizes, returned)


def count_runs(
    starts: npt.NDArray[np.integer],
    buckets: Int64Array,
    times: Int64Array,
    *,
    first_time: bool,
    first_cohort: int,
    cohorts: int,
    range_from: int,
    range_to: int,
    rolling_length: int,
    columns: list[tuple[int, int]],
    ranges: int | None = None,
) -> Counts:
    """As `count`, from the rows of one start event and one return event as timelines keep them: person p's
    start rows are [starts[0, p], starts[0, p + 1]) and their return rows [starts[1, p], starts[1, p + 1]),
    each in time order (`runs_kernel.JoinedRuns`; one event's rows can be both). The persons are shared out
    among the cores in about `ranges` ranges (`runs_kernel.person_bounds`)."""
    bounds = runs_kernel.person_bounds(starts.shape[1] - 1, ranges)
    low = np.array([column[0] for column in columns], np.int64)
    high = np.array([column[1] for column in columns], np.int64)
    sizes = np.zeros((len(bounds) - 1, cohorts), np.int64)
    returned = np.zeros((len(bounds) - 1, cohorts, len(columns)), np.int64)
    _runs_pass(starts, buckets, times, bounds, first_time, first_cohort, range_from, range_to, rolling_length,
               low, high, sizes, returned)  # fmt: skip
    return Counts(sizes.sum(axis=0), returned.sum(axis=0))


@numba.njit(cache=True, nogil=True)
def _pass(  # type: ignore[no-untyped-def]
    starts, buckets, times, is_start, is_return, first_time, first_cohort, range_from, range_to,
    rolling_length, low, high, sizes, returned,
):  # fmt: skip
    last_period = high.max() if high.shape[0] else 0
    hit = np.zeros(low.shape[0], np.bool_)
    for person in range(starts.shape[0] - 1):
        first, last = starts[person], starts[person + 1]
        previous_cohort = -1
        for row in range(first, last):
            if not is_start[row]:
                continue
            cohort = _cohort(buckets[row], times[row], first_time, previous_cohort, first_cohort, range_from, range_to)
            if cohort == _NO_MORE:
                break
            if cohort == _NONE:
                continue
            previous_cohort = cohort
            sizes[cohort] += 1
            _count_returns(row + 1, last, is_return, buckets, times, row, cohort, rolling_length, low, high,
                           last_period, hit, returned)  # fmt: skip


@numba.njit(cache=True, parallel=True, nogil=True)
def _runs_pass(  # type: ignore[no-untyped-def]
    starts, buckets, times, bounds, first_time, first_cohort, range_from, range_to, rolling_length, low, high,
    sizes, returned,
):  # fmt: skip
    """Per range of persons (in parallel, each counting on its own), per person with start rows: their
    cohorts from the start rows, their returns from the return rows."""
    last_period = high.max() if high.shape[0] else 0
    every_row = np.ones(times.shape[0], np.bool_)
    for chunk in numba.prange(bounds.shape[0] - 1):
        hit = np.zeros(low.shape[0], np.bool_)
        for person in range(bounds[chunk], bounds[chunk + 1]):
            returns, returns_end = starts[1, person], starts[1, person + 1]
            previous_cohort = -1
            for start in range(starts[0, person], starts[0, person + 1]):
                cohort = _cohort(buckets[start], times[start], first_time, previous_cohort, first_cohort,
                                 range_from, range_to)  # fmt: skip
                if cohort == _NO_MORE:
                    break
                if cohort == _NONE:
                    continue
                previous_cohort = cohort
                sizes[chunk, cohort] += 1
                _count_returns(returns, returns_end, every_row, buckets, times, start, cohort, rolling_length,
                               low, high, last_period, hit, returned[chunk])  # fmt: skip


_NONE = -1  # this start event starts no cohort
_NO_MORE = -2  # nor does any later one of the person


@numba.njit(cache=True, inline="always")
def _cohort(bucket, started, first_time, previous_cohort, first_cohort, range_from, range_to):  # type: ignore[no-untyped-def]
    """The cohort a person's start event (in time order) starts, given the cohort of their previous one."""
    if first_time and previous_cohort != -1:
        return _NO_MORE
    in_range = range_from <= started < range_to
    if first_time and not in_range:
        return _NO_MORE  # the first start ever is outside the range: no cohort
    cohort = bucket - first_cohort
    if not in_range or cohort == previous_cohort:
        return _NONE  # a cohort starts at its earliest start event
    return cohort


@numba.njit(cache=True, inline="always")
def _count_returns(  # type: ignore[no-untyped-def]
    first, end, is_return, buckets, times, start, cohort, rolling_length, low, high, last_period, hit, returned
):  # fmt: skip
    """Count, in the cohort's columns, the periods in which the rows [first, end) return after `start`."""
    started = times[start]
    hit[:] = False
    for later in range(first, end):
        if not is_return[later] or times[later] <= started:
            continue
        period = (times[later] - started) // rolling_length if rolling_length > 0 else buckets[later] - buckets[start]
        if period > last_period:
            break
        for column in range(low.shape[0]):
            if low[column] <= period <= high[column]:
                hit[column] = True
    for column in range(low.shape[0]):
        if hit[column]:
            returned[cohort, column] += 1
