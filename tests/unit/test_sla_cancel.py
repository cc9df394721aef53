"""A clock whose policy stops applying (the ticket left the project, its tracker changed) is
cancelled: neither met nor breached, and shown so; when the policy applies again a new cycle
starts then, not backdated to the ticket's creation. A stop at the same moment wins."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from rules.calendar import BusinessCalendar
from rules.model import Change, Event, Ticket
from rules.pipeline import process
from rules.rulebook import load_rulebook
from tests.unit.test_own_notes import AGENT, CUSTOMER, T0, ticket

CANCELLING = """
version: 1
calendars: {always: {timezone: UTC, hours: 24x7}}
sla:
  resolution:
    applies: [project = support]
    calendar: always
    stop: [status = Closed]
    targets: [{target: 4h}]
rules:
  - {name: n, on: [ticket.created], then: [{comment: {body: hi}}]}
"""


def moved(project: str, minutes: int, status: str = "New") -> tuple[Event, Ticket]:
    event = Event(f"redmine:7:journal:m{minutes}", "redmine", "7", frozenset({"ticket.updated"}),
                  T0 + timedelta(minutes=minutes), actor=AGENT, changes=(Change("project", "x", project),))
    return event, dataclasses.replace(ticket(status), project=project, project_name=project.title())


def test_a_clock_whose_policy_stops_applying_is_cancelled_and_a_new_one_starts_when_it_applies_again():
    from rules.sla import status

    book = load_rulebook([("c.yaml", CANCELLING)])
    calendars = {name: BusinessCalendar.from_calendar(c) for name, c in book.calendars.items()}
    created = Event("redmine:7:created", "redmine", "7", frozenset({"ticket.created"}), T0, actor=CUSTOMER)
    clocks = process(book, calendars, created, ticket(), [], T0).clocks
    # moved out of support after 5 hours (past its target): cancelled, neither met nor breached
    step = process(book, calendars, *moved("elsewhere", 300), clocks, T0 + timedelta(minutes=300))
    [clock] = step.clocks
    assert clock.cancelled and status(clock, book.sla["resolution"], calendars["always"],
                                      T0 + timedelta(days=1)).state == "cancelled"
    assert step.sla_events == []  # no sla.met, no sla.breached
    # back in support the next day: a new cycle, from then (not backdated to the creation)
    back = process(book, calendars, *moved("support", 1440), step.clocks, T0 + timedelta(minutes=1440))
    assert [event.trigger for event in back.sla_events] == ["sla.started"]
    second = max(back.clocks, key=lambda c: c.cycle)
    assert second.cycle == 2 and second.transitions[0].at == T0 + timedelta(minutes=1440)
    # closing while moved out stops, not cancels: the stop wins
    closing = process(book, calendars, *moved("elsewhere", 60, status="Closed"), clocks, T0 + timedelta(minutes=60))
    [stopped] = closing.clocks
    assert stopped.stopped and not stopped.cancelled
