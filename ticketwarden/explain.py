"""`ticketwarden explain TICKET`: the last decisions about a ticket, and what became of them."""

from __future__ import annotations

from rules.engine import Decision
from ticketwarden.store import RecordRow, Store


def explain(store: Store, ticket: str, last: int = 5, verbose: bool = False) -> list[str]:
    """Lines telling, for the ticket's last decisions, why each rule did or did not act and
    what happened to each planned effect (written, waiting for a retry, dead-lettered)."""
    ticket_id = ticket.lstrip("#")
    rows = [row for row in store.audit_rows(ticket_id) if row["kind"] == "decision"][-last:]
    if not rows:
        return [f"no decisions recorded for ticket {ticket}", *_origin(store, ticket_id), *_records(store, ticket_id)]
    outbox = {row["effect_key"]: row for row in store.outbox_rows(ticket_id=ticket_id)}
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
    return lines + _origin(store, ticket_id) + _records(store, ticket_id)


def _origin(store: Store, ticket_id: str) -> list[str]:
    """Every recorded change of the ticket's failure origin: when, from, to, by whom."""
    history = store.origin_history(None, ticket_id)
    if not history:
        return []
    lines = ["failure origin:"]
    for change in history:
        by = f"rule {change.by!r}" if change.by_kind == "rule" else change.by
        lines.append(f"  {change.at.isoformat()} {change.old or 'empty'} → {change.new or 'empty'} by {by}")
    return lines


def _records(store: Store, ticket_id: str) -> list[str]:
    """The development issues and quality records this ticket led to, or is."""
    lines = []
    for record in store.all_records():
        if ticket_id in record.sources:
            lines.append(f"  {record.kind} {record.target_key or '(being created)'} for cause {record.cause!r}"
                         f" ({record.state})")
        elif record.target_id == ticket_id:
            sources = ", ".join(record.sources) or "-"
            lines.append(f"  this ticket is the {record.kind} for cause {record.cause!r}, from {sources}")
    return ["records:", *lines] if lines else []


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
