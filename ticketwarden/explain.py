"""`ticketwarden explain TICKET`: the last decisions about a ticket, and what became of them."""

from __future__ import annotations

from rules.engine import Decision
from ticketwarden.store import Store


def explain(store: Store, ticket: str, last: int = 5, verbose: bool = False) -> list[str]:
    """Lines telling, for the ticket's last decisions, why each rule did or did not act and
    what happened to each planned effect (written, waiting for a retry, dead-lettered)."""
    ticket_id = ticket.lstrip("#")
    rows = [row for row in store.audit_rows(ticket_id) if row["kind"] == "decision"][-last:]
    if not rows:
        return [f"no decisions recorded for ticket {ticket}"]
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
    return lines
