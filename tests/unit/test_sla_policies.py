"""Policy semantics admins asked about: business-day targets, a calendar per target, targets
scaled by condition, when a clock starts (when the policy starts to apply, or `since: created`),
and a close that a rule sends back, which is not a reopen."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from rules.calendar import BusinessCalendar
from rules.errors import RulebookInvalid
from rules.model import Change, Event, Person, Ticket
from rules.pipeline import process
from rules.rulebook import load_rulebook
from rules.sla import CLOSE_REFUSED, REOPENED, STOPPED, Clock, Transition, status
from tests.unit.test_own_notes import AGENT, CUSTOMER, ticket

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 2026-11-23 is a Monday

BOOK = """
version: 1
calendars:
  office: {timezone: UTC, hours: {mon-fri: ["09:00-17:00"]}}
  always: {timezone: UTC, hours: 24x7}
sla:
  resolution:
    applies: [project = support]
    calendar: office
    stop: [status = Closed]
    scale:
      - {when: [labels contains vip], factor: 0.5}
    targets:
      - {when: [priority = Urgent], target: 4h, calendar: always}
      - {when: [priority = High], target: 2bd}
      - {target: 16h}
  urgent-response:
    applies: [priority = Urgent]
    calendar: always
    stop: [status = Closed]
    targets: [{target: 1h}]
  urgent-since-created:
    applies: [priority = Urgent]
    since: created
    calendar: always
    stop: [status = Closed]
    targets: [{target: 1h}]
rules:
  - {name: n, on: [ticket.created], then: [{comment: {body: hi}}]}
