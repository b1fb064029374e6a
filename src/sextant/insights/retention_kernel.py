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
            if first_time and previous_cohort != -1:
                break
            cohort = buckets[row] - first_cohort
            started = times[row]
            in_range = range_from <= started < range_to
            if first_time and not in_range:
                break  # the first start ever is outside the range: no cohort
            if not in_range or cohort == previous_cohort:
                continue  # a cohort starts at its earliest start event
            previous_cohort = cohort
            sizes[cohort] += 1
            hit[:] = False
            for later in range(row + 1, last):
                if not is_return[later] or times[later] <= started:
                    continue
                if rolling_length > 0:
                    period = (times[later] - started) // rolling_length
                else:
                    period = buckets[later] - buckets[row]
                if period > last_period:
                    break
                for column in range(low.shape[0]):
                    if low[column] <= period <= high[column]:
                        hit[column] = True
            for column in range(low.shape[0]):
                if hit[column]:
                    returned[cohort, column] += 1
