"""`age > 5bd on CALENDAR`: a ticket's age in business days of a calendar of the rulebook."""

import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from rules.conditions import Facts, evaluate_condition
from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook
from tests.helpers import event, ticket

BA = timezone(timedelta(hours=-3))
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=BA)  # office: Monday-Friday 09:00-18:00, Buenos Aires

BOOK = """
    version: 1
    calendars:
      office:
        timezone: America/Argentina/Buenos_Aires
        hours: {mon-fri: ["09:00-18:00"]}
        holidays: {dates: [2026-03-04]}
      always: {timezone: UTC, hours: 24x7}
    rules:
      - name: old
        on: [ticket.updated]
        if: [CONDITION]
        then: [{comment: {body: old}}]
"""


def load(condition: str):
    return load_rulebook([("book.yaml", textwrap.dedent(BOOK.replace("CONDITION", condition)))])


def check(condition: str, now: datetime, created: datetime = MONDAY_10) -> tuple[bool, str]:
    book = load(condition)
    facts = Facts(ticket(created=created), event(), now, {}, book.staff.roles_of)
    return evaluate_condition(book.rules[0].conditions[0], facts)


@pytest.mark.parametrize("condition, now, expected", [
    # 2bd after Monday 10:00 is Thursday 10:00: Wednesday 4 March is a holiday of the calendar
    ("age > 2bd on office", datetime(2026, 3, 5, 10, 0, tzinfo=BA), False),   # at the moment itself
    ("age >= 2bd on office", datetime(2026, 3, 5, 10, 0, tzinfo=BA), True),
    ("age > 2bd on office", datetime(2026, 3, 5, 10, 1, tzinfo=BA), True),
    ("age > 2bd on office", datetime(2026, 3, 4, 17, 0, tzinfo=BA), False),   # calendar time: 2d 7h
    ("age > 2d", datetime(2026, 3, 4, 17, 0, tzinfo=BA), True),               # the same age in calendar days
    ("age < 2bd on office", datetime(2026, 3, 5, 9, 59, tzinfo=BA), True),
    ("age <= 2bd on office", datetime(2026, 3, 5, 10, 1, tzinfo=BA), False),
    ("age > 2bd on always", datetime(2026, 3, 4, 10, 1, tzinfo=BA), True),     # 24x7: 48 hours
    ("age > 2 bd  on  office", datetime(2026, 3, 5, 10, 1, tzinfo=BA), True),  # spaces are free
])
def test_business_age(condition, now, expected):
    assert check(condition, now)[0] is expected


def test_the_trace_shows_the_age_in_business_days_and_when_the_span_ends():
    held, shown = check("age > 5bd on office", datetime(2026, 3, 5, 11, 0, tzinfo=BA))
    assert not held
    assert shown == "2bd on office (5bd at 2026-03-10T13:00:00+00:00)"
    assert check("age > 1bd on office", datetime(2027, 3, 5, 11, 0, tzinfo=BA))[1].startswith("over 1bd on office")


def test_a_ticket_without_a_creation_time_is_not_old():
    assert check("age > 1bd on office", datetime(2026, 3, 9, tzinfo=BA), created=None) == (False, "empty")


@pytest.mark.parametrize("condition, message", [
    ("age > 5bd", "book.yaml:12: rules → 0 → if → 0: 5bd counts business days: name the calendar they are "
                  "counted on, e.g. `age > 5bd on always` (calendars: always, office)"),
    ("age > 5bd on ofice", "book.yaml:12: rules → 0 → if → 0: undefined calendar 'ofice': did you mean 'office'? "
                           "(calendars: always, office)"),
    ("age > 5xbd on office", "book.yaml:12: rules → 0 → if → 0: malformed duration '5xbd on office' (use e.g. "
                             "90s, 45m, 4h, 1h30m, 3d, 2w)"),
    ("age = 5bd on office", "book.yaml:12: rules → 0 → if → 0: `age` compares with <, <=, > or >= and a duration, "
                            "e.g. age > 2d, or business days on a calendar, e.g. age > 5bd on office"),
])
def test_business_age_is_checked_at_load(condition, message):
    with pytest.raises(RulebookInvalid) as caught:
        load(condition)
    assert [str(error) for error in caught.value.errors] == [message]
