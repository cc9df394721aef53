"""SLA glue: clocks from the store, through the pure clock model, back to the store; the sweep
that turns due warnings and breaches into inbox events, exactly once per clock cycle."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from rules.calendar import BusinessCalendar
from rules.durations import format_duration
from rules.pipeline import sla_event_id
from rules.rulebook import Rulebook
from rules.sla import (
    BREACHED,
    WARNED,
    Clock,
    SlaEvent,
    Status,
    calendars_of,
    due_notifications,
    status,
)
from ticketwarden.clock import Clock as WallClock
from ticketwarden.store import ClockRow, FollowUp, Store, ticket_ref

log = logging.getLogger(__name__)
SOURCE = "sla"


class SlaBook:
    """A rulebook's SLA policies with their calendars built once."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.calendars: dict[str, BusinessCalendar] = calendars_of(rulebook)

    def calendar_of(self, policy: str) -> BusinessCalendar:
        return self.calendars[self.rulebook.sla[policy].calendar]

    def quiet_of(self, policy: str) -> BusinessCalendar | None:
        quiet = self.rulebook.sla[policy].quiet_hours
        return self.calendars[quiet] if quiet else None

    def status(self, clock: Clock, now: datetime) -> Status:
        return status(clock, self.rulebook.sla[clock.policy], self.calendar_of(clock.policy), now, self.calendars)

    def row(self, clock: Clock, now: datetime, version: int) -> ClockRow:
        """The clock with what the sweep needs: its state and the next moment something is owed."""
        current = self.status(clock, now)
        checks = []
        if not clock.stopped:
            quiet = self.quiet_of(clock.policy)
            if current.warn_at is not None and not clock.has(WARNED):
                checks.append(quiet.next_working_moment(current.warn_at) if quiet else current.warn_at)
            if current.due_at is not None and not clock.has(BREACHED):
                checks.append(current.due_at)
        return ClockRow(clock, current.state, current.due_at, min(checks) if checks else None, version)


def follow_up(event: SlaEvent, tracker: str, ticket_id: str) -> FollowUp:
    """An SLA event the sweep found, queued for the rules (its key is the event's identity)."""
    return FollowUp(SOURCE, sla_event_id(tracker, ticket_id, event), {"sla": {
        "trigger": event.trigger, "policy": event.policy, "cycle": event.cycle, "at": event.at.isoformat(),
        "tracker": tracker, "ticket_id": ticket_id}}, ticket_ref(tracker, ticket_id))


def sweep(book: SlaBook, store: Store, clock: WallClock, batch: int = 500) -> int:
    """Queue every warning and breach that has come due; returns how many were queued.

    Due clocks are taken a batch at a time until none is left (a backlog after downtime is
    announced in one sweep, not one batch per interval), each batch fired in one transaction.
    Safe with several processes: a clock's markers and its inbox events are written only
    against the version read, and the inbox keys are unique.
    """
    now = clock()
    queued = 0
    handled: set[tuple[str, str, str, int]] = set()
    while True:
        rows = [row for row in store.due_clocks(now, limit=batch) if _ident(row) not in handled]
        if not rows:
            return queued
        handled.update(_ident(row) for row in rows)
        firings = [_firing(book, row, now) for row in rows]
        for (row, follow_ups, owed), fired in zip(firings, store.fire_clocks(
                [(row, follow_ups) for row, follow_ups, _ in firings], now), strict=True):
            if fired:
                queued += len(follow_ups)
                for event in owed:
                    log.info("SLA %s: %s on %s %s (cycle %d)", event.policy, event.trigger, row.clock.tracker,
                             row.clock.ticket_id, event.cycle)


def _ident(row: ClockRow) -> tuple[str, str, str, int]:
    return row.clock.tracker, row.clock.ticket_id, row.clock.policy, row.clock.cycle


def _firing(book: SlaBook, row: ClockRow, now: datetime) -> tuple[ClockRow, list[FollowUp], list[SlaEvent]]:
    """A due clock with its markers added, the events to queue, and what they announce."""
    policy = book.rulebook.sla.get(row.clock.policy)
    if policy is None:  # the policy is gone from the rulebook: nothing more to owe
        return ClockRow(row.clock, row.state, row.due_at, None, row.version), [], []
    owed = due_notifications(row.clock, policy, book.calendar_of(row.clock.policy), now,
                             book.quiet_of(row.clock.policy), book.calendars)
    updated = row.clock
    for marker, _ in owed:
        updated = updated.with_transition(marker)
    follow_ups = [follow_up(event, row.clock.tracker, row.clock.ticket_id) for _, event in owed]
    return book.row(updated, now, row.version), follow_ups, [event for _, event in owed]


def recalc(book: SlaBook, store: Store, now: datetime, apply: bool) -> list[str]:
    """Recompute stored clocks from their history with the current policies and calendars."""
    lines = []
    for row in store.all_clocks(open_only=True):
        if row.clock.policy not in book.rulebook.sla:
            lines.append(f"{row.clock.tracker} {row.clock.ticket_id} {row.clock.policy}: policy no longer defined")
            continue
        fresh = book.row(row.clock, now, row.version)
        if (fresh.state, fresh.due_at, fresh.next_check) == (row.state, row.due_at, row.next_check):
            continue
        lines.append(f"{row.clock.tracker} {row.clock.ticket_id} {row.clock.policy} cycle {row.clock.cycle}: "
                     f"{row.state} due {_iso(row.due_at)} -> {fresh.state} due {_iso(fresh.due_at)}")
        if apply:
            store.fire_clock(fresh, [], now)
    return lines


def show(book: SlaBook, store: Store, tracker: str, ticket_id: str, now: datetime, label: str = "") -> list[str]:
    """Each clock of a ticket with its timeline, in the calendar's local time; `label` is how
    the person named the ticket (a Jira key rather than the id the clocks are stored under)."""
    rows = store.clocks_for(tracker, ticket_id)
    if not rows:
        return [f"no SLA clocks for {label or f'{tracker} ticket {ticket_id}'}"]
    lines = []
    for row in rows:
        clock = row.clock
        known = clock.policy in book.rulebook.sla
        zone = book.calendar_of(clock.policy).zone if known else UTC

        def local(moment: datetime | None, zone: Any = zone) -> str:
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"

        if not known:
            # A stopped clock's outcome is a record: it stays what it was when the clock stopped.
            outcome = f"{row.state} as recorded" if clock.stopped else f"{row.state} when last seen"
            due = f", due {local(row.due_at)}" if row.due_at else ""
            lines.append(f"{clock.policy} cycle {clock.cycle}: {outcome} (the policy is no longer in the "
                         f"rulebook){due}")
        else:
            calendar = book.calendar_of(clock.policy)
            current = book.status(clock, now)
            state = current.state
            if clock.stopped and row.state != current.state:
                state = f"{row.state} as recorded (under the rulebook now it would be {current.state})"
            lines.append(f"{clock.policy} cycle {clock.cycle} on calendar {calendar.name} ({calendar.zone.key}): "
                         f"{state}, target {format_duration(current.target)}, elapsed "
                         f"{format_duration(current.elapsed)}, remaining {format_duration(current.remaining)}, "
                         f"due {local(current.due_at)}")
        for transition in clock.transitions:
            target = f" target {format_duration(transition.target)}" if transition.target is not None else ""
            lines.append(f"  {local(transition.at)}  {transition.kind}{target}  ({transition.reason})")
    return lines


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"



__all__ = ["SlaBook", "follow_up", "recalc", "sweep"]
