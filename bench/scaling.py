"""Scaling: whether the worker's time per delivery stays flat (target: within ±20%) as its
store fills up and as issues' histories grow.

Two rows per kind of database, each the same timed drain (pipeline.py's: "opened", then the
customer's update, for fresh tickets against the stand-in Redmine) measured twice in one run:

* tickets stored: with 1,000 and with 100,000 followed tickets' rows already in the worker's
  database. Each stored ticket is a copy of what one ticket really leaves behind, taken from a
  run of the worker (its inbox, outbox, decision records, SLA clocks, origin history and facts),
  plus its state seen in the stand-in's shape; copies get their own ids and effect keys and go
  in with the driver's executemany, CHUNK rows a statement, before the clock starts;
* journals per issue: on an empty store, with the stand-in's issues carrying 6 and 600
  journals (answered only to `GET /issues/:id.json?include=journals`, as Redmine does).

`.venv/bin/python -m bench.scaling` runs only these rows (SQLite, and PostgreSQL when reachable).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine

from bench.common import Row, scaled
from bench.databases import database, run_alone
from bench.payloads import JOURNAL_BASE
from bench.pipeline import Outcome, application, bodies, model_for, take_in, timed_drain
from bench.servers import own_process
from bench.standin_redmine import issue_after_update, standin_redmine
from ticketwarden.store import _dumps, audit, inbox, origin_history, outbox, sla_clocks, ticket_facts, tickets_seen

FOOTPRINT_ID = 987_654  # the ticket whose rows every stored ticket copies
STORED_FIRST = 1_000_000  # ids of the stored tickets (the drained ones are pipeline.FIRST_ID onwards)
CHUNK = 5_000  # rows per INSERT statement (and transaction) while populating
JOURNALS = (6, 600)  # journals per issue: the reference, then the long history
# inbox first: outbox rows point to it
TABLES = (inbox, outbox, audit, origin_history, sla_clocks, ticket_facts, tickets_seen)
ID_MARK, KEY_MARK = "\x00id\x00", "\x00key\x00"  # where a copy puts its ticket id / its key suffix
KEY_KEPT = 56  # hex digits of an effect key kept; a copy's number (8 hex digits) ends it


@dataclass(frozen=True)
class Sizes:
    tickets: int  # fresh tickets drained, 2 deliveries each
    small: int  # tickets stored, the reference
    large: int


def sizes() -> Sizes:
    """200 tickets drained against 1,000 and 100,000 stored, all scaled by BENCH_SCALE."""
    return Sizes(scaled(200, 20), scaled(1_000, 10), scaled(100_000, 100))


@dataclass(frozen=True)
class Template:
    """One table's rows of the footprint ticket, marked where each copy differs."""

    table: sa.Table
    rows: list[dict[str, Any]]
    marked: list[tuple[str, ...]]  # per row, the text columns holding a mark
    renumbered: tuple[str, ...]  # columns holding an inbox row's number within the ticket
    stride: int  # inbox rows per ticket: copy n's inbox ids start after n * stride


# -- the footprint of one ticket ----------------------------------------------------------------


def captured() -> dict[str, list[dict[str, Any]]]:
    """Every row one ticket leaves in the store after "opened" and the customer's update, from a
    real run of the worker on SQLite: each column is what the store itself writes."""
    model = model_for(1, FOOTPRINT_ID)
    posted = [json.dumps(body).encode() for body in bodies(1, FOOTPRINT_ID)]
    with standin_redmine(model) as redmine_url, database("sqlite", "footprint") as url, \
            application(url, redmine_url) as app:
        take_in(app, posted, threads=1)
        timed_drain(app, model, len(posted))  # for its checks: every item and effect done
        with app.store.engine.connect() as conn:
            return {t.name: [dict(row._mapping) for row in conn.execute(sa.select(t).order_by(*t.primary_key))]
                    for t in TABLES}


