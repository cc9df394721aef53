"""Property tests of business-time arithmetic against a brute-force, minute-by-minute reference,
on random calendars around the DST changes of four zones (and one without DST)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.calendar import BusinessCalendar

ZONES = ["Europe/Madrid", "America/New_York", "Australia/Sydney", "America/Argentina/Buenos_Aires"]
# Windows of a few weeks around each 2026 DST change of those zones (and ordinary weeks).
WINDOWS = [datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC),
           datetime(2026, 9, 30, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC)]


def _time(hour: int) -> time:
    return time.max if hour == 24 else time(hour)


@st.composite
def calendars(draw) -> BusinessCalendar:
    """Whole-hour ranges (a range end inside a skipped or repeated hour is a documented special
    case, checked by example in test_calendar), one or two per day, some days off, holidays."""
    hours = {}
    for weekday in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 24), min_size=0, max_size=4)))
        if len(cuts) % 2:
            cuts = cuts[:-1]
        ranges = tuple((_time(cuts[i]), _time(cuts[i + 1])) for i in range(0, len(cuts), 2))
        if ranges:
            hours[weekday] = ranges
    if not hours:
        hours[0] = ((time(9), time(17)),)
    holidays = draw(st.sets(st.dates(date(2026, 3, 1), date(2026, 11, 30)), max_size=20))
    return BusinessCalendar("random", ZoneInfo(draw(st.sampled_from(ZONES))), hours, dates=frozenset(holidays))


moments = st.builds(lambda base, minutes: base + timedelta(minutes=minutes),
                    st.sampled_from(WINDOWS), st.integers(0, 10 * 24 * 60))
durations = st.integers(0, 10 * 60).map(lambda minutes: timedelta(minutes=minutes))


def working(cal: BusinessCalendar, moment: datetime) -> bool:
    """The reference: is this UTC minute inside a range of its local day? Written independently
    of the implementation: local wall-clock time of the instant, compared with the ranges."""
    local = moment.astimezone(cal.zone)
    if local.date() in cal.dates:
        return False
    wall = local.time().replace(tzinfo=None)
    return any(start <= wall and (end == time.max or wall < end) for start, end in cal.hours.get(local.weekday(), ()))


def brute_between(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    minutes, t = 0, a
    while t < b:
        minutes += working(cal, t)
        t += timedelta(minutes=1)
    return timedelta(minutes=minutes)


def brute_add(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    needed, t = duration // timedelta(minutes=1), start
    if needed == 0:
        return start
    while True:
        if working(cal, t):
            needed -= 1
            if needed == 0:
                return t + timedelta(minutes=1)
        t += timedelta(minutes=1)


@settings(max_examples=60, deadline=None)
@given(calendars(), moments, durations)
def test_add_agrees_with_the_reference(cal, start, duration):
    assert cal.add(start, duration) == brute_add(cal, start, duration)


@settings(max_examples=60, deadline=None)
@given(calendars(), moments, st.integers(0, 4 * 24 * 60))
def test_between_agrees_with_the_reference(cal, a, minutes):
    b = a + timedelta(minutes=minutes)
    assert cal.between(a, b) == brute_between(cal, a, b)


@settings(max_examples=150, deadline=None)
@given(calendars(), moments, st.integers(0, 3 * 24 * 3600).map(lambda s: timedelta(seconds=s)))
def test_between_undoes_add(cal, start, duration):
    """Exact to the second, not just the minute."""
    assert cal.between(start, cal.add(start, duration)) == duration


@settings(max_examples=150, deadline=None)
@given(calendars(), moments, durations, durations)
def test_monotone(cal, start, d1, d2):
    shorter, longer = sorted((d1, d2))
    assert cal.add(start, shorter) <= cal.add(start, longer)
    later = start + d1
    assert cal.between(start, later) <= cal.between(start, later + d2)
    assert cal.between(later, later + d2 + d1) <= cal.between(start, later + d2 + d1)


@settings(max_examples=150, deadline=None)
@given(calendars(), moments, st.integers(1, 3 * 24 * 3600).map(lambda s: timedelta(seconds=s)))
def test_a_deadline_is_reached_while_working(cal, start, duration):
    """The second before a deadline is working time: a deadline at the end of a range stays
    there, never at the start of the next one."""
    deadline = cal.add(start, duration)
    assert working(cal, deadline - timedelta(seconds=1))
    assert cal.between(start, deadline - timedelta(seconds=1)) == duration - timedelta(seconds=1)


def next_range_end(cal: BusinessCalendar, moment: datetime, skip: int) -> datetime:
    """By the reference: the end of the (skip+1)-th working stretch after `moment`."""
    t, seen = moment, 0
    while True:
        if working(cal, t) and not working(cal, t + timedelta(minutes=1)):
            if seen == skip:
                return t + timedelta(minutes=1)
            seen += 1
        t += timedelta(minutes=1)


@settings(max_examples=60, deadline=None)
@given(calendars(), moments, st.integers(0, 3))
def test_a_deadline_falling_at_a_range_end_stays_there(cal, start, skip):
    end = next_range_end(cal, start, skip)
    assert cal.add(start, brute_between(cal, start, end)) == end
