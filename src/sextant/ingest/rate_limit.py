"""Per-key request rate limits (token buckets), so one misbehaving client cannot starve the others."""

from __future__ import annotations

import threading
import time

from sextant.errors import RateLimited


class RateLimiter:
    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one request for `key`, or raise `RateLimited` with the seconds until one is free."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.per_second
                raise RateLimited(
                    f"this key is over its limit of {self.per_second:g} requests per second; "
                    f"retry in {wait:.2f}s or send larger batches",
                    retry_after=wait,
                )
            self._buckets[key] = (tokens - 1, now)