"""


@pytest.fixture(scope="module")
def book():
    return load_rulebook([("p.yaml", BOOK)])


@pytest.fixture(scope="module")
def calendars(book):
    return {name: BusinessCalendar.from_calendar(c) for name, c in book.calendars.items()}


def a_ticket(priority: str = "Normal", labels: tuple[str, ...] = (), created: datetime = MONDAY) -> Ticket:
    return dataclasses.replace(ticket(), project="support", project_name="Support", priority=priority,
                               labels=labels, created=created)


def created_event(at: datetime = MONDAY) -> Event:
    return Event("redmine:7:created", "redmine", "7", frozenset({"ticket.created"}), at, actor=CUSTOMER)


def changed(at: datetime, *changes: Change, key: str = "j1") -> Event:
    return Event(f"redmine:7:journal:{key}", "redmine", "7", frozenset({"ticket.updated"}), at, actor=AGENT,
                 changes=changes)


def clock_of(clocks: list[Clock], policy: str) -> Clock:
    return max((c for c in clocks if c.policy == policy), key=lambda c: c.cycle)


def test_business_days_are_due_at_the_same_point_of_the_working_day(book, calendars):
    """Friday 15:00 + 2bd on Mon-Fri 09-17: Tuesday 15:00 (the weekend does not count)."""
    friday = MONDAY + timedelta(days=4, hours=6)
    step = process(book, calendars, created_event(friday), a_ticket("High", created=friday), [], friday)
    clock = clock_of(step.clocks, "resolution")
    current = status(clock, book.sla["resolution"], calendars["office"], friday, calendars)
    assert current.due_at == MONDAY + timedelta(days=8, hours=6)  # the Tuesday after
    assert current.target == timedelta(hours=16)  # two working days of this calendar, as working time


def test_a_target_with_its_own_calendar_runs_on_it(book, calendars):
    """Urgent on 24x7: Friday 16:00 + 4h is Friday 20:00, not Monday morning."""
    friday = MONDAY + timedelta(days=4, hours=7)
    step = process(book, calendars, created_event(friday), a_ticket("Urgent", created=friday), [], friday)
    current = status(clock_of(step.clocks, "resolution"), book.sla["resolution"], calendars["office"], friday,
                     calendars)
    assert current.due_at == friday + timedelta(hours=4)


def test_a_raised_priority_counts_the_rest_on_the_new_targets_calendar(book, calendars):
    """Normal (16h of office time) from Friday 09:00 to 13:00 (4h used), raised to Urgent (4h
    on 24x7): the 4h are already used, so it is due at once, at 13:00."""
    friday = MONDAY + timedelta(days=4)
    first = process(book, calendars, created_event(friday), a_ticket(created=friday), [], friday)
    raised_at = friday + timedelta(hours=4)
    raised = process(book, calendars, changed(raised_at, Change("priority", "Normal", "Urgent")),
                     a_ticket("Urgent", created=friday), first.clocks, raised_at)
    clock = clock_of(raised.clocks, "resolution")
    later = status(clock, book.sla["resolution"], calendars["office"], raised_at + timedelta(hours=1), calendars)
    assert later.elapsed == timedelta(hours=5) and later.state == "breached"
    assert later.breached_at == raised_at
    # lowered again on Saturday: the rest is counted on the office calendar (no time on the weekend)
    lowered_at = friday + timedelta(days=1, hours=2)
    lowered = process(book, calendars, changed(lowered_at, Change("priority", "Urgent", "Normal"), key="j2"),
                      a_ticket(created=friday), raised.clocks, lowered_at)
    monday = status(clock_of(lowered.clocks, "resolution"), book.sla["resolution"], calendars["office"],
                    MONDAY + timedelta(days=7), calendars)
    # Friday 09-13 office (4h), 13:00 -> Saturday 11:00 on 24x7 (22h), then nothing until Monday 09:00
    assert monday.elapsed == timedelta(hours=26)


def test_a_scale_multiplies_the_target_and_a_new_label_retargets(book, calendars):
    step = process(book, calendars, created_event(), a_ticket(labels=("vip",)), [], MONDAY)
    clock = clock_of(step.clocks, "resolution")
    assert status(clock, book.sla["resolution"], calendars["office"], MONDAY, calendars).target == timedelta(hours=8)
    plain = process(book, calendars, created_event(), a_ticket(), [], MONDAY)
    labelled_at = MONDAY + timedelta(hours=1)
    labelled = process(book, calendars, changed(labelled_at, Change("labels", "", "vip", added=("vip",))),
                       a_ticket(labels=("vip",)), plain.clocks, labelled_at)
    clock = clock_of(labelled.clocks, "resolution")
    assert clock.transitions[-1].kind == "target_changed" and clock.transitions[-1].scaled == 0
    assert status(clock, book.sla["resolution"], calendars["office"], labelled_at, calendars).due_at == \
        MONDAY + timedelta(hours=8)


def test_a_policy_that_starts_to_apply_later_starts_then(book, calendars):
    """A Normal ticket raised to Urgent on Tuesday: the urgent clock starts on Tuesday, unless
    the policy says `since: created`."""
    first = process(book, calendars, created_event(), a_ticket(), [], MONDAY)
    assert not [c for c in first.clocks if c.policy.startswith("urgent")]
    tuesday = MONDAY + timedelta(days=1, hours=1)
    raised = process(book, calendars, changed(tuesday, Change("priority", "Normal", "Urgent")),
                     a_ticket("Urgent"), first.clocks, tuesday)
    assert clock_of(raised.clocks, "urgent-response").transitions[0].at == tuesday
    assert clock_of(raised.clocks, "urgent-since-created").transitions[0].at == MONDAY


def test_a_ticket_heard_of_late_is_still_timed_from_its_creation(book, calendars):
    """The first event we see is a comment on a ticket that was urgent from the start."""
    later = MONDAY + timedelta(hours=3)
    step = process(book, calendars, changed(later, Change("subject", "a", "b")), a_ticket("Urgent"), [], later)
    assert clock_of(step.clocks, "urgent-response").transitions[0].at == MONDAY


def test_a_close_that_a_rule_sends_back_is_not_a_reopen(book, calendars):
    """Stopped at 10:00, sent back by a rule at 10:05: the five minutes count, as if the close
    never happened; a reopen by a person does not count the time it was closed."""
    started = Clock("redmine", "7", "urgent-response", 1, (Transition("started", MONDAY, timedelta(hours=1),
                                                                      "started", 0),))
    closed = started.with_transition(Transition(STOPPED, MONDAY + timedelta(minutes=10)))
    refused = closed.with_transition(Transition(REOPENED, MONDAY + timedelta(minutes=15), reason=CLOSE_REFUSED))
    reopened = closed.with_transition(Transition(REOPENED, MONDAY + timedelta(minutes=15), reason="ticket reopened"))
    policy, always = book.sla["urgent-response"], calendars["always"]
    at = MONDAY + timedelta(minutes=30)
    assert status(refused, policy, always, at).elapsed == timedelta(minutes=30)
    assert status(refused, policy, always, at).state == "running"
    assert status(reopened, policy, always, at).elapsed == timedelta(minutes=25)


def test_the_ticket_before_an_event(book):
    now = a_ticket("Urgent", labels=("vip", "new"))
    now = dataclasses.replace(now, assignee=AGENT, custom_fields={"Origin": "internal"})
    before = now.before((Change("priority", "Normal", "Urgent"), Change("labels", "vip", "vip new", added=("new",)),
                         Change("assignee", "Bob", "Alice", new_person=AGENT), Change("cf:Origin", None, "internal"),
                         Change("project", "triage", "support")))
    assert (before.priority, before.labels, before.custom_fields["Origin"], before.project) == \
        ("Normal", ("vip",), None, "triage")
    assert isinstance(before.assignee, Person) and before.assignee.matches("Bob")


@pytest.mark.parametrize(("target", "message"), [
    ("{target: 0bd}", "a target must be longer than zero"),
    ("{target: 2bd4h}", "malformed duration '2bd4h'"),
    ("{target: 4h, calendar: nowhere}", "undefined calendar 'nowhere' used in sla 'r'"),
])
def test_bad_targets_are_load_errors(target, message):
    text = ("version: 1\ncalendars: {c: {timezone: UTC, hours: 24x7}}\nsla:\n  r:\n    calendar: c\n"
            f"    stop: [status = Closed]\n    targets:\n      - {target}\n"
            "rules:\n  - {name: n, on: [ticket.created], then: [{comment: {body: hi}}]}\n")
    with pytest.raises(RulebookInvalid) as raised:
        load_rulebook([("t.yaml", text)])
    assert "t.yaml:8" in str(raised.value) and message in str(raised.value), str(raised.value)


def test_a_scale_factor_must_be_positive():
    text = ("version: 1\ncalendars: {c: {timezone: UTC, hours: 24x7}}\nsla:\n  r:\n    calendar: c\n"
            "    stop: [status = Closed]\n    scale:\n      - {when: [priority = High], factor: 0}\n"
            "    targets: [{target: 4h}]\n"
            "rules:\n  - {name: n, on: [ticket.created], then: [{comment: {body: hi}}]}\n")
    with pytest.raises(RulebookInvalid) as raised:
        load_rulebook([("t.yaml", text)])
    assert "t.yaml:8" in str(raised.value) and "must be above 0" in str(raised.value)
