"""Several processes, each with its own store, writing to one SQLite file: their writers queue on
the store's writer lock (a flock beside the database), not in SQLite's busy handler."""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from rules.model import Effect
from tests.helpers import T0
from ticketwarden import migrate
from ticketwarden.store import DONE, Store, WriterLock, create_db_engine

SPAWN = multiprocessing.get_context("spawn")
WAIT = 120  # seconds a test waits for a child at most (a spawned child imports the service first)


def migrated(url: str) -> None:
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


def _claim_and_complete(url: str, number: int, go: Any, answers: Any) -> None:
    """A worker process: claims inbox items in small batches and completes each (with an effect)
    until none is left; answers the ids it completed and the errors it met."""
    engine = create_db_engine(url)
    store = Store(engine, owner=f"process-{number}")
    done: list[int] = []
    errors: list[str] = []
    try:
        go.wait(WAIT)
        while True:
            try:
                items = store.claim_inbox(T0, timedelta(minutes=5), limit=3)
                if not items:
                    break
                for item in items:
                    effect = Effect(f"effect-{item.id}", "comment", "redmine", str(item.id), "r", {"body": "x"})
                    store.complete_inbox(item.id, effects=[effect], trace={"event": item.dedup_key},
                                         tracker="redmine", ticket_id=str(item.id), now=T0)
                    done.append(item.id)
            except Exception as exc:  # noqa: BLE001 - every error is answered and fails the test
                errors.append(f"{type(exc).__name__}: {exc}")
                if len(errors) > 5:
                    break
    finally:
        engine.dispose()
        answers.put((number, done, errors))


