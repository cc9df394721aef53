"""`ticketwarden explain TICKET`: the last decisions about a ticket, and what became of them.

Also which ticket a person means: the store keys tickets by tracker and id, people name them
`#12` (Redmine), `SUP-12` (a Jira key) or a bare `12`, which may be either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.engine import Decision
from ticketwarden.store import RecordRow, Store

TRACKERS = ("redmine", "jira")
_TITLES = {"redmine": "Redmine", "jira": "Jira"}
_JIRA_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")


class TicketNotFound(ValueError):
    """What was typed names no ticket, or more than one: the message says which and what to type."""


@dataclass(frozen=True)
class TicketRef:
    """One ticket as the store keys it (tracker, id) and as people name it (key)."""

    tracker: str
    id: str
    key: str

    def __str__(self) -> str:
        if self.tracker == "jira" and self.key != self.id:
            return f"Jira {self.key} (id {self.id})"
        return f"{_TITLES.get(self.tracker, self.tracker)} {self.key}"


def resolve_ticket(store: Store, text: str, tracker: str | None = None) -> TicketRef:
    """The ticket `text` names: `#12` is Redmine's, `SUP-12` a Jira key looked up in what the
    store kept, and a bare `12` whichever tracker has a ticket 12 stored (both: an error that
    lists them, so a Redmine ticket and a Jira issue with the same id are never mixed)."""
    wanted = text.strip()
    if _JIRA_KEY.match(wanted):
        return _by_jira_key(store, wanted.upper(), tracker)
    number = wanted.removeprefix("#")
    if not number.isdigit():
        raise TicketNotFound(f"{text!r} names no ticket: give a Redmine id (12 or #12) or a Jira key (SUP-12)")
    if wanted.startswith("#"):
        if tracker == "jira":
            raise TicketNotFound(f"{wanted} is a Redmine id; name a Jira issue by its key (SUP-12) or its id")
        return TicketRef("redmine", number, wanted)
    if tracker is not None:
        return _ref(store, tracker, number)
    stored = store.trackers_of(number)
    candidates = [_ref(store, known, number) for known in TRACKERS if known in stored]
    if len(candidates) > 1:
        listed = ", ".join(str(candidate) for candidate in candidates)
        raise TicketNotFound(f"ticket {number} is ambiguous: {listed}; say which with --tracker redmine|jira "
                             f"(or #{number} for Redmine, the key for Jira)")
    return candidates[0] if candidates else TicketRef("redmine", number, f"#{number}")


def _by_jira_key(store: Store, key: str, tracker: str | None) -> TicketRef:
    """A Jira key: the id of the issue stored under it (facts, decisions or deliveries)."""
    if tracker == "redmine":
        raise TicketNotFound(f"{key} is a Jira key, not a Redmine id")
    ids = store.ids_with_key("jira", key)
    if not ids:
        raise TicketNotFound(f"nothing is stored about a Jira issue {key}: ticketwarden knows an issue's key "
                             f"once it has received an event of it (or use --tracker jira with its id)")
    if len(ids) > 1:
        raise TicketNotFound(f"the Jira key {key} was stored for several issues (moved between projects?): "
                             f"ids {', '.join(ids)}; give one with --tracker jira ID")
    return TicketRef("jira", ids[0], key)


def _ref(store: Store, tracker: str, ticket_id: str) -> TicketRef:
    if tracker == "redmine":
        return TicketRef(tracker, ticket_id, f"#{ticket_id}")
    return TicketRef(tracker, ticket_id, store.key_of(tracker, ticket_id) or ticket_id)


def explain(store: Store, ticket: str | TicketRef, last: int = 5, verbose: bool = False,
            tracker: str | None = None) -> list[str]:
    """Lines telling, for the ticket's last decisions, why each rule did or did not act and
    what happened to each planned effect (written, waiting for a retry, dead-lettered)."""
    ref = ticket if isinstance(ticket, TicketRef) else resolve_ticket(store, ticket, tracker)
    rows = [row for row in store.audit_rows(ref.id, tracker=ref.tracker) if row["kind"] == "decision"][-last:]
    if not rows:
        return [f"no decisions recorded for {ref}", *_origin(store, ref), *_records(store, ref)]
    outbox = {row["effect_key"]: row for row in store.outbox_rows(tracker=ref.tracker, ticket_id=ref.id)}
    lines: list[str] = []
    for row in rows:
        decision = Decision.from_dict(row["detail"])
        lines.append(f"{row['at'].isoformat()} {decision.format(verbose)}")
        for effect in decision.effects:
            state = outbox.get(effect.key)
            if state is None:
                continue
            if state["state"] == "done":
                fate = f"written at {state['applied_at'].isoformat()}: {state['outcome']}"
            elif state["state"] == "dead":
                fate = f"NOT written (dead-lettered after {state['attempts']} attempts): {state['last_error']}"
            else:
                fate = f"waiting (attempt {state['attempts']}, next at {state['available_at'].isoformat()})" + \
                    (f": {state['last_error']}" if state["last_error"] else "")
            lines.append(f"    {effect.action} by {effect.rule!r}: {fate}")
    return lines + _origin(store, ref) + _records(store, ref)


def _origin(store: Store, ref: TicketRef) -> list[str]:
    """Every recorded change of the ticket's failure origin: when, from, to, by whom."""
    history = store.origin_history(ref.tracker, ref.id)
    if not history:
        return []
    lines = ["failure origin:"]
    for change in history:
        by = f"rule {change.by!r}" if change.by_kind == "rule" else change.by
        lines.append(f"  {change.at.isoformat()} {change.old or 'empty'} → {change.new or 'empty'} by {by}")
    return lines


def _records(store: Store, ref: TicketRef) -> list[str]:
    """The development issues and quality records this ticket led to, or is."""
    lines = []
    for record in store.all_records():
        if record.tracker != ref.tracker:
            continue
        if ref.id in record.sources:
            lines.append(f"  {record.kind} {record.target_key or '(being created)'} for cause {record.cause!r}"
                         f" ({record.state})")
        elif record.target_id == ref.id:
            sources = ", ".join(record.sources) or "-"
            lines.append(f"  this ticket is the {record.kind} for cause {record.cause!r}, from {sources}")
    return ["records:", *lines] if lines else []


def records_of(records: list[RecordRow], ref: TicketRef) -> list[RecordRow]:
    """The records one ticket led to (it is a source) or is (it is the record's issue)."""
    return [record for record in records if record.tracker == ref.tracker
            and (ref.id in record.sources or record.target_id == ref.id)]


def record_lines(records: list[RecordRow], open_only: bool = False) -> list[str]:
    """One line per record: kind, issue, state, cause, sources, corrective action and review due."""
    lines = []
    for record in records:
        if open_only and record.state == "closed":
            continue
        dates = "".join(f", {name} {moment.date().isoformat()}" for name, moment in
                        (("action due", record.action_due), ("review due", record.review_due)) if moment)
        lines.append(f"{record.kind} {record.target_key or '(being created)'} [{record.state}] cause "
                     f"{record.cause!r} from {', '.join(record.sources) or '-'}{dates}")
    return lines
