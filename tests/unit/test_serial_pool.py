"""The pool that writes effects: one key's jobs in order, other keys meanwhile."""

from __future__ import annotations

import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketwarden.serial import SerialPool


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1000)), max_size=60))
def test_each_key_runs_its_jobs_in_submission_order(jobs):
    pool = SerialPool(4)
    done: dict[int, list[int]] = {}
    lock = threading.Lock()

    def job(key: int, number: int) -> None:
        time.sleep(0.0005 * (number % 3))  # uneven durations, so keys interleave
        with lock:
            done.setdefault(key, []).append(number)

    for index, (key, number) in enumerate(jobs):
        pool.submit(key, lambda key=key, number=index: job(key, number))
    assert pool.wait(10)
    pool.close()
    expected: dict[int, list[int]] = {}
    for index, (key, _) in enumerate(jobs):
        expected.setdefault(key, []).append(index)
    assert done == expected
    assert pool.pending == 0


def test_a_slow_key_does_not_hold_up_the_others():
    pool = SerialPool(2)
    release = threading.Event()
    finished: list[str] = []
    pool.submit("slow", lambda: (release.wait(10), finished.append("slow")))
    pool.submit("slow", lambda: finished.append("slow, second"))
    for number in range(5):
        pool.submit(f"other {number}", lambda number=number: finished.append(f"other {number}"))
    assert not pool.wait(2)  # the slow ticket is still being written...
    assert sorted(finished) == [f"other {number}" for number in range(5)]  # ...the others are done
    release.set()
    assert pool.wait(10)
    assert finished[-2:] == ["slow", "slow, second"]
    assert pool.close(1)


def test_a_failing_job_is_logged_and_the_key_goes_on(caplog):
    pool = SerialPool(1)
    finished: list[int] = []

    def fails() -> None:
        raise RuntimeError("tracker exploded")

    pool.submit("a", fails)
    pool.submit("a", lambda: finished.append(2))
    assert pool.wait(5)
    assert finished == [2]
    assert "tracker exploded" in caplog.text
    pool.close()
