"""ticketwarden's own notes never count as a staff response: an acknowledgement, a survey
invitation or a reminder written by a rule leaves the first-response clock running, while the
same note by a person stops it, and ticketwarden's own status changes still move the clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.calendar import BusinessCalendar
from rules.model import Change, Comment, Event, Person, Ticket
from rules.pipeline import process
from rules.rulebook import load_rulebook
from rules.sla import PAUSED

RULES = """
version: 1
staff: {logins: [ticketwarden, alice]}
calendars: {always: {timezone: UTC, hours: 24x7}}
sla:
  first-response:
    calendar: always
    stop: [actor_role = staff, comment_visibility = public]
    targets: [{target: 4h}]
  resolution:
    calendar: always
    pause: [status = Feedback]
    stop: [status = Closed]
    targets: [{target: 24h}]
rules:
  - {name: acknowledge, on: [ticket.created], then: [{comment: {body: "Received."}}]}
"""
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SERVICE = Person("1", login="ticketwarden", name="ticketwarden")
AGENT = Person("2", login="alice", name="Alice")
CUSTOMER = Person("3", login="carol", name="Carol")


def ticket(status: str = "New") -> Ticket:
    return Ticket("redmine", "7", "#7", "", "support", "Support", "Incident", status, "Normal", "VPN down",
                  author=CUSTOMER, created=T0)


def setup():
    book = load_rulebook([("r.yaml", RULES)])
    calendars = {name: BusinessCalendar.from_calendar(c) for name, c in book.calendars.items()}
    created = Event("redmine:7:created", "redmine", "7", frozenset({"ticket.created"}), T0, actor=CUSTOMER)
    step = process(book, calendars, created, ticket(), [], T0)
    return book, calendars, step.clocks


def public_note(by: Person, minutes: int, status_change: bool = False) -> Event:
    changes = (Change("status", "New", "Feedback"),) if status_change else ()
    triggers = {"ticket.commented"} | ({"ticket.updated"} if status_change else set())
    return Event(f"redmine:7:journal:{minutes}", "redmine", "7", frozenset(triggers), T0 + timedelta(minutes=minutes),
                 actor=by, changes=changes, comment=Comment("We are on it.", private=False))


def states(step) -> dict[str, str]:
    return {clock.policy: ("stopped" if clock.stopped else
                           "paused" if clock.transitions[-1].kind == PAUSED else "running") for clock in step.clocks}


def test_our_own_public_note_is_not_a_first_response_but_a_persons_is():
    book, calendars, clocks = setup()
    ours = process(book, calendars, public_note(SERVICE, 5), ticket(), clocks, T0 + timedelta(minutes=5), ours=True)
    assert states(ours)["first-response"] == "running"
    theirs = process(book, calendars, public_note(AGENT, 5), ticket(), clocks, T0 + timedelta(minutes=5))
    assert states(theirs)["first-response"] == "stopped"


def test_our_own_status_change_still_moves_the_clocks():
    book, calendars, clocks = setup()
    step = process(book, calendars, public_note(SERVICE, 5, status_change=True), ticket("Feedback"), clocks,
                   T0 + timedelta(minutes=5), ours=True)
    assert states(step) == {"first-response": "running", "resolution": "paused"}
    assert step.decisions[0].ignored  # and the rules do not act on it (the loop guard)

