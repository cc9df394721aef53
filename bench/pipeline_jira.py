"""End to end for Jira: signed Jira Cloud webhook deliveries taken in over HTTP, then processed by
the real worker (process_inbox / apply_outbox until drained) with examples/rulebooks/jira-support.yaml
against the stand-in Jira; beside the same deliveries parsed and evaluated by the pure engine.

    .venv/bin/python -m bench.pipeline_jira   # one SQLite run alone, with the call breakdown
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import requests

from bench.common import ROOT, Row, scaled
from bench.databases import database
from bench.jira_payloads import SECRET, created, recorded, signed, status_changed
from bench.pipeline import NOW, Outcome, all_done, drain, end_to_end_rows, summary
from bench.servers import own_process, serving
from bench.standin_jira import Model, field_list, issue_after_update, standin_jira
from connector.jira_payloads import event_from_body, ticket_from_issue
from rules.engine import evaluate
from rules.rulebook import load_rulebook
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build, settle_memory
from ticketwarden.store import create_db_engine

JIRA_RULEBOOK = os.path.join(ROOT, "examples", "rulebooks", "jira-support.yaml")
FIRST_ID = 600_000
API_TOKEN = "bench-token"  # noqa: S105 - the stand-in Jira on 127.0.0.1 accepts any credentials
Delivery = tuple[bytes, dict[str, str]]


def bodies(tickets: int) -> list[dict[str, Any]]:
    """Per ticket: created, then the agent's update (all creations first, as they would queue)."""
    created_template = recorded("cloud-issue-created.json")
    changed_template = recorded("cloud-issue-updated-status.json")
    ids = range(FIRST_ID, FIRST_ID + tickets)
    return [created(i, created_template) for i in ids] + [status_changed(i, changed_template) for i in ids]


def deliveries(tickets: int) -> list[Delivery]:
    """The bodies signed as Jira signs them, each with its own delivery identifier."""
    return [signed(body, f"bench-{n}") for n, body in enumerate(bodies(tickets))]


def model_for(tickets: int) -> Model:
    return Model({str(i): issue_after_update(i) for i in range(FIRST_ID, FIRST_ID + tickets)})


@contextmanager
def application(url: str, jira_url: str) -> Iterator[Application]:
    """The real app, configured for Jira Cloud only (e-mail + API token, signed webhooks)."""
    migrate.upgrade(create_db_engine(url))
    settings = Settings(database_url=url, rules=(JIRA_RULEBOOK,), jira_url=jira_url,
                        jira_user="ticketwarden@example.test", jira_api_token=API_TOKEN,
                        jira_webhook_secret=SECRET, poll_overlap=0,
                        webhook_rate=0)  # one load generator is one address: no per-source limit
    app = build(settings, clock=lambda: NOW, environ={})
    settle_memory()  # as the service does once started
    try:
        yield app
    finally:
        app.store.engine.dispose()


def post_signed(url: str, posted: Sequence[Delivery], threads: int = 2) -> Counter[int]:
    """POST every delivery with its own headers (each is signed); the answers' statuses.
    The shared load generator sends one set of headers for all bodies, which a signature cannot."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def worker(share: Sequence[Delivery]) -> None:
        seen: Counter[int] = Counter()
        with requests.Session() as session:
            for data, headers in share:
                seen[session.post(url, data=data, headers=headers, timeout=30).status_code] += 1
        with lock:
            statuses.update(seen)

    pool = [threading.Thread(target=worker, args=(posted[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return statuses


def run_worker(kind: str, tickets: int, server_url: str | None) -> tuple[Outcome, dict[str, int]]:
    """Post every delivery (untimed), then time the worker draining them, the stand-in Jira
    answering from a process of its own as a tracker does. Also returns what the connector
    asked that the stand-in does not serve."""
    model = model_for(tickets)
    posted = deliveries(tickets)
    with own_process(standin_jira, model) as (jira_url, counters), database(kind, "e2e-jira", server_url) as url, \
            application(url, jira_url) as app:
        with serving(app.app) as base:
            statuses = post_signed(base + "/webhooks/jira", posted)
        if statuses.get(202) != len(posted):
            raise RuntimeError(f"intake refused deliveries: {dict(statuses)}")
        counters.reset_calls()
        start = time.perf_counter()
        items, effects = drain(app)
        seconds = time.perf_counter() - start
        all_done(app)
        return Outcome(len(posted), items, effects, seconds, Counter(counters.calls)), dict(counters.unknown)


def field_names() -> dict[str, str]:
    """Custom field id -> name, as the connector reads them from the stand-in's GET /field."""
    return {f["id"]: f["name"] for f in field_list() if f["custom"]}


def run_pure(tickets: int) -> tuple[float, int]:
    """Seconds to parse and evaluate every delivery in-process (the ticket as the delivery
    carries it, which is what the worker decides on too), and the effects planned."""
    with open(JIRA_RULEBOOK, encoding="utf-8") as handle:
        rulebook = load_rulebook([(JIRA_RULEBOOK, handle.read())])
    names, every = field_names(), bodies(tickets)
    effects = 0
    start = time.perf_counter()
    for body in every:
        event = event_from_body(body, names)
        ticket = ticket_from_issue(body["issue"], "http://127.0.0.1", names)
        effects += len(evaluate(rulebook, event, ticket, NOW).effects)
    return time.perf_counter() - start, effects


def measure(kind: str, server_url: str | None = None) -> tuple[list[Row], Outcome]:
    tickets = scaled(300, 10)
    outcome, unknown = run_worker(kind, tickets, server_url)
    if unknown:
        raise RuntimeError(f"the connector asked what the stand-in Jira does not serve: {unknown}")
    return end_to_end_rows(f"end to end {kind} jira", outcome, *run_pure(tickets),
                           f"{tickets} issues × (created + status change)"), outcome


def main() -> None:
    """One end-to-end run on SQLite, for a profiler: `py-spy record -- python -m bench.pipeline_jira`."""
    import logging
    logging.basicConfig(level=logging.ERROR)
    print(summary(run_worker("sqlite", scaled(300, 10), None)[0]))


if __name__ == "__main__":
    main()
