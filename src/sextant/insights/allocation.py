"""How the process allocates the large arrays of insight passes: freed memory is kept for the next question.

A question over millions of events allocates arrays of tens of megabytes and frees them when it is
answered. By default glibc serves such blocks with fresh mappings and returns them to the kernel on free,
so every question pays for the kernel zeroing and faulting in every page again, and, since numpy asks for
huge pages, for compacting memory to find them: a 3-step funnel on 10M events took 0.11-0.12 s that way
instead of 0.045 s once the process's heap had grown (docs/performance.md). Raising glibc's thresholds
makes blocks up to 32 MB (its largest threshold) come from the heap, and keeps up to 512 MB of freed heap
for reuse instead of trimming it. Larger blocks are taken from blocks kept here: lent for a `with` block
(`lent`), or given back when the last array on them is dropped (`kept`), for results that outlive the pass
that makes them.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_SETTINGS = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 512 << 20), (_M_TOP_PAD, 64 << 20))

_lock = threading.Lock()
_done = False


def keep_freed_memory() -> None:
    """Apply the settings once per process; a no-op where the C library is not glibc."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        name = ctypes.util.find_library("c")
        mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
        if mallopt is None:
            return
        for parameter, value in _SETTINGS:
            mallopt(parameter, value)


class Buffers:
    """Blocks larger than glibc keeps (the joined runs of a question's rows, its durations), lent for one
    question at a time and kept for the next: a fresh block of hundreds of megabytes costs the kernel more
    to map, zero and back with huge pages than the work done in it (an E100M funnel took 0.2 s or 0.6 s
    depending on it)."""

    def __init__(self, kept_bytes: int) -> None:
        # Reentrant: a kept block is given back from `__del__`, which may run wherever the last view is dropped.
        self._lock = threading.RLock()
        self._free: list[npt.NDArray[np.uint8]] = []
        self._kept_bytes = kept_bytes

    def take(self, size: int) -> npt.NDArray[np.uint8]:
        with self._lock:
            # The smallest that fits; the list is kept largest first.
            fitting = [index for index, buffer in enumerate(self._free) if buffer.size >= size]
            if fitting:
                return self._free.pop(fitting[-1])
        return np.empty(size, np.uint8)

    def kept(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
        """An array on a block taken here, given back when the array and every view of it are gone."""
        size = _bytes(shape, dtype)
        return np.asarray(_KeptBlock(self, self.take(size), size)).view(dtype).reshape(shape)

    def give(self, buffer: npt.NDArray[np.uint8]) -> None:
        with self._lock:
            kept: list[npt.NDArray[np.uint8]] = []
            for candidate in sorted([*self._free, buffer], key=len, reverse=True):
                if sum(item.size for item in kept) + candidate.size <= self._kept_bytes:
                    kept.append(candidate)  # the largest that fit, which the biggest questions need
            self._free = kept


_BUFFERS = Buffers(kept_bytes=1 << 30)


def _bytes(shape: tuple[int, ...], dtype: np.dtype[Any]) -> int:
    return int(np.prod(shape)) * dtype.itemsize


@contextlib.contextmanager
def lent(shape: tuple[int, ...], dtype: np.dtype[Any]) -> Iterator[npt.NDArray[Any]]:
    """An uninitialised array from the kept blocks, for the `with` block only."""
    size = _bytes(shape, dtype)
    buffer = _BUFFERS.take(size)
    try:
        yield buffer[:size].view(dtype).reshape(shape)
    finally:
        _BUFFERS.give(buffer)


def kept(shape: tuple[int, ...], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """An uninitialised array on a kept block, which goes back to the kept blocks when the array and every
    view of it are gone. For a pass's results: a fresh block over glibc's threshold is mapped, zeroed and
    backed with huge pages as the pass first writes it, which made a 10-step E10M funnel's pass take 24 ms
    or, in runs of several questions, 50-85 ms."""
    return _BUFFERS.kept(shape, dtype)


class _KeptBlock:
    """The owner of a block while arrays on it live. numpy keeps the object an array was made from as the
    base of the array and of every view of it, so this is dropped, and the block given back, with the last."""

    def __init__(self, buffers: Buffers, buffer: npt.NDArray[np.uint8], size: int) -> None:
        self._buffers = buffers
        self._buffer = buffer
        self.__array_interface__ = {
            "shape": (size,),
            "typestr": "|u1",
            "data": (buffer.ctypes.data, False),
            "version": 3,
        }

    def __del__(self) -> None:
        self._buffers.give(self._buffer)
