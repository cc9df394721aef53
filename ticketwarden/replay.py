"""`ticketwarden replay`: what a rulebook would have done with past events, next to what was done.

Nothing is written anywhere: events are evaluated against the ticket as each delivery showed
it, at the time it happened, and compared with the effects recorded for that event. Redmine and
Jira deliveries alike; offline, nothing is read from a tracker either, and a delivery that lacks
what the rules need is reported instead of guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rules.model import Event, Person, Ticket
from rules.pipeline import Step, process
from rules.rulebook import Rulebook
from rules.sla import Clock, calendars_of
from ticketwarden.inspect import MissingInDelivery, NotADelivery, offline_view, read_recorded, role_of, unknowable
from ticketwarden.store import Store


class Snapshotter(Protocol):
    def snapshot(self, body: dict[str, Any]) -> tuple[Event, Ticket | None]: ...

    def service_user(self) -> Person: ...


@dataclass
class ReplayItem:
    label: str
    body: dict[str, Any]
    produced: list[Mapping[str, Any]] | None = None  # None: unknown (a file, not a stored event)
    tracker: str = "redmine"


@dataclass
class ReplayReport:
    lines: list[str] = field(default_factory=list)
    events: int = 0
    changed: int = 0
    added: int = 0
    removed: int = 0
    unreadable: int = 0  # offline: deliveries lacking what only their tracker could say

    def summary(self) -> str:
        missing = f"; {self.unreadable} could not be replayed offline" if self.unreadable else ""
        return (f"{self.events} event(s) replayed: {self.changed} would change "
                f"({self.added} effect(s) added, {self.removed} no longer){missing}")


def _signature(rule: str, action: str, params: Mapping[str, Any]) -> str:
    shown = {key: value for key, value in params.items() if key != "ticket"}
    return f"{action} by {rule!r} {json.dumps(shown, sort_keys=True, ensure_ascii=False)}"


def replay(rulebook: Rulebook, items: Iterable[ReplayItem],
           connectors: Mapping[str, Snapshotter] | None) -> ReplayReport:
    """Each item's effects under the rulebook, beside those produced then. `connectors` reads
    each tracker's names; None replays offline, from the deliveries alone.

    Items go through the same step as in the worker, in order: SLA clocks run along from the
    first event of each ticket replayed, so a rule looking at a clock sees it as it was then.
    """
    report = ReplayReport()
    history = _History(rulebook)
    for item in items:
        us = connectors[item.tracker].service_user() if connectors is not None else None
        try:
            event, ticket, notes = _read(rulebook, item, connectors)
        except MissingInDelivery as exc:
            report.unreadable += 1
            report.lines.append(f"{item.label}: cannot replay offline: {exc}; replay it without --offline")
            continue
        except NotADelivery as exc:  # offline, a stored body the payload code no longer reads
            report.unreadable += 1
            report.lines.append(f"{item.label}: not a recognised delivery: {exc}")
            continue
        report.events += 1
        header = f"{item.label}: {event.id}"
        if ticket is None:
            report.lines.append(f"{header}: no ticket in the delivery (skipped)")
            continue
        report.lines.append(f"{header} on {ticket.key} at {event.occurred_at.isoformat()}")
        report.lines.extend(f"  offline: {note}" for note in notes)
        _compare(report, item, history.step(event, ticket, us))
    return report


def _read(rulebook: Rulebook, item: ReplayItem, connectors: Mapping[str, Snapshotter] | None
          ) -> tuple[Event, Ticket | None, list[str]]:
    """The event and the ticket as the delivery showed it, and (offline) what it does not say."""
    if connectors is not None:
        event, ticket = connectors[item.tracker].snapshot(item.body)
        return event, ticket, []
    view = offline_view(item.body, strict=True)
    return view.event, view.ticket, view.notes + _rulebook_gaps(rulebook, view.tracker, view.event, view.ticket)


def _rulebook_gaps(rulebook: Rulebook, tracker: str, event: Event, ticket: Ticket | None) -> list[str]:
    """What the rulebook looks at that a delivery cannot show: Jira fields by name (deliveries
    give ids), and whether the actor is staff when that goes by groups or roles."""
    gaps = []
    if tracker == "jira":
        refs = rulebook.field_refs(tracker).values()
        named = sorted({ref for ref in refs if ref and not ref.startswith("customfield_")})
        if named:
            gaps.append(f"a Jira delivery gives custom fields by id only: {', '.join(map(repr, named))} "
                        f"(mapped by name in the rulebook) read as empty")
    staff, actor = rulebook.staff, event.actor
    if staff.configured and actor is not None and role_of(staff, actor, ticket) is None:
        who = actor.name or actor.login or actor.id
        gaps.append(f"whether {who} is staff is not in the delivery (the rulebook tells by "
                    f"{' and '.join(unknowable(staff, actor))}): taken as {staff.role_of(actor, ticket)}")
    return gaps


class _History:
    """The clocks of each replayed ticket, as the replay has moved them so far."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.calendars = calendars_of(rulebook) if rulebook.sla else {}
        self.clocks: dict[tuple[str, str], list[Clock]] = {}

    def step(self, event: Event, ticket: Ticket, us: Person | None) -> Step:
        """The event through the pipeline; `us` is the service user (offline: unknown, so the
        loop guard cannot tell our own changes)."""
        key = (ticket.tracker_kind, ticket.id)
        ours = us is not None and event.actor is not None and event.actor.id == us.id
        done = process(self.rulebook, self.calendars, event, ticket, self.clocks.get(key, []), event.occurred_at,
                       ours=ours)
        self.clocks[key] = done.clocks
        return done


