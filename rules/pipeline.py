"""One processing step, the same wherever an event is processed: the worker, rule tests,
`replay` and `backfill` all call `process`, so what a rule test shows is what the service does.

    (rulebook, event, ticket, the ticket's clocks, now) -> Step

A Step holds the clocks the event moved, every clock of the ticket afterwards, the decision on
the event and one decision per SLA event the clocks raised (`sla.started`, `sla.met`, a breach
found at a late stop), decided at once on the same ticket and clocks: they happen at the event,
so there is nothing newer to wait for. Warnings and breaches the sweep finds later go through
`decide_sla` instead. Pure: no I/O, `now` is an argument.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.calendar import BusinessCalendar
from rules.engine import SELF, Decision, evaluate
from rules.model import Effect, Event, Ticket
from rules.rulebook import Rulebook
from rules.sla import Clock, SlaEvent, lazy_views, track

IGNORED_NO_TRIGGER = "no trigger (a no-op update or a deletion)"
IGNORED_GONE = "the ticket no longer exists"
IGNORED_OURS = "change made by ticketwarden itself (loop guard)"


@dataclass
class Step:
    """What one event did: clocks moved, clocks after, decisions (the event's first)."""

    moved: list[Clock] = field(default_factory=list)
    clocks: list[Clock] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    sla_events: list[SlaEvent] = field(default_factory=list)

    @property
    def effects(self) -> list[Effect]:
        return [effect for decision in self.decisions for effect in decision.effects]

    @property
    def breaches(self) -> int:
        """Breaches this step recorded (a clock stopped after its due time, before the sweep saw it)."""
        return sum(1 for event in self.sla_events if event.trigger == "sla.breached")


def sla_event_id(tracker: str, ticket_id: str, event: SlaEvent) -> str:
    """An SLA event's identity: one per clock cycle and trigger, whoever raises it."""
    return f"sla:{tracker}:{ticket_id}:{event.policy}:{event.cycle}:{event.trigger}"


def sla_event(tracker: str, ticket_id: str, happened: SlaEvent) -> Event:
    """An SLA happening as an event for the rules, made by ticketwarden."""
    return Event(sla_event_id(tracker, ticket_id, happened), tracker, ticket_id, frozenset({happened.trigger}),
                 happened.at, SELF, sla_policy=happened.policy)


def merged(clocks: Iterable[Clock], moved: Iterable[Clock]) -> list[Clock]:
    """The ticket's clocks with the moved ones in place of their earlier state."""
    after = {(clock.policy, clock.cycle): clock for clock in clocks}
    after.update({(clock.policy, clock.cycle): clock for clock in moved})
    return list(after.values())


def process(rulebook: Rulebook, calendars: Mapping[str, BusinessCalendar], event: Event, ticket: Ticket | None,
            clocks: Sequence[Clock], now: datetime, *, ours: bool = False) -> Step:
    """Process one tracker event. `ours` says the event is ticketwarden's own change: clocks
    follow it (a rule moving a ticket to Feedback pauses its clock), rules do not (loop guard)."""
    step = Step(clocks=list(clocks))
    seen_by_clocks = _as_clocks_see(event) if ours else event
    if ticket is not None and seen_by_clocks.triggers and rulebook.sla:
        updates = track(rulebook, calendars, clocks, seen_by_clocks, ticket)
        step.moved = [update.clock for update in updates]
        step.clocks = merged(clocks, step.moved)
        step.sla_events = [happened for update in updates for happened in update.events]
    states, info = _views(rulebook, calendars, step.clocks, now)
    step.decisions.append(_decide(rulebook, event, ticket, now, states, info, ours))
    if ticket is not None:
        step.decisions += [evaluate(rulebook, sla_event(ticket.tracker_kind, ticket.id, happened), ticket, now,
                                    states, info) for happened in step.sla_events]
    return step


def _as_clocks_see(event: Event) -> Event:
    """ticketwarden's own change as the SLA clocks see it: its status and fields count (a rule
    moving a ticket to Feedback pauses its clock), its notes never do: an acknowledgement, a
    survey invitation or a reminder is not a response by staff."""
    if event.comment is None:
        return event
    return dataclasses.replace(event, comment=None, triggers=event.triggers - {"ticket.commented"})


def decide_sla(rulebook: Rulebook, calendars: Mapping[str, BusinessCalendar], event: Event,
               ticket: Ticket | None, clocks: Sequence[Clock], now: datetime) -> Decision:
    """The rules on an event ticketwarden raised later (a warning or breach the sweep found, a
    record's reminder), on the ticket and clocks as they are now."""
    if ticket is None:
        return _ignored(event, IGNORED_GONE, rulebook.version)
    states, info = _views(rulebook, calendars, clocks, now)
    return evaluate(rulebook, event, ticket, now, states, info)


def _views(rulebook: Rulebook, calendars: Mapping[str, BusinessCalendar], clocks: Sequence[Clock],
           now: datetime) -> tuple[Mapping[str, str], Mapping[str, Mapping[str, Any]]]:
    """What the rules may see of the clocks (`rules.sla.views`), worked out as they read it."""
    return lazy_views(rulebook, calendars, clocks, now) if rulebook.sla else ({}, {})


def _decide(rulebook: Rulebook, event: Event, ticket: Ticket | None, now: datetime,
            states: Mapping[str, str], info: Mapping[str, Mapping[str, Any]], ours: bool) -> Decision:
    if not event.triggers:
        return _ignored(event, IGNORED_NO_TRIGGER)
    if ticket is None:
        return _ignored(event, IGNORED_GONE)
    if ours:
        return _ignored(event, IGNORED_OURS)
    return evaluate(rulebook, event, ticket, now, states, info)


def _ignored(event: Event, why: str, version: str = "") -> Decision:
    return Decision(event.id, f"{event.tracker_kind}:{event.ticket_id}", sorted(event.triggers), version,
                    ignored=why)
