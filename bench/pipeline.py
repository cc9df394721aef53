"""Row 2, end to end: plugin deliveries taken in over HTTP, then processed by the real worker
(process_inbox / apply_outbox until drained) with the example rulebook against the stand-in
Redmine; beside the same deliveries parsed and evaluated by the pure engine in-process."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.common import EXAMPLE_RULEBOOK, Row, scaled, started_together
from bench.databases import database
from bench.intake import HEADERS, TOKEN
from bench.loadgen import post_all
from bench.payloads import JOURNAL_BASE, opened, recorded, status_changed
from bench.servers import Counters, own_process, serving
from bench.standin_redmine import PRIORITIES, PROJECTS, STATUSES, TRACKERS, Model, issue_after_update, standin_redmine
from connector.redmine_payloads import Vocabulary, event_from_body, ticket_from_issue
from rules.engine import evaluate
from rules.rulebook import load_rulebook
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build, settle_memory
from ticketwarden.store import DEAD, PENDING, PROCESSING, create_db_engine

WORKER_PROCESSES = 2  # one per core of the 2-core target machine
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # a fixed clock: the same SLA arithmetic every run
FIRST_ID = 500_000


@dataclass(frozen=True)
class Outcome:
    """What one drain did: deliveries, inbox items (derived SLA events included), effects, calls."""

    deliveries: int
    inbox_items: int
    effects: int
    seconds: float
    calls: Counter[str]


def bodies(tickets: int, first: int = FIRST_ID) -> list[dict[str, Any]]:
    """Per ticket: "opened", then the customer's update (all openings first, as they would queue)."""
    opened_template = recorded("plugin-issue-opened.json")
    changed_template = recorded("plugin-issue-updated-status-note-field.json")
    ids = range(first, first + tickets)
    return [opened(i, opened_template) for i in ids] + [status_changed(i, changed_template) for i in ids]


def model_for(tickets: int, first: int = FIRST_ID, journals: int = 1) -> Model:
    """The stand-in's issues `first`.. as they are after the customer's update, with `journals` journals each."""
    return Model({i: issue_after_update(i, JOURNAL_BASE + i, journals) for i in range(first, first + tickets)})


def settings_for(url: str, redmine_url: str, instance: str = "") -> Settings:
    return Settings(database_url=url, rules=(EXAMPLE_RULEBOOK,), redmine_url=redmine_url,
                    redmine_api_key="bench-key", webhook_token=TOKEN, poll_overlap=0,
                    webhook_rate=0,  # one load generator is one address: no per-source limit
                    instance=instance)


@contextmanager
def application(url: str, redmine_url: str) -> Iterator[Application]:
    migrate.upgrade(create_db_engine(url))
    app = build(settings_for(url, redmine_url), clock=lambda: NOW, environ={})
    settle_memory()  # as the service does once started
    try:
        yield app
    finally:
        app.store.engine.dispose()


def drain(app: Application, shared: bool = False) -> tuple[int, int]:
    """Work as the service's loop does (effects written on the pool while the next inbox batch
    is decided) until both queues are empty; returns (inbox items, effects) handled. `shared`:
    other workers drain the same store, so finding nothing to take is not the end while any
    of them still holds work (an item it decides may queue more, and a ticket it holds keeps
    that ticket's later items from this worker's claims until it is done)."""
    items = effects = 0
    while True:
        taken, applied = app.worker.process_inbox(), app.worker.apply_outbox(wait=False)
        items, effects = items + taken, effects + applied
        if taken or applied:
            continue
        if app.worker.applier.pending:
            app.worker.applier.wait(0.05)
            continue
        # Every write has finished and its outcome is queued. A claim made while the last ones
        # were still in flight left their tickets' other effects (one ticket's are written in
        # order): one more pass records the outcomes and takes those.
        again = app.worker.apply_outbox(wait=False)
        effects += again
        if again or app.worker.applier.pending:
            continue
        if shared and _unfinished(app):
            time.sleep(0.002)
            continue
        return items, effects


def _unfinished(app: Application) -> bool:
    """Whether an inbox item or an effect is still waiting or held by a worker."""
    return any(counts.get(PENDING) or counts.get(PROCESSING) for counts in app.store.counts().values())


def take_in(app: Application, posted: list[bytes], threads: int = 2) -> None:
    """POST the deliveries to the app's webhook over HTTP, as Redmine would; all must be accepted
    (one thread keeps their order in the inbox)."""
    with serving(app.app) as base:
        answers = post_all(base + "/webhooks/redmine", posted, HEADERS, threads=threads, deadline=600)
    if answers.statuses.get(202) != len(posted):
        raise RuntimeError(f"intake refused deliveries: {answers.statuses}")


def all_done(app: Application) -> None:
    """Every inbox item and every effect must have ended done; a benchmark that left work
    undone measured nothing."""
    for name, rows in (("inbox items", app.store.inbox_rows), ("effects", app.store.outbox_rows)):
        failed = [row for state in (PENDING, PROCESSING, DEAD) for row in rows(state=state)]
        if failed:
            raise RuntimeError(f"{len(failed)} {name} not done, e.g. {failed[0].get('last_error')}")


def timed_drain(app: Application, model: Model | Counters, deliveries: int) -> Outcome:
    """Time the worker draining what was taken in; every inbox item must end done. `model`:
    the stand-in's model, or its counters when it serves from its own process."""
    model.reset_calls()
    start = time.perf_counter()
    items, effects = drain(app)
    seconds = time.perf_counter() - start
    all_done(app)
    return Outcome(deliveries, items, effects, seconds, Counter(model.calls))


