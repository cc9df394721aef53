"""The per-tracker rate limit, on a clock the test moves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import TrackerError
from connector.ratelimit import RateLimit


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@given(st.floats(1, 50), st.integers(1, 200))
def test_calls_never_go_faster_than_the_rate(rate, calls):
    time = FakeTime()
    limit = RateLimit(rate, burst=1, max_wait=1e9, clock=time.clock, sleep=time.sleep)
    start = time.now
    for _ in range(calls):
        limit.acquire()
    assert time.now - start >= (calls - 1) / rate - 1e-6


def test_no_rate_means_no_waiting():
    time = FakeTime()
    limit = RateLimit(0, clock=time.clock, sleep=time.sleep)
    for _ in range(1000):
        limit.acquire()
    assert time.slept == []


def test_retry_after_pauses_every_call_and_a_long_pause_is_not_slept_through():
    time = FakeTime()
    limit = RateLimit(0, max_wait=5, clock=time.clock, sleep=time.sleep)
    limit.pause(3)
    limit.acquire()
    assert time.slept == [3]  # a short pause: waited
    limit.pause(60)
    with pytest.raises(TrackerError) as refused:
        limit.acquire("Jira")
    assert refused.value.transient and refused.value.retry_after == 60
    assert "Jira asked to wait 60s" in str(refused.value)
    time.now += 60
    limit.acquire()  # the pause is over
    assert time.slept == [3]
