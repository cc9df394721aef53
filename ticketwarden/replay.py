"""`ticketwarden replay`: what a rulebook would have done with past events, next to what was done.

Nothing is written anywhere: events are evaluated against the ticket as each delivery showed
it, at the time it happened, and compared with the effects recorded for that event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rules.engine import evaluate
from rules.model import Event, Ticket
from rules.rulebook import Rulebook
from ticketwarden.store import Store


class Snapshotter(Protocol):
    def snapshot(self, body: dict[str, Any]) -> tuple[Event, Ticket | None]: ...


@dataclass
class ReplayItem:
    label: str
    body: dict[str, Any]
    produced: list[Mapping[str, Any]] | None = None  # None: unknown (a file, not a stored event)


@dataclass
class ReplayReport:
    lines: list[str] = field(default_factory=list)
    events: int = 0
    changed: int = 0
    added: int = 0
    removed: int = 0

    def summary(self) -> str:
        return (f"{self.events} event(s) replayed: {self.changed} would change "
                f"({self.added} effect(s) added, {self.removed} no longer)")


def _signature(rule: str, action: str, params: Mapping[str, Any]) -> str:
    shown = {key: value for key, value in params.items() if key != "ticket"}
    return f"{action} by {rule!r} {json.dumps(shown, sort_keys=True, ensure_ascii=False)}"


def replay(rulebook: Rulebook, items: Iterable[ReplayItem], connector: Snapshotter) -> ReplayReport:
    report = ReplayReport()
    for item in items:
        event, ticket = connector.snapshot(item.body)
        report.events += 1
        header = f"{item.label}: {event.id}"
        if ticket is None:
            report.lines.append(f"{header}: no ticket in the delivery (skipped)")
            continue
        decision = evaluate(rulebook, event, ticket, event.occurred_at)
        would = [_signature(e.rule, e.action, e.params) for e in decision.effects]
        report.lines.append(f"{header} on {ticket.key} at {event.occurred_at.isoformat()}")
        if item.produced is None:
            report.lines.extend(f"  would: {line}" for line in would)
            if not would:
                report.lines.append("  would: nothing")
            continue
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
    return report


def stored_items(store: Store, source: str, since: datetime | None, until: datetime | None) -> list[ReplayItem]:
    """Handled events received in [since, until), with the effects recorded for each."""
    items = []
    produced: dict[int, list[Mapping[str, Any]]] = {}
    for row in store.outbox_rows():
        produced.setdefault(row["inbox_id"], []).append(row)
    for row in store.inbox_rows(source=source, state="done"):
        if (since and row["received_at"] < since) or (until and row["received_at"] >= until):
            continue
        items.append(ReplayItem(f"inbox {row['id']}", json.loads(row["body"]), produced.get(row["id"], [])))
    return items


def file_items(paths: Iterable[str]) -> list[ReplayItem]:
    """Recorded deliveries: a JSON body, or a recorded request with the body under `body`."""
    items = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        body = document["body"] if isinstance(document, dict) and "body" in document else document
        items.append(ReplayItem(path, body))
    return items