def seen_as_served(row: Mapping[str, Any]) -> dict[str, Any]:
    """The stored state seen of the ticket as the stand-in serves the issue (what the worker
    keeps of a fetched issue: everything but the journals)."""
    issue = issue_after_update(FOOTPRINT_ID, JOURNAL_BASE + FOOTPRINT_ID)
    bare = {key: value for key, value in issue.items() if key != "journals"}
    return dict(row) | {"issue": _dumps(bare), "changed_at": datetime.fromisoformat(bare["updated_on"])}


def decisions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ticket's decision records as the worker wrote them (not those of each effect
    written: 100,000 tickets' worth would take most of the time to insert, and the worker
    never reads them)."""
    return [row for row in rows if row["kind"] == "decision"]


def mark(value: Any, keys: list[str]) -> Any:
    """Text with the footprint's effect keys and ticket id replaced by marks (keys first: an id
    may happen to be part of a key)."""
    if not isinstance(value, str):
        return value
    for number, key in enumerate(keys):
        value = value.replace(key, f"\x00k{number}\x00")
    value = value.replace(str(FOOTPRINT_ID), ID_MARK)
    for number, key in enumerate(keys):
        value = value.replace(f"\x00k{number}\x00", key[:KEY_KEPT] + KEY_MARK)
    return value


@functools.cache
def templates() -> tuple[Template, ...]:
    """The footprint, table by table, ready to copy (taken once a process)."""
    rows = captured()
    rows["audit"] = decisions(rows["audit"])
    rows["tickets_seen"] = [seen_as_served(row) for row in rows["tickets_seen"]]
    keys = [row["effect_key"] for row in rows["outbox"]]
    number = {row["id"]: n for n, row in enumerate(rows["inbox"])}  # inbox id -> its number in the ticket
    found = []
    for t in TABLES:
        kept = [{name: mark(value, keys) for name, value in row.items() if name != "id" or t is inbox}
                for row in rows[t.name]]
        renumbered = {"inbox": ("id",), "outbox": ("inbox_id",)}.get(t.name, ())
        for row in kept:
            row.update({name: number[row[name]] for name in renumbered})
        marked = [tuple(n for n, v in row.items() if isinstance(v, str) and "\x00" in v) for row in kept]
        found.append(Template(t, kept, marked, renumbered, len(rows["inbox"])))
    return tuple(found)


# -- populating -----------------------------------------------------------------------------------


def bound(template: Template, dialect: Dialect) -> list[list[Any]]:
    """The template's rows as the driver takes them (each column's type has converted its value:
    datetimes, booleans), in the table's column order; marks and numbers are left to fill."""
    columns = list(template.rows[0])
    processors = {name: template.table.c[name].type.bind_processor(dialect) for name in columns}
    keep = set(template.renumbered) | {name for marked in template.marked for name in marked}
    return [[value if name in keep or processors[name] is None else processors[name](value)
             for name, value in row.items()] for row in template.rows]


def copies(template: Template, count: int, dialect: Dialect) -> Iterator[list[tuple[Any, ...]]]:
    """The template's rows for `count` stored tickets, as tuples, CHUNK rows (or a little more)
    at a time: only the marked columns and the inbox numbers differ between copies."""
    columns = list(template.rows[0])
    fills = [[(columns.index(name), name in template.renumbered) for name in (*marked, *template.renumbered)]
             for marked in template.marked]
    rows = bound(template, dialect)
    chunk: list[tuple[Any, ...]] = []
    for n in range(count):
        ticket, suffix, base = str(STORED_FIRST + n), f"{n:08x}", n * template.stride + 1
        for row, fill in zip(rows, fills, strict=True):
            copy = list(row)
            for index, number in fill:
                copy[index] = row[index] + base if number else \
                    row[index].replace(ID_MARK, ticket).replace(KEY_MARK, suffix)
            chunk.append(tuple(copy))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_sql(template: Template, dialect: Dialect) -> str:
    """A plain INSERT of the template's columns in the driver's parameter style."""
    columns = list(template.rows[0])
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(columns))
    return f"INSERT INTO {template.table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - schema names