def _compare(report: ReplayReport, item: ReplayItem, step: Step) -> None:
    """The effects the rulebook plans now, beside those recorded then (=, +, -)."""
    would = [_signature(e.rule, e.action, e.params) for e in step.effects]
    if item.produced is None:
        report.lines.extend(f"  would: {line}" for line in would)
        if not would:
            report.lines.append("  would: nothing")
        return
    was = [_signature(p["rule"], p["action"], json.loads(p["params"])) for p in item.produced]
    added = [line for line in would if line not in was]
    removed = [line for line in was if line not in would]
    report.lines.extend(f"  = {line}" for line in would if line in was)
    report.lines.extend(f"  + {line}" for line in added)
    report.lines.extend(f"  - {line}" for line in removed)
    if not would and not was:
        report.lines.append("  = nothing, as before")
    if added or removed:
        report.changed += 1
        report.added += len(added)
        report.removed += len(removed)


def stored_items(store: Store, sources: Sequence[str], since: datetime | None, until: datetime | None
                 ) -> list[ReplayItem]:
    """Handled deliveries of these trackers received in [since, until), with the effects
    recorded for each (keys claimed for a comment's other delivery carry no body: left out)."""
    items = []
    produced: dict[int, list[Mapping[str, Any]]] = {}
    for row in store.outbox_rows():
        produced.setdefault(row["inbox_id"], []).append(row)
    for row in store.inbox_rows(state="done"):
        if row["source"] not in sources or row["shape"] == "claimed":
            continue
        if (since and row["received_at"] < since) or (until and row["received_at"] >= until):
            continue
        items.append(ReplayItem(f"inbox {row['id']}", json.loads(row["body"]), produced.get(row["id"], []),
                                row["source"]))
    return items


def file_items(paths: Iterable[str]) -> list[ReplayItem]:
    """Recorded deliveries: a JSON body, or a recorded request with the body under `body`;
    raises NotADelivery naming the file when one is neither a Redmine nor a Jira delivery."""
    items = []
    for path in paths:
        try:
            recorded = read_recorded(path)
            tracker = offline_view(recorded.body, recorded.headers).tracker  # a delivery it can read at all
            items.append(ReplayItem(path, recorded.body, tracker=tracker))
        except NotADelivery as exc:
            raise NotADelivery(f"{path}: not a recognised delivery: {exc}") from exc
    return items
