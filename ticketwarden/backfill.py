"""`ticketwarden backfill --since DATE`: the indicators from day one.

Past tickets are read through the connector (their journals or changelogs) and replayed with
the current rulebook: SLA clocks, failure-origin history and ticket facts are rebuilt in the
store. Nothing is written to the tracker and no rule runs: a backfilled clock that breached
long ago is recorded as breached, not announced. A ticket ticketwarden already follows keeps
what it has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rules.measures import ticket_facts
from rules.model import Event, Ticket
from rules.pipeline import process
from rules.rulebook import Rulebook
from rules.sla import Clock, due_notifications
from ticketwarden.sla import SlaBook
from ticketwarden.store import ClockRow, OriginChange, Store

log = logging.getLogger(__name__)


class HistoryReader(Protocol):
    kind: str

    def past_ticket_ids(self, since: datetime) -> list[str]: ...

    def history(self, ticket_id: str) -> list[tuple[Event, Ticket]]: ...


@dataclass
class Summary:
    tickets: int = 0
    skipped: int = 0  # already followed live
    events: int = 0
    clocks: int = 0
    origin_changes: int = 0


def backfill(store: Store, connector: HistoryReader, rulebook: Rulebook, since: datetime, now: datetime,
             progress: Callable[[Iterable[str]], Iterable[str]] = lambda items: items) -> Summary:
    """Rebuild what the store would know had ticketwarden been running since `since`."""
    summary = Summary()
    book = SlaBook(rulebook) if rulebook.sla else None
    for ticket_id in progress(connector.past_ticket_ids(since)):
        steps = connector.history(ticket_id)
        if not steps:
            continue
        clocks, changes = _replay(rulebook, book, steps, now)
        final = steps[-1][1]
        facts = ticket_facts(rulebook, final, rulebook.staff.roles_of, now)
        facts["breaches"] = sum(1 for row in clocks if book and _breached(book, row.clock, now))
        if store.backfill_ticket(connector.kind, ticket_id, clocks, changes, facts, now):
            summary.tickets += 1
            summary.events += len(steps)
            summary.clocks += len(clocks)
            summary.origin_changes += len(changes)
        else:
            summary.skipped += 1
    return summary


def _replay(rulebook: Rulebook, book: SlaBook | None, steps: list[tuple[Event, Ticket]],
            now: datetime) -> tuple[list[ClockRow], list[OriginChange]]:
    """Each past event through the same step as in the worker; its decisions are dropped:
    backfill announces nothing."""
    clocks: list[Clock] = []
    changes: list[OriginChange] = []
    origin_ref = rulebook.origin_ref(steps[0][1].tracker_kind)
    for event, ticket in steps:
        clocks = process(rulebook, book.calendars if book else {}, event, ticket, clocks, event.occurred_at).clocks
        change = OriginChange.by_person(origin_ref, event, ticket)
        if change is not None:
            changes.append(change)
    rows = []
    for clock in clocks:
        if book is None:
            continue
        policy = rulebook.sla[clock.policy]
        # What fell due long ago is recorded as done, so the sweep does not announce it now.
        for marker, _ in due_notifications(clock, policy, book.calendar_of(clock.policy), now, None, book.calendars):
            clock = clock.with_transition(marker)
        rows.append(book.row(clock, now, 0))
    return rows, changes


def _breached(book: SlaBook, clock: Clock, now: datetime) -> bool:
    return book.status(clock, now).breached_at is not None
