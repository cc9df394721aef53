"""The store on SQLite and on a real PostgreSQL: migrations, de-duplication, claims, leases."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from rules.model import Effect
from rules.sla import PAUSED, STARTED, STOPPED, Clock, Transition
from tests.helpers import T0
from ticketwarden import migrate
from ticketwarden.store import (
    ClockConflict,
    ClockRow,
    Completion,
    Store,
    create_db_engine,
    metadata,
    outbox,
)


def deliver(store: Store, key: str, now=T0, ticket: str | None = None) -> tuple[bool, int]:
    return store.store_delivery(source="redmine", shape="plugin", dedup_key=key, path="/webhooks/redmine",
                                headers={"Content-Type": "application/json"}, body=b'{"payload": {}}', now=now,
                                ticket=ticket)


def test_migrations_match_the_table_definitions(database_url):
    engine = create_db_engine(database_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    migrate.upgrade(engine)  # running it again changes nothing
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_downgrade_and_upgrade_again(database_url):
    engine = create_db_engine(database_url)
    migrate.downgrade(engine, "base")
    assert "inbox" not in sa.inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert {"inbox", "outbox", "audit", "named_values"} <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_duplicate_delivery_is_stored_once(store):
    new, first = deliver(store, "redmine:issue:1:created")
    again, second = deliver(store, "redmine:issue:1:created")
    assert (new, again) == (True, False) and first == second
    assert len(store.inbox_rows()) == 1


def test_a_claim_is_exclusive_across_threads(store):
    for number in range(40):
        deliver(store, f"redmine:issue:{number}:created")
    taken: list[int] = []
    lock = threading.Lock()

    def claim() -> None:
        while items := store.claim_inbox(T0, timedelta(minutes=5), limit=3):
            with lock:
                taken.extend(item.id for item in items)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(row["id"] for row in store.inbox_rows())  # every row once, none twice


def test_one_worker_at_a_time_decides_on_a_ticket(store):
    """Another worker's claim skips the items of tickets a live claim holds, and takes them,
    in their order, once that claim is done or its lease has lapsed."""
    other = Store(store.engine, owner="worker-b")
    for number, ticket in enumerate(["redmine:1", "redmine:2", "redmine:1", "redmine:3", "redmine:1", None]):
        deliver(store, f"event-{number}", ticket=ticket)
    lease = timedelta(minutes=5)
    first = store.claim_inbox(T0, lease, limit=2)
    assert [item.dedup_key for item in first] == ["event-0", "event-1"]
    second = other.claim_inbox(T0, lease, limit=10)
    assert [item.dedup_key for item in second] == ["event-3", "event-5"]  # tickets 1 and 2 are held
    store.complete([Completion(item.id, "redmine", "1", [], []) for item in first], T0)
    assert [item.dedup_key for item in other.claim_inbox(T0, lease, limit=1)] == ["event-2"]
    assert other.claim_inbox(T0, lease, limit=10) == []  # event-4's ticket is held by that claim now
    [lapsed] = store.claim_inbox(T0 + timedelta(minutes=6), lease, limit=1)  # the other stopped answering
    assert lapsed.dedup_key == "event-2"


def test_a_lapsed_lease_is_taken_again(store):
    deliver(store, "redmine:issue:1:created")
    [item] = store.claim_inbox(T0, timedelta(minutes=5))
    assert store.claim_inbox(T0 + timedelta(minutes=4), timedelta(minutes=5)) == []
    [again] = store.claim_inbox(T0 + timedelta(minutes=6), timedelta(minutes=5))
    assert again.id == item.id and again.attempts == 2


def test_lapsed_and_pending_items_are_claimed_oldest_first(store):
    """A claim takes due rows of both kinds (a lapsed lease, pending and available) in the order
    they came, up to its limit; a row waiting for its retry time is left."""
    first = deliver(store, "redmine:issue:1:created", ticket="redmine:1")[1]
    [lapsing] = store.claim_inbox(T0, timedelta(minutes=5))
    assert lapsing.id == first
    retry = deliver(store, "redmine:issue:2:created", ticket="redmine:2")[1]
    store.claim_inbox(T0, timedelta(minutes=5))
    store.retry_inbox(retry, "tracker down", T0 + timedelta(hours=1))
    later = [deliver(store, f"redmine:issue:{n}:created", ticket=f"redmine:{n}")[1] for n in (3, 4, 5)]
    taken = store.claim_inbox(T0 + timedelta(minutes=6), timedelta(minutes=5), limit=3)
    assert [item.id for item in taken] == [first, *later[:2]]
    assert [item.id for item in store.claim_inbox(T0 + timedelta(minutes=6), timedelta(minutes=5))] == [later[2]]


def test_a_claim_reads_due_rows_in_claim_order(sqlite_store):
    """The claims' queries, as SQLite plans them, find due rows from the (state, id) index,
    oldest first, and the rest of an outbox claim's tickets from the ticket index: none reads
    and sorts every pending row, so a claim costs the same however long the backlog."""
    for number in range(3):
        deliver(sqlite_store, f"redmine:issue:{number}:created", ticket=f"redmine:{number}")
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.insert(outbox), [
            {"effect_key": f"e{n}", "tracker": "redmine", "ticket_id": str(n % 2), "rule": "r", "action": "comment",
             "params": "{}", "state": "pending", "attempts": 0, "available_at": T0, "created_at": T0}
            for n in range(4)])
    executed: list[tuple[str, Any]] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("SELECT"):
            executed.append((statement, parameters))

    sa.event.listen(sqlite_store.engine, "before_cursor_execute", note)
    try:
        assert len(sqlite_store.claim_inbox(T0, timedelta(minutes=5), limit=2)) == 2
        assert len(sqlite_store.claim_outbox(T0, timedelta(minutes=5), limit=1)) == 2  # with its ticket's other
    finally:
        sa.event.remove(sqlite_store.engine, "before_cursor_execute", note)
    plans: dict[str, list[str]] = {}
    with sqlite_store.engine.connect() as conn:
        for statement, parameters in executed:
            table = statement.split()[1].split(".")[0]
            kind = "rest" if " OR " in statement else "fresh" if "available_at <=" in statement else "lapsed"
            steps = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans[f"{table} {kind}"] = [step[3] for step in steps]
    assert set(plans) == {"inbox fresh", "inbox lapsed", "outbox fresh", "outbox lapsed", "outbox rest"}
    for table in ("inbox", "outbox"):
        fresh = plans[f"{table} fresh"]
        assert fresh[0] == f"SEARCH {table} USING INDEX ix_{table}_state_id (state=?)", fresh
        assert not any("TEMP B-TREE" in step for step in fresh), fresh
    assert plans["outbox rest"][0].startswith(
        "SEARCH outbox USING INDEX ix_outbox_ticket_state (tracker=? AND ticket_id=? AND state=?)"), plans


def test_decision_and_effects_are_recorded_together_once(store):
    deliver(store, "redmine:issue:1:created")
    [item] = store.claim_inbox(T0, timedelta(minutes=5))
    effects = [Effect("k1", "comment", "redmine", "1", "r", {"body": "hi", "private": True}),
               Effect("k2", "set", "redmine", "1", "r", {"standard": {}, "custom": {"Team": "network"}})]
    assert store.complete_inbox(item.id, effects=effects, trace={"event": "e"}, tracker="redmine",
                                ticket_id="1", now=T0) == 2
    # A replay of the same event plans the same keys: nothing new is recorded.
    assert store.complete_inbox(item.id, effects=effects, trace={"event": "e"}, tracker="redmine",
                                ticket_id="1", now=T0) == 0
    assert [row["effect_key"] for row in store.outbox_rows()] == ["k1", "k2"]
    assert store.inbox_rows()[0]["state"] == "done"
    assert [row["kind"] for row in store.audit_rows("1")] == ["decision", "decision"]
    claimed = store.claim_outbox(T0, timedelta(minutes=5))
    assert [c.effect.params for c in claimed] == [e.params for e in effects]


def test_effect_retry_and_dead_letter(store):
    _, inbox_id = deliver(store, "redmine:issue:1:created")
    store.complete_inbox(inbox_id, effects=[Effect("k", "comment", "redmine", "1", "r", {"body": "x"})],
                         trace={}, tracker="redmine", ticket_id="1", now=T0)
    [item] = store.claim_outbox(T0, timedelta(minutes=5))
    store.effect_failed(item, "Redmine unreachable", T0, T0 + timedelta(seconds=10))
    assert store.claim_outbox(T0 + timedelta(seconds=5), timedelta(minutes=5)) == []
    [retry] = store.claim_outbox(T0 + timedelta(seconds=11), timedelta(minutes=5))
    store.effect_failed(retry, "Redmine refused the change", T0, None)
    row = store.outbox_rows()[0]
    assert (row["state"], row["attempts"], row["last_error"]) == ("dead", 2, "Redmine refused the change")
    assert [a["kind"] for a in store.audit_rows("1")][-2:] == ["effect-retry", "effect-dead"]


def test_named_values_and_times_round_trip(store):
    store.set_value("poll:redmine:watermark", "2026-03-02T09:00:00+00:00", T0)
    store.set_value("poll:redmine:watermark", "2026-03-02T10:00:00+00:00", T0)
    assert store.get_value("poll:redmine:watermark") == "2026-03-02T10:00:00+00:00"
    deliver(store, "k", now=T0)
    assert store.inbox_rows()[0]["received_at"] == T0  # aware UTC in, aware UTC out
    assert store.counts() == {"inbox": {"pending": 1}, "outbox": {}}


def test_moments_are_stored_as_utc_whatever_their_zone(store):
    """The same moment from any zone is stored, and read back, as the same UTC moment; a moment
    without a zone is refused, also after the same wall time was stored with one."""
    east = timezone(timedelta(hours=5, minutes=30))
    later = T0 + timedelta(microseconds=1)
    for key, now in (("a", T0), ("b", T0.astimezone(east)), ("c", later.astimezone(east)), ("d", later)):
        deliver(store, key, now=now)
    received = {row["dedup_key"]: row["received_at"] for row in store.inbox_rows()}
    assert received == {"a": T0, "b": T0, "c": later, "d": later}
    assert {moment.tzinfo for moment in received.values()} == {UTC}
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        deliver(store, "e", now=T0.replace(tzinfo=None))


def test_a_delivery_and_its_duplicate_in_one_group(store):
    """Stored in one transaction (a group commit): the second copy is a duplicate of the first."""
    values = {"source": "redmine", "shape": "plugin", "dedup_key": "redmine:issue:7:created",
              "path": "/webhooks/redmine", "headers": "{}", "body": "{}", "received_at": T0, "state": "pending",
              "attempts": 0, "available_at": T0, "ticket": "redmine:7"}
    first, again = store._store_deliveries([values, dict(values)])
    assert first[0] is True and again == (False, first[1])
    assert [row["id"] for row in store.inbox_rows()] == [first[1]]


def test_concurrent_deliveries_are_all_stored(store):
    """Many intake threads at once (as waitress runs them): none refused, none lost."""
    errors: list[Exception] = []

    def deliver_many(thread: int) -> None:
        for number in range(25):
            try:
                deliver(store, f"redmine:issue:{thread}:journal:{number}")
                deliver(store, f"redmine:issue:{thread}:journal:{number}")  # and its duplicate
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=deliver_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.inbox_rows()) == 200


def test_sqlite_runs_in_wal_mode(sqlite_store):
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _clock(ticket: str, *kinds: str) -> Clock:
    transitions = tuple(Transition(kind, T0 + timedelta(minutes=n), timedelta(hours=4) if kind == STARTED else None)
                        for n, kind in enumerate(kinds))
    return Clock("redmine", ticket, "resolution", 1, transitions)


def _decided(store: Store, key: str, ticket: str, *clocks: ClockRow) -> Completion:
    _, item_id = deliver(store, key, ticket=f"redmine:{ticket}")
    return Completion(item_id, "redmine", ticket, [], [], list(clocks))


def test_a_batch_stores_a_clock_started_and_moved_in_it(store):
    """The batch's clocks go in one INSERT and one UPDATE: a clock the first event started and
    the second paused is inserted, then updated, and ends at the second state."""
    started = _decided(store, "k1", "7", ClockRow(_clock("7", STARTED), "running", T0, T0, 0))
    paused = _decided(store, "k2", "7", ClockRow(_clock("7", STARTED, PAUSED), "paused", None, None, 1))
    other = _decided(store, "k3", "8", ClockRow(_clock("8", STARTED), "running", T0, T0, 0))
    store.complete([started, paused, other], T0)
    [seven] = store.clocks_for("redmine", "7")
    [eight] = store.clocks_for("redmine", "8")
    assert (seven.version, seven.state, [t.kind for t in seven.clock.transitions]) == (2, "paused", [STARTED, PAUSED])
    assert (eight.version, eight.state) == (1, "running")


def test_a_clock_another_process_moved_undoes_the_whole_batch(store):
    """One clock of a batch written meanwhile (its version moved on): nothing of the batch is
    kept, so every item of it is decided again."""
    store.complete([_decided(store, "k1", "7", ClockRow(_clock("7", STARTED), "running", T0, T0, 0))], T0)
    store.complete([_decided(store, "k2", "7", ClockRow(_clock("7", STARTED, PAUSED), "paused", None, None, 1))], T0)
    fresh = _decided(store, "k3", "8", ClockRow(_clock("8", STARTED), "running", T0, T0, 0))
    stale = _decided(store, "k4", "7", ClockRow(_clock("7", STARTED, STOPPED), "met", None, None, 1))
    with pytest.raises(ClockConflict, match="resolution of redmine:7 changed meanwhile"):
        store.complete([fresh, stale], T0)
    assert store.clocks_for("redmine", "8") == []
    [seven] = store.clocks_for("redmine", "7")
    assert (seven.version, seven.state) == (2, "paused")
    pending = {row["dedup_key"] for row in store.inbox_rows(state="pending")}
    assert {"k3", "k4"} <= pending


def test_a_clock_started_twice_meanwhile_is_a_conflict(store):
    store.complete([_decided(store, "k1", "7", ClockRow(_clock("7", STARTED), "running", T0, T0, 0))], T0)
    with pytest.raises(ClockConflict, match="resolution of redmine:7"):
        store.complete([_decided(store, "k2", "7", ClockRow(_clock("7", STARTED), "running", T0, T0, 0))], T0)
