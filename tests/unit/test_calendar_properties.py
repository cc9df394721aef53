"""Property tests of business-time arithmetic against a brute-force, minute-by-minute reference,
on random calendars around the DST changes of four zones (and one without DST), with range
ends anywhere on the quarter hour: inside skipped and repeated hours too."""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from rules.calendar import BusinessCalendar, _YearIndex

# Ordinary DST zones, zones whose clocks change at midnight (Santiago, Havana), by half an hour
# (Lord Howe), with a negative DST (Dublin), on the Chatham Islands' 12:45 offset, and without DST.
ZONES = ["Europe/Madrid", "America/New_York", "Australia/Sydney", "America/Argentina/Buenos_Aires",
         "America/Santiago", "America/Havana", "Australia/Lord_Howe", "Europe/Dublin", "Pacific/Chatham",
         "Europe/London", "Asia/Tehran", "Asia/Kolkata", "America/Sao_Paulo"]
# Windows of a few weeks around each 2026 DST change of those zones (and ordinary weeks).
WINDOWS = [datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC),
           datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 24, tzinfo=UTC),
           datetime(2026, 9, 30, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC)]


def _time(quarter: int) -> time:
    return time.max if quarter == 96 else time(quarter // 4, 15 * (quarter % 4))


@st.composite
def calendars(draw, night: bool = False) -> BusinessCalendar:
    """Ranges on the quarter hour (ends inside a skipped or repeated hour included), one or two
    per day, some days off, holidays; with `night`, ends only between 23:00 and 04:00."""
    quarters = st.sampled_from([*range(0, 17), *range(92, 97)]) if night else st.integers(0, 96)
    hours = {}
    for weekday in range(7):
        cuts = sorted(draw(st.sets(quarters, min_size=0, max_size=4)))
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


# -- long spans, business days: against references built from single days ------------------------

def _day_total(cal: BusinessCalendar, day: date) -> timedelta:
    """The reference's working time of one local day (each range end found by brute force)."""
    if day in cal.dates:
        return timedelta(0)
    return sum((_first_showing(cal.zone, day, end) - _first_showing(cal.zone, day, start)
                for start, end in cal.hours.get(day.weekday(), ())), timedelta(0))


def walked_between(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Working time in [a, b) as the sum of every local day's own working time (the days at each
    end cut by the calendar's own per-day arithmetic, which the tests above check)."""
    first, last = a.astimezone(cal.zone).date(), b.astimezone(cal.zone).date()
    if first == last:
        return cal.between(a, b)
    total = cal.between(a, datetime.combine(first + timedelta(days=1), time(0), tzinfo=cal.zone))
    total += cal.between(datetime.combine(last, time(0), tzinfo=cal.zone), b)
    day = first + timedelta(days=1)
    while day < last:
        total += sum((finish - begin for begin, finish in cal._intervals_of(day)), timedelta(0))
        day += timedelta(days=1)
    return total


@st.composite
def year_calendars(draw) -> BusinessCalendar:
    """Random weekly hours, holidays of a country, explicit and yearly holidays, special days;
    half of them with range ends only in the night hours where clocks change, since a year's
    spring and autumn changes cancel out on most calendars."""
    base = draw(calendars(night=draw(st.booleans())))
    years = st.integers(1995, 2060)
    dates = draw(st.sets(st.builds(lambda y, d: date(y, 1, 1) + timedelta(days=d), years, st.integers(0, 364)),
                         max_size=20))
    yearly = draw(st.sets(st.tuples(st.integers(1, 12), st.integers(1, 28)), max_size=5)) | {(2, 29)}
    special = {day: ((time(10), time(12)),) for day in draw(st.sets(
        st.builds(lambda y, d: date(y, 1, 1) + timedelta(days=d), years, st.integers(0, 364)), max_size=10))}
    country = draw(st.sampled_from([None, "AR", "ES", "US", "AU"]))
    return BusinessCalendar("random", base.zone, base.hours, country=country, dates=frozenset(dates),
                            yearly=frozenset(yearly), special=special,
                            special_yearly={(12, 24): ((time(9), time(13)),)})


@settings(max_examples=150, deadline=None)
@given(year_calendars(), st.integers(1995, 2060))
def test_a_years_total_from_weekly_hours_equals_the_sum_of_its_days(cal, year):
    """A year's total skips whole years in long spans: it must be exactly its days' sum."""
    assert cal._count_year(year) == _YearIndex.build(cal, year).total


long_moments = st.builds(lambda year, minutes: datetime(year, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
                         st.integers(2000, 2040), st.integers(0, 366 * 24 * 60))


@settings(max_examples=25, deadline=None)
@given(st.booleans().flatmap(lambda night: calendars(night=night)), long_moments, st.integers(0, 19 * 366 * 24 * 60))
def test_long_spans_are_counted_exactly(cal, a, minutes):
    """Up to nineteen years: the day-by-day sum, and `add` gives back the end's position."""
    b = a + timedelta(minutes=minutes)
    total = cal.between(a, b)
    assert total == walked_between(cal, a, b)
    if total:
        end = cal.add(a, total)
        assert end <= b and cal.between(end, b) == timedelta(0)
        assert cal.subtract(end, total) == cal.next_working_moment(a)


@settings(max_examples=60, deadline=None)
@given(calendars(), long_moments, st.integers(0, 5 * 366 * 24 * 3600), st.integers(0, 5 * 366 * 24 * 3600))
def test_monotone_over_years(cal, start, s1, s2):
    shorter, longer = sorted((timedelta(seconds=s1), timedelta(seconds=s2)))
    assert cal.add(start, shorter) <= cal.add(start, longer)
    assert cal.between(start, cal.add(start, longer)) == longer


def brute_business_days(cal: BusinessCalendar, start: datetime, days: int) -> datetime:
    """The documented rule for `Nbd`, by brute force on the minute: from the next working moment,
    the same working time into the N-th working day after its day (that day's end if it is
    shorter); a start at the very beginning of a working day is due at the end of its N-th
    working day counting itself."""
    moment = brute_add(cal, start, timedelta(0))
    if days == 0:
        return moment
    day = moment.astimezone(cal.zone).date()
    into = sum(working(cal, instant) for instant, _ in _day_minutes(cal.zone, day) if instant < moment)
    counted, target = [], day
    while len(counted) < days:
        target += timedelta(days=1)
        if _day_total(cal, target):
            counted.append(target)
    if into == 0:
        last = counted[-2] if days > 1 else day
        return max(instant for instant, _ in _day_minutes(cal.zone, last) if working(cal, instant)) \
            + timedelta(minutes=1)
    minutes = [instant for instant, _ in _day_minutes(cal.zone, counted[-1]) if working(cal, instant)]
    return minutes[min(into, len(minutes)) - 1] + timedelta(minutes=1)


@settings(max_examples=80, deadline=None)
@given(calendars(), moments, st.integers(0, 12))
@example(  # the start of a working day due on the last working day of a year (not at the next one's start)
    cal=BusinessCalendar("random", ZoneInfo("Europe/Madrid"), {3: ((time(2, 0), time(2, 15)),)}),
    start=datetime(2026, 10, 22, 0, 0, tzinfo=UTC), days=11)
def test_business_days_agree_with_the_reference(cal, start, days):
    assert cal.add_business_days(start, days) == brute_business_days(cal, start, days)


@settings(max_examples=80, deadline=None)
@given(calendars(), moments, st.integers(0, 12), st.integers(0, 12))
def test_business_days_are_monotone(cal, start, d1, d2):
    fewer, more = sorted((d1, d2))
    assert cal.add_business_days(start, fewer) <= cal.add_business_days(start, more)
