"""A bounded pool that runs jobs concurrently across keys and one after another within a key.

Effects on one ticket must reach the tracker in the order they were decided; effects on other
tickets need not wait for them. A slow ticket (or a slow tracker) holds up only its own queue.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class SerialPool:
    def __init__(self, workers: int, name: str = "ticketwarden-apply"):
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queues: dict[Hashable, deque[Callable[[], None]]] = {}  # a key present: its queue runs
        self._pending = 0

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished."""
        return self._pending

    def submit(self, key: Hashable, job: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(job)  # its key's runner takes it after the jobs before it
                return
            self._queues[key] = deque([job])
        self._pool.submit(self._run, key)

    def _run(self, key: Hashable) -> None:
        """Run a key's jobs in order until its queue is empty (a job stays queued while it runs,
        so a job submitted meanwhile waits behind it)."""
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                job = queue[0]
            try:
                job()
            except Exception:
                log.exception("a job for %s failed", key)
            with self._lock:
                queue.popleft()
                self._pending -= 1
                self._idle.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has finished; False when `timeout` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Take no more jobs; wait (up to `timeout`) for those running. True when all finished."""
        finished = self.wait(timeout)
        self._pool.shutdown(wait=finished)
        return finished
