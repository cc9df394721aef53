"""`sla show` on a stopped clock shows the outcome recorded when it stopped, whatever the
rulebook says now: a tightened target does not turn a met promise into a breach after the
fact, and a policy that is gone still shows what its clocks came to. On both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.rulebook import load_rulebook
from rules.sla import STARTED, STOPPED, Clock, Transition
from ticketwarden.sla import SlaBook, show

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def book(target: str, policy: str = "resolution") -> SlaBook:
    return SlaBook(load_rulebook([("r.yaml", f"""
version: 1
calendars: {{always: {{timezone: UTC, hours: 24x7}}}}
sla:
  {policy}:
    calendar: always
    stop: [status = Closed]
    targets: [{{target: {target}}}]
rules:
  - {{name: n, on: [ticket.created], then: [{{comment: {{body: hi}}}}]}}
""")]))


def test_a_stopped_clock_shows_its_recorded_outcome_after_the_rulebook_changed(store):
    then = book("4h")
    clock = Clock("redmine", "7", "resolution", 1, (Transition(STARTED, T0, timedelta(hours=4), "started", 0),
                                                      Transition(STOPPED, T0 + timedelta(hours=3), reason="closed")))
    now = T0 + timedelta(days=2)
    assert store.fire_clocks([(then.row(clock, T0 + timedelta(hours=3), 0), [])], now) == [True]

    [first] = show(then, store, "redmine", "7", now)[:1]
    assert ": met, target 4h" in first

    [tightened] = show(book("2h"), store, "redmine", "7", now)[:1]
    assert "met as recorded (under the rulebook now it would be breached)" in tightened

    gone = show(book("8h", policy="other"), store, "redmine", "7", now)
    assert gone[0] == "resolution cycle 1: met as recorded (the policy is no longer in the rulebook)"
    assert gone[1:] == ["  2026-11-23 09:00:00 UTC  started target 4h  (started)",
                        "  2026-11-23 12:00:00 UTC  stopped  (closed)"]
