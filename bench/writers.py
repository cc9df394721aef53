"""Rows: several processes writing to one SQLite file at once, through the store's writer lock
(`ticketwarden.store.WriterLock`: a flock beside the database, then BEGIN IMMEDIATE), beside
the same writes queued by SQLite's busy handler alone (BEGIN IMMEDIATE only).

    .venv/bin/python -m bench.writers
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row, scaled, started_together

PROCESSES = 2
HOLD = 0.001  # seconds of work inside each write transaction
BETWEEN = 0.0005  # seconds of work between two writes


def _write(url: str, writes: int, bare: bool, ready: Any, go: Any, answers: Any) -> None:
    """One writer process: `writes` short transactions, each timed from asking for the lock to
    getting it; answers (longest wait, 99th percentile wait)."""
    from ticketwarden.store import Store, create_db_engine

    engine = create_db_engine(url)
    store = Store(engine)
    waits = []
    ready.put(1)
    go.wait()
    for number in range(writes):
        asked = time.perf_counter()
        with (engine.begin() if bare else store._writing()) as conn:
            waits.append(time.perf_counter() - asked)
            conn.exec_driver_sql("INSERT INTO writes (what) VALUES (?)", (f"{number}",))
            time.sleep(HOLD)
        time.sleep(BETWEEN)
    waits.sort()
    answers.put((waits[-1], waits[int(len(waits) * 0.99)]))
    engine.dispose()


def run(writes: int, bare: bool) -> tuple[float, float, float]:
    """(writes per second, longest wait in ms, 99th percentile wait in ms) of PROCESSES writers."""
    from ticketwarden.store import create_db_engine

    with tempfile.TemporaryDirectory(prefix="tw-bench-writers-") as folder:
        url = f"sqlite:///{Path(folder) / 'writers.db'}"
        engine = create_db_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE writes (what TEXT)")
        engine.dispose()
        done, seconds = started_together(_write, [(url, writes, bare)] * PROCESSES)
    return (PROCESSES * writes / seconds, 1000 * max(longest for longest, _ in done),
            1000 * max(p99 for _, p99 in done))


def measure() -> list[Row]:
    writes = scaled(600, 50)
    locked, bare = run(writes, bare=False), run(writes, bare=True)
    what = f"{PROCESSES} processes × {writes} transactions of {HOLD * 1000:g} ms, {BETWEEN * 1000:g} ms apart"
    reference = "SQLite's busy handler alone"
    return [
        Row("writers sqlite: throughput", "writes/s", locked[0], bare[0], reference, what),
        Row("writers sqlite: longest wait", "ms", locked[1], bare[1], reference, "for the write lock"),
        Row("writers sqlite: p99 wait", "ms", locked[2], bare[2], reference, "for the write lock"),
    ]


def main() -> None:
    from bench.common import table

    print(table(measure()))


if __name__ == "__main__":
    main()
