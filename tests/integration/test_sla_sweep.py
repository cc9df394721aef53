"""The SLA sweep fires each warning and breach exactly once: with several processes sweeping
the same store at once, and for clocks that went due while the service was down."""

from __future__ import annotations

import textwrap
import threading
from datetime import UTC, datetime, timedelta

from rules.model import Event, Person
from rules.pipeline import process
from rules.rulebook import load_rulebook
from tests.helpers import ticket
from ticketwarden.sla import SlaBook, sweep
from ticketwarden.store import Store, create_db_engine

BOOK = load_rulebook([("s.yaml", textwrap.dedent("""
    version: 1
    calendars: {always: {timezone: UTC, hours: 24x7}}
    sla:
      resolution: {calendar: always, stop: [status = Closed], targets: [{target: 1h}], warn_at: 50%}
"""))])
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def start_clocks(store: Store, count: int) -> None:
    book = SlaBook(BOOK)
    for number in range(count):
        the_ticket = ticket(id=str(number), created=T0)
        event = Event(f"e{number}", "redmine", str(number), frozenset({"ticket.created"}), T0, Person("1"))
        step = process(BOOK, book.calendars, event, the_ticket, [], T0)
        _, inbox_id = store.store_delivery(source="redmine", shape="poll", dedup_key=f"k{number}", path="-",
                                           headers={}, body="{}", now=T0)
        store.complete_inbox(inbox_id, effects=[], trace={}, tracker="redmine", ticket_id=str(number), now=T0,
                             clocks=[book.row(clock, T0, 0) for clock in step.moved])


def sla_keys(store: Store) -> list[str]:
    return sorted(row["dedup_key"] for row in store.inbox_rows(source="sla"))


def test_concurrent_sweeps_fire_each_notification_once(database_url):
    store = Store(create_db_engine(database_url))
    start_clocks(store, 20)
    assert sla_keys(store) == []  # sla.started was decided with the event that started each clock
    later = T0 + timedelta(hours=2)  # past both the warning and the due time
    # Four "processes": each its own engine (connection pool) on the same database.
    stores = [Store(create_db_engine(database_url)) for _ in range(4)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda s=s: counts.append(sweep(SlaBook(BOOK), s, lambda: later)))
               for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = sla_keys(store)
    assert len(keys) == 40 and len(set(keys)) == 40
    assert sum(counts) == 40  # 20 warnings + 20 breaches, whichever process fired them
    assert sweep(SlaBook(BOOK), store, lambda: later + timedelta(days=1)) == 0
    clocks = [row.clock for row in store.all_clocks(open_only=False)]
    assert all([t.kind for t in c.transitions] == ["started", "warned", "breached"] for c in clocks)
    for other in stores:
        other.engine.dispose()
    store.engine.dispose()


def test_a_clock_that_went_due_while_down_fires_at_start(database_url, tmp_path):
    from ticketwarden import migrate
    from ticketwarden.config import Settings
    from ticketwarden.service import build

    store = Store(create_db_engine(database_url))
    start_clocks(store, 1)
    rules = tmp_path / "s.yaml"
    rules.write_text(textwrap.dedent("""
        version: 1
        calendars: {always: {timezone: UTC, hours: 24x7}}
        sla:
          resolution: {calendar: always, stop: [status = Closed], targets: [{target: 1h}], warn_at: 50%}
        rules: []
    """))
    migrate.upgrade(store.engine)
    # The service starts long after the clock went due (it was down): the first sweep runs at once.
    application = build(Settings(database_url=database_url, rules=(str(rules),), sla_sweep_interval=3600,
                                 rules_watch_interval=0), environ={}, clock=lambda: T0 + timedelta(hours=5))
    scheduler = application.start_background()
    try:
        for _ in range(100):
            if len(sla_keys(store)) == 2:
                break
            threading.Event().wait(0.1)
    finally:
        application.stop()
        scheduler.shutdown(wait=False)
    assert sla_keys(store) == ["sla:redmine:0:resolution:1:sla.breached", "sla:redmine:0:resolution:1:sla.warning"]
    store.engine.dispose()
