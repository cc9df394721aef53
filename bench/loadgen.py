"""A loopback load generator: threads, one requests.Session each, bounded in count and time.

The same generator drives ticketwarden and its reference, so client cost cancels out of the ratio.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests


@dataclass
class LoadResult:
    """Answers and their latencies (seconds) over the wall time of the whole run."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


def post_all(url: str, bodies: Sequence[bytes], headers: dict[str, str], *, threads: int = 4,
             deadline: float = 30.0) -> LoadResult:
    """POST every body once (spread over `threads`), stopping early after `deadline` seconds."""
    result = LoadResult()
    lock = threading.Lock()
    stop_at = time.perf_counter() + deadline
    shares = [bodies[i::threads] for i in range(threads)]

    def worker(share: Sequence[bytes]) -> None:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        errors = 0
        with requests.Session() as session:
            for body in share:
                if time.perf_counter() > stop_at:
                    break
                start = time.perf_counter()
                try:
                    status = session.post(url, data=body, headers=headers, timeout=30).status_code
                except requests.RequestException:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors
            for status, count in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    pool = [threading.Thread(target=worker, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    result.wall = time.perf_counter() - started
    return result
