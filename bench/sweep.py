"""The SLA sweep with a big clock table: 1,000,000 clocks stored, 1,000 of them due.

Three rows per kind of database. The claim (`Store.due_clocks`, what each sweep starts with)
beside the same SELECT as bare SQL through the same engine; a full sweep of the due clocks
(`ticketwarden.sla.sweep`, called until it has nothing left) beside the bare claim plus the same
writes in one transaction; and the process's RSS after populating and sweeping beside its RSS
before, because the sweep must not load the table to find the few clocks that are due.

`.venv/bin/python -m bench.sweep` runs only these rows (SQLite, and PostgreSQL when reachable).
"""

from __future__ import annotations

import itertools
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import EXAMPLE_RULEBOOK, Row, best_of, scaled
from bench.databases import database, run_alone
from rules.rulebook import load_rulebook
from rules.sla import STARTED, STOPPED, Clock, Transition, due_notifications
from ticketwarden import migrate
from ticketwarden.sla import SlaBook, sweep
from ticketwarden.store import PENDING, Store, UTCDateTime, _dumps, create_db_engine, inbox, sla_clocks

# Wednesday 12:00 in Buenos Aires: inside the example's ba-office hours, no holiday that week.
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
TRACKER = "redmine"
CLAIM = 1_000  # the claim size measured (the sweep itself asks for its default)
CHUNK = 5_000  # rows generated and inserted at a time, so the population does not inflate RSS
TEMPLATES = 500  # distinct stored shapes per kind of clock: realistic spread without 1M clock computations
REPEAT = 5
COLUMNS = "id, tracker, ticket_id, policy, cycle, history, state, due_at, next_check, version, updated_at"
BARE_CLAIM = sa.text(
    f"SELECT {COLUMNS} FROM sla_clocks WHERE next_check <= :now ORDER BY next_check LIMIT :limit"  # noqa: S608
).bindparams(sa.bindparam("now", type_=UTCDateTime))
BARE_FIRE = sa.text(
    "UPDATE sla_clocks SET history = :history, state = 'breached', next_check = NULL, version = version + 1, "
    "updated_at = :now WHERE id = :id AND version = :version"
).bindparams(sa.bindparam("now", type_=UTCDateTime))


@dataclass(frozen=True)
class Shape:
    """A clock's stored columns but its ticket: what `Store._save_clock` writes for it."""

    policy: str
    history: str
    state: str
    due_at: datetime | None
    next_check: datetime | None


@dataclass(frozen=True)
class Sizes:
    clocks: int
    due: int


def sizes() -> Sizes:
    """1,000,000 clocks of which 1,000 due, both scaled by BENCH_SCALE."""
    return Sizes(scaled(1_000_000, 10_000), scaled(1_000, 100))


def sla_book() -> SlaBook:
    with open(EXAMPLE_RULEBOOK, encoding="utf-8") as handle:
        return SlaBook(load_rulebook([(EXAMPLE_RULEBOOK, handle.read())]))


def shape(book: SlaBook, clock: Clock, at: datetime) -> Shape:
    """What the store holds for `clock` after its last change at `at` (as `sla.advance` saves it)."""
    row = book.row(clock, at, 0)
    history = _dumps([t.to_dict() for t in clock.transitions])
    return Shape(clock.policy, history, row.state, row.due_at, row.next_check)


def started(policy: str, begin: datetime) -> Clock:
    """A clock started on the policy's default target (the example's last, unconditional one)."""
    hours = {"first-response": 4, "resolution": 24}[policy]
    return Clock(TRACKER, "0", policy, 1, (Transition(STARTED, begin, timedelta(hours=hours), "started", 2),))


def due_shapes(book: SlaBook, count: int) -> list[Shape]:
    """Clocks started 10 days ago: their warning and breach have both come, nothing fired yet."""
    shapes = []
    for n in range(count):
        begin = NOW - timedelta(days=10, minutes=7 * n)
        found = shape(book, started(("first-response", "resolution")[n % 2], begin), begin)
        assert found.next_check is not None and found.next_check <= NOW
        shapes.append(found)
    return shapes


def waiting_shapes(book: SlaBook) -> list[Shape]:
    """Running clocks started in the last hours: their next check is still to come."""
    shapes = []
    for n in range(TEMPLATES):
        begin = NOW - timedelta(seconds=41 * n)
        found = shape(book, started("resolution", begin), begin)
        assert found.next_check is not None and found.next_check > NOW
        shapes.append(found)
    return shapes


