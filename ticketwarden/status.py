"""`ticketwarden status`: what an operator asks of a running installation, from its store.

Queues (depth per state, the oldest waiting row, retries and when the next one is due), the
dead letters with their reasons, the last successful poll of each tracker, the rulebook each
process has in force, and the SLA clocks (per state, and how many fall due within the hour).
Read from the database alone, so it answers for every process sharing it, running or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ticketwarden.poller import WATERMARK_PREFIX, WATERMARK_SUFFIX
from ticketwarden.store import RULEBOOK_VALUE, Store

SOON = timedelta(hours=1)


@dataclass(frozen=True)
class Status:
    now: datetime
    queues: dict[str, dict[str, Any]]
    dead: list[dict[str, Any]]
    polls: dict[str, datetime]  # tracker -> when its poller last finished a pass
    rulebooks: dict[str, dict[str, Any]]  # instance -> the rulebook it noted, with when
    clocks: dict[str, int]
    due_soon: int

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "queues": _plain(self.queues), "dead_letters": _plain(self.dead),
                "last_poll": {tracker: at.isoformat() for tracker, at in self.polls.items()},
                "rulebooks": _plain(self.rulebooks), "clocks": self.clocks,
                "clocks_due_within_an_hour": self.due_soon}


def gather(store: Store, now: datetime, dead_limit: int = 20) -> Status:
    polls = {name[len(WATERMARK_PREFIX):-len(WATERMARK_SUFFIX)]: at
             for name, (_, at) in store.values_named(WATERMARK_PREFIX).items() if name.endswith(WATERMARK_SUFFIX)}
    rulebooks = {}
    for name, (value, at) in store.values_named(RULEBOOK_VALUE).items():
        try:
            noted = json.loads(value)
        except ValueError:
            continue
        rulebooks[name[len(RULEBOOK_VALUE):]] = {**noted, "noted_at": at}
    clocks, soon = store.clock_summary(now, SOON)
    return Status(now, store.queue_summary(), store.dead_letters(dead_limit), polls, rulebooks, clocks, soon)


def lines(status: Status) -> list[str]:
    """The status as a person reads it."""
    out = []
    for queue, summary in status.queues.items():
        states = summary["states"]
        counts = ", ".join(f"{state} {states.get(state, 0):,}" for state in ("pending", "processing", "dead", "done"))
        oldest = summary["oldest_waiting"]
        waiting = f"; oldest waiting since {_when(oldest, status.now)}" if oldest else "; nothing waiting"
        retrying = f"; {summary['retrying']} waiting to be retried, next {_when(summary['next_retry'], status.now)}" \
            if summary["retrying"] else ""
        out.append(f"{queue:<8} {counts}{waiting}{retrying}")
    polls = ", ".join(f"{tracker} {_when(at, status.now)}" for tracker, at in sorted(status.polls.items()))
    out.append(f"{'polls':<8} {polls or 'no poll has run'}")
    for instance, noted in sorted(status.rulebooks.items()):
        out.append(f"{'rulebook':<8} {noted.get('version')} ({noted.get('rules')} rules) in force on {instance} "
                   f"since {_when(noted['noted_at'], status.now)}")
    if not status.rulebooks:
        out.append(f"{'rulebook':<8} no process has noted one yet")
    clocks = ", ".join(f"{state} {count:,}" for state, count in sorted(status.clocks.items())) or "none"
    out.append(f"{'clocks':<8} {clocks}; {status.due_soon:,} with a warning or breach due within the hour")
    if status.dead:
        out.append(f"dead letters (newest {len(status.dead)}; bring back with `ticketwarden retry`):")
        for row in status.dead:
            out.append(f"  {row['queue']} {row['id']}: {row['what']}, {row['attempts']} attempt(s), "
                       f"set aside {_when(row['at'], status.now)}: {row['error']}")
    else:
        out.append("dead letters: none")
    return out


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    ago = f"in {_span(-seconds)}" if seconds < 0 else f"{_span(seconds)} ago"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({ago})"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO text, at any depth."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
