"""Business-time arithmetic: the examples the SLA promises rest on, DST days, and edge rules."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import BusinessCalendar, NoWorkingTime
from rules.rulebook import load_rulebook

BA = ZoneInfo("America/Argentina/Buenos_Aires")
MADRID = ZoneInfo("Europe/Madrid")


def calendar(text: str, name: str = "office") -> BusinessCalendar:
    book = load_rulebook([("c.yaml", f"version: 1\ncalendars:\n  {name}: {text}\n")])
    return BusinessCalendar.from_calendar(book.calendars[name])


OFFICE = calendar('{timezone: America/Argentina/Buenos_Aires, hours: {mon-fri: ["09:00-13:00", "14:00-18:00"]}, '
                  'holidays: {country: AR}}')


def ba(*args: int) -> datetime:
    return datetime(*args, tzinfo=BA)


def test_friday_evening_plus_eight_business_hours_is_monday_evening():
    assert OFFICE.add(ba(2026, 3, 6, 17, 30), timedelta(hours=8)) == ba(2026, 3, 9, 17, 30)


def test_a_monday_holiday_moves_it_to_tuesday():
    # 2026-06-15 is a national holiday in Argentina (Paso a la Inmortalidad de Güemes).
    assert OFFICE.is_holiday(ba(2026, 6, 15).date())
    assert OFFICE.add(ba(2026, 6, 12, 17, 30), timedelta(hours=8)) == ba(2026, 6, 16, 17, 30)


def test_edge_rules():
    assert OFFICE.add(ba(2026, 3, 6, 17, 59, 59), timedelta(seconds=1)) == ba(2026, 3, 6, 18, 0)  # stays at 18:00
    assert OFFICE.add(ba(2026, 3, 7, 10, 0), timedelta(minutes=1)) == ba(2026, 3, 9, 9, 1)  # Saturday start
    assert OFFICE.add(ba(2026, 3, 6, 13, 0), timedelta(minutes=30)) == ba(2026, 3, 6, 14, 30)  # lunch skipped
    assert OFFICE.add(ba(2026, 3, 6, 20, 0), timedelta(0)) == ba(2026, 3, 6, 20, 0)
    assert OFFICE.next_working_moment(ba(2026, 3, 6, 13, 15)) == ba(2026, 3, 6, 14, 0)
    assert OFFICE.next_working_moment(ba(2026, 3, 6, 10, 0)) == ba(2026, 3, 6, 10, 0)
    assert OFFICE.is_working(ba(2026, 3, 6, 9, 0)) and not OFFICE.is_working(ba(2026, 3, 6, 18, 0))


def test_between_counts_only_working_time():
    assert OFFICE.between(ba(2026, 3, 6, 12, 0), ba(2026, 3, 9, 10, 0)) == timedelta(hours=6)
    assert OFFICE.between(ba(2026, 3, 9, 10, 0), ba(2026, 3, 6, 12, 0)) == -timedelta(hours=6)
    assert OFFICE.between(ba(2026, 3, 7, 9, 0), ba(2026, 3, 8, 18, 0)) == timedelta(0)  # a weekend
    assert OFFICE.subtract(ba(2026, 3, 9, 10, 0), timedelta(hours=6)) == ba(2026, 3, 6, 12, 0)


def test_extra_and_yearly_holidays():
    cal = calendar('{timezone: UTC, hours: {mon-sun: ["09:00-17:00"]}, holidays: {dates: [2026-12-24], '
                   'yearly: ["12-31"]}}')
    assert cal.ranges_of(datetime(2026, 12, 24).date()) == ()
    assert cal.ranges_of(datetime(2031, 12, 31).date()) == ()
    assert cal.add(datetime(2026, 12, 23, 16, 0, tzinfo=UTC), timedelta(hours=2)) == \
        datetime(2026, 12, 25, 10, 0, tzinfo=UTC)


def test_a_24x7_calendar_is_plain_time():
    always = calendar("{timezone: Europe/Madrid, hours: 24x7}")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=MADRID)  # the night of the DST change follows
    assert always.add(start, timedelta(hours=24)) == start.astimezone(UTC) + timedelta(hours=24)
    assert always.between(start, start.astimezone(UTC) + timedelta(days=3)) == timedelta(days=3)
    # Aware arithmetic in a local zone is wall-clock arithmetic: three local days hold one hour less here.
    assert always.between(start, start + timedelta(days=3)) == timedelta(days=3) - timedelta(hours=1)


def test_dst_days_in_madrid():
    night = calendar('{timezone: Europe/Madrid, hours: {mon-sun: ["01:00-04:00"]}}')
    spring = datetime(2026, 3, 29, tzinfo=MADRID).date()   # 02:00 -> 03:00
    autumn = datetime(2026, 10, 25, tzinfo=MADRID).date()  # 03:00 -> 02:00
    assert night.between(*_day_span(spring)) == timedelta(hours=2)
    assert night.between(*_day_span(autumn)) == timedelta(hours=4)
    day = calendar('{timezone: Europe/Madrid, hours: {mon-sun: ["09:00-17:00"]}}')
    assert day.between(*_day_span(spring)) == timedelta(hours=8)  # day ranges are untouched
    assert day.add(datetime(2026, 3, 28, 16, 0, tzinfo=MADRID), timedelta(hours=2)) == \
        datetime(2026, 3, 29, 10, 0, tzinfo=MADRID)


def _day_span(day):
    start = datetime.combine(day, datetime.min.time(), tzinfo=MADRID)
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=MADRID)


def test_a_calendar_without_working_time_says_so():
    never = calendar('{timezone: UTC, hours: {sat: ["09:00-10:00"]}, holidays: {yearly: ['
                     + ", ".join(f'"{m:02d}-{d:02d}"' for m in range(1, 13) for d in range(1, 32) if (m, d) != (2, 30)
                                 and (m, d) != (2, 31) and (m, d) not in ((4, 31), (6, 31), (9, 31), (11, 31)))
                     + "]}}")
    with pytest.raises(NoWorkingTime):
        never.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1))
