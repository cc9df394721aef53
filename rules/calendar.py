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

Holidays come from the `holidays` package (country and subdivision, less the days listed as
worked), explicit dates and yearly dates; a holiday has no working hours at all. A special
day (a date, or a day of every year) has hours of its own, replacing its weekday's and any
holiday.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from rules.rulebook import Calendar
from rules.schema import WEEKDAYS

MAX_IDLE_DAYS = 3 * 366  # three years in a row without working time: the calendar has none
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

    def intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) that end after `moment`, clipped to start at it, in order;
        they stop only after three years in a row without any."""
        moment = moment.astimezone(UTC)
        day = moment.astimezone(self.zone).date() - timedelta(days=1)  # an interval may span midnight
        for intervals in self._working_days(day, timedelta(days=1)):
            for begin, finish in intervals:
                if finish > moment:
                    yield max(begin, moment), finish

    def intervals_before(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) that start before `moment`, clipped to end at it, newest first;
        they stop only after three years in a row without any."""
        moment = moment.astimezone(UTC)
        day = moment.astimezone(self.zone).date() + timedelta(days=1)
        for intervals in self._working_days(day, timedelta(days=-1)):
            for begin, finish in reversed(intervals):
                if begin < moment:
                    yield begin, min(finish, moment)

    def _working_days(self, day: date, step: timedelta) -> Iterator[list[tuple[datetime, datetime]]]:
        """Each day's working intervals from `day` on, a `step` at a time, until three years in
        a row have none (then the calendar has no working time that way)."""
        idle = 0
        while idle < MAX_IDLE_DAYS:
            intervals = self._intervals_of(day)
            idle = 0 if intervals else idle + 1
            yield intervals
            day += step

    # -- arithmetic ------------------------------------------------------------------------------

    def is_working(self, moment: datetime) -> bool:
        first = next(self.intervals_from(moment), None)
        return first is not None and first[0] == moment.astimezone(UTC)

    def next_working_moment(self, moment: datetime) -> datetime:
        """`moment` itself when working, else the start of the next working range."""
        for begin, _ in self.intervals_from(moment):
            return begin
        raise NoWorkingTime(f"calendar {self.name!r} has no working time after {moment.isoformat()}")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (a deadline)."""
        if duration < timedelta(0):
            return self.subtract(start, -duration)
        if duration == timedelta(0):
            return self.next_working_moment(start)
        remaining = duration
        for begin, finish in self.intervals_from(start):
            span = finish - begin
            if remaining <= span:
                return begin + remaining
            remaining -= span
        raise NoWorkingTime(f"calendar {self.name!r} has no working time after {start.isoformat()}")

    def subtract(self, end: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time before `end`."""
        remaining = duration
        if remaining == timedelta(0):
            return end
        for begin, finish in self.intervals_before(end):
            span = finish - begin
            if remaining <= span:
                return finish - remaining
            remaining -= span
        raise NoWorkingTime(f"calendar {self.name!r} has no working time before {end.isoformat()}")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time inside [a, b); negative when b is before a."""
        if b < a:
            return -self.between(b, a)
        total = timedelta(0)
        b_utc = b.astimezone(UTC)
        for begin, finish in self.intervals_from(a):
            if begin >= b_utc:
                break
            total += min(finish, b_utc) - begin
        return total
