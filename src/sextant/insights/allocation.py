"""How the process allocates the large arrays of insight passes: freed memory is kept for the next question.

A question over millions of events allocates arrays of tens of megabytes and frees them when it is
answered. By default glibc serves such blocks with fresh mappings and returns them to the kernel on free,
so every question pays for the kernel zeroing and faulting in every page again, and, since numpy asks for
huge pages, for compacting memory to find them: a 3-step funnel on 10M events took 0.11-0.12 s that way
instead of 0.045 s once the process's heap had grown (docs/performance.md). Raising glibc's thresholds
makes blocks up to 32 MB (its largest threshold) come from the heap, and keeps up to 512 MB of freed heap
for reuse instead of trimming it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

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
