"""SLA clocks: the promised examples, pauses, target changes, reopen, notifications once."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rules.model import Change, Event, Person
from rules.rulebook import load_rulebook
from rules.sla import BREACHED, WARNED, calendars_of, due_notifications, status, track
from tests.helpers import ticket

BA = ZoneInfo("America/Argentina/Buenos_Aires")
BOOK = load_rulebook([("sla.yaml", """
version: 1
staff: {logins: [agent]}
calendars:
  ba-office:
    timezone: America/Argentina/Buenos_Aires
    hours: {mon-fri: ["09:00-13:00", "14:00-18:00"]}
    holidays: {country: AR}
sla:
  resolution:
    applies: [project = support]
    calendar: ba-office
    pause: [status = Feedback]
    stop: [status in (Resolved, Closed)]
    targets: [{when: priority = Urgent, target: 4h}, {target: 8h}]
    warn_at: 75%
  first-response:
    applies: [project = support]
    calendar: ba-office
    stop: [actor_role = staff, comment_visibility = public]
    targets: [{target: 2h}]
    reopen: continue
""")])
CALENDARS = calendars_of(BOOK)
OFFICE = CALENDARS["ba-office"]
RESOLUTION = BOOK.sla["resolution"]
CUSTOMER = Person("9", "carol", "Carol")


def ba(*args: int) -> datetime:
    return datetime(*args, tzinfo=BA)


def step(clocks: dict, at: datetime, the_ticket, *triggers: str, changes=(), actor=CUSTOMER, comment=None):
    event = Event(f"e{at.isoformat()}", "redmine", the_ticket.id, frozenset(triggers), at, actor, tuple(changes),
                  comment)
    updates = track(BOOK, CALENDARS, list(clocks.values()), event, the_ticket)
    for update in updates:
        clocks[update.clock.policy] = update.clock
    return [e for u in updates for e in u.events]


def test_friday_evening_incident_with_8_business_hours_is_due_monday_evening():
    clocks: dict = {}
    created = ticket(created=ba(2026, 3, 6, 17, 30))
    events = step(clocks, ba(2026, 3, 6, 17, 30), created, "ticket.created")
    assert [(e.trigger, e.policy) for e in events] == [("sla.started", "resolution"), ("sla.started", "first-response")]
    now = status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 6, 17, 45))
    assert (now.state, now.target, now.due_at) == ("running", timedelta(hours=8), ba(2026, 3, 9, 17, 30))
    assert now.warn_at == ba(2026, 3, 9, 15, 30)  # 75% of 8 h = 6 h of work
    assert now.elapsed == timedelta(minutes=15)


def test_a_holiday_monday_moves_the_due_time_to_tuesday():
    clocks: dict = {}
    step(clocks, ba(2026, 6, 12, 17, 30), ticket(created=ba(2026, 6, 12, 17, 30)), "ticket.created")
    assert status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 6, 12, 18)).due_at == ba(2026, 6, 16, 17, 30)


def test_two_business_hours_in_feedback_move_the_due_time_by_two_business_hours():
    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    assert status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 9, 10)).due_at == ba(2026, 3, 9, 18, 0)
    step(clocks, ba(2026, 3, 9, 10, 0), ticket(status="Feedback"), "ticket.updated",
         changes=[Change("status", "New", "Feedback")])
    paused = status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 9, 11, 0))
    assert (paused.state, paused.elapsed, paused.due_at) == ("paused", timedelta(hours=1), None)
    step(clocks, ba(2026, 3, 9, 13, 0), ticket(status="In Progress"), "ticket.updated",
         changes=[Change("status", "Feedback", "In Progress")])
    resumed = status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 9, 14, 0))
    # paused 10:00-13:00, three business hours: the due time moves from 18:00 to 12:00 the next day
    assert resumed.due_at == ba(2026, 3, 10, 12, 0)
    assert resumed.elapsed == timedelta(hours=1)  # 13:00-14:00 is lunch


def test_a_pause_of_two_business_hours_across_lunch():
    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    step(clocks, ba(2026, 3, 9, 12, 0), ticket(status="Feedback"), "ticket.updated")
    step(clocks, ba(2026, 3, 9, 15, 0), ticket(status="New"), "ticket.updated")  # 12-13 and 14-15: two hours
    assert status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 9, 15)).due_at == ba(2026, 3, 10, 11, 0)


def test_raising_the_priority_keeps_the_elapsed_time_against_the_new_target():
    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    step(clocks, ba(2026, 3, 9, 12, 0), ticket(priority="Urgent"), "ticket.updated",
         changes=[Change("priority", "Normal", "Urgent")])
    raised = status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 9, 12, 0))
    assert (raised.target, raised.elapsed, raised.remaining) == (timedelta(hours=4), timedelta(hours=3),
                                                                  timedelta(hours=1))
    assert raised.due_at == ba(2026, 3, 9, 13, 0)  # one working hour left
    restart = load_rulebook([("r.yaml", (
        "version: 1\ncalendars: {c: {timezone: UTC, hours: 24x7}}\nsla:\n  r: {calendar: c, stop: [status = Closed],"
        " target_change: restart, targets: [{when: priority = Urgent, target: 4h}, {target: 8h}]}\n"))])
    restarted = track(restart, calendars_of(restart), [], Event("e", "redmine", "42", frozenset({"ticket.created"}),
                      ba(2026, 3, 9, 9), CUSTOMER), ticket(created=ba(2026, 3, 9, 9)))[0].clock
    raised_event = Event("f", "redmine", "42", frozenset({"ticket.updated"}), ba(2026, 3, 9, 12), CUSTOMER)
    restarted = track(restart, calendars_of(restart), [restarted], raised_event, ticket(priority="Urgent"))[0].clock
    assert status(restarted, restart.sla["r"], calendars_of(restart)["c"], ba(2026, 3, 9, 13)).elapsed == \
        timedelta(hours=1)


def test_warning_and_breach_fire_once_and_quiet_hours_defer_the_warning():
    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    clock = clocks["resolution"]
    assert due_notifications(clock, RESOLUTION, OFFICE, ba(2026, 3, 9, 15, 59)) == []
    [(marker, warning)] = due_notifications(clock, RESOLUTION, OFFICE, ba(2026, 3, 9, 16, 0))
    assert (warning.trigger, warning.at, marker.kind) == ("sla.warning", ba(2026, 3, 9, 16, 0), WARNED)
    clock = clock.with_transition(marker)
    assert due_notifications(clock, RESOLUTION, OFFICE, ba(2026, 3, 9, 17, 0)) == []
    [(breach_marker, breach)] = due_notifications(clock, RESOLUTION, OFFICE, ba(2026, 3, 10, 9, 30))
    assert (breach.trigger, breach.at, breach_marker.kind) == ("sla.breached", ba(2026, 3, 9, 18, 0), BREACHED)
    clock = clock.with_transition(breach_marker)
    assert due_notifications(clock, RESOLUTION, OFFICE, ba(2026, 3, 11)) == []
    assert status(clock, RESOLUTION, OFFICE, ba(2026, 3, 10, 9, 30)).state == "breached"



def test_quiet_hours_defer_warnings_not_breaches():
    book = load_rulebook([("q.yaml", """