def test_worker_processes_on_one_sqlite_file_complete_every_item_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    migrated(url)
    engine = create_db_engine(url)
    store = Store(engine)
    for number in range(240):
        store.store_delivery(source="redmine", shape="plugin", dedup_key=f"event-{number}", path="/webhooks/redmine",
                             headers={}, body="{}", now=T0, ticket=f"redmine:{number}")
    go, answers = SPAWN.Event(), SPAWN.Queue()
    processes = [SPAWN.Process(target=_claim_and_complete, args=(url, n, go, answers)) for n in range(3)]
    for process in processes:
        process.start()
    try:
        go.set()
        results = [answers.get(timeout=WAIT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=WAIT)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    errors = [error for _, _, process_errors in results for error in process_errors]
    assert errors == []  # no "database is locked", nor anything else
    completed = [item_id for _, done, _ in results for item_id in done]
    rows = store.inbox_rows()
    assert sorted(completed) == sorted(row["id"] for row in rows)  # every item once, none twice
    assert {(row["state"], row["attempts"]) for row in rows} == {(DONE, 1)}
    assert len(store.outbox_rows()) == len(rows)
    engine.dispose()


def _hold_the_writer_lock(url: str, transaction: bool, inside: Any, release: Any) -> None:
    """Take the store's writer lock (in a write transaction, or the bare lock), say when
    (monotonic time), hold it until told, then say when it lets go (just before)."""
    engine = create_db_engine(url)
    store = Store(engine, owner="holder")
    try:
        with store._writing() if transaction else store._write_lock:
            inside.put(("holder in", time.monotonic()))
            release.wait(WAIT)
            inside.put(("holder out", time.monotonic()))
    finally:
        engine.dispose()


def _wait_for_the_writer_lock(url: str, go: Any, inside: Any) -> None:
    engine = create_db_engine(url)
    store = Store(engine, owner="waiter")
    try:
        go.wait(WAIT)
        inside.put(("waiter trying", time.monotonic()))
        with store._writing():
            inside.put(("waiter in", time.monotonic()))
    finally:
        engine.dispose()


@pytest.mark.parametrize("transaction", [True, False], ids=["in a transaction", "the lock alone"])
def test_the_writer_lock_excludes_another_process(tmp_path: Path, transaction: bool) -> None:
    """Held in a write transaction, or alone: the bare lock shows the flock at work (SQLite's
    own lock, taken at BEGIN IMMEDIATE, would hold the other writer back too)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    migrated(url)
    inside, release, go = SPAWN.Queue(), SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(target=_hold_the_writer_lock, args=(url, transaction, inside, release))
    waiter = SPAWN.Process(target=_wait_for_the_writer_lock, args=(url, go, inside))
    holder.start()
    waiter.start()
    try:
        assert inside.get(timeout=WAIT)[0] == "holder in"
        go.set()
        assert inside.get(timeout=WAIT)[0] == "waiter trying"
        with pytest.raises(queue.Empty):  # the waiter does not get in while the holder holds the lock
            inside.get(timeout=0.3)
        release.set()
        said = dict(inside.get(timeout=WAIT) for _ in range(2))
    finally:
        release.set()
        holder.join(timeout=WAIT)
        waiter.join(timeout=WAIT)
    assert said["waiter in"] >= said["holder out"]
    assert (holder.exitcode, waiter.exitcode) == (0, 0)
    assert os.path.exists(f"{tmp_path / 'shared.db'}.writer-lock")


def test_a_forked_process_opens_a_lock_file_of_its_own(tmp_path: Path) -> None:
    """A descriptor inherited over fork shares its flock with the parent's: the child must not
    use it, or it would write while the parent does."""
    lock = WriterLock(str(tmp_path / "db.writer-lock"))
    with lock:  # opened in the parent
        pass
    fork = multiprocessing.get_context("fork")
    inside, go = fork.Queue(), fork.Event()

    def child() -> None:
        go.wait(WAIT)
        with lock:
            inside.put(time.monotonic())

    process = fork.Process(target=child)
    process.start()
    try:
        with lock:
            go.set()
            with pytest.raises(queue.Empty):
                inside.get(timeout=0.3)
            released = time.monotonic()
        assert inside.get(timeout=WAIT) >= released
    finally:
        go.set()
        process.join(timeout=WAIT)
    assert process.exitcode == 0
    lock.close()


def test_an_in_memory_database_takes_no_lock_file(tmp_path: Path) -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        engine = create_db_engine(url)
        assert Store(engine)._write_lock.path is None
        engine.dispose()
    engine = create_db_engine(f"sqlite:///{tmp_path / 'file.db'}")
    assert Store(engine)._write_lock.path == os.path.realpath(tmp_path / "file.db") + ".writer-lock"
    engine.dispose()


def test_a_writer_gives_up_when_another_holds_the_lock_too_long(tmp_path: Path) -> None:
    """A process stuck while it holds the lock stops the others no longer than SQLite's busy
    timeout would: they get the same "database is locked" (two descriptors of one file exclude
    each other like two processes do). The wait given up is taken over by the next writer, and
    a wait that ends with nobody waiting lets the lock go at once."""
    path = str(tmp_path / "db.writer-lock")
    holder, waiter = WriterLock(path), WriterLock(path, wait=0.3)
    with holder:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), waiter:
            pass
        assert time.monotonic() - started >= 0.3
        with pytest.raises(OperationalError, match="database is locked"), waiter:  # the same wait, taken over
            pass
    waiter.wait = 5.0
    with waiter:  # the pending wait got the lock when the holder let go, and this writer has it
        with pytest.raises(OperationalError), WriterLock(path, wait=0.1):
            pass
    with holder:  # let go when the writer was done: free again
        pass
    holder.close()
    waiter.close()


def test_a_wait_given_up_does_not_keep_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "db.writer-lock")
    holder, waiter = WriterLock(path), WriterLock(path, wait=0.2)
    with holder, pytest.raises(OperationalError), waiter:
        pass
    # The holder let go; the abandoned wait takes the lock and lets it go at once.
    deadline = time.monotonic() + 5
    while True:
        try:
            with WriterLock(path, wait=0.05):
                break
        except OperationalError:
            assert time.monotonic() < deadline, "the lock stayed taken after the wait was given up"
    holder.close()
    waiter.close()
