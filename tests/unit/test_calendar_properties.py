"""Property tests of business-time arithmetic against a brute-force, minute-by-minute reference,
on random calendars around the DST changes of four zones (and one without DST), with range
ends anywhere on the quarter hour: inside skipped and repeated hours too."""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.calendar import BusinessCalendar

ZONES = ["Europe/Madrid", "America/New_York", "Australia/Sydney", "America/Argentina/Buenos_Aires"]
# Windows of a few weeks around each 2026 DST change of those zones (and ordinary weeks).
WINDOWS = [datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC),
           datetime(2026, 9, 30, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC)]


def _time(quarter: int) -> time:
    return time.max if quarter == 96 else time(quarter // 4, 15 * (quarter % 4))


@st.composite
def calendars(draw) -> BusinessCalendar:
    """Ranges on the quarter hour (ends inside a skipped or repeated hour included), one or two
    per day, some days off, holidays."""
    hours = {}
    for weekday in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=0, max_size=4)))
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


@lru_cache(maxsize=4096)
def _day_minutes(zone: ZoneInfo, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """Every UTC minute whose local date is `day`, with the local clock it shows, in order: read
    only in the one direction that is never ambiguous (an instant to its local time)."""
    start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(days=1)
    minutes = []
    for n in range(3 * 24 * 60):
        instant = start + timedelta(minutes=n)
        local = instant.astimezone(zone)
        if local.date() == day:
            minutes.append((instant, local.replace(tzinfo=None)))
    return tuple(minutes)


def _first_showing(zone: ZoneInfo, day: date, wall: time) -> datetime:
    """The documented rule, by brute force: the first instant at which the local clock shows
    `wall` of `day` or later (24:00: the next day's first instant)."""
    if wall == time.max:
        return _day_minutes(zone, day + timedelta(days=1))[0][0]
    target = datetime.combine(day, wall)
    for instant, local in _day_minutes(zone, day):
        if local >= target:
            return instant
    return _day_minutes(zone, day + timedelta(days=1))[0][0]


def working(cal: BusinessCalendar, moment: datetime) -> bool:
    """The reference: is this UTC minute inside a range of its local day, each range end being
    the first instant whose local clock shows it (found by scanning the day's minutes)."""
    day = moment.astimezone(cal.zone).date()
    if day in cal.dates:
        return False
    return any(_first_showing(cal.zone, day, start) <= moment < _first_showing(cal.zone, day, end)
               for start, end in cal.hours.get(day.weekday(), ()))


def brute_between(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    minutes, t = 0, a
    while t < b:
        minutes += working(cal, t)
        t += timedelta(minutes=1)
    return timedelta(minutes=minutes)


def brute_add(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    needed, t = duration // timedelta(minutes=1), start
    if needed == 0:  # the next working moment (`start` itself while working)
        while not working(cal, t):
            t += timedelta(minutes=1)
        return t
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