def populate(engine: Engine, count: int) -> int:
    """Every table's footprint rows for `count` tickets, through the driver's executemany (one
    statement and transaction a chunk: SQLAlchemy's own per-row work would double the time);
    returns the rows inserted."""
    inserted = 0
    for template in templates():
        statement = insert_sql(template, engine.dialect)
        for chunk in copies(template, count, engine.dialect):
            with engine.begin() as conn:
                conn.exec_driver_sql(statement, chunk)
            inserted += len(chunk)
    settle(engine)
    return inserted


def settle(engine: Engine) -> None:
    """Leave the database as a long-running one would be before the clock starts: PostgreSQL's
    inbox sequence past the copied ids, its tables vacuumed and analysed (autovacuum would
    otherwise do it during the drain, on a freshly filled table); SQLite's WAL checkpointed."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('inbox', 'id'), (SELECT max(id) FROM inbox))")
            conn.exec_driver_sql("VACUUM ANALYZE")
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


# -- the timed drains ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drained:
    """One timed drain and what surrounded it."""

    outcome: Outcome
    stored_rows: int = 0
    populate_seconds: float = 0.0
    journal_reads: int = 0

    @property
    def ms_per_delivery(self) -> float:
        return 1000 * self.outcome.seconds / self.outcome.deliveries


def drained(kind: str, server_url: str | None, tickets: int, stored: int = 0, journals: int = 1) -> Drained:
    """Populate `stored` tickets (untimed), take in the fresh deliveries (untimed), then time
    the worker draining them against issues with `journals` journals each."""
    model = model_for(tickets, journals=journals)
    posted = [json.dumps(body).encode() for body in bodies(tickets)]
    with own_process(standin_redmine, model) as (redmine_url, counters), \
            database(kind, "scaling", server_url) as url, application(url, redmine_url) as app:
        start = time.perf_counter()
        rows = populate(app.store.engine, stored) if stored else 0
        took = time.perf_counter() - start
        take_in(app, posted)
        outcome = timed_drain(app, counters, len(posted))
        return Drained(outcome, rows, took, counters.journal_reads)


def store_row(kind: str, size: Sizes, small: Drained, large: Drained) -> Row:
    return Row(f"scaling {kind}: {size.large:,} tickets stored", "ms/delivery", large.ms_per_delivery,
               small.ms_per_delivery, f"same drain, {size.small:,} tickets stored",
               f"{size.tickets} tickets × (opened + status change); {large.stored_rows:,} rows copied "
               f"in {large.populate_seconds:.0f}s; target 0.80-1.20×")


def journals_row(kind: str, size: Sizes, few: Drained, many: Drained) -> Row:
    return Row(f"scaling {kind}: {JOURNALS[1]} journals/issue", "ms/delivery", many.ms_per_delivery,
               few.ms_per_delivery, f"same drain, {JOURNALS[0]} journals/issue",
               f"{size.tickets} tickets, empty store; GETs with journals: {many.journal_reads} "
               f"({few.journal_reads} with {JOURNALS[0]}); target 0.80-1.20×")


def measure(kind: str, server_url: str | None = None) -> list[Row]:
    """Both pairs on one kind of database; each pair's small case first."""
    size = sizes()
    small = drained(kind, server_url, size.tickets, size.small)
    large = drained(kind, server_url, size.tickets, size.large)
    few = drained(kind, server_url, size.tickets, journals=JOURNALS[0])
    many = drained(kind, server_url, size.tickets, journals=JOURNALS[1])
    return [store_row(kind, size, small, large), journals_row(kind, size, few, many)]


def main() -> None:
    run_alone("scaling", measure)


if __name__ == "__main__":
    main()
