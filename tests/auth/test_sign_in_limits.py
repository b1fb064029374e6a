"""Sign-in rate limits: five failures per email or per address in five minutes, then a wait."""

from __future__ import annotations

import pytest

from sextant.auth.sign_in_limits import SignInLimiter
from sextant.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_for_an_email_lock_it_until_the_first_leaves_the_window() -> None:
    clock = Clock()
    limiter = SignInLimiter(max_failures=5, window=300, clock=clock)
    for attempt in range(5):
        limiter.check("ada@example.com", f"10.0.0.{attempt}")  # different addresses: the email is what counts
        limiter.failed("ada@example.com", f"10.0.0.{attempt}")
        clock.now += 10
    with pytest.raises(RateLimited) as refused:
        limiter.check("ADA@example.com ", "10.0.0.99")
    assert refused.value.status == 429
    assert refused.value.retry_after == pytest.approx(250)  # the first failure leaves the window at +300
    assert "try again in 5 minutes" in refused.value.message
    limiter.check("bob@example.com", "10.0.0.99")  # another email from a fresh address is not affected
    clock.now += 251
    limiter.check("ada@example.com", "10.0.0.99")


def test_an_address_trying_many_emails_is_locked_too() -> None:
    clock = Clock()
    limiter = SignInLimiter(max_failures=5, window=300, clock=clock)
    for number in range(5):
        limiter.failed(f"user{number}@example.com", "203.0.113.5")
    with pytest.raises(RateLimited):
        limiter.check("someone-else@example.com", "203.0.113.5")
    limiter.check("someone-else@example.com", "203.0.113.6")


def test_a_success_clears_the_email_but_not_the_address() -> None:
    clock = Clock()
    limiter = SignInLimiter(max_failures=3, window=300, clock=clock)
    for _ in range(2):
        limiter.failed("ada@example.com", "198.51.100.1")
    limiter.succeeded("ada@example.com")
    limiter.failed("ada@example.com", "198.51.100.2")
    limiter.failed("ada@example.com", "198.51.100.2")
    limiter.check("ada@example.com", "198.51.100.2")  # two failures since the success
    limiter.failed("eve@example.com", "198.51.100.1")
    with pytest.raises(RateLimited) as refused:
        limiter.check("eve@example.com", "198.51.100.1")  # the address kept its two earlier failures
    assert "minute" in refused.value.message
