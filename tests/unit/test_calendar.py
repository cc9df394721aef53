"""Business-time arithmetic: the examples the SLA promises rest on, DST days, and edge rules."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import BusinessCalendar, NoWorkingTime
from rules.errors import RulebookInvalid
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
    # zero from outside working time: the next working moment (Friday evening -> Monday 09:00)
    assert OFFICE.add(ba(2026, 3, 6, 20, 0), timedelta(0)) == ba(2026, 3, 9, 9, 0)
    assert OFFICE.add(ba(2026, 3, 6, 10, 0), timedelta(0)) == ba(2026, 3, 6, 10, 0)  # working: itself
    assert OFFICE.add(ba(2026, 3, 6, 18, 0), timedelta(0)) == ba(2026, 3, 9, 9, 0)  # a range's end is not in it
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


NEW_YORK = ZoneInfo("America/New_York")
SPRING = datetime(2026, 3, 8, tzinfo=NEW_YORK)  # 02:00 EST -> 03:00 EDT: 02:00-02:59 never shows
AUTUMN = datetime(2026, 11, 1, tzinfo=NEW_YORK)  # 02:00 EDT -> 01:00 EST: 01:00-01:59 shows twice


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_range_end_in_the_skipped_hour_is_the_first_instant_after_the_gap():
    quarter = calendar('{timezone: America/New_York, hours: {mon-sun: ["02:30-03:15"]}}')
    # 02:30 does not exist that day: the range starts when the clock jumps to 03:00 EDT
    assert quarter.between(SPRING, SPRING + timedelta(days=1)) == timedelta(minutes=15)
    assert quarter.next_working_moment(SPRING) == _utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    split = calendar('{timezone: America/New_York, hours: {mon-sun: ["01:30-02:30", "03:00-04:00"]}}')
    # 01:30-02:30 ends at the change (07:00 UTC), where 03:00-04:00 begins: 30 + 60 minutes
    # (reading 02:30 with the offset before the change made them overlap: 2 h counted)
    assert split.between(SPRING, SPRING + timedelta(days=1)) == timedelta(minutes=90)
    start = _utc(2026, 3, 8, 6, 30)  # 01:30 EST
    deadlines = [split.add(start, timedelta(minutes=minutes)) for minutes in range(0, 91, 5)]
    assert deadlines == sorted(deadlines) and len(set(deadlines)) == len(deadlines)  # never backwards
    assert split.add(start, timedelta(minutes=45)) == _utc(2026, 3, 8, 7, 15)  # 03:15 EDT


def test_a_range_end_in_the_repeated_hour_is_its_first_occurrence():
    early = calendar('{timezone: America/New_York, hours: {mon-sun: ["00:30-01:30"]}}')
    assert early.between(AUTUMN, AUTUMN + timedelta(days=1)) == timedelta(hours=1)  # 00:30-01:30 EDT
    late = calendar('{timezone: America/New_York, hours: {mon-sun: ["01:30-03:00"]}}')
    # from the first 01:30 (EDT), through the repeated hour, to 03:00 EST: 2 h 30 min
    assert late.between(AUTUMN, AUTUMN + timedelta(days=1)) == timedelta(hours=2, minutes=30)
    assert late.next_working_moment(AUTUMN) == _utc(2026, 11, 1, 5, 30)


def test_long_spans_are_counted_whole():
    """Nineteen years of office hours: every working hour counted, and added back exactly."""
    start, end = ba(2026, 1, 5, 9, 0), ba(2045, 1, 3, 11, 0)  # a Monday to a Tuesday, in working hours
    total = OFFICE.between(start, end)
    assert total > timedelta(hours=8 * 240 * 18)  # roughly 19 years of 8-hour days
    by_year = sum((OFFICE.between(ba(year, 1, 1), ba(year + 1, 1, 1)) for year in range(2027, 2045)), timedelta())
    assert total == OFFICE.between(start, ba(2027, 1, 1)) + by_year + OFFICE.between(ba(2045, 1, 1), end)
    assert OFFICE.add(start, total) == end


def test_special_days_have_hours_of_their_own():
    office = calendar('{timezone: America/Argentina/Buenos_Aires, hours: {mon-fri: ["09:00-13:00", "14:00-18:00"]}, '
                      'holidays: {country: AR, except: ["2026-12-08"]}, '
                      'special: {"12-24": ["09:00-13:00"], "2026-12-05": ["10:00-12:00"], "2026-12-07": []}}')
    day = timedelta(days=1)
    # Dec 24 every year: a half day (a Thursday in 2026, a Friday in 2027)
    assert office.between(ba(2026, 12, 24), ba(2026, 12, 24) + day) == timedelta(hours=4)
    assert office.between(ba(2027, 12, 24), ba(2027, 12, 24) + day) == timedelta(hours=4)
    # a working Saturday, and a Monday off (a bridge day)
    assert office.between(ba(2026, 12, 5), ba(2026, 12, 5) + day) == timedelta(hours=2)
    assert office.between(ba(2026, 12, 7), ba(2026, 12, 7) + day) == timedelta(0)
    # Dec 8 is a national holiday in Argentina, worked here; Dec 25 stays a holiday
    assert office.between(ba(2026, 12, 8), ba(2026, 12, 8) + day) == timedelta(hours=8)
    assert office.between(ba(2026, 12, 25), ba(2026, 12, 25) + day) == timedelta(0)
    # Friday 4th, 17:00 + 2h: one hour that day, the next on the working Saturday
    assert office.add(ba(2026, 12, 4, 17, 0), timedelta(hours=2)) == ba(2026, 12, 5, 11, 0)


@pytest.mark.parametrize(("text", "message"), [
    ('{timezone: UTC, hours: {mon-fri: []}}', "calendar 'office' has no working time"),
    ('{timezone: UTC, hours: {mon: ["09:00-12:00"]}, special: {"12-32": []}}', "got '12-32'"),
    ('{timezone: UTC, hours: {mon: ["09:00-12:00"]}, special: {"2026-12-24": ["13:00-09:00"]}}', "ends before"),
    ('{timezone: UTC, hours: {mon: ["09:00-12:00"]}, holidays: {country: AR, except: ["24-12"]}}',
     "expected a date YYYY-MM-DD"),
])
def test_a_calendar_that_cannot_work_is_a_load_error_with_its_line(text, message):
    with pytest.raises(RulebookInvalid) as raised:
        calendar(text)
    assert "c.yaml:3" in str(raised.value) and message in str(raised.value), str(raised.value)


WEEKDAYS_9_TO_5 = calendar('{timezone: UTC, hours: {mon-fri: ["09:00-17:00"]}, '
                           'special: {"2026-11-26": ["09:00-13:00"]}}')


def _utc_day(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)  # 2026-11-23 is a Monday


@pytest.mark.parametrize(("start", "days", "due"), [
    (_utc_day(23, 11), 1, _utc_day(24, 11)),  # the same point of the working day
    (_utc_day(23, 11), 3, _utc_day(26, 11)),
    (_utc_day(27, 15), 1, _utc_day(30, 15)),  # Friday: the weekend is not counted
    (_utc_day(27, 15), 3, datetime(2026, 12, 2, 15, tzinfo=UTC)),
    (_utc_day(28, 10), 1, _utc_day(30, 17)),  # Saturday: from Monday 09:00, the start of a working day
    (_utc_day(28, 10), 3, datetime(2026, 12, 2, 17, tzinfo=UTC)),
    (_utc_day(30, 9), 1, _utc_day(30, 17)),  # the start of a working day: its end
    (_utc_day(25, 15), 1, _utc_day(26, 13)),  # a half day: due at its end
    (_utc_day(25, 15), 3, _utc_day(30, 15)),
    (_utc_day(28, 10), 0, _utc_day(30, 9)),  # 0bd: the next working moment
])
def test_business_days_as_documented(start, days, due):
    """The table in docs/rules.md ("Business days"), with Thursday 26th a half day."""
    assert WEEKDAYS_9_TO_5.add_business_days(start, days) == due


def test_a_start_of_day_due_on_the_last_working_day_of_a_year_stays_in_that_year():
    """The end of the N-th working day counting the start's, even when the next working day is
    in the next year and not its January 1st (a holiday, a weekend): not that day's start."""
    assert OFFICE.add_business_days(ba(2026, 12, 31, 9), 1) == ba(2026, 12, 31, 18)  # 1 January: a holiday
    assert WEEKDAYS_9_TO_5.add_business_days(datetime(2027, 12, 30, 9, tzinfo=UTC), 2) \
        == datetime(2027, 12, 31, 17, tzinfo=UTC)  # 2028-01-01 is a Saturday
    assert WEEKDAYS_9_TO_5.add_business_days(datetime(2027, 12, 30, 9, tzinfo=UTC), 3) \
        == datetime(2028, 1, 3, 17, tzinfo=UTC)
    # the day before the next working day in a year without working time at all (was an IndexError)
    idle = BusinessCalendar("idle", ZoneInfo("UTC"), WEEKDAYS_9_TO_5.hours, dates=frozenset(
        {date(2028, 12, 29)} | {date(2029, 1, 1) + timedelta(days=n) for n in range(365)}))
    assert idle.add_business_days(datetime(2028, 12, 28, 9, tzinfo=UTC), 1) == datetime(2028, 12, 28, 17, tzinfo=UTC)
    assert idle.add_business_days(datetime(2028, 12, 28, 9, tzinfo=UTC), 2) == datetime(2030, 1, 1, 17, tzinfo=UTC)