version: 1
calendars:
  always: {timezone: America/Argentina/Buenos_Aires, hours: 24x7}
  office: {timezone: America/Argentina/Buenos_Aires, hours: {mon-fri: ["09:00-18:00"]}}
sla:
  urgent:
    calendar: always
    quiet_hours: office
    stop: [status = Closed]
    targets: [{target: 2h}]
    warn_at: 50%
""")])
    calendars = calendars_of(book)
    policy = book.sla["urgent"]
    clock = track(book, calendars, [], Event("e", "redmine", "1", frozenset({"ticket.created"}), ba(2026, 3, 6, 23),
                                             CUSTOMER), ticket(created=ba(2026, 3, 6, 23)))[0].clock
    at_midnight = due_notifications(clock, policy, calendars["always"], ba(2026, 3, 7, 1, 30), calendars["office"])
    assert [event.trigger for _, event in at_midnight] == ["sla.breached"]  # the breach is on time (01:00)
    monday = due_notifications(clock, policy, calendars["always"], ba(2026, 3, 9, 9, 0), calendars["office"])
    assert [(event.trigger, event.at) for _, event in monday] == [
        ("sla.warning", ba(2026, 3, 9, 9, 0)), ("sla.breached", ba(2026, 3, 7, 1, 0))]
    assert monday[0][0].at == ba(2026, 3, 7, 0, 0)  # the history keeps when the warning point was reached


def test_stop_meets_the_clock_and_first_response_stops_on_a_public_staff_reply():
    from rules.model import Comment

    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    assert step(clocks, ba(2026, 3, 9, 9, 30), ticket(), "ticket.commented", comment=Comment("any news?")) == []
    staff = Person("6", "agent", "Alice Agent")
    assert step(clocks, ba(2026, 3, 9, 9, 40), ticket(), "ticket.commented", actor=staff,
                comment=Comment("internal", private=True)) == []
    events = step(clocks, ba(2026, 3, 9, 10, 0), ticket(), "ticket.commented", actor=staff,
                  comment=Comment("Looking into it."))
    assert [(e.trigger, e.policy) for e in events] == [("sla.met", "first-response")]
    met = status(clocks["first-response"], BOOK.sla["first-response"], OFFICE, ba(2026, 3, 9, 12))
    assert (met.state, met.elapsed) == ("met", timedelta(hours=1))
    events = step(clocks, ba(2026, 3, 10, 9, 0), ticket(status="Resolved"), "ticket.updated")
    assert [(e.trigger, e.policy) for e in events] == [("sla.met", "resolution")]


def test_stopping_late_records_the_breach_at_its_own_time():
    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    events = step(clocks, ba(2026, 3, 11, 9, 0), ticket(status="Closed"), "ticket.updated")
    assert [(e.trigger, e.at) for e in events if e.policy == "resolution"] == [("sla.breached", ba(2026, 3, 9, 18))]
    assert status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 12)).state == "breached"


def test_reopen_starts_a_new_cycle_or_continues():
    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    step(clocks, ba(2026, 3, 9, 10, 0), ticket(status="Closed"), "ticket.closed", "ticket.updated",
         actor=Person("6", "agent", "Alice Agent"))
    events = step(clocks, ba(2026, 3, 9, 11, 0), ticket(status="New"), "ticket.reopened", "ticket.updated")
    assert [(e.trigger, e.policy, e.cycle) for e in events] == [("sla.started", "resolution", 2)]
    fresh = status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 9, 12))
    assert (clocks["resolution"].cycle, fresh.elapsed) == (2, timedelta(hours=1))


def test_late_deliveries_land_at_their_own_time():
    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    step(clocks, ba(2026, 3, 9, 15, 0), ticket(status="New"), "ticket.updated")   # nothing to do
    step(clocks, ba(2026, 3, 9, 11, 0), ticket(status="Feedback"), "ticket.updated")  # arrives late
    later = status(clocks["resolution"], RESOLUTION, OFFICE, ba(2026, 3, 9, 16))
    assert (later.state, later.elapsed) == ("paused", timedelta(hours=2))
    assert [t.kind for t in clocks["resolution"].transitions] == ["started", "paused"]


def test_history_round_trips_through_json():
    from rules.sla import Transition

    clocks: dict = {}
    step(clocks, ba(2026, 3, 9, 9, 0), ticket(created=ba(2026, 3, 9, 9, 0)), "ticket.created")
    transitions = clocks["resolution"].transitions
    assert tuple(Transition.from_dict(t.to_dict()) for t in transitions) == transitions
    assert all(t.at.tzinfo is not None for t in transitions)
    assert transitions[0].at.astimezone(UTC) == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
