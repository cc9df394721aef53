"""Cron schedules as crontab(5) reads them: `minute hour day month weekday`, UTC.

Weekdays are 0-7 with both 0 and 7 Sunday, or names (`mon-fri`); months 1-12 or names. When
both day of month and weekday are restricted, either one matching fires (`0 9 1 * mon`: the 1st
and every Monday), as in cron. The scheduler gets the parsed fields as explicit lists, so its
own weekday numbering (Monday = 0) never leaks into what admins write. Pure: no clock.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day", 1, 31, ()), ("month", 1, 12, _MONTHS),
           ("weekday", 0, 7, _WEEKDAYS))
_QUARTZ = re.compile(r"[?LW#]")


class CronError(ValueError):
    """A schedule that is not a 5-field cron expression, or one that never fires."""


@dataclass(frozen=True)
class Cron:
    """A parsed schedule: the values each field allows (weekday 0 = Sunday)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def fires_on(self, moment: datetime) -> bool:
        """Whether the schedule fires on this minute (of a UTC time)."""
        if moment.minute not in self.minutes or moment.hour not in self.hours or moment.month not in self.months:
            return False
        return self._day_matches(moment.day, (moment.weekday() + 1) % 7)

    def _day_matches(self, day: int, weekday: int) -> bool:
        on_day, on_weekday = day in self.days, weekday in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return on_day or on_weekday
        return on_day and on_weekday

    def next_after(self, moment: datetime, years: int = 8) -> datetime | None:
        """The first firing minute after `moment`, searched day by day up to `years` years
        (every combination of day of month and weekday recurs within 28 years; 8 covers
        leap days); None when there is none."""
        day = moment.replace(second=0, microsecond=0)
        start_minute = day + timedelta(minutes=1)
        current = start_minute.replace(hour=0, minute=0)
        for _ in range(years * 366 + 1):
            if current.month in self.months and self._day_matches(current.day, (current.weekday() + 1) % 7):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = current.replace(hour=hour, minute=minute)
                        if candidate >= start_minute:
                            return candidate
            current += timedelta(days=1)
        return None

    def scheduler_fields(self) -> list[dict[str, str]]:
        """Keyword arguments for the scheduler's cron trigger (weekdays by name), one set per
        trigger: two when day and weekday are both restricted (either fires)."""
        base = {"minute": _listed(self.minutes), "hour": _listed(self.hours), "month": _listed(self.months)}
        names = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(d - 1) % 7] for d in sorted(self.weekdays))
        if self.days_restricted and self.weekdays_restricted:
            return [{**base, "day": _listed(self.days)}, {**base, "day_of_week": names}]
        return [{**base, "day": _listed(self.days), "day_of_week": names}]


def _listed(values: frozenset[int]) -> str:
    return ",".join(str(v) for v in sorted(values))


def parse_cron(text: str) -> Cron:
    """Parse a 5-field cron expression; CronError says what is wrong and how to write it."""
    fields = str(text).split()
    if _QUARTZ.search(text) or len(fields) in (6, 7):
        raise CronError(_quartz_hint(text, fields))
    if len(fields) != 5:
        raise CronError(f"cron {text!r} has {len(fields)} field(s); ticketwarden uses 5: minute hour day month "
                        f"weekday (e.g. `0 9 * * mon-fri`)")
    try:
        values = [_field(raw, *spec) for raw, spec in zip(fields, _FIELDS, strict=True)]
    except CronError as exc:
        raise CronError(f"cron {text!r}: {exc} (minute hour day month weekday)") from None
    weekdays = frozenset(v % 7 for v in values[4])
    cron = Cron(text, values[0], values[1], values[2], values[3], weekdays,
                not fields[2].startswith("*"), not fields[4].startswith("*"))  # as cron tells "restricted"
    _check_possible(cron)
    return cron


def _field(raw: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    allowed: set[int] = set()
    for part in raw.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, name, names, 1) if step_text else 1
        if step < 1:
            raise CronError(f"{name} {raw!r}: a step must be 1 or more")
        if body == "*":
            first, last = low, high
        elif "-" in body:
            first_text, _, last_text = body.partition("-")
            first, last = _number(first_text, name, names, low), _number(last_text, name, names, low)
        else:
            first = _number(body, name, names, low)
            last = high if step_text else first
        for value in (first, last):
            if not low <= value <= high:
                raise CronError(f"{name} {value} is out of range {low}-{high}")
        if first > last:
            raise CronError(f"{name} {body!r}: the range runs backwards")
        allowed.update(range(first, last + 1, step))
    return frozenset(allowed)


def _number(text: str, name: str, names: tuple[str, ...], low: int) -> int:
    lowered = text.strip().lower()
    if lowered in names:
        return names.index(lowered) + (1 if name == "month" else 0)
    if not lowered.isdigit():
        known = f" or a name ({names[0]}-{names[-1]})" if names else ""
        raise CronError(f"{name} {text!r}: expected a number{known}")
    return int(lowered)


def _check_possible(cron: Cron) -> None:
    """A day of month no allowed month has (31 in February) with no weekday to fire instead."""
    if cron.weekdays_restricted and cron.days_restricted:
        return
    longest = max(calendar.monthrange(2024, month)[1] for month in cron.months)  # 2024: February has 29
    if min(cron.days) > longest:
        raise CronError(f"cron {cron.text!r} never fires: no allowed month has day {min(cron.days)}")


def _quartz_hint(text: str, fields: list[str]) -> str:
    """Quartz (Jira, Java schedulers) writes seconds first and `?` for "no specific value"."""
    if len(fields) in (6, 7):
        converted = [("*" if value == "?" else value) for value in fields[1:6]]
        suggestion = f": `{' '.join(converted)}`" if not _QUARTZ.search(" ".join(converted)) else ""
        return (f"cron {text!r} looks like a Quartz (Jira) expression with seconds{' and `?`' if '?' in text else ''}"
                f"; ticketwarden uses 5-field cron, minute hour day month weekday{suggestion}")
    return (f"cron {text!r} uses Quartz's `?`, `L`, `W` or `#`; ticketwarden uses 5-field cron, "
            f"minute hour day month weekday (`*` for any)")
