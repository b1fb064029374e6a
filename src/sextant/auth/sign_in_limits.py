"""Sign-in rate limiting: after too many failed attempts for one email, or from one client address, within
a window, further attempts are refused until the oldest failure leaves the window."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from sextant.errors import RateLimited

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0


class SignInLimiter:
    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, email: str, address: str) -> None:
        """Raise RateLimited when the email or the address has used up its failures."""
        now = self._clock()
        with self._lock:
            waits = [self._wait(key, now) for key in self._keys(email, address)]
        wait = max(waits)
        if wait > 0:
            minutes = math.ceil(wait / 60)
            raise RateLimited(
                f"too many failed sign-ins; try again in {minutes} minute{'s' if minutes != 1 else ''}, "
                "or ask an admin to reset your password",
                retry_after=wait,
            )

    def failed(self, email: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in self._keys(email, address):
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # a flood of distinct keys; forget the idle ones
                for key in [key for key, times in self._failures.items() if now - times[-1] > self.window]:
                    del self._failures[key]

    def succeeded(self, email: str) -> None:
        """A correct password clears the email's failures (not the address's: one address may try many emails)."""
        with self._lock:
            self._failures.pop(f"email:{email.strip().lower()}", None)

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        return f"email:{email.strip().lower()}", f"address:{address}"

    def _wait(self, key: str, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.max_failures:
            return 0.0
        return times[len(times) - self.max_failures] + self.window - now
