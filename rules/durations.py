"""Durations as admins write them: `90s`, `45m`, `4h`, `1h30m`, `3d`, `2w`, and business days `3bd`.

Days and weeks are plain multiples of 24 h here; business time (working hours, holidays) is
the calendar's job, which interprets the same durations against working time. Business days
(`3bd`: the same point of the working day three working days later) have no length of their
own: only a calendar and a start give them one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# The same forms for the JSON Schema: at least one part, spaces allowed as parse_duration allows them.
DURATION_TEXT = r"(?=\d)(\d+ *w)? *(\d+ *d)? *(\d+ *h)? *(\d+ *m)? *(\d+ *s)?"
DURATION_PATTERN = rf"^\s*{DURATION_TEXT}\s*$"
SPAN_PATTERN = rf"^\s*(?:{DURATION_TEXT}|\d+ *bd)\s*$"
_BUSINESS_DAYS = re.compile(r"^(\d+)bd$")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse `1h30m`-style text; raise DurationError with the accepted forms."""
    cleaned = str(text).strip().replace(" ", "")
    match = _DURATION.match(cleaned)
    if not cleaned or not match or not any(match.groups()):
        raise DurationError(f"malformed duration {text!r} (use e.g. 90s, 45m, 4h, 1h30m, 3d, 2w)")
    seconds = sum(int(value) * _UNITS[unit] for value, unit in zip(match.groups(), "wdhms", strict=True) if value)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float | int, largest: str = "d") -> str:
    """The inverse of parse_duration, largest units first: 5400 s -> `1h 30m`; negative gets `-`.

    `largest="h"` keeps whole hours (`30h`): business time reads better so, since a business
    day is not 24 hours.
    """
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in _UNITS_FROM.get(largest) or _SIZES[[u for u, _ in _SIZES].index(largest):]:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + (" ".join(parts) if parts else "0s")


_SIZES = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
# The units `format_duration` shows, from each largest one (an unknown one fails as before: ValueError).
_UNITS_FROM = {unit: _SIZES[index:] for index, (unit, _) in enumerate(_SIZES)}


@dataclass(frozen=True)
class BusinessDays:
    """`3bd`: a number of working days on some calendar."""

    days: int

    def __str__(self) -> str:
        return f"{self.days}bd"


def parse_span(text: str) -> timedelta | BusinessDays:
    """A duration, or business days (`3bd`); DurationError names both forms."""
    cleaned = str(text).strip().replace(" ", "")
    match = _BUSINESS_DAYS.match(cleaned)
    if match:
        return BusinessDays(int(match[1]))
    try:
        return parse_duration(cleaned)
    except DurationError:
        raise DurationError(f"malformed duration {text!r} (use e.g. 45m, 4h, 1h30m, 3d, 2w, "
                            f"or 3bd for business days)") from None