def run_worker(kind: str, tickets: int, server_url: str | None) -> Outcome:
    """Post every delivery (untimed), then time the worker draining them, the stand-in Redmine
    answering from a process of its own as a tracker does."""
    model = model_for(tickets)
    posted = [json.dumps(body).encode() for body in bodies(tickets)]
    with own_process(standin_redmine, model) as (redmine_url, counters), \
            database(kind, "e2e", server_url) as url, application(url, redmine_url) as app:
        take_in(app, posted)
        return timed_drain(app, counters, len(posted))


def _drain_in_child(url: str, redmine_url: str, number: int, ready: Any, go: Any, answers: Any) -> None:
    """One worker process of several sharing the store: its own application, named as the
    deployment names them; says when it is ready, drains when told, answers what it did."""
    import logging
    logging.basicConfig(level=logging.ERROR)
    app = build(settings_for(url, redmine_url, f"bench-worker-{number}"), clock=lambda: NOW, environ={})
    settle_memory()
    try:
        ready.put(number)
        go.wait()
        answers.put(drain(app, shared=True))
    finally:
        app.store.engine.dispose()


def run_workers(kind: str, tickets: int, server_url: str | None, processes: int) -> Outcome:
    """As `run_worker`, drained by `processes` worker processes at once (each claims batches
    of inbox items, and a ticket's effects are written by one at a time), timed from the
    moment all are ready to the moment the last has nothing left."""
    model = model_for(tickets)
    posted = [json.dumps(body).encode() for body in bodies(tickets)]
    with own_process(standin_redmine, model) as (redmine_url, counters), \
            database(kind, "e2e-workers", server_url) as url:
        with application(url, redmine_url) as app:
            take_in(app, posted)
        counters.reset_calls()
        done, seconds = started_together(_drain_in_child, [(url, redmine_url, n) for n in range(processes)])
        with application(url, redmine_url) as app:
            all_done(app)
        return Outcome(len(posted), sum(items for items, _ in done), sum(effects for _, effects in done),
                       seconds, Counter(counters.calls))


def vocabulary() -> Vocabulary:
    """The names behind the stand-in's ids, as the connector would read them."""
    return Vocabulary(
        statuses={str(i): n for i, n, _ in STATUSES}, closed_statuses=frozenset(n for _, n, c in STATUSES if c),
        trackers={str(i): n for i, n in TRACKERS}, priorities={str(i): n for i, n in PRIORITIES},
        projects={str(i): (s, n) for i, s, n in PROJECTS})


def run_pure(tickets: int) -> tuple[float, int]:
    """Seconds to parse and evaluate every delivery in-process, and the effects planned."""
    with open(EXAMPLE_RULEBOOK, encoding="utf-8") as handle:
        rulebook = load_rulebook([(EXAMPLE_RULEBOOK, handle.read())])
    names, model = vocabulary(), model_for(tickets)
    every = bodies(tickets)
    effects = 0
    start = time.perf_counter()
    for body in every:
        event = event_from_body(body, names)
        ticket = ticket_from_issue(model.issues[int(event.ticket_id)], names, "http://127.0.0.1")
        effects += len(evaluate(rulebook, event, ticket, NOW).effects)
    return time.perf_counter() - start, effects


def measure(kind: str, server_url: str | None = None) -> tuple[list[Row], Outcome]:
    tickets = scaled(300, 10)
    outcome = run_worker(kind, tickets, server_url)
    pure = run_pure(tickets)
    rows = end_to_end_rows(f"end to end {kind}", outcome, *pure, f"{tickets} tickets × (opened + status change)")
    # Several workers share a store on either database (SQLite's writers, one at a time, queue
    # on the store's writer lock, a flock across processes: `ticketwarden.store.WriterLock`).
    many = run_workers(kind, tickets, server_url, WORKER_PROCESSES)
    rows.append(Row(f"end to end {kind}, {WORKER_PROCESSES} workers: processed", "deliveries/s",
                    many.deliveries / many.seconds, outcome.deliveries / outcome.seconds, "one worker, same run",
                    f"{WORKER_PROCESSES} worker processes; {many.inbox_items} inbox items, "
                    f"{many.effects} effects applied, "
                    f"{sum(many.calls.values()) / many.deliveries:.2f} tracker calls/delivery"))
    return rows, outcome


def end_to_end_rows(label: str, outcome: Outcome, pure_seconds: float, pure_effects: int, what: str) -> list[Row]:
    """The two rows of an end-to-end run: deliveries per second, tracker calls per delivery."""
    calls = sum(outcome.calls.values())
    note = f"{what}; {outcome.inbox_items} inbox items, {outcome.effects} effects applied"
    return [
        Row(f"{label}: processed", "deliveries/s", outcome.deliveries / outcome.seconds,
            outcome.deliveries / pure_seconds, "parse + engine.evaluate in-process", note),
        Row(f"{label}: tracker calls", "calls/delivery", calls / outcome.deliveries,
            pure_effects / outcome.deliveries, "effects planned by the pure engine",
            "one write per effect would be 1.00×"),
    ]


def summary(outcome: Outcome) -> str:
    """One run in two lines, for `python -m bench.pipeline` and the profiler."""
    return (f"{outcome.deliveries / outcome.seconds:.1f} deliveries/s, "
            f"{sum(outcome.calls.values()) / outcome.deliveries:.2f} calls/delivery "
            f"({outcome.inbox_items} inbox items, {outcome.effects} effects applied)\n"
            + ", ".join(f"{shape} {count}" for shape, count in outcome.calls.most_common()))


def main() -> None:
    """One end-to-end run on SQLite, for a profiler: `py-spy record -- python -m bench.pipeline`."""
    import logging
    logging.basicConfig(level=logging.ERROR)
    print(summary(run_worker("sqlite", scaled(300, 10), None)))


if __name__ == "__main__":
    main()
