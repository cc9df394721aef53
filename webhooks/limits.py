"""Per-source rate limits for the webhook endpoints: a token bucket per (endpoint, address).

A sender past its rate gets a 429 with Retry-After instead of filling the inbox: a runaway
script, or a flood from one address, cannot crowd out the trackers' own deliveries. The
buckets live in this process (several HTTP processes each keep their own).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class SourceLimits:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic,
                 max_sources: int = 10_000):
        """`rate` deliveries per second per source, up to `burst` at once; rate 0: no limit."""
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._max_sources = max_sources
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def admit(self, endpoint: str, source: str) -> float:
        """0 when the delivery may go on; otherwise the seconds until the source may send again."""
        if self.rate <= 0:
            return 0.0
        key = (endpoint, source)
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._remember(key, tokens - 1, now)
                return 0.0
            self._remember(key, tokens, now)
            return (1 - tokens) / self.rate

    def _remember(self, key: tuple[str, str], tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_sources:  # the least recently seen source goes first
            self._buckets.popitem(last=False)
