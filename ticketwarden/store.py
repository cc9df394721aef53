"""Durable state: inbox, outbox (the effect ledger), audit log and small named values.

SQLAlchemy Core over SQLite (WAL, the embedded default) or PostgreSQL. Rows are claimed with
a conditional UPDATE (and `FOR UPDATE SKIP LOCKED` on PostgreSQL), so several workers, in one
process or many, never take the same row; a claim is a lease, so a row held by a process that
died is taken again when its lease runs out.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from rules.model import Effect, Event, Ticket
from rules.sla import Clock, Transition
from webhooks.app import StoreUnavailable

log = logging.getLogger(__name__)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, each moment is turned into its stored text once: a batch writes the same
        few moments (its `now`, due times) into many rows, and the conversion, in two steps,
        was a tenth of the time of storing a batch. Equal moments in any zone are the same
        key, and the same text, so the memo cannot answer for another moment."""
        convert = super().bind_processor(dialect)
        if dialect.name != "sqlite" or convert is None:
            return convert
        stored = functools.lru_cache(maxsize=1024)(convert)

        def process(value: datetime | None) -> Any:
            return None if value is None else stored(value)
        return process


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

inbox = sa.Table(
    "inbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("shape", sa.String(16), nullable=False),
    sa.Column("dedup_key", sa.String(255), nullable=False),
    sa.Column("path", sa.String(255), nullable=False),
    sa.Column("headers", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("available_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("processed_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("lease_owner", sa.String(128)),  # the instance holding the claim
    sa.Column("ticket", sa.String(96)),  # "tracker:id" of the ticket it is about (`ticket_ref`); None: none
    sa.UniqueConstraint("source", "dedup_key", name="uq_inbox_source_dedup_key"),
    sa.Index("ix_inbox_state_id", "state", "id"),  # claim order
    sa.Index("ix_inbox_ticket_state", "ticket", "state"),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("effect_key", sa.String(64), nullable=False, unique=True),
    sa.Column("inbox_id", BigId, sa.ForeignKey("inbox.id", name="fk_outbox_inbox_id")),
    sa.Column("tracker", sa.String(16), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(255), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("available_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("applied_at", UTCDateTime),
    sa.Column("outcome", sa.Text),
    sa.Column("last_error", sa.Text),
    sa.Column("lease_owner", sa.String(128)),  # the instance holding the claim
    sa.Index("ix_outbox_state_id", "state", "id"),  # claim order
    sa.Index("ix_outbox_ticket_state", "tracker", "ticket_id", "state"),
)

audit = sa.Table(
    "audit", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("tracker", sa.String(16), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_audit_ticket", "tracker", "ticket_id"),
)

named_values = sa.Table(
    "named_values", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

sla_clocks = sa.Table(
    "sla_clocks", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tracker", sa.String(16), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("policy", sa.String(128), nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False),
    sa.Column("history", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime),
    sa.Column("next_check", UTCDateTime),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tracker", "ticket_id", "policy", "cycle", name="uq_sla_clocks_cycle"),
    sa.Index("ix_sla_clocks_next_check", "next_check"),
    sa.Index("ix_sla_clocks_due_at", "due_at"),
)

records = sa.Table(
    "records", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tracker", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("cause", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("target_id", sa.String(64)),
    sa.Column("target_key", sa.String(64)),
    sa.Column("target_url", sa.String(512)),
    sa.Column("sources", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("action_due", UTCDateTime),
    sa.Column("review_due", UTCDateTime),
    sa.Column("fired", sa.Text, nullable=False, server_default="[]"),
    sa.Column("next_check", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.UniqueConstraint("tracker", "kind", "cause", name="uq_records_cause"),
    sa.Index("ix_records_target", "tracker", "target_id"),
    sa.Index("ix_records_next_check", "next_check"),
)

origin_history = sa.Table(
    "origin_history", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tracker", sa.String(16), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("old", sa.String(128)),
    sa.Column("new", sa.String(128)),
    sa.Column("by_kind", sa.String(16), nullable=False),
    sa.Column("by", sa.String(255), nullable=False),
    sa.Column("event", sa.String(255), nullable=False),
    sa.UniqueConstraint("tracker", "ticket_id", "event", name="uq_origin_history_event"),
    sa.Index("ix_origin_history_ticket", "tracker", "ticket_id"),
)

ticket_facts = sa.Table(
    "ticket_facts", metadata,
    sa.Column("tracker", sa.String(16), primary_key=True),
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("url", sa.String(512), nullable=False),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("status", sa.String(128), nullable=False),
    sa.Column("priority", sa.String(128), nullable=False),
    sa.Column("team", sa.String(128)),
    sa.Column("customer", sa.String(255)),
    sa.Column("origin", sa.String(128)),
    sa.Column("incident", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("breaches", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_ticket_facts_created", "created_at"),
)

surveys = sa.Table(
    "surveys", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("effect_key", sa.String(64), nullable=False, unique=True),
    sa.Column("tracker", sa.String(16), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("ticket_key", sa.String(64), nullable=False),
    sa.Column("ticket_url", sa.String(512), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("field_ref", sa.String(128), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("answered_at", UTCDateTime),
    sa.Column("score", sa.Integer),
    sa.Column("comment", sa.Text),
    sa.Index("ix_surveys_answered_at", "answered_at"),
)

# The newest state of each ticket the worker has seen (delivered or fetched), so a delivery
# that is not stale is decided on as it came, without asking the tracker again.
tickets_seen = sa.Table(
    "tickets_seen", metadata,
    sa.Column("tracker", sa.String(16), primary_key=True),
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("changed_at", UTCDateTime, nullable=False),  # the tracker's time of the last change
    sa.Column("issue", sa.Text, nullable=False),  # the tracker's issue object, JSON, without journals
    sa.Column("stale", sa.Boolean, nullable=False),  # ticketwarden wrote to the ticket since
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

# Knowledge-base articles, one per (tracker, project, key), and the incidents they helped.
kb_articles = sa.Table(
    "kb_articles", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tracker", sa.String(16), nullable=False),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("product", sa.String(255), nullable=False),
    sa.Column("url", sa.String(512)),
    sa.Column("parts", sa.Text, nullable=False),  # JSON: problem, cause, solution, product, version
    sa.Column("sources", sa.Text, nullable=False),  # JSON: [{id, key, url}], the first drafted it
    sa.Column("keywords", sa.Text, nullable=False),  # JSON: the significant words it is found by
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tracker", "project", "key", name="uq_kb_articles_key"),
)

kb_links = sa.Table(
    "kb_links", metadata,
    sa.Column("tracker", sa.String(16), primary_key=True),
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("article_id", BigId, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # drafted | source | suggested
    sa.Column("at", UTCDateTime, nullable=False),
)

PENDING, PROCESSING, DONE, DEAD = "pending", "processing", "done", "dead"
INSTANCE_VALUE = "instance:"  # + instance name: its heartbeat (a token that changes per process start)
RULEBOOK_VALUE = "rulebook:"  # + instance name: the rulebook a process has in force (ticketwarden status)
# What a ClockRow is made of (the sweep's claim reads no more than that).
CLOCK_KEY = ("tracker", "ticket_id", "policy", "cycle")
CLOCK_STATE = ("history", "state", "due_at", "next_check", "updated_at")
CLOCK_COLUMNS = tuple(sla_clocks.c[name] for name in (
    "tracker", "ticket_id", "policy", "cycle", "history", "state", "due_at", "next_check", "version"))


class ClockConflict(RuntimeError):
    """Another process changed an SLA clock between our read and our write: decide again."""


class PartConflict(ClockConflict):
    """A journal this event took in as part of its save was delivered on its own meanwhile:
    decide again, without it."""


class ClockRow:
    """A clock as stored: its history, and what was derived from it for the sweep.

    A row read from the store keeps its history as the stored JSON until `clock` is first
    asked for: the sweep's claim and the prefetch of a batch's clocks read many rows, and
    parsing every history there was most of their cost (see BENCHMARKS.md)."""

    __slots__ = ("_clock", "_stored", "due_at", "next_check", "state", "version")

    def __init__(self, clock: Clock | None, state: str, due_at: datetime | None, next_check: datetime | None,
                 version: int = 0, stored: tuple[str, str, str, int, str] | None = None) -> None:
        if clock is None and stored is None:
            raise ValueError("a clock row needs its clock or its stored history")
        self._clock, self._stored = clock, stored
        self.state, self.due_at, self.next_check = state, due_at, next_check
        self.version = version  # 0: not stored yet

    @classmethod
    def stored(cls, row: Sequence[Any]) -> ClockRow:
        """A row of `CLOCK_COLUMNS`, in their order, its history parsed on first use."""
        tracker, ticket_id, policy, cycle, history, state, due_at, next_check, version = row
        return cls(None, state, due_at, next_check, version, (tracker, ticket_id, policy, cycle, history))

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            assert self._stored is not None
            tracker, ticket_id, policy, cycle, history = self._stored
            transitions = tuple(Transition.from_dict(item) for item in json.loads(history))
            self._clock = Clock(tracker, ticket_id, policy, cycle, transitions)
        return self._clock

    def with_version(self, version: int) -> ClockRow:
        return ClockRow(self._clock, self.state, self.due_at, self.next_check, version, self._stored)

    def _key(self) -> tuple[Any, ...]:
        return (self.clock, self.state, self.due_at, self.next_check, self.version)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClockRow) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"ClockRow(clock={self.clock!r}, state={self.state!r}, due_at={self.due_at!r}, "
                f"next_check={self.next_check!r}, version={self.version!r})")


@dataclass(frozen=True)
class FollowUp:
    """An event the decision itself causes (an SLA clock started or met), queued in the inbox."""

    source: str
    dedup_key: str
    body: Mapping[str, Any]
    ticket: str | None = None  # `ticket_ref` of the ticket it is about


def ticket_ref(tracker: str, ticket_id: str | int) -> str:
    """How an inbox item names its ticket: items of one ticket are decided by one worker at a
    time, in the order they came (`claim_inbox`)."""
    return f"{tracker}:{ticket_id}"


@dataclass(frozen=True)
class Applied:
    """An effect written to its tracker: what was done, and the origin change it made (if any)."""

    item: OutboxItem
    outcome: str
    origin_change: OriginChange | None = None


@dataclass(frozen=True)
class Failed:
    """An effect its tracker refused or did not answer: retried at `retry_at`, or dead (None)."""

    item: OutboxItem
    error: str
    retry_at: datetime | None


@dataclass(frozen=True)
class Seen:
    """The newest state of a ticket the worker has seen, and whether we wrote to it since."""

    tracker: str
    ticket_id: str
    changed_at: datetime
    issue: Mapping[str, Any]
    stale: bool = False


@dataclass
class Completion:
    """Everything one inbox item decided, recorded with its done mark in one transaction."""

    item_id: int
    tracker: str
    ticket_id: str
    effects: list[Effect]
    traces: list[Mapping[str, Any]]  # one per decision: the event's, then the SLA events'
    clocks: list[ClockRow] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    origin_changes: list[OriginChange] = field(default_factory=list)
    facts: Mapping[str, Any] | None = None
    parts: list[str] = field(default_factory=list)
    breaches: int = 0  # SLA breaches recorded by this item, added to the ticket's facts
    seen: Seen | None = None  # the ticket's state this item was decided on, when newer than the stored


@dataclass(frozen=True)
class OriginChange:
    """One change of a ticket's failure origin: who (a person, or a rule) made it, and when."""

    tracker: str
    ticket_id: str
    at: datetime
    old: str | None
    new: str | None
    by_kind: str  # "person" or "rule"
    by: str
    event: str  # what made it: an event id, or an effect key

    @classmethod
    def by_person(cls, ref: str | None, event: Event, ticket: Ticket) -> OriginChange | None:
        """The change of the origin field (`ref`) a person's event made: a change in the
        journal, or the value a ticket was created with."""
        if ref is None or event.actor is None:
            return None
        who = event.actor.login or event.actor.name or event.actor.id
        change = event.change_of_custom(ref)
        if change is not None:
            return cls(event.tracker_kind, ticket.id, event.occurred_at, change.old, change.new, "person", who,
                       event.id)
        value = ticket.custom_field(ref)
        if "ticket.created" in event.triggers and value not in (None, ""):
            return cls(event.tracker_kind, ticket.id, event.occurred_at, None, str(value), "person", who, event.id)
        return None


@dataclass(frozen=True)
class RecordRow:
    """An issue ticketwarden created for a cause: a development issue, a nonconformity or an
    observation, with the tickets that led to it and the dates its lifecycle watches."""

    id: int
    tracker: str
    kind: str
    cause: str
    state: str  # creating | open | closed
    created_by: str
    target_id: str | None
    target_key: str | None
    target_url: str | None
    sources: tuple[str, ...]
    detail: Mapping[str, Any]
    action_due: datetime | None
    review_due: datetime | None
    fired: tuple[str, ...]
    next_check: datetime | None
    created_at: datetime
    closed_at: datetime | None
    lease_until: datetime | None = None


@dataclass(frozen=True)
class SurveyRow:
    id: int
    tracker: str
    ticket_id: str
    ticket_key: str
    ticket_url: str
    subject: str
    field_ref: str
    language: str
    expires_at: datetime
    answered_at: datetime | None
    score: int | None
    comment: str | None


@dataclass(frozen=True)
class ArticleRow:
    """A knowledge-base article as kept in the store (what its page or issue is written from)."""

    id: int
    tracker: str
    project: str
    key: str
    title: str
    product: str
    url: str | None
    parts: Mapping[str, str]
    sources: tuple[Mapping[str, str], ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class InboxItem:
    id: int
    source: str
    shape: str
    dedup_key: str
    body: str
    attempts: int
    received_at: datetime | None = None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    effect: Effect
    attempts: int


SQLITE_BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for another's write lock


def create_db_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL, a busy timeout and its data folder created."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun below, not by pysqlite
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _begin_immediate(connection: Connection) -> None:
            # A deferred transaction that reads and then writes cannot wait for a concurrent
            # writer (SQLite answers "database is locked" at once); taking the write lock up
            # front lets the busy timeout queue writers instead. Reads (Store._reading) stay
            # deferred: in WAL mode they neither wait for a writer nor hold one up.
            reading = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


READ_ONLY = "ticketwarden_read_only"  # execution option of the store's read connections


class WriterLock:
    """What a SQLite store's writers queue on before `BEGIN IMMEDIATE`: a thread lock for the
    threads of this process and, for a database file, an exclusive `flock` on the file
    `<database>.writer-lock` beside it for the other processes (several `ticketwarden worker`s,
    or `serve` beside `worker`, on one file).

    SQLite's own write lock alone makes a poor queue: a writer that finds it taken waits in the
    busy handler, which sleeps in growing steps (1, 2, 5, 10 ... 100 ms) and tries again, asleep
    while the lock is free and often beaten to it again (one process's write waited up to a second
    while another's went on). A blocking flock waits in the kernel and is woken as soon as its
    holder lets go, so the writers take turns (the worst wait in the two-worker benchmark became
    60 ms), and a writer gives up after SQLite's busy timeout (`_lock_file`). The thread lock stays:
    a flock belongs to an open file description, which the threads of a process share.
    `BEGIN IMMEDIATE` stays too, for writers that do not take this lock (`ticketwarden migrate`,
    the sqlite3 shell).

    The file is opened on first use in each process (a forked child must not share its parent's
    description: their flocks would be one), and closed by `close` (the engine's dispose)."""

    def __init__(self, path: str | None, wait: float = SQLITE_BUSY_TIMEOUT) -> None:
        self.path = path  # None: the thread lock only (an in-memory database)
        self.wait = wait  # seconds another process may hold it before a writer gives up
        self._thread = threading.Lock()
        self._fd: int | None = None
        self._pid = 0  # the process `_fd` was opened in
        self._pending_wait: _FlockWait | None = None  # a wait for the flock a writer gave up on

    def __enter__(self) -> None:
        self._thread.acquire()
        try:
            fd = self._file()
            if fd is not None:
                self._lock_file(fd)
        except BaseException:
            self._thread.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def _lock_file(self, fd: int) -> None:
        """Take the file's flock, waiting at most `wait` seconds (as long as SQLite's busy
        timeout would): a process stuck while it holds the lock must not stop every other one
        for good. A blocking flock has no limit of its own, so when the lock is taken it is
        waited for on a thread of its own (`_FlockWait`), which the writer stops waiting for
        at the limit. (Trying again every few milliseconds instead lost the turns: waits of up
        to 115 ms against 5 ms, and a fifth fewer writes, two processes writing at once.)"""
        # One wait at a time per descriptor: a wait given up is taken over by the next writer
        # (two flock calls on one descriptor would both "hold" the one lock).
        pending = self._pending_wait
        if pending is not None and pending.adopt():
            waiting = pending
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._pending_wait = None
                return
            except BlockingIOError:
                waiting = _FlockWait(fd)
        self._pending_wait = waiting
        if waiting.taken(self.wait):
            self._pending_wait = None
            return
        raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
            f"database is locked (another process held its writer lock for {self.wait:g} s)"))

    def _file(self) -> int | None:
        """The lock file of this process (opened under the thread lock, on first use)."""
        if self.path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            # A descriptor from before a fork is the parent's: closing this copy leaves its flock alone.
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                log.warning("no writer lock file %s (%s): writers of other processes wait in SQLite's "
                            "busy handler instead", self.path, exc)
                self.path = None
                return None
            self._pid = os.getpid()
            self._pending_wait = None  # a wait of the parent's: its thread is not in this process
        return self._fd

    def close(self, *_args: object) -> None:
        """Close the lock file (opened again on the next write); a listener of `engine_disposed`."""
        with self._thread:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    @staticmethod
    def for_engine(engine: Engine) -> WriterLock:
        """The lock of a SQLite engine: with a lock file when its database is a file."""
        url = engine.url
        database = url.database or ""
        if database.startswith("file:"):  # a URI filename (`?uri=true`)
            database = "" if url.query.get("mode") == "memory" else database[len("file:"):]
        if database in ("", ":memory:"):
            return WriterLock(None)
        lock = WriterLock(os.path.realpath(database) + ".writer-lock")
        sa_event.listen(engine, "engine_disposed", lock.close)
        return lock


class _FlockWait:
    """A blocking flock taken on a daemon thread, so that whoever waits for it can stop waiting.
    A wait given up stays pending: the next writer of the process takes it over (`adopt`), and
    if it ends with nobody waiting for it any more, the lock is let go at once, never kept."""

    def __init__(self, fd: int) -> None:
        self._fd = os.dup(fd)  # the same lock, and a descriptor of its own to close when done
        self._mutex = threading.Lock()
        self._done = threading.Event()
        self._held = False  # the lock was taken for a writer still waiting
        self._wanted = True  # someone waits for it
        threading.Thread(target=self._take, name="ticketwarden-writer-lock", daemon=True).start()

    def _take(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            with self._mutex:
                if self._wanted:
                    self._held = True
                else:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                self._done.set()
        finally:
            os.close(self._fd)  # a held lock stays: the writer's descriptor shares it

    def taken(self, timeout: float) -> bool:
        """Whether the lock is ours within `timeout` seconds; if not, the wait is given up."""
        self._done.wait(timeout)
        with self._mutex:
            if self._held:
                return True
            self._wanted = False
            return False

    def adopt(self) -> bool:
        """Wait for this pending lock again; False if it already ended (let go: start anew)."""
        with self._mutex:
            if self._done.is_set():
                return False
            self._wanted = True
            return True


_ENCODER = json.JSONEncoder(default=str)  # one for every call: json.dumps with an option makes one each time


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


@dataclass
class _Waiting:
    """A delivery waiting for its group's commit, and what that commit came to."""

    values: Mapping[str, Any]
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False  # woken to store the next group, its own among it
    stored: tuple[bool, int] | None = None
    failed: BaseException | None = None

    def outcome(self) -> tuple[bool, int]:
        if self.failed is not None:
            raise self.failed
        assert self.stored is not None
        return self.stored


class _GroupCommit:
    """Deliveries that arrive while another is being stored are stored together, in one
    transaction, by one of their threads (group commit): the commit's fsync, each delivery's
    cost at intake, is paid once for the group. Every delivery is still answered only once its
    own commit is done. A group the store cannot take now (StoreUnavailable) fails as a whole,
    each of its senders told to retry; a group that fails otherwise is stored again one by one,
    so one delivery's error is its own."""

    def __init__(self, store: Callable[[Sequence[Mapping[str, Any]]], list[tuple[bool, int]]]):
        self._store = store
        self._mutex = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._leading = False  # a thread is storing a group; the others wait to be woken

    def submit(self, values: Mapping[str, Any]) -> tuple[bool, int]:
        mine = _Waiting(values)
        with self._mutex:
            self._waiting.append(mine)
            follows, self._leading = self._leading, True
        if follows:
            mine.woken.wait()
            if not mine.leads:
                return mine.outcome()
        with self._mutex:
            group, self._waiting = self._waiting, []
        try:
            self._store_group(group)
        finally:
            with self._mutex:
                if self._waiting:  # arrived meanwhile: the first of them stores them
                    self._waiting[0].leads = True
                    self._waiting[0].woken.set()
                else:
                    self._leading = False
        return mine.outcome()

    def _store_group(self, group: list[_Waiting]) -> None:
        try:
            for waiting, stored in zip(group, self._store([waiting.values for waiting in group]), strict=True):
                waiting.stored = stored
        except BaseException as exc:  # noqa: BLE001 - handed to each delivery's own thread
            if len(group) > 1 and not isinstance(exc, StoreUnavailable):
                for waiting in group:
                    self._store_group([waiting])
                return
            for waiting in group:  # the store cannot take any now: each is told to retry
                waiting.failed = exc
        for waiting in group:
            waiting.woken.set()


class Store:
    """All reads and writes of the service's own state."""

    def __init__(self, engine: Engine, owner: str = ""):
        self.engine = engine
        self.owner = owner[:128]  # the instance whose claims this store takes (Settings.instance_name)
        self._skip_locked = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # growing steps (its busy handler); writers queue on a lock instead, the writers of
        # other processes on the same file too (`WriterLock`).
        self._write_lock = WriterLock.for_engine(engine) if engine.dialect.name == "sqlite" else None
        # Intake's one statement, built once: the values come as parameters, so a delivery's
        # time under the write lock is the INSERT and the commit, not building the statement.
        self._inbox_insert = self._insert(inbox).on_conflict_do_nothing(index_elements=["source", "dedup_key"])
        self._store_delivery = self._inbox_insert.returning(inbox.c.id)
        self._intake = _GroupCommit(self._store_deliveries)
        # The statements a batch's record runs per clock, follow-up (`_inbox_insert`) and origin change, likewise
        # built once (building them was most of a batch's time in the store: BENCHMARKS.md).
        self._clock_insert = self._insert(sla_clocks).on_conflict_do_nothing(
            index_elements=["tracker", "ticket_id", "policy", "cycle"]).returning(sla_clocks.c.id)
        self._clock_update = sa.update(sla_clocks).where(
            *(sla_clocks.c[name] == sa.bindparam(f"key_{name}") for name in CLOCK_KEY),
            sla_clocks.c.version == sa.bindparam("key_version"),
        ).values({name: sa.bindparam(f"new_{name}") for name in (*CLOCK_STATE, "version")})
        self._origin_insert = self._insert(origin_history).on_conflict_do_nothing(
            index_elements=["tracker", "ticket_id", "event"])

    # -- health ------------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            with self._reading() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except DBAPIError:
            return False

    # -- inbox -------------------------------------------------------------------------------

    def store_delivery(self, *, source: str, shape: str, dedup_key: str, path: str,
                       headers: Mapping[str, str], body: bytes | str,
                       now: datetime, ticket: str | None = None) -> tuple[bool, int]:
        """Insert a delivery unless one with the same key is there: (new?, inbox id). `ticket`:
        its `ticket_ref`, when known at intake."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        values = dict(source=source, shape=shape, dedup_key=dedup_key, path=path, headers=_dumps(dict(headers)),
                      body=text, received_at=now, state=PENDING, attempts=0, available_at=now, ticket=ticket)
        return self._intake.submit(values)

    def _store_deliveries(self, every: Sequence[Mapping[str, Any]]) -> list[tuple[bool, int]]:
        """Deliveries stored in one transaction, each unless one with its key is there (a retry,
        the poller, a concurrent delivery of the same event, an earlier one of the same group)."""
        try:
            with self._writing() as conn:
                return [self._store_one(conn, values) for values in every]
        except OperationalError as exc:
            raise StoreUnavailable(str(exc.orig)) from exc

    def _store_one(self, conn: Connection, values: Mapping[str, Any]) -> tuple[bool, int]:
        inserted = conn.execute(self._store_delivery, values).scalar()
        if inserted is not None:
            return True, int(inserted)
        known: int = conn.execute(sa.select(inbox.c.id).where(
            inbox.c.source == values["source"], inbox.c.dedup_key == values["dedup_key"])).scalar_one()
        return False, int(known)

    def claim_key(self, source: str, dedup_key: str, now: datetime) -> bool:
        """Record a key as handled (no delivery to process); False if it was already there.

        For a happening delivered twice in different shapes (Jira's transition with a comment,
        and the comment's own comment_created): whichever is handled first claims it.
        """
        with self._writing() as conn:
            return self._claim_in(conn, source, dedup_key, "(claimed)", now)

    def _claim_in(self, conn: Connection, source: str, dedup_key: str, path: str, now: datetime) -> bool:
        """Insert a handled row for a key, within `conn`'s transaction; False if the key was there."""
        result = conn.execute(self._insert(inbox).values(
            source=source, shape="claimed", dedup_key=dedup_key, path=path, headers="{}", body="{}",
            received_at=now, state=DONE, attempts=0, available_at=now, processed_at=now,
        ).on_conflict_do_nothing(index_elements=["source", "dedup_key"]).returning(inbox.c.id))
        return bool(result.all())

    def _claim_parts(self, conn: Connection, item_id: int, keys: list[str], now: datetime) -> None:
        """Claim the deliveries an event took in as parts of its save, under its own source."""
        if not keys:
            return
        source = str(conn.execute(sa.select(inbox.c.source).where(inbox.c.id == item_id)).scalar())
        for key in keys:
            if not self._claim_in(conn, source, key, f"(part of inbox {item_id})", now):
                raise PartConflict(f"{key} was delivered on its own meanwhile")

    def known_keys(self, source: str, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        if not keys:
            return set()
        with self._reading() as conn:
            rows = conn.execute(sa.select(inbox.c.dedup_key).where(
                inbox.c.source == source, inbox.c.dedup_key.in_(keys)))
            return {row[0] for row in rows}

    def claim_inbox(self, now: datetime, lease: timedelta, limit: int = 10) -> list[InboxItem]:
        """Due deliveries and events, oldest first, but none of a ticket whose items another live
        claim holds: one worker at a time decides on a ticket, so two never move its clocks at
        once, and its items are decided in the order they came."""
        rows = self._claim(inbox, now, lease, limit)
        return [InboxItem(r.id, r.source, r.shape, r.dedup_key, r.body, r.attempts, r.received_at) for r in rows]

    def complete_inbox(self, item_id: int, *, effects: list[Effect], trace: Mapping[str, Any],
                       tracker: str, ticket_id: str, now: datetime, clocks: Iterable[ClockRow] = (),
                       follow_ups: Iterable[FollowUp] = (), origin_changes: Iterable[OriginChange] = (),
                       facts: Mapping[str, Any] | None = None, parts: Iterable[str] = ()) -> int:
        """Record one decision (see `complete`); returns how many effects were new."""
        done = Completion(item_id, tracker, ticket_id, list(effects), [trace], list(clocks), list(follow_ups),
                          list(origin_changes), facts, list(parts))
        return self.complete([done], now)[0]

    def complete(self, completions: Sequence[Completion], now: datetime) -> list[int]:
        """Record decisions, each with its clocks, follow-up events, outbox rows, origin changes,
        the ticket's facts and breaches, audit traces and done, all in ONE transaction: either
        every item of a batch is done with everything it decided, or none is. Rows of the same
        kind go in one statement (a batch's effects, its audit records, its done marks).

        Returns, per completion, how many of its effects were new (a replayed event's effects
        are already there). Raises ClockConflict when a clock changed since it was read.
        """
        if not completions:
            return []
        rows = self._batch_rows(completions, now)
        with self._writing() as conn:
            for done in completions:
                self._claim_parts(conn, done.item_id, list(done.parts), now)
            self._write_clocks(conn, rows.clocks)
            if rows.follow_ups:
                conn.execute(self._inbox_insert, rows.follow_ups)
            if rows.origins:
                conn.execute(self._origin_insert, rows.origins)
            self._upsert_facts(conn, rows.facts)
            for done in completions:  # after the facts they add to
                if done.breaches:
                    self._count_breaches(conn, done.tracker, done.ticket_id, done.breaches)
            self._upsert_seen(conn, rows.seen)
            new = self._insert_effects(conn, rows.effects)
            if rows.audits:
                conn.execute(sa.insert(audit), rows.audits)
            conn.execute(sa.update(inbox).where(inbox.c.id.in_([done.item_id for done in completions])).values(
                state=DONE, processed_at=now, lease_until=None, last_error=None))
        return [new.get(done.item_id, 0) for done in completions]

    def _batch_rows(self, completions: Sequence[Completion], now: datetime) -> _BatchRows:
        """Every row a batch writes, made before its transaction begins: making them (JSON text
        most of all) was a third of the time a batch held the write lock, which the writers of other
        processes wait for."""
        return _BatchRows(
            clocks=self._clock_rows([row for done in completions for row in done.clocks], now),
            follow_ups=self._follow_up_rows([follow_up for done in completions for follow_up in done.follow_ups], now),
            origins=[self._origin_row(change) for done in completions for change in done.origin_changes],
            facts=self._facts_rows([done.facts for done in completions if done.facts is not None], now),
            seen=self._seen_rows([done.seen for done in completions if done.seen is not None], now),
            effects=[{"effect_key": effect.key, "inbox_id": done.item_id, "tracker": effect.tracker_kind,
                      "ticket_id": effect.ticket_id, "rule": effect.rule, "action": effect.action,
                      "params": _dumps(dict(effect.params)), "state": PENDING, "attempts": 0,
                      "available_at": now, "created_at": now}
                     for done in completions for effect in done.effects],
            audits=[{"at": now, "kind": "decision", "tracker": done.tracker, "ticket_id": done.ticket_id,
                     "subject": str(trace.get("event", ""))[:255], "detail": _dumps(trace)}
                    for done in completions for trace in done.traces])

    def _clock_rows(self, rows: Sequence[ClockRow], now: datetime) -> _ClockRows:
        started = [row for row in rows if row.version == 0]
        moved = [row for row in rows if row.version != 0]
        return _ClockRows(started, [self._clock_values(row, now) for row in started],
                          moved, [self._clock_changes(row, now) for row in moved])

    def _write_clocks(self, conn: Connection, rows: _ClockRows) -> None:
        """Store clocks moved by a batch: the new ones in one INSERT, the others in one versioned
        UPDATE, in the order they moved (a clock started and moved again in the same batch is
        inserted first). A count short of the rows means another process wrote one of these
        clocks since it was read: the whole batch is undone (ClockConflict), and decided again."""
        if rows.started and len(conn.execute(self._clock_insert, rows.started_values).all()) != len(rows.started):
            raise ClockConflict(_conflicting(rows.started))
        if rows.moved and conn.execute(self._clock_update, rows.moved_values).rowcount != len(rows.moved):
            raise ClockConflict(_conflicting(rows.moved))

    def _insert_effects(self, conn: Connection, rows: list[dict[str, Any]]) -> dict[int, int]:
        """The batch's effects in one statement, each key once; how many were new per inbox item."""
        if not rows:
            return {}
        inserted = conn.execute(self._insert(outbox).on_conflict_do_nothing(index_elements=["effect_key"])
                                .returning(outbox.c.inbox_id), rows)
        counts: dict[int, int] = {}
        for row in inserted:
            counts[int(row[0])] = counts.get(int(row[0]), 0) + 1
        return counts

    def seen(self, tracker: str, ticket_id: str) -> Seen | None:
        return self.seen_of([(tracker, ticket_id)]).get((tracker, ticket_id))

    @staticmethod
    def _seen_rows(states: Iterable[Seen], now: datetime) -> list[dict[str, Any]]:
        """The newest state of each ticket among these."""
        newest: dict[tuple[str, str], Seen] = {}
        for seen in states:
            key = (seen.tracker, seen.ticket_id)
            if key not in newest or newest[key].changed_at <= seen.changed_at:
                newest[key] = seen
        return [{"tracker": seen.tracker, "ticket_id": seen.ticket_id, "changed_at": seen.changed_at,
                 "issue": _dumps(dict(seen.issue)), "stale": False, "seen_at": now} for seen in newest.values()]

    def _upsert_seen(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Keep the newer state of each ticket (one statement for a batch): another process may
        have stored a newer one meanwhile."""
        if not rows:
            return
        statement = self._insert(tickets_seen)
        conn.execute(statement.on_conflict_do_update(
            index_elements=["tracker", "ticket_id"],
            set_={"changed_at": statement.excluded.changed_at, "issue": statement.excluded.issue,
                  "stale": False, "seen_at": statement.excluded.seen_at},
            where=sa.or_(tickets_seen.c.stale, tickets_seen.c.changed_at <= statement.excluded.changed_at)), rows)

    def seen_of(self, refs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Seen]:
        """The states seen of these tickets (those never seen are left out)."""
        return {(row.tracker, row.ticket_id): Seen(row.tracker, row.ticket_id, row.changed_at,
                                                   json.loads(row.issue), bool(row.stale))
                for row in self._rows_of_tickets(tickets_seen, refs)}

    def retry_inbox(self, item_id: int, error: str, available_at: datetime) -> None:
        with self._writing() as conn:
            conn.execute(sa.update(inbox).where(inbox.c.id == item_id).values(
                state=PENDING, available_at=available_at, lease_until=None, last_error=error))

    def dead_inbox(self, item_id: int, error: str, now: datetime) -> None:
        with self._writing() as conn:
            conn.execute(sa.update(inbox).where(inbox.c.id == item_id).values(
                state=DEAD, processed_at=now, lease_until=None, last_error=error))

    # -- outbox ------------------------------------------------------------------------------

    def claim_outbox(self, now: datetime, lease: timedelta, limit: int = 10) -> list[OutboxItem]:
        """Due effects, with every other due effect of the same tickets (a ticket's effects are
        written together, in order: a claim never splits them)."""
        rows = self._claim(outbox, now, lease, limit)
        return [OutboxItem(r.id, Effect(r.effect_key, r.action, r.tracker, r.ticket_id, r.rule,
                                        json.loads(r.params)), r.attempts) for r in rows]

    def effect_failed(self, item: OutboxItem, error: str, now: datetime, retry_at: datetime | None) -> None:
        """Schedule a retry, or dead-letter when `retry_at` is None; both are audited."""
        self.record_outcomes([], [Failed(item, error, retry_at)], now)

    def record_outcomes(self, applied: Sequence[Applied], failed: Sequence[Failed], now: datetime) -> None:
        """What writing effects came to, in one transaction: each written effect done (one save
        may have carried several), each failed one scheduled again or dead-lettered; all audited."""
        if not applied and not failed:
            return
        rows: list[dict[str, Any]] = [
            {"row_id": done.item.id, "row_state": DONE, "row_outcome": done.outcome, "row_error": None,
             "row_available": None} for done in applied]
        rows += [{"row_id": lost.item.id, "row_state": PENDING if lost.retry_at else DEAD, "row_outcome": None,
                  "row_error": lost.error, "row_available": lost.retry_at or now} for lost in failed]
        written = {(done.item.effect.tracker_kind, done.item.effect.ticket_id) for done in applied}
        audits = [self._audit_row(now, "effect", done.item, {"outcome": done.outcome}) for done in applied] + [
            self._audit_row(now, "effect-retry" if lost.retry_at else "effect-dead", lost.item,
                            {"error": lost.error, "retry_at": lost.retry_at}) for lost in failed]
        with self._writing() as conn:  # the rows are made: the write lock is held only to write them
            for done in applied:
                if done.origin_change is not None:
                    self._origin_change(conn, done.origin_change)
            conn.execute(_OUTCOME, [row | {"row_now": now} for row in rows])
            conn.execute(_AUDIT, audits)
            if written:
                conn.execute(_STALE, [{"seen_tracker": tracker, "seen_ticket": ticket} for tracker, ticket in written])

    @staticmethod
    def _audit_row(now: datetime, kind: str, item: OutboxItem, detail: Mapping[str, Any]) -> dict[str, Any]:
        effect = item.effect
        return {"at": now, "kind": kind, "tracker": effect.tracker_kind, "ticket_id": effect.ticket_id,
                "subject": effect.rule[:255], "detail": _dumps(
                    {"action": effect.action, "key": effect.key, "attempt": item.attempts, **detail})}

    def close_refused_with(self, item: OutboxItem) -> bool:
        """Whether the decision that planned this effect also sends the ticket's close back (a
        transition planned for the closing event): then the close does not stand."""
        with self._reading() as conn:
            decision = sa.select(outbox.c.inbox_id).where(outbox.c.id == item.id).scalar_subquery()
            rows = conn.execute(sa.select(outbox.c.params).where(
                outbox.c.inbox_id == decision, outbox.c.action == "transition",
                outbox.c.ticket_id == item.effect.ticket_id, outbox.c.tracker == item.effect.tracker_kind))
            texts = [str(row[0]) for row in rows]
            return any(json.loads(text).get("refuses_close") for text in texts)

    def outbox_rows(self, **filters: Any) -> list[dict[str, Any]]:
        return self._rows(outbox, filters)

    def inbox_rows(self, **filters: Any) -> list[dict[str, Any]]:
        return self._rows(inbox, filters)

    def _rows(self, table: sa.Table, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows of a table, oldest first, where each named column equals its value."""
        query = sa.select(table).order_by(table.c.id)
        for name, value in filters.items():
            query = query.where(table.c[name] == value)
        with self._reading() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def audit_rows(self, ticket_id: str | None = None, tracker: str | None = None) -> list[dict[str, Any]]:
        """Audit records, oldest first: of one ticket id, and of one tracker (ids of Redmine and Jira
        tickets may be the same)."""
        query = sa.select(audit).order_by(audit.c.id)
        if ticket_id is not None:
            query = query.where(audit.c.ticket_id == ticket_id)
        if tracker is not None:
            query = query.where(audit.c.tracker == tracker)
        with self._reading() as conn:
            return [dict(row._mapping) | {"detail": json.loads(row.detail)} for row in conn.execute(query)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per state in inbox and outbox (for /readyz and the operator)."""
        with self._reading() as conn:
            return {table.name: self._per_state(conn, table) for table in (inbox, outbox)}

    # -- instances sharing the store (their claims and heartbeats) ------------------------------

    def release_claims(self, now: datetime) -> dict[str, int]:
        """Give back what this instance holds (a restart after a crash, or a stop): due again at
        once. Attempts stay counted, so an effect that may have reached its tracker is checked
        there before it is written again."""
        return self._own_claims(state=PENDING, available_at=now, lease_until=None)

    def renew_claims(self, now: datetime, lease: timedelta) -> int:
        """Keep this instance's claims while it works on them (a heartbeat): a live process's
        slow work is never taken over, a dead one's lapses within one lease."""
        return sum(self._own_claims(lease_until=now + lease).values())

    def _own_claims(self, **values: Any) -> dict[str, int]:
        """Set `values` on the rows this instance holds in both queues; how many, per queue."""
        changed = {}
        with self._writing() as conn:
            for table in (inbox, outbox):
                changed[table.name] = int(conn.execute(sa.update(table).where(
                    table.c.state == PROCESSING, table.c.lease_owner == self.owner).values(**values)).rowcount)
        return changed

    def heartbeat(self, token: str, now: datetime) -> None:
        self.set_value(f"{INSTANCE_VALUE}{self.owner}", token, now)

    def last_heartbeat(self) -> tuple[str, datetime] | None:
        """This instance's last heartbeat (its token, and when), if it ever beat."""
        name = f"{INSTANCE_VALUE}{self.owner}"
        return self.values_named(name).get(name)

    # -- what an operator asks (ticketwarden status / retry) ---------------------------------------

    def queue_summary(self) -> dict[str, dict[str, Any]]:
        """Per queue (inbox, outbox): rows per state, the oldest pending one's time, and how many
        pending rows are waiting for a retry (attempted before) with the next retry's time."""
        summary: dict[str, dict[str, Any]] = {}
        with self._reading() as conn:
            for table, since in ((inbox, inbox.c.received_at), (outbox, outbox.c.created_at)):
                states = self._per_state(conn, table)
                waiting = table.c.state.in_((PENDING, PROCESSING))
                oldest = conn.execute(sa.select(sa.func.min(since)).where(waiting)).scalar()
                retrying = conn.execute(sa.select(sa.func.count(), sa.func.min(table.c.available_at))
                                        .where(table.c.state == PENDING, table.c.attempts > 0)).one()
                summary[table.name] = {"states": states, "oldest_waiting": oldest,
                                       "retrying": int(retrying[0]), "next_retry": retrying[1]}
        return summary

    @staticmethod
    def _per_state(conn: Connection, table: sa.Table) -> dict[str, int]:
        rows: list[Any] = list(conn.execute(sa.select(table.c.state, sa.func.count()).group_by(table.c.state)))
        return {str(state): int(count) for state, count in rows}

    def dead_letters(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest dead-lettered inbox items and effects: what, when, why."""
        with self._reading() as conn:
            items = conn.execute(sa.select(inbox.c.id, inbox.c.source, inbox.c.dedup_key, inbox.c.attempts,
                                           inbox.c.processed_at, inbox.c.last_error)
                                 .where(inbox.c.state == DEAD).order_by(inbox.c.id.desc()).limit(limit)).all()
            effects = conn.execute(sa.select(outbox.c.id, outbox.c.tracker, outbox.c.ticket_id, outbox.c.action,
                                             outbox.c.rule, outbox.c.attempts, outbox.c.available_at,
                                             outbox.c.last_error)
                                   .where(outbox.c.state == DEAD).order_by(outbox.c.id.desc()).limit(limit)).all()
        found = [{"queue": "inbox", "id": row.id, "what": f"{row.source} {row.dedup_key}", "attempts": row.attempts,
                  "at": row.processed_at, "error": row.last_error or ""} for row in items]
        found += [{"queue": "outbox", "id": row.id, "what": f"{row.action} on {row.tracker} {row.ticket_id} "
                   f"(rule {row.rule!r})", "attempts": row.attempts, "at": row.available_at,
                   "error": row.last_error or ""} for row in effects]
        return sorted(found, key=lambda row: row["at"] or datetime.min.replace(tzinfo=UTC), reverse=True)[:limit]

    def requeue(self, queue: str, ids: Sequence[int] | None, now: datetime) -> int:
        """Bring dead-lettered rows back (these ids, or all): taken again at once, with a fresh
        budget of attempts. An effect keeps counting as tried, so its tracker is checked for
        an earlier write before it is written (never twice)."""
        table = {"inbox": inbox, "outbox": outbox}[queue]
        attempts = sa.case((table.c.attempts > 0, 1), else_=0) if table is outbox else 0
        statement = sa.update(table).where(table.c.state == DEAD).values(
            state=PENDING, available_at=now, lease_until=None, attempts=attempts,
            last_error=sa.func.coalesce("re-queued after: " + table.c.last_error, "re-queued"))
        if ids is not None:
            statement = statement.where(table.c.id.in_(list(ids)))
        with self._writing() as conn:
            return int(conn.execute(statement).rowcount)

    def values_named(self, prefix: str) -> dict[str, tuple[str, datetime]]:
        """Named values whose name starts with `prefix`: value and when it was last set."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(named_values).where(named_values.c.name.startswith(prefix)))
            return {row.name: (row.value, row.updated_at) for row in rows}

    def clock_summary(self, now: datetime, within: timedelta) -> tuple[dict[str, int], int]:
        """Clocks per state, and how many have a warning or breach due before now + within."""
        with self._reading() as conn:
            states = self._per_state(conn, sla_clocks)
            soon = conn.execute(sa.select(sa.func.count()).where(sla_clocks.c.next_check <= now + within)).scalar()
        return states, int(soon or 0)

    # -- SLA clocks ------------------------------------------------------------------------------

    def clocks_for(self, tracker: str, ticket_id: str) -> list[ClockRow]:
        with self._reading() as conn:
            rows = conn.execute(sa.select(*CLOCK_COLUMNS).where(
                sla_clocks.c.tracker == tracker, sla_clocks.c.ticket_id == ticket_id).order_by(sla_clocks.c.cycle))
            return [ClockRow.stored(row) for row in rows]

    def all_clocks(self, open_only: bool = True) -> list[ClockRow]:
        query = sa.select(*CLOCK_COLUMNS).order_by(sla_clocks.c.id)
        if open_only:
            query = query.where(sla_clocks.c.state.in_(("running", "paused", "breached")))
        with self._reading() as conn:
            return [ClockRow.stored(row) for row in conn.execute(query)]

    def due_clocks(self, now: datetime, limit: int = 200) -> list[ClockRow]:
        """Clocks whose next warning or breach moment has come."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(*CLOCK_COLUMNS).where(sla_clocks.c.next_check <= now)
                                .order_by(sla_clocks.c.next_check).limit(limit)).all()
            return [ClockRow.stored(row) for row in rows]

    def fire_clock(self, row: ClockRow, follow_ups: Iterable[FollowUp], now: datetime) -> bool:
        """Store a clock's new markers and queue its notifications, once: the update succeeds
        only if nobody changed the clock since it was read (another process, another sweep)."""
        return self.fire_clocks([(row, follow_ups)], now)[0]

    def fire_clocks(self, firings: Sequence[tuple[ClockRow, Iterable[FollowUp]]], now: datetime) -> list[bool]:
        """`fire_clock` for many clocks in one transaction; a clock changed meanwhile is left
        out (False), the others are fired."""
        fired = []
        with self._writing() as conn:
            for row, follow_ups in firings:
                saved = self._save_clock(conn, row, now)
                if saved:
                    self._queue(conn, follow_ups, now)
                fired.append(saved)
        return fired

    def _save_clock(self, conn: Connection, row: ClockRow, now: datetime) -> bool:
        """Store one clock; False when another process wrote it since it was read."""
        if row.version == 0:
            return bool(conn.execute(self._clock_insert, self._clock_values(row, now)).all())
        return conn.execute(self._clock_update, self._clock_changes(row, now)).rowcount == 1

    @staticmethod
    def _clock_state(row: ClockRow, now: datetime) -> dict[str, Any]:
        return dict(history=_dumps([t.to_dict() for t in row.clock.transitions]), state=row.state,
                    due_at=row.due_at, next_check=row.next_check, updated_at=now)

    def _clock_values(self, row: ClockRow, now: datetime) -> dict[str, Any]:
        """A new clock's row (`_clock_insert`)."""
        clock = row.clock
        return dict(tracker=clock.tracker, ticket_id=clock.ticket_id, policy=clock.policy, cycle=clock.cycle,
                    version=1, **self._clock_state(row, now))

    def _clock_changes(self, row: ClockRow, now: datetime) -> dict[str, Any]:
        """A stored clock's versioned update (`_clock_update`)."""
        clock = row.clock
        return {"key_tracker": clock.tracker, "key_ticket_id": clock.ticket_id, "key_policy": clock.policy,
                "key_cycle": clock.cycle, "key_version": row.version, "new_version": row.version + 1,
                **{f"new_{name}": value for name, value in self._clock_state(row, now).items()}}

    def _queue(self, conn: Connection, follow_ups: Iterable[FollowUp], now: datetime) -> None:
        """Put events caused by a decision or a sweep into the inbox, each key once."""
        rows = self._follow_up_rows(follow_ups, now)
        if rows:
            conn.execute(self._inbox_insert, rows)

    @staticmethod
    def _follow_up_rows(follow_ups: Iterable[FollowUp], now: datetime) -> list[dict[str, Any]]:
        return [dict(source=follow_up.source, shape=follow_up.source, dedup_key=follow_up.dedup_key, path="(sla)",
                     headers="{}", body=_dumps(dict(follow_up.body)), received_at=now, state=PENDING, attempts=0,
                     available_at=now, ticket=follow_up.ticket) for follow_up in follow_ups]

    # -- failure origin and ticket facts ---------------------------------------------------------

    def _origin_change(self, conn: Connection, change: OriginChange) -> None:
        conn.execute(self._origin_insert, self._origin_row(change))

    @staticmethod
    def _origin_row(change: OriginChange) -> dict[str, Any]:
        return dict(tracker=change.tracker, ticket_id=change.ticket_id, at=change.at, old=change.old,
                    new=change.new, by_kind=change.by_kind, by=change.by[:255], event=change.event[:255])

    def origin_history(self, tracker: str | None, ticket_id: str) -> list[OriginChange]:
        query = sa.select(origin_history).where(origin_history.c.ticket_id == ticket_id) \
            .order_by(origin_history.c.at, origin_history.c.id)
        if tracker is not None:
            query = query.where(origin_history.c.tracker == tracker)
        with self._reading() as conn:
            return [OriginChange(r.tracker, r.ticket_id, r.at, r.old, r.new, r.by_kind, r.by, r.event)
                    for r in conn.execute(query)]

    def _save_facts(self, conn: Connection, every: Iterable[Mapping[str, Any]], now: datetime) -> None:
        self._upsert_facts(conn, self._facts_rows(every, now))

    @staticmethod
    def _facts_rows(every: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
        last = {(facts["tracker"], facts["ticket_id"]): facts for facts in every}
        return [dict(facts) | {"breaches": facts.get("breaches", 0), "updated_at": now} for facts in last.values()]

    def _upsert_facts(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Tickets' facts, new or updated (the last of each ticket, one statement); a stored breach
        count is kept (the SLA events count it)."""
        if not rows:
            return
        statement = self._insert(ticket_facts)
        kept = {"tracker", "ticket_id", "breaches"}
        conn.execute(statement.on_conflict_do_update(
            index_elements=["tracker", "ticket_id"],
            set_={name: statement.excluded[name] for name in rows[0] if name not in kept}), rows)

    def backfill_ticket(self, tracker: str, ticket_id: str, clocks: Iterable[ClockRow],
                        origin_changes: Iterable[OriginChange], facts: Mapping[str, Any], now: datetime) -> bool:
        """Store a past ticket's rebuilt clocks, origin history and facts, in one transaction;
        False (and nothing stored) when the ticket is already followed."""
        clocks = list(clocks)
        with self._writing() as conn:
            followed = conn.execute(sa.select(ticket_facts.c.ticket_id).where(
                ticket_facts.c.tracker == tracker, ticket_facts.c.ticket_id == ticket_id)).first() or \
                conn.execute(sa.select(sla_clocks.c.id).where(
                    sla_clocks.c.tracker == tracker, sla_clocks.c.ticket_id == ticket_id)).first()
            if followed:
                return False
            for row in clocks:
                self._save_clock(conn, row, now)
            for change in origin_changes:
                self._origin_change(conn, change)
            self._save_facts(conn, [facts], now)
            self._audit(conn, now, "backfill", tracker, ticket_id, "backfilled from the tracker's history",
                        {"clocks": len(clocks)})
        return True

    @staticmethod
    def _count_breaches(conn: Connection, tracker: str, ticket_id: str, count: int) -> None:
        conn.execute(sa.update(ticket_facts).where(
            ticket_facts.c.tracker == tracker, ticket_facts.c.ticket_id == ticket_id,
        ).values(breaches=ticket_facts.c.breaches + count))

    def facts_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Facts of the tickets created in [start, end)."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(ticket_facts).where(
                ticket_facts.c.created_at >= start, ticket_facts.c.created_at < end,
            ).order_by(ticket_facts.c.created_at))
            return [dict(row._mapping) for row in rows]

    def facts_for(self, refs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """Facts of the given (tracker, ticket id) pairs."""
        return [dict(row._mapping) for row in self._rows_of_tickets(ticket_facts, refs)]

    def clocks_of(self, refs: Iterable[tuple[str, str]]) -> list[ClockRow]:
        """Every clock cycle of the given (tracker, ticket id) pairs."""
        return [ClockRow.stored(row) for row in self._rows_of_tickets(sla_clocks, refs, CLOCK_COLUMNS)]

    def _rows_of_tickets(self, table: sa.Table, refs: Iterable[tuple[str, str]],
                         columns: Sequence[sa.ColumnElement[Any]] = ()) -> list[Any]:
        """The rows of a table keyed by (tracker, ticket_id) for these tickets, a few hundred per
        query: the given columns, or all of them."""
        wanted: dict[str, set[str]] = {}
        for tracker, ticket_id in refs:
            wanted.setdefault(tracker, set()).add(ticket_id)
        rows: list[Any] = []
        with self._reading() as conn:
            for tracker, ids in wanted.items():
                ordered = sorted(ids)
                for start in range(0, len(ordered), 500):
                    rows += conn.execute(sa.select(*columns or (table,)).where(
                        table.c.tracker == tracker, table.c.ticket_id.in_(ordered[start:start + 500]))).all()
        return rows

    # -- which ticket a person means (read-only, for the command line) ---------------------------

    def trackers_of(self, ticket_id: str) -> list[str]:
        """The trackers with anything stored about a ticket of this id: Redmine #12 and the Jira
        issue whose id is 12 are different tickets, and a bare 12 may mean either."""
        found: set[str] = set()
        with self._reading() as conn:
            for table in (audit, ticket_facts, sla_clocks, origin_history, outbox):
                found.update(conn.execute(sa.select(table.c.tracker).distinct().where(
                    table.c.ticket_id == ticket_id)).scalars())
            found.update(conn.execute(sa.select(records.c.tracker).distinct().where(
                records.c.target_id == ticket_id)).scalars())
        return sorted(found)

    def ids_with_key(self, tracker: str, key: str) -> list[str]:
        """Ids of the tickets stored under a key (a Jira key names an issue; ids are what the
        store keeps): from their facts, surveys and records, else the decisions' traces, else the
        deliveries themselves."""
        with self._reading() as conn:
            ids: set[str] = set()
            for column, key_column, tracker_column in (
                    (ticket_facts.c.ticket_id, ticket_facts.c.key, ticket_facts.c.tracker),
                    (surveys.c.ticket_id, surveys.c.ticket_key, surveys.c.tracker),
                    (records.c.target_id, records.c.target_key, records.c.tracker)):
                found: list[Any] = list(conn.execute(sa.select(column).where(
                    tracker_column == tracker, key_column == key)).scalars())
                ids.update(str(ident) for ident in found if ident)
            if not ids:
                ids.update(self._decided_ids(conn, tracker, key))
            if not ids:
                ids.update(self._delivered_ids(conn, tracker, key))
        return sorted(ids)

    @staticmethod
    def _decided_ids(conn: Connection, tracker: str, key: str) -> set[str]:
        """Tickets whose decision traces name them by this key (the engine traces tickets by key)."""
        rows = conn.execute(sa.select(audit.c.ticket_id, audit.c.detail).where(
            audit.c.tracker == tracker, audit.c.kind == "decision",
            audit.c.detail.contains(json.dumps(key), autoescape=True)))
        return {str(ticket_id) for ticket_id, detail in rows if json.loads(str(detail)).get("ticket") == key}

    @staticmethod
    def _delivered_ids(conn: Connection, tracker: str, key: str) -> set[str]:
        """Issues whose stored deliveries show them with this key (a webhook's or a poll's issue)."""
        rows = conn.execute(sa.select(inbox.c.body).where(
            inbox.c.source == tracker, inbox.c.body.contains(key, autoescape=True)))
        found = set()
        for (text,) in rows:
            body = json.loads(str(text))
            issue = (body.get("issue") or (body.get("poll") or {}).get("issue")) if isinstance(body, dict) else None
            if isinstance(issue, dict) and issue.get("key") == key and issue.get("id") is not None:
                found.add(str(issue["id"]))
        return found

    def key_of(self, tracker: str, ticket_id: str) -> str | None:
        """The key a ticket was last stored with (its facts, else its latest decision's trace)."""
        with self._reading() as conn:
            key = conn.execute(sa.select(ticket_facts.c.key).where(
                ticket_facts.c.tracker == tracker, ticket_facts.c.ticket_id == ticket_id)).scalar()
            if key:
                return str(key)
            rows = conn.execute(sa.select(audit.c.detail).where(
                audit.c.tracker == tracker, audit.c.ticket_id == ticket_id, audit.c.kind == "decision",
            ).order_by(audit.c.id.desc()))
            for (detail,) in rows:
                shown = str(json.loads(str(detail)).get("ticket", ""))
                if shown and not shown.startswith(f"{tracker}:"):
                    return str(shown)
        return None

    # -- records (development issues, nonconformities, observations) -----------------------------

    def claim_record(self, *, tracker: str, kind: str, cause: str, effect_key: str, sources: Iterable[str],
                     detail: Mapping[str, Any], action_due: datetime | None, review_due: datetime | None,
                     now: datetime, lease: timedelta) -> tuple[RecordRow, bool]:
        """The record of a cause, and whether the caller may create its issue now.

        The first caller inserts it (state `creating`, leased); later callers get it as it is.
        A creation whose lease lapsed (its process died) is taken over, and the same effect
        retrying gets its own claim back: the tracker-side marker then finds an issue created
        before the failure, so the issue is created once whatever happens.
        """
        with self._writing() as conn:
            inserted = conn.execute(self._insert(records).values(
                tracker=tracker, kind=kind, cause=cause[:255], state="creating", created_by=effect_key,
                lease_until=now + lease, sources=_dumps(list(sources)), detail=_dumps(dict(detail)),
                action_due=action_due, review_due=review_due, fired="[]", created_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["tracker", "kind", "cause"]).returning(records.c.id)).all()
            row = self._record_where(conn, records.c.tracker == tracker, records.c.kind == kind,
                                     records.c.cause == cause[:255])
            assert row is not None
            if inserted:
                return row, True
            if row.state != "creating":
                return row, False
            lapsed = row.lease_until is None or row.lease_until < now
            if row.created_by != effect_key and not lapsed:
                return row, False
            taken = conn.execute(sa.update(records).where(
                records.c.id == row.id, records.c.state == "creating", records.c.created_by == row.created_by,
            ).values(created_by=effect_key, lease_until=now + lease, updated_at=now))
            fresh = self._record_where(conn, records.c.id == row.id)
            assert fresh is not None
            return fresh, taken.rowcount == 1

    def record_created(self, record_id: int, *, target_id: str, target_key: str, target_url: str,
                       next_check: datetime | None, now: datetime) -> RecordRow:
        with self._writing() as conn:
            conn.execute(sa.update(records).where(records.c.id == record_id).values(
                state="open", lease_until=None, target_id=target_id, target_key=target_key,
                target_url=target_url, next_check=next_check, updated_at=now))
            row = self._record_where(conn, records.c.id == record_id)
            assert row is not None
            return row

    def add_record_source(self, record_id: int, ticket_id: str, now: datetime) -> bool:
        """Add a source ticket to a record; False when it was one already."""
        with self._writing() as conn:
            query = sa.select(records.c.sources).where(records.c.id == record_id)
            if self._skip_locked:
                query = query.with_for_update()
            sources = json.loads(conn.execute(query).scalar_one())
            if ticket_id in sources:
                return False
            conn.execute(sa.update(records).where(records.c.id == record_id).values(
                sources=_dumps([*sources, ticket_id]), updated_at=now))
            return True

    def record(self, tracker: str, kind: str, cause: str) -> RecordRow | None:
        with self._reading() as conn:
            return self._record_where(conn, records.c.tracker == tracker, records.c.kind == kind,
                                      records.c.cause == cause[:255])

    def records_targeting(self, tracker: str, target_id: str) -> list[RecordRow]:
        """Records whose issue is this ticket (a development issue, a nonconformity...)."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(records).where(
                records.c.tracker == tracker, records.c.target_id == target_id).order_by(records.c.id))
            return [self._record_row(row) for row in rows]

    def records_targeting_any(self, refs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[RecordRow]]:
        """`records_targeting` for many tickets in a few queries: (tracker, ticket id) -> records."""
        wanted: dict[str, set[str]] = {}
        for tracker, ticket_id in refs:
            wanted.setdefault(tracker, set()).add(ticket_id)
        found: dict[tuple[str, str], list[RecordRow]] = {}
        with self._reading() as conn:
            for tracker, ids in wanted.items():
                ordered = sorted(ids)
                for start in range(0, len(ordered), 500):
                    rows = conn.execute(sa.select(records).where(
                        records.c.tracker == tracker, records.c.target_id.in_(ordered[start:start + 500]))
                        .order_by(records.c.id))
                    for row in rows:
                        found.setdefault((tracker, str(row.target_id)), []).append(self._record_row(row))
        return found

    def all_records(self, kind: str | None = None) -> list[RecordRow]:
        query = sa.select(records).order_by(records.c.id)
        if kind is not None:
            query = query.where(records.c.kind == kind)
        with self._reading() as conn:
            return [self._record_row(row) for row in conn.execute(query)]

    def due_records(self, now: datetime, limit: int = 200) -> list[RecordRow]:
        with self._reading() as conn:
            rows = conn.execute(sa.select(records).where(records.c.next_check <= now)
                                .order_by(records.c.next_check).limit(limit))
            return [self._record_row(row) for row in rows]

    def fire_record(self, row: RecordRow, fired: Iterable[str], next_check: datetime | None,
                    follow_ups: Iterable[FollowUp], now: datetime) -> bool:
        """Mark a record's reminders as fired and queue their events, once: only against the
        markers read (another process firing the same reminder loses)."""
        with self._writing() as conn:
            result = conn.execute(sa.update(records).where(
                records.c.id == row.id, records.c.fired == _dumps(list(row.fired)),
            ).values(fired=_dumps(list(fired)), next_check=next_check, updated_at=now))
            if result.rowcount != 1:
                return False
            self._queue(conn, follow_ups, now)
        return True

    def record_due(self, record: RecordRow, action_due: datetime | None, fired: Iterable[str],
                   next_check: datetime | None, now: datetime) -> None:
        """The corrective action's due date moved (people changed it in the tracker)."""
        with self._writing() as conn:
            conn.execute(sa.update(records).where(records.c.id == record.id).values(
                action_due=action_due, fired=_dumps(list(fired)), next_check=next_check, updated_at=now))

    def record_state(self, record_id: int, state: str, next_check: datetime | None, now: datetime,
                     outcome: Mapping[str, str] | None = None) -> None:
        """A record's issue was closed (or reopened): stop (or resume) watching its dates. The
        `outcome` people wrote in it when it closed is kept with its detail."""
        with self._writing() as conn:
            values: dict[str, Any] = {"state": state, "next_check": next_check, "updated_at": now,
                                      "closed_at": now if state == "closed" else None}
            if outcome:
                row = self._record_where(conn, records.c.id == record_id)
                if row is not None:
                    values["detail"] = _dumps({**dict(row.detail), "outcome": dict(outcome)})
            conn.execute(sa.update(records).where(records.c.id == record_id).values(**values))

    def _record_where(self, conn: Connection, *conditions: Any) -> RecordRow | None:
        row = conn.execute(sa.select(records).where(*conditions)).first()
        return None if row is None else self._record_row(row)

    @staticmethod
    def _record_row(row: Any) -> RecordRow:
        return RecordRow(row.id, row.tracker, row.kind, row.cause, row.state, row.created_by, row.target_id,
                         row.target_key, row.target_url, tuple(json.loads(row.sources)), json.loads(row.detail),
                         row.action_due, row.review_due, tuple(json.loads(row.fired)), row.next_check,
                         row.created_at, row.closed_at, row.lease_until)

    # -- satisfaction surveys ----------------------------------------------------------------------

    def secret(self, name: str, now: datetime) -> str:
        """A random secret of this installation, made on first use and the same for every process."""
        import secrets

        with self._writing() as conn:
            conn.execute(self._insert(named_values).values(
                name=name, value=secrets.token_hex(32), updated_at=now).on_conflict_do_nothing(index_elements=["name"]))
            return str(conn.execute(sa.select(named_values.c.value).where(named_values.c.name == name)).scalar_one())

    def create_survey(self, *, token_hash: str, effect_key: str, tracker: str, ticket_id: str, ticket_key: str,
                      ticket_url: str, subject: str, field_ref: str, language: str, now: datetime,
                      expires_at: datetime) -> None:
        """Record a survey once per effect (a retry finds it there). A ticket has one open survey
        at most: a new one withdraws (expires) the ticket's unanswered ones."""
        with self._writing() as conn:
            conn.execute(sa.update(surveys).where(
                surveys.c.tracker == tracker, surveys.c.ticket_id == ticket_id, surveys.c.effect_key != effect_key,
                surveys.c.answered_at.is_(None), surveys.c.expires_at > now).values(expires_at=now))
            conn.execute(self._insert(surveys).values(
                token_hash=token_hash, effect_key=effect_key, tracker=tracker, ticket_id=ticket_id,
                ticket_key=ticket_key[:64], ticket_url=ticket_url[:512], subject=subject[:255], field_ref=field_ref,
                language=language, created_at=now, expires_at=expires_at,
            ).on_conflict_do_nothing(index_elements=["effect_key"]))

    def survey(self, token_hash: str) -> SurveyRow | None:
        with self._reading() as conn:
            row = conn.execute(sa.select(surveys).where(surveys.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return SurveyRow(row.id, row.tracker, row.ticket_id, row.ticket_key, row.ticket_url, row.subject,
                         row.field_ref, row.language, row.expires_at, row.answered_at, row.score, row.comment)

    def answer_survey(self, survey: SurveyRow, score: int, comment: str, now: datetime,
                      effects: Iterable[Effect], follow_ups: Iterable[FollowUp]) -> bool:
        """Store the answer, its write-back effects and its event, once: False when the survey was
        answered meanwhile (or has expired)."""
        with self._writing() as conn:
            taken = conn.execute(sa.update(surveys).where(
                surveys.c.id == survey.id, surveys.c.answered_at.is_(None), surveys.c.expires_at > now,
            ).values(answered_at=now, score=score, comment=comment))
            if taken.rowcount != 1:
                return False
            for effect in effects:
                conn.execute(self._insert(outbox).values(
                    effect_key=effect.key, inbox_id=None, tracker=effect.tracker_kind, ticket_id=effect.ticket_id,
                    rule=effect.rule, action=effect.action, params=_dumps(dict(effect.params)), state=PENDING,
                    attempts=0, available_at=now, created_at=now,
                ).on_conflict_do_nothing(index_elements=["effect_key"]))
            self._queue(conn, follow_ups, now)
            self._audit(conn, now, "survey", survey.tracker, survey.ticket_id, "survey answered",
                        {"score": score, "comment": comment})
        return True

    def survey_answers(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        with self._reading() as conn:
            rows = conn.execute(sa.select(surveys.c.tracker, surveys.c.ticket_id, surveys.c.score,
                                          surveys.c.answered_at).where(
                surveys.c.answered_at >= start, surveys.c.answered_at < end).order_by(surveys.c.answered_at))
            return [dict(row._mapping) for row in rows]  # oldest first: a ticket's latest answer counts

    # -- knowledge base --------------------------------------------------------------------------

    def save_article(self, *, tracker: str, project: str, key: str, title: str, product: str,
                     parts: Mapping[str, str], sources: Sequence[Mapping[str, str]], keywords: Sequence[str],
                     now: datetime) -> tuple[ArticleRow, bool]:
        """The article of a key with these sources in it, and whether this call drafted it. An
        existing article keeps its title and product (its page is named by them); its empty
        parts are filled in, new sources appended, new keywords added."""
        with self._writing() as conn:
            drafted = conn.execute(self._insert(kb_articles).values(
                tracker=tracker, project=project, key=key[:255], title=title[:255], product=product[:255],
                parts=_dumps(dict(parts)), sources=_dumps([dict(s) for s in sources]), keywords=_dumps(list(keywords)),
                created_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["tracker", "project", "key"]).returning(kb_articles.c.id)).all()
            where = (kb_articles.c.tracker == tracker, kb_articles.c.project == project, kb_articles.c.key == key[:255])
            query = sa.select(kb_articles).where(*where)
            row = conn.execute(query.with_for_update() if self._skip_locked else query).one()
            if not drafted:
                known = json.loads(row.parts)
                merged = {name: known.get(name) or parts.get(name) or "" for name in {**parts, **known}}
                listed = json.loads(row.sources)
                ids = {str(s["id"]) for s in listed}
                listed += [dict(s) for s in sources if str(s["id"]) not in ids]
                words = list(dict.fromkeys([*json.loads(row.keywords), *keywords]))
                conn.execute(sa.update(kb_articles).where(kb_articles.c.id == row.id).values(
                    parts=_dumps(merged), sources=_dumps(listed), keywords=_dumps(words), updated_at=now))
                row = conn.execute(sa.select(kb_articles).where(kb_articles.c.id == row.id)).one()
            for number, source in enumerate(json.loads(row.sources)):
                kind = "drafted" if number == 0 else "source"
                conn.execute(self._insert(kb_links).values(
                    tracker=tracker, ticket_id=str(source["id"]), article_id=row.id, kind=kind, at=now,
                ).on_conflict_do_nothing(index_elements=["tracker", "ticket_id", "article_id"]))
            return self._article_row(row), bool(drafted)

    def article_written(self, article_id: int, url: str, now: datetime) -> None:
        with self._writing() as conn:
            conn.execute(sa.update(kb_articles).where(kb_articles.c.id == article_id).values(url=url[:512]))

    def articles(self, tracker: str, project: str | None = None, product: str | None = None) -> list[ArticleRow]:
        """A tracker's articles (of one project, of one product), oldest first."""
        query = sa.select(kb_articles).where(kb_articles.c.tracker == tracker).order_by(kb_articles.c.id)
        if project is not None:
            query = query.where(kb_articles.c.project == project)
        if product is not None:
            query = query.where(kb_articles.c.product == product)
        with self._reading() as conn:
            return [self._article_row(row) for row in conn.execute(query)]

    def article_suggested(self, tracker: str, ticket_id: str, article_ids: Iterable[int], now: datetime) -> None:
        with self._writing() as conn:
            for article_id in article_ids:
                conn.execute(self._insert(kb_links).values(
                    tracker=tracker, ticket_id=ticket_id, article_id=article_id, kind="suggested", at=now,
                ).on_conflict_do_nothing(index_elements=["tracker", "ticket_id", "article_id"]))

    def helped_by_articles(self) -> set[tuple[str, str]]:
        """Tickets an article helped: suggested to them, or a source of an article they did not draft."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(kb_links.c.tracker, kb_links.c.ticket_id).where(
                kb_links.c.kind.in_(("source", "suggested"))).distinct())
            return {(str(tracker), str(ticket_id)) for tracker, ticket_id in rows}

    @staticmethod
    def _article_row(row: Any) -> ArticleRow:
        return ArticleRow(row.id, row.tracker, row.project, row.key, row.title, row.product, row.url,
                          json.loads(row.parts), tuple(json.loads(row.sources)), tuple(json.loads(row.keywords)))

    # -- named values (watermarks) -------------------------------------------------------------

    def get_value(self, name: str) -> str | None:
        with self._reading() as conn:
            return conn.execute(sa.select(named_values.c.value).where(named_values.c.name == name)).scalar()

    def set_value(self, name: str, value: str, now: datetime) -> None:
        with self._writing() as conn:
            statement = self._insert(named_values).values(name=name, value=value, updated_at=now)
            conn.execute(statement.on_conflict_do_update(
                index_elements=["name"], set_={"value": value, "updated_at": now}))

    # -- internals -----------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction that writes (committed at the end, rolled back on an exception)."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def _reading(self) -> Connection:
        """A connection that only reads (see create_db_engine: no write lock on SQLite)."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    def _insert(self, table: sa.Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def _claim(self, table: sa.Table, now: datetime, lease: timedelta, limit: int) -> list[Any]:
        """Take up to `limit` due rows (pending and available, or processing with a lapsed
        lease), none of a ticket another live claim holds; for the outbox also the other due
        rows of the tickets those rows are about (`ClaimStatements`)."""
        claim = _claim_statements(table, self.engine.dialect.name)
        with self._writing() as conn:
            params = {"now": now, "limit": limit}
            found = [row for query in claim.due for row in conn.execute(self._locking(query), params)]
            due_rows: list[Any] = sorted(found, key=lambda row: row[0])[:limit]
            if claim.rest is not None and due_rows:
                taken = [row[0] for row in due_rows]
                due_rows += list(conn.execute(self._locking(claim.rest),
                                              {"now": now, "taken": taken, "limit": len(taken) * 10}))
            # The rows are ours until commit (SQLite: the write lock taken at BEGIN IMMEDIATE;
            # PostgreSQL: FOR UPDATE SKIP LOCKED), so one UPDATE claims them all.
            claimed = [row[0] for row in due_rows]
            if not claimed:
                return []
            taken_rows = conn.execute(claim.take, {"ids": claimed, "until": now + lease, "owner": self.owner})
            return sorted(taken_rows, key=lambda row: row.id)

    def _locking(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """PostgreSQL: the rows a claim reads stay its own until commit, others skip them."""
        return query.with_for_update(skip_locked=True) if self._skip_locked else query

    @staticmethod
    def _audit(conn: Connection, now: datetime, kind: str, tracker: str, ticket_id: str,
               subject: str, detail: Any) -> None:
        conn.execute(sa.insert(audit).values(at=now, kind=kind, tracker=tracker, ticket_id=ticket_id,
                                             subject=subject[:255], detail=_dumps(detail)))


def _conflicting(rows: Sequence[ClockRow]) -> str:
    """Which clocks a conflict was among (one of them changed meanwhile)."""
    named = sorted({f"{row.clock.policy} of {row.clock.tracker}:{row.clock.ticket_id}" for row in rows})
    return f"SLA clock {named[0]} changed meanwhile" if len(named) == 1 else \
        f"one of the SLA clocks {', '.join(named)} changed meanwhile"


@dataclass(frozen=True)
class _ClockRows:
    """A batch's clocks: those it started, and those it moved, each with the values it writes."""

    started: list[ClockRow]
    started_values: list[dict[str, Any]]
    moved: list[ClockRow]
    moved_values: list[dict[str, Any]]


@dataclass(frozen=True)
class _BatchRows:
    """The rows a batch of decisions writes, each kind in one statement (`Store.complete`)."""

    clocks: _ClockRows
    follow_ups: list[dict[str, Any]]
    origins: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    seen: list[dict[str, Any]]
    effects: list[dict[str, Any]]
    audits: list[dict[str, Any]]


@dataclass(frozen=True)
class ClaimStatements:
    """A queue's claim, built once (building statements per claim was a fifth of it): the due
    rows, oldest first, leaving the tickets another live claim holds (one worker at a time on a
    ticket: the inbox by its `ticket`, the outbox by tracker and ticket id); for the outbox,
    the rest of the taken rows' tickets; and the UPDATE that takes them.

    On SQLite the due rows are read by two queries, those pending and available, and those
    whose lease lapsed: as one, with an OR, SQLite read every pending row and sorted them to
    find the oldest (7.5 ms for 100 of 20,000); the pending ones alone are read in claim order
    from the (state, id) index, and the read stops at the limit (0.08 ms). That index replaced
    one on (state, available_at), which SQLite's planner preferred, sorting again, and which
    nothing else needed. On PostgreSQL one query is one round trip less, and its planner, with
    the table's statistics, reads in claim order either way."""

    due: tuple[sa.Select[Any], ...]
    rest: sa.Select[Any] | None  # None: the inbox, whose claim does not take whole tickets
    take: Any


@functools.cache
def _claim_statements(table: sa.Table, dialect: str) -> ClaimStatements:
    now = sa.bindparam("now", type_=UTCDateTime)
    held = table.alias("held")
    whole_tickets = table is outbox
    same_ticket = [held.c.tracker == table.c.tracker, held.c.ticket_id == table.c.ticket_id] if whole_tickets \
        else [held.c.ticket == table.c.ticket]
    fresh, lapsed = (sa.and_(table.c.state == PENDING, table.c.available_at <= now),
                     sa.and_(table.c.state == PROCESSING, table.c.lease_until < now))
    free = ~sa.exists().where(*same_ticket, held.c.state == PROCESSING, held.c.lease_until >= now,
                              held.c.id != table.c.id)
    columns = (table.c.id, table.c.state, table.c.attempts)
    limit: sa.BindParameter[Any] = sa.bindparam("limit")
    due = sa.and_(sa.or_(fresh, lapsed), free)
    due_rows = tuple(sa.select(*columns).where(*condition).order_by(table.c.id).limit(limit) for condition in (
        ((fresh, free), (lapsed, free)) if dialect == "sqlite" else ((due,),)))
    rest_rows = None
    if whole_tickets:
        taken: sa.BindParameter[Any] = sa.bindparam("taken", expanding=True)
        tickets = sa.select(table.c.tracker, table.c.ticket_id).where(table.c.id.in_(taken))
        # On SQLite the states' list, implied by `due`, lets it find the rows by their tickets,
        # from the (tracker, ticket_id, state) index, instead of reading every pending row.
        states = (table.c.state.in_((PENDING, PROCESSING)),) if dialect == "sqlite" else ()
        rest_rows = sa.select(*columns).where(
            *states, due, sa.tuple_(table.c.tracker, table.c.ticket_id).in_(tickets), table.c.id.not_in(taken)
        ).order_by(table.c.id).limit(limit)
    take = sa.update(table).where(table.c.id.in_(sa.bindparam("ids", expanding=True))).values(
        state=PROCESSING, lease_until=sa.bindparam("until", type_=UTCDateTime), lease_owner=sa.bindparam("owner"),
        attempts=table.c.attempts + 1).returning(*(table.c[name] for name in _CLAIMED_COLUMNS[table.name]))
    return ClaimStatements(due_rows, rest_rows, take)


# What a claim reads back of the rows it took: what InboxItem and OutboxItem hold, no more (the
# times of an outbox row, each parsed from text on SQLite, were a sixth of its claim).
_CLAIMED_COLUMNS = {
    "inbox": ("id", "source", "shape", "dedup_key", "body", "attempts", "received_at"),
    "outbox": ("id", "effect_key", "action", "tracker", "ticket_id", "rule", "params", "attempts"),
}


# What writing effects came to (`Store.record_outcomes`), built once: one row each.
_OUTCOME = sa.update(outbox).where(outbox.c.id == sa.bindparam("row_id")).values(
    state=sa.bindparam("row_state"), outcome=sa.bindparam("row_outcome"), last_error=sa.bindparam("row_error"),
    lease_until=None,
    applied_at=sa.case((sa.bindparam("row_state") == DONE, sa.bindparam("row_now", type_=UTCDateTime)),
                       else_=outbox.c.applied_at),
    available_at=sa.func.coalesce(sa.bindparam("row_available", type_=UTCDateTime), outbox.c.available_at))
_AUDIT = sa.insert(audit)
_STALE = sa.update(tickets_seen).where(tickets_seen.c.tracker == sa.bindparam("seen_tracker"),
                                       tickets_seen.c.ticket_id == sa.bindparam("seen_ticket")).values(stale=True)

