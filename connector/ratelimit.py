"""A per-tracker rate limit: a token bucket, and a pause when the tracker says to wait.

Jira Cloud answers 429 with `Retry-After` when a client goes too fast; every call to that
tracker then waits, not only the one that was refused. A wait longer than `max_wait` is not
slept through: the call fails at once as transient, with the time to retry, so a worker
thread is never parked for minutes and the effect is retried when the tracker is ready.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from connector.errors import TrackerError


class RateLimit:
    def __init__(self, per_second: float = 0.0, *, burst: float | None = None, max_wait: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        """`per_second` 0 means no limit of our own (Retry-After pauses still apply)."""
        self.per_second = per_second
        self.burst = burst if burst is not None else max(1.0, per_second)
        self.max_wait = max_wait
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """The tracker asked to wait `seconds` before anything more."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def acquire(self, tracker: str = "the tracker") -> None:
        """Wait for this call's turn; raise a transient TrackerError when that is too far off."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._paused_until - now)
            if self.per_second > 0:
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_second)
                self._last = now
                self._tokens -= 1.0  # taken now, paid for by waiting below
                if self._tokens < 0:
                    wait = max(wait, -self._tokens / self.per_second)
            if wait > self.max_wait:
                if self.per_second > 0:
                    self._tokens += 1.0  # not taken after all
                raise TrackerError(f"{tracker} asked to wait {wait:.0f}s (rate limit)", transient=True,
                                   retry_after=wait)
        if wait > 0:
            self._sleep(wait)
