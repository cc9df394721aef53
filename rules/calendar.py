"""Business time: when a calendar works, and arithmetic on working time, exact to the second.

Working hours are wall-clock ranges of each local day in the calendar's time zone, so days
that change to or from daylight saving time are right by construction: a range is the real
time between its two wall-clock ends that day. Edge rules, documented for admins:

- A range cut by a DST change covers the real time between its ends: on a spring-forward day
  in Madrid, 01:00-04:00 is two hours of work; on the fall-back day it is four.
- Each end of a range is the first instant at which the local clock shows that time or later.
  An end inside the skipped hour is the first instant after the gap (02:30 on a New York
  spring-forward day is 03:00 EDT, so 02:30-03:15 is fifteen minutes); an end inside the
  repeated hour is its first occurrence. So a day's ranges never overlap in real time, and
  `add(t, a) <= add(t, b)` whenever `a <= b`.
- `add(start, d)`: a start outside working time counts from the next working moment; a
  deadline that falls exactly at the end of a range stays there (17:59:59 + 1 s = 18:00 the
  same day, not 09:00 the next morning); `add(t, 0)` is the next working moment (`t` itself
  during working time), as other helpdesks' business-hours arithmetic has it: the moment from
  which working time is counted, so `add(t, a) <= add(t, b)` holds for `a = 0` too.
- `between(a, b)` is the working time inside [a, b); it is negative when b is before a.
- `add_business_days(start, n)` (`3bd`): the same point of the working day, n working days
  later. A start outside working time counts from the next working moment; a start at the
  beginning of a working day is due at the end of the n-th working day counting that day (the
  same instant in working time, read as a deadline); a shorter day (a half day) is due at its
  end.
- Spans of any length are exact; whole years in between are counted by their totals.

Holidays come from the `holidays` package (country and subdivision, less the days listed as
worked), explicit dates and yearly dates; a holiday has no working hours at all. A special
day (a date, or a day of every year) has hours of its own, replacing its weekday's and any
holiday.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rules.schema import WEEKDAYS

if TYPE_CHECKING:  # the declaration's module loads actions, which use this one
    from rules.rulebook import Calendar

MAX_IDLE_DAYS = 3 * 366  # three years in a row without a working day: the calendar has none
MAX_IDLE_YEARS = 3
_ALL_DAY = ((time(0, 0), time.max),)


class NoWorkingTime(ValueError):
    """The calendar has no working time in the searched span."""


@lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays as holiday_data

    return frozenset(holiday_data.country_holidays(country, subdiv=subdivision, years=year).keys())


@dataclass(frozen=True)
class BusinessCalendar:
    """Arithmetic on a calendar's working time. Build it with `from_calendar`."""

    name: str
    zone: ZoneInfo
    hours: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)  # weekday 0=Mon
    always: bool = False
    country: str | None = None
    subdivision: str | None = None
    dates: frozenset[date] = frozenset()
    yearly: frozenset[tuple[int, int]] = frozenset()
    working_days: frozenset[date] = frozenset()  # the country's holidays worked here
    special: dict[date, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    special_yearly: dict[tuple[int, int], tuple[tuple[time, time], ...]] = field(default_factory=dict)
    # caches, shared by every clock on the calendar: built on first use, never changed after
    _years: dict[int, _YearIndex] = field(default_factory=dict, compare=False, repr=False)
    _totals: dict[int, int] = field(default_factory=dict, compare=False, repr=False)
    _starts: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_calendar(cls, calendar: Calendar) -> BusinessCalendar:
        hours = {} if calendar.hours is None else {
            WEEKDAYS.index(day): ranges for day, ranges in calendar.hours.items()}
        return cls(calendar.name, ZoneInfo(calendar.timezone), hours, calendar.hours is None,
                   calendar.country, calendar.subdivision, frozenset(calendar.dates), frozenset(calendar.yearly),
                   frozenset(calendar.working_days), dict(calendar.special), dict(calendar.special_yearly))

    # -- days --------------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        if day in self.dates or (day.month, day.day) in self.yearly:
            return True
        return bool(self.country) and day not in self.working_days \
            and day in _country_holidays(self.country, self.subdivision, day.year)

    def ranges_of(self, day: date) -> tuple[tuple[time, time], ...]:
        """The day's working ranges in local wall-clock time: a special day's own (a date before a
        day of the year), none on holidays, else its weekday's."""
        if day in self.special:
            return self.special[day]
        if (day.month, day.day) in self.special_yearly:
            return self.special_yearly[(day.month, day.day)]
        if self.is_holiday(day):
            return ()
        return _ALL_DAY if self.always else self.hours.get(day.weekday(), ())

    def _intervals_of(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working time as UTC intervals."""
        intervals = []
        for start, end in self.ranges_of(day):
            begin = self._utc(day, start)
            finish = self._utc(day + timedelta(days=1), time(0, 0)) if end == time.max else self._utc(day, end)
            if finish > begin:
                intervals.append((begin, finish))
        return intervals

    def _utc(self, day: date, moment: time) -> datetime:
        """The first instant at which the local clock shows `moment` of `day` or later."""
        wall = datetime.combine(day, moment)
        first = wall.replace(tzinfo=self.zone).astimezone(UTC)  # fold 0: the first occurrence
        if first.astimezone(self.zone).replace(tzinfo=None) == wall:
            return first
        # `moment` was skipped (a spring-forward gap): fold 0 read it with the offset before the
        # change, which lands after the gap; the clock jumped past it at the change itself.
        return self._change_before(first, wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC))

    def _change_before(self, after: datetime, before: datetime) -> datetime:
        """The instant of the clock change between `before` and `after` (UTC, whole seconds)."""
        low, high = before, after  # the offset at `low` is the old one, at `high` the new one
        offset = low.astimezone(self.zone).utcoffset()
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) / 2
            middle = middle.replace(microsecond=0)
            if middle.astimezone(self.zone).utcoffset() == offset:
                low = middle
            else:
                high = middle
        return high

    # -- the index ---------------------------------------------------------------------------------
    #
    # Every operation works on integer microseconds since the epoch against a per-year index:
    # the year's working intervals (built once, on first use, from its days) with the working
    # time before each, so a moment's position in working time is one binary search. Whole years
    # in between are skipped by their totals, which come from the weekly hours corrected only on
    # the days that differ (holidays, special days, the days around a clock change), so the cost
    # of a span does not grow with its length beyond one addition per year.

    def _year(self, year: int) -> _YearIndex:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = _YearIndex.build(self, year)
        return found

    def _year_start(self, year: int) -> int:
        """The first instant of the local year (its January 1st, 00:00), in microseconds."""
        found = self._starts.get(year)
        if found is None:
            found = self._starts[year] = _micros(self._utc(date(year, 1, 1), time(0)))
        return found

    def _year_of(self, micros: int, guess: int) -> int:
        starts = self._starts
        low, high = starts.get(guess), starts.get(guess + 1)
        if low is not None and high is not None and low <= micros < high:
            return guess  # the usual case: both ends already known
        year = guess
        while micros < self._year_start(year):
            year -= 1
        while micros >= self._year_start(year + 1):
            year += 1
        _check_year(year, self.name)
        return year

    def _total(self, year: int) -> int:
        """The year's working time in microseconds, without building its index."""
        _check_year(year, self.name)
        built = self._years.get(year)
        if built is not None:
            return built.total
        found = self._totals.get(year)
        if found is None:
            found = self._totals[year] = self._count_year(year)
        return found

    def _count_year(self, year: int) -> int:
        """Weekly hours times the weekdays of the year, corrected on each day that differs."""
        first, days = date(year, 1, 1), (date(year + 1, 1, 1) - date(year, 1, 1)).days
        nominal = [sum(_wall_length(start, end) for start, end in self._weekday_ranges(weekday))
                   for weekday in range(7)]
        total = sum(nominal[(first.weekday() + n) % 7] for n in range(7)) * (days // 7)
        total += sum(nominal[(first.weekday() + n) % 7] for n in range(days % 7))
        for day in self._unusual_days(year):
            real = sum((finish - begin for begin, finish in self._intervals_of(day)), _ZERO)
            total += real // _ONE_MICRO - nominal[day.weekday()]
        return total

    def _weekday_ranges(self, weekday: int) -> tuple[tuple[time, time], ...]:
        return _ALL_DAY if self.always else self.hours.get(weekday, ())

    def _unusual_days(self, year: int) -> set[date]:
        """The days of `year` whose working time may differ from their weekday's wall-clock hours."""
        found = {day for day in self.dates if day.year == year}
        found |= {day for day in self.special if day.year == year}
        for month, day_of_month in (*self.yearly, *self.special_yearly):
            try:
                found.add(date(year, month, day_of_month))
            except ValueError:  # 02-29 in a common year
                continue
        if self.country:
            found |= {day for day in _country_holidays(self.country, self.subdivision, year) if day.year == year}
        return found | self._clock_change_days(year)

    def _clock_change_days(self, year: int) -> set[date]:
        """The days (and their neighbours) whose local midnights differ in UTC offset: weekly
        samples, then a binary search inside each week whose two ends differ."""
        def offset(day: date) -> timedelta | None:
            return datetime.combine(day, time(0), tzinfo=self.zone).utcoffset()

        found: set[date] = set()
        week_start = date(year, 1, 1) - timedelta(days=1)
        last = date(year + 1, 1, 1)
        while week_start < last:
            week_end = min(week_start + timedelta(days=7), last + timedelta(days=1))
            if offset(week_start) != offset(week_end):
                low, high = week_start, week_end  # offsets differ between low and high
                while (high - low).days > 1:
                    middle = low + (high - low) // 2
                    if offset(middle) == offset(low):
                        low = middle
                    else:
                        high = middle
                found |= {low - timedelta(days=1), low, high, high + timedelta(days=1)}
            week_start = week_end
        return {day for day in found if day.year == year}

    def _position(self, micros: int, year: int) -> int:
        """Working microseconds between the start of `year` and `micros` (inside that year)."""
        index = self._years.get(year) or self._year(year)
        i = bisect_right(index.starts, micros) - 1
        if i < 0:
            return 0
        return index.before[i] + min(micros, index.ends[i]) - index.starts[i]

    def _next_working(self, micros: int, year: int) -> int:
        index = self._year(year)
        i = bisect_right(index.ends, micros)
        if i < len(index.ends):
            return max(index.starts[i], micros)
        for _ in range(MAX_IDLE_YEARS + 1):  # the next year that has working time starts with it
            year += 1
            if self._total(year):
                return self._year(year).starts[0]
        raise NoWorkingTime(f"calendar {self.name!r} has no working time after {_moment(micros).isoformat()}")

    # -- arithmetic ------------------------------------------------------------------------------

    def is_working(self, moment: datetime) -> bool:
        micros = _micros(moment)
        index = self._year(self._year_of(micros, _guess(moment)))
        i = bisect_right(index.starts, micros) - 1
        return i >= 0 and micros < index.ends[i]

    def next_working_moment(self, moment: datetime) -> datetime:
        """`moment` itself when working, else the start of the next working range."""
        micros = _micros(moment)
        return _moment(self._next_working(micros, self._year_of(micros, _guess(moment))))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (a deadline)."""
        if duration < _ZERO:
            return self.subtract(start, -duration)
        micros = _micros(start)
        year = self._year_of(micros, _guess(start))
        if duration == _ZERO:
            return _moment(self._next_working(micros, year))
        wanted = self._position(micros, year) + duration // _ONE_MICRO
        idle = 0
        while wanted > (total := self._total(year)):
            wanted -= total
            year += 1
            idle = idle + 1 if total == 0 else 0
            if idle > MAX_IDLE_YEARS:
                raise NoWorkingTime(f"calendar {self.name!r} has no working time after {start.isoformat()}")
        index = self._years.get(year) or self._year(year)
        i = bisect_left(index.after, wanted)
        return _moment(index.starts[i] + wanted - index.before[i])

    def subtract(self, end: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time before `end`."""
        if duration <= _ZERO:
            return end if duration == _ZERO else self.add(end, -duration)
        micros = _micros(end)
        year = self._year_of(micros, _guess(end))
        wanted = self._position(micros, year) - duration // _ONE_MICRO
        idle = 0
        while wanted < 0:
            year -= 1
            total = self._total(year)
            wanted += total
            idle = idle + 1 if total == 0 else 0
            if idle > MAX_IDLE_YEARS:
                raise NoWorkingTime(f"calendar {self.name!r} has no working time before {end.isoformat()}")
        index = self._year(year)
        i = bisect_right(index.before, wanted) - 1
        return _moment(index.starts[i] + wanted - index.before[i])

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time inside [a, b); negative when b is before a."""
        if b < a:
            return -self.between(b, a)
        first, last = _micros(a), _micros(b)
        year_a, year_b = self._year_of(first, _guess(a)), self._year_of(last, _guess(b))
        total = self._position(last, year_b) - self._position(first, year_a)
        total += sum(self._total(year) for year in range(year_a, year_b))
        return timedelta(microseconds=total)

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same point of the working day `days` working days later (`3bd`).

        A start outside working time counts from the next working moment, and a start at the
        beginning of a working day is due at the end of the last of its `days` working days (the
        same instant in working time, read as a deadline like `add`'s). A day shorter than the
        start's point in its day (a half day) is due at its end.
        """
        micros = _micros(start)
        year = self._year_of(micros, _guess(start))
        micros = self._next_working(micros, year)
        year = self._year_of(micros, year)
        index = self._year(year)
        day = bisect_right(index.day_starts, micros) - 1
        into = self._position(micros, year) - index.day_before[day]
        if days <= 0:
            return _moment(micros)
        walked, idle = 0, 0
        while walked < days:
            day += 1
            if day == len(index.day_starts):
                year, day = year + 1, 0
                index = self._year(year)
            if index.day_before[day + 1] > index.day_before[day]:
                walked, idle = walked + 1, 0
            else:
                idle += 1
                if idle > MAX_IDLE_DAYS:
                    raise NoWorkingTime(f"calendar {self.name!r} has no working day after {start.isoformat()}")
        if into == 0:  # the start of a working day: the end of the working day before the last
            wanted = index.day_before[day]
            while wanted == 0:  # none earlier in its year: the end of the last earlier year with any
                year -= 1  # (the start's own day has some, so this stops at its year at the latest)
                wanted = self._total(year)
            index = self._years.get(year) or self._year(year)
        else:
            wanted = min(index.day_before[day] + into, index.day_before[day + 1])
        i = bisect_left(index.after, wanted)
        return _moment(index.starts[i] + wanted - index.before[i])

    def business_days_between(self, a: datetime, b: datetime, limit: int) -> int:
        """How many working days `b` is after `a`, counted as `add_business_days` counts them, up
        to one past `limit`: counting stops there, so a span years long costs no more than that."""
        days = 0
        while days <= limit and self.add_business_days(a, days + 1) <= b:
            days += 1
        return days


@dataclass(frozen=True)
class _YearIndex:
    """One local year's working intervals in microseconds since the epoch, in order, with the
    year's working time before each interval (`before`) and up to its end (`after`), and for
    each local day its first instant and the working time before it."""

    starts: list[int]
    ends: list[int]
    before: list[int]
    after: list[int]
    day_starts: list[int]
    day_before: list[int]  # one more than days: the last is the year's total
    total: int

    @classmethod
    def build(cls, calendar: BusinessCalendar, year: int) -> _YearIndex:
        starts: list[int] = []
        ends: list[int] = []
        before: list[int] = []
        after: list[int] = []
        day_starts: list[int] = []
        day_before: list[int] = []
        total = 0
        day, last = date(year, 1, 1), date(year + 1, 1, 1)
        while day < last:
            day_starts.append(_micros(calendar._utc(day, time(0))))
            day_before.append(total)
            for begin, finish in calendar._intervals_of(day):
                first, end = _micros(begin), _micros(finish)
                starts.append(first)
                ends.append(end)
                before.append(total)
                total += end - first
                after.append(total)
            day += timedelta(days=1)
        day_before.append(total)
        return cls(starts, ends, before, after, day_starts, day_before, total)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICRO = timedelta(microseconds=1)
_ZERO = timedelta(0)


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.astimezone(UTC)  # a naive moment is the machine's local time, as datetime has it
    return (moment - _EPOCH) // _ONE_MICRO


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _guess(moment: datetime) -> int:
    return moment.year


def _wall_length(start: time, end: time) -> int:
    """A range's length on the wall clock, in microseconds (time.max is 24:00)."""
    def of(moment: time) -> int:
        if moment == time.max:
            return 86_400_000_000
        return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + moment.microsecond
    return max(of(end) - of(start), 0)


def _check_year(year: int, name: str) -> None:
    if not 2 <= year <= 9997:
        raise NoWorkingTime(f"calendar {name!r}: no working time within the years datetime can show")