def met_shapes(book: SlaBook) -> list[Shape]:
    """Clocks stopped in time over the last weeks: nothing more to check (next_check NULL)."""
    shapes = []
    for n in range(TEMPLATES):
        begin = NOW - timedelta(days=30, minutes=113 * n)
        clock = started(("first-response", "resolution")[n % 2], begin)
        stop = begin + timedelta(minutes=20)
        found = shape(book, clock.with_transition(Transition(STOPPED, stop, reason="stop conditions hold")), stop)
        assert found.next_check is None and found.state == "met"
        shapes.append(found)
    return shapes


def clock_rows(book: SlaBook, size: Sizes) -> Iterator[list[dict[str, Any]]]:
    """Every clock row, CHUNK at a time: the due ones spread evenly over the table, the rest
    alternately running (next check ahead) and met (no next check)."""
    due = due_shapes(book, size.due)
    waiting, met = itertools.cycle(waiting_shapes(book)), itertools.cycle(met_shapes(book))
    every = size.clocks // size.due
    chunk: list[dict[str, Any]] = []
    for n in range(size.clocks):
        if n % every == 0 and n // every < size.due:
            found = due[n // every]
        else:
            found = next(waiting) if n % 2 else next(met)
        chunk.append(dict(tracker=TRACKER, ticket_id=str(100_000 + n), policy=found.policy, cycle=1,
                          history=found.history, state=found.state, due_at=found.due_at,
                          next_check=found.next_check, version=1, updated_at=NOW))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def populate(engine: Engine, book: SlaBook, size: Sizes) -> None:
    """Bulk INSERT (executemany) of every clock row, then fresh planner statistics on PostgreSQL
    (which autovacuum would have gathered on a table that grew to this size)."""
    with engine.begin() as conn:
        for chunk in clock_rows(book, size):
            conn.execute(sa.insert(sla_clocks), chunk)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE sla_clocks")


def plan(engine: Engine) -> str:
    """How the database runs the claim: an index range scan, or a walk over the table."""
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    query = sa.text(explain + str(BARE_CLAIM)).bindparams(sa.bindparam("now", type_=UTCDateTime))
    with engine.connect() as conn:
        lines = [" ".join(str(cell) for cell in row) for row in conn.execute(query, {"now": NOW, "limit": CLAIM})]
    text = " | ".join(lines)
    return "index ix_sla_clocks_next_check" if "ix_sla_clocks_next_check" in text else f"no index: {text[:80]}"


def bare_claim(engine: Engine) -> list[Any]:
    """The claim's SELECT as bare SQL, on a connection from the same pool, rows fetched as tuples."""
    with engine.connect() as conn:
        return list(conn.execute(BARE_CLAIM, {"now": NOW, "limit": CLAIM}).all())


def claim_seconds(engine: Engine, store: Store, due: int) -> tuple[float, float]:
    """Best of REPEAT: `Store.due_clocks(now, limit=CLAIM)`, and the bare SELECT."""
    expected = min(due, CLAIM)
    if len(store.due_clocks(NOW, limit=CLAIM)) != expected or len(bare_claim(engine)) != expected:
        raise RuntimeError(f"the claim did not find the {expected} due clocks")
    return (best_of(lambda: store.due_clocks(NOW, limit=CLAIM), REPEAT),
            best_of(lambda: bare_claim(engine), REPEAT))


def arithmetic_seconds(book: SlaBook, store: Store) -> float:
    """The pure SLA work the sweep does per due clock (owed notifications, the next check),
    without the store: the part of the sweep no database can make cheaper."""
    rows = store.due_clocks(NOW, limit=CLAIM)
    start = time.perf_counter()
    for row in rows:
        policy = book.rulebook.sla[row.clock.policy]
        owed = due_notifications(row.clock, policy, book.calendar_of(row.clock.policy), NOW,
                                 book.quiet_of(row.clock.policy), book.calendars)
        updated = row.clock
        for marker, _ in owed:
            updated = updated.with_transition(marker)
        book.row(updated, NOW, row.version)
    return time.perf_counter() - start


def sla_body(trigger: str, row: Any) -> str:
    return _dumps({"sla": {"trigger": trigger, "policy": row.policy, "cycle": row.cycle, "at": NOW.isoformat(),
                           "tracker": row.tracker, "ticket_id": row.ticket_id}})


def bare_sweep(engine: Engine) -> tuple[float, int]:
    """The least a sweep can do: one claim, then per clock one versioned UPDATE and its two
    inbox INSERTs (warning, breach), all in one transaction; no SLA arithmetic."""
    start = time.perf_counter()
    with engine.begin() as conn:
        rows = conn.execute(BARE_CLAIM, {"now": NOW, "limit": CLAIM}).all()
        for row in rows:
            conn.execute(BARE_FIRE, {"history": row.history, "now": NOW, "id": row.id, "version": row.version})
            conn.execute(sa.insert(inbox), [
                dict(source="sla", shape="sla", dedup_key=f"sla:{row.tracker}:{row.ticket_id}:{row.policy}:1:{trigger}",
                     path="(sla)", headers="{}", body=sla_body(trigger, row), received_at=NOW, state=PENDING,
                     attempts=0, available_at=NOW)
                for trigger in ("sla.warning", "sla.breached")])
    return time.perf_counter() - start, len(rows)


def due_snapshot(engine: Engine) -> list[dict[str, Any]]:
    """The due clocks as stored, to put back after the reference sweep has fired them."""
    columns = [sla_clocks.c[name] for name in ("id", "history", "state", "due_at", "next_check", "version")]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).where(sla_clocks.c.next_check <= NOW))
        return [dict(row._mapping) for row in rows]


