"""Measures over a window of incidents, pure: what a ticket contributes (its facts), and the
figures per group (team, customer, priority, origin, project) that measured rules test.

Definitions (also in docs/rules.md):
- incidents: tickets matching `indicators.incidents`, created in the window;
- origin.V / share.V: incidents whose failure origin is V, and their percentage of incidents;
- internal / internal_share: incidents of an internal origin (`origin.internal` values);
- unclassified / unclassified_share: incidents with an empty or unclassified origin;
- breached / breached_share: incidents with at least one SLA breach;
- closed: incidents closed by now.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rules.conditions import Facts, evaluate
from rules.model import Event, Person, Ticket
from rules.rulebook import Measure, Rulebook


def ticket_facts(rulebook: Rulebook, ticket: Ticket,
                 role_of: Callable[[Person | None, Ticket | None], str | Sequence[str] | None],
                 now: datetime) -> dict[str, Any]:
    """The row of facts a ticket contributes to measures and reports."""
    refs = rulebook.field_refs(ticket.tracker_kind)
    event = Event("facts", ticket.tracker_kind, ticket.id, frozenset(), now)
    facts = Facts(ticket, event, now, refs, role_of)
    indicators = rulebook.indicators
    origin = rulebook.origin
    return {
        "tracker": ticket.tracker_kind, "ticket_id": ticket.id, "key": ticket.key[:64], "url": ticket.url[:512],
        "project": ticket.project[:128], "type": ticket.tracker[:128], "status": ticket.status[:128],
        "priority": ticket.priority[:128],
        "team": _field(ticket, refs, indicators.team),
        "customer": _customer(ticket, refs, indicators.customer),
        "origin": _field(ticket, refs, origin.field) if origin else None,
        "incident": evaluate(indicators.incidents, facts),
        "created_at": ticket.created or now,
        "closed_at": (ticket.closed or ticket.updated or now) if ticket.is_closed else None,
    }


def _field(ticket: Ticket, refs: Mapping[str, str | None], name: str | None) -> str | None:
    ref = refs.get(name) if name else None
    value = ticket.custom_field(ref) if ref else None
    return str(value)[:128] if value not in (None, "") else None


def _customer(ticket: Ticket, refs: Mapping[str, str | None], how: str) -> str | None:
    if how == "author":
        author = ticket.author
        return (author.name or author.login or author.id)[:255] if author else None
    if how == "project":
        return ticket.project_name or ticket.project
    return _field(ticket, refs, how)


def window(measure: Measure, now: datetime) -> tuple[datetime, datetime, str]:
    """[start, end) of a measured rule's window at `now`, and the month it names (YYYY-MM):
    the month of its start for calendar months, of `now` for a rolling window."""
    if measure.window is not None:
        return now - measure.window, now, now.strftime("%Y-%m")
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if measure.month == "this_month":
        days = calendar.monthrange(first.year, first.month)[1]
        return first, first + timedelta(days=days), first.strftime("%Y-%m")
    start = (first - timedelta(days=1)).replace(day=1)
    return start, first, start.strftime("%Y-%m")


@dataclass
class Group:
    """The incidents of one group (on one tracker) and the figures measured over them."""

    tracker: str
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    sources: list[dict[str, str]] = field(default_factory=list)  # the group's internal-origin incidents


def measure(rulebook: Rulebook, spec: Measure, rows: Iterable[Mapping[str, Any]]) -> list[Group]:
    """The figures for each group of incidents among `rows` (ticket facts in the window)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        if not row["incident"]:
            continue
        name = "all" if spec.by == "all" else (row.get(_COLUMN[spec.by]) or "(none)")
        groups.setdefault((row["tracker"], str(name)), []).append(row)
    return [_figures(rulebook, tracker, name, members) for (tracker, name), members in sorted(groups.items())]


_COLUMN = {"team": "team", "customer": "customer", "priority": "priority", "origin": "origin", "project": "project"}


def _figures(rulebook: Rulebook, tracker: str, name: str, rows: list[Mapping[str, Any]]) -> Group:
    total = len(rows)

    def share(count: int) -> float:
        return round(100.0 * count / total, 1) if total else 0.0

    breached = sum(1 for row in rows if row.get("breaches"))
    values: dict[str, Any] = {"group": name, "incidents": total, "breached": breached,
                              "breached_share": share(breached),
                              "closed": sum(1 for row in rows if row.get("closed_at"))}
    sources = []
    origin = rulebook.origin
    if origin is not None:
        internal = [row for row in rows if origin.is_internal(row.get("origin"))]
        unclassified = sum(1 for row in rows if not origin.classified(row.get("origin")))
        values.update(internal=len(internal), internal_share=share(len(internal)), unclassified=unclassified,
                      unclassified_share=share(unclassified))
        for value in origin.values:
            count = sum(1 for row in rows if str(row.get("origin") or "").casefold() == value.casefold())
            values[f"origin.{value}"] = count
            values[f"share.{value}"] = share(count)
        sources = [{"id": str(row["ticket_id"]), "key": str(row["key"]), "url": str(row.get("url") or "")}
                   for row in internal]
    return Group(tracker, name, values, sources)
