"""Jira Service Management's own SLAs, as conditions and templates see them.

JSM times its SLAs itself and shows each on the issue as a custom field ("Time to first
response", "Time to resolution", ...). A rulebook may act on them besides (or instead of) its
own clocks: `jsm.NAME` is the SLA's state and `jsm.NAME.FACT` one fact about it, where NAME is
the SLA's name in lower case with `_` between words (`jsm.time_to_resolution.breached`).
The facts are those of the ongoing cycle, or of the last completed one when none is running.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rules.durations import format_duration
from rules.model import SlaCycle, TrackerSla

PREFIX = "jsm."
STATES = ("running", "paused", "breached", "met")
# fact -> what it is (the rule reference lists these)
FACTS = {
    "state": "`running`, `paused`, `breached` or `met` (also `jsm.NAME` alone)",
    "breached": "`true` when the cycle breached its goal",
    "paused": "`true` while the ongoing cycle is paused",
    "goal": "the cycle's goal (a duration)",
    "elapsed": "time the cycle has run (a duration)",
    "remaining": "time left before the breach (a duration, negative once breached)",
    "breach_at": "when the cycle breaches (or breached)",
    "started": "when the cycle started",
    "within_calendar_hours": "`true` when JSM is inside the SLA calendar's working hours",
    "cycles": "how many cycles have completed",
}
DURATION_FACTS = ("goal", "elapsed", "remaining")
BOOLEAN_FACTS = ("breached", "paused", "within_calendar_hours")
_NAME = re.compile(r"^jsm\.(?P<name>[a-z0-9_]+)(?:\.(?P<fact>[a-z_]+))?$")


def slug(name: str) -> str:
    """How a rule names an SLA: `Time to resolution` -> `time_to_resolution`."""
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


def parse_name(field: str) -> tuple[str, str] | None:
    """`jsm.time_to_resolution.breached` -> (time_to_resolution, breached); `jsm.NAME` is its
    state; None when `field` does not name a JSM SLA (the fact is checked by the caller)."""
    match = _NAME.match(field)
    return (match["name"], match["fact"] or "state") if match else None


def find(slas: Sequence[TrackerSla], name: str) -> TrackerSla | None:
    """The SLA a rule names, by its slug or its name as Jira shows it."""
    wanted = slug(name)
    return next((sla for sla in slas if slug(sla.name) == wanted), None)


def current(sla: TrackerSla) -> SlaCycle | None:
    """The cycle a rule looks at: the ongoing one, else the last completed one."""
    return sla.ongoing or (sla.completed[-1] if sla.completed else None)


def state(sla: TrackerSla) -> str:
    """running, paused or breached while a cycle runs; met or breached once the last stopped."""
    cycle = current(sla)
    if cycle is None:
        return ""
    if cycle.breached:
        return "breached"
    if sla.ongoing is None:
        return "met"
    return "paused" if cycle.paused else "running"


def fact(sla: TrackerSla, name: str) -> Any:
    """One fact of the SLA as a condition compares it (durations as timedelta, flags as text)."""
    if name == "state":
        return state(sla)
    if name == "cycles":
        return len(sla.completed)
    cycle = current(sla)
    if cycle is None:
        return None
    value = {"breached": cycle.breached, "paused": cycle.paused, "within_calendar_hours": cycle.within_calendar_hours,
             "goal": cycle.goal, "elapsed": cycle.elapsed, "remaining": cycle.remaining,
             "breach_at": cycle.breach_at, "started": cycle.start}[name]
    return ("true" if value else "false") if isinstance(value, bool) else value


def cycle_view(cycle: SlaCycle | None) -> dict[str, Any]:
    """A cycle as templates show it: durations as `1h 30m`, times as ISO text."""
    if cycle is None:
        return dict(EMPTY_CYCLE)
    return {"start": _iso(cycle.start), "stop": _iso(cycle.stop), "breach_at": _iso(cycle.breach_at),
            "breached": cycle.breached, "paused": cycle.paused,
            "within_calendar_hours": cycle.within_calendar_hours, "goal": _span(cycle.goal),
            "elapsed": _span(cycle.elapsed), "remaining": _span(cycle.remaining)}


def view(sla: TrackerSla) -> dict[str, Any]:
    """An SLA as templates show it: the facts of its current cycle, and every cycle."""
    now = cycle_view(current(sla))
    return {"name": sla.name, "state": state(sla), "breached": now["breached"], "paused": now["paused"],
            "goal": now["goal"], "elapsed": now["elapsed"], "remaining": now["remaining"],
            "breach_at": now["breach_at"], "started": now["start"], "cycles": len(sla.completed),
            "ongoing": cycle_view(sla.ongoing), "completed": [cycle_view(c) for c in sla.completed]}


class SlaViews(dict[str, Any]):
    """`jsm` in a template: each SLA by its name and its slug; an SLA the ticket does not have
    is empty (as `sla` is outside SLA events), so one rulebook serves tickets with and without."""

    def __missing__(self, key: str) -> dict[str, Any]:
        return dict(EMPTY_VIEW)


class SampleViews(SlaViews):
    """`jsm` in the dry render at load: any SLA name renders, with sample values."""

    def __missing__(self, key: str) -> dict[str, Any]:
        return dict(SAMPLE_VIEW)


def views(slas: Sequence[TrackerSla]) -> SlaViews:
    found = SlaViews()
    for sla in slas:
        found[sla.name] = found[slug(sla.name)] = view(sla)
    return found


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _span(span: timedelta | None) -> str:
    return format_duration(span) if span is not None else ""


EMPTY_CYCLE: dict[str, Any] = {"start": "", "stop": "", "breach_at": "", "breached": False, "paused": False,
                               "within_calendar_hours": None, "goal": "", "elapsed": "", "remaining": ""}
EMPTY_VIEW: dict[str, Any] = {"name": "", "state": "", "breached": False, "paused": False, "goal": "", "elapsed": "",
                              "remaining": "", "breach_at": "", "started": "", "cycles": 0,
                              "ongoing": dict(EMPTY_CYCLE), "completed": []}
SAMPLE_CYCLE: dict[str, Any] = {"start": "2026-01-05T09:30:00+00:00", "stop": "",
                                "breach_at": "2026-01-05T13:30:00+00:00", "breached": False, "paused": False,
                                "within_calendar_hours": True, "goal": "4h", "elapsed": "1h", "remaining": "3h"}
SAMPLE_VIEW: dict[str, Any] = {"name": "Time to resolution", "state": "running", "breached": False, "paused": False,
                               "goal": "4h", "elapsed": "1h", "remaining": "3h",
                               "breach_at": "2026-01-05T13:30:00+00:00", "started": "2026-01-05T09:30:00+00:00",
                               "cycles": 0, "ongoing": dict(SAMPLE_CYCLE), "completed": []}