def restore(engine: Engine, snapshot: Sequence[dict[str, Any]]) -> None:
    """Undo the reference sweep (untimed): the due clocks as they were, the inbox empty."""
    statement = sa.update(sla_clocks).where(sla_clocks.c.id == sa.bindparam("old_id")).values(
        {name: sa.bindparam(f"old_{name}") for name in ("history", "state", "due_at", "next_check", "version")})
    with engine.begin() as conn:
        conn.execute(statement, [{f"old_{name}": value for name, value in row.items()} for row in snapshot])
        conn.execute(sa.delete(inbox))


def real_sweep(book: SlaBook, store: Store, due: int) -> tuple[float, int]:
    """`sla.sweep` called until a pass queues nothing (each pass claims its default batch);
    returns the seconds and the passes that did work."""
    passes = queued = 0
    start = time.perf_counter()
    while found := sweep(book, store, lambda: NOW):
        passes, queued = passes + 1, queued + found
    seconds = time.perf_counter() - start
    left = len(store.due_clocks(NOW, limit=CLAIM))
    if left or queued != 2 * due:
        raise RuntimeError(f"sweep left {left} clocks due and queued {queued} events for {due} clocks")
    return seconds, passes


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB; peak only where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak


def measure(kind: str, server_url: str | None = None) -> list[Row]:
    """The claim, a full sweep and RSS with the clock table populated, on one kind of database."""
    size, book = sizes(), sla_book()
    before, _ = rss_mb()
    with database(kind, "sweep", server_url) as url:
        engine = create_db_engine(url)
        try:
            migrate.upgrade(engine)
            populate(engine, book, size)
            rows = sweep_rows(kind, engine, book, size)
        finally:
            engine.dispose()
    after, peak = rss_mb()
    return [*rows, Row(f"sweep {kind}: process RSS", "MB", after, before, "same process before populating",
                       f"after populating and sweeping; peak {peak:.0f} MB; target < 150 MB")]


def sweep_rows(kind: str, engine: Engine, book: SlaBook, size: Sizes) -> list[Row]:
    """The timed part, on a populated table; the reference sweep is undone before the real one."""
    store = Store(engine)
    claim, bare = claim_seconds(engine, store, size.due)
    pure = arithmetic_seconds(book, store)
    snapshot = due_snapshot(engine)
    bare_seconds, fired = bare_sweep(engine)
    restore(engine, snapshot)
    seconds, passes = real_sweep(book, store, size.due)
    claimed = min(size.due, CLAIM)
    return [
        Row(f"sweep {kind}: claim {claimed} due", "ms", 1000 * claim, 1000 * bare, "bare SELECT … LIMIT, same engine",
            f"{size.clocks:,} clocks stored; best of {REPEAT}; {plan(engine)}"),
        Row(f"sweep {kind}: full sweep", "clocks/s", size.due / seconds, fired / bare_seconds,
            "bare claim + UPDATE + 2 INSERTs each, 1 tx",
            f"{passes} sweep() passes; SLA arithmetic alone {size.due / pure:,.0f} clocks/s"),
    ]


def main() -> None:
    run_alone("sweep", measure)


if __name__ == "__main__":
    main()
