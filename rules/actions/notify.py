"""`notify`: POST a JSON message to an outgoing webhook (a chat channel, say).

Channels are named in configuration (`TICKETWARDEN_CHANNEL_<NAME>=url`, from the
environment, since such URLs are secrets); the rulebook refers to them by name and the name
is checked at load.
"""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, Scope, compile_options, render_options
from rules.context import Where
from rules.schema import Option

OPTIONS = {
    "channel": Option("text", required=True, doc="channel name from configuration"),
    "message": Option("template", required=True, doc="text of the message"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    compiled = compile_options(OPTIONS, value, where, book)
    if compiled is None:
        return None
    channel = compiled["channel"]
    if book.channels is not None and channel.casefold() not in book.channels:
        known = ", ".join(sorted(book.channels)) or "none"
        variable = "TICKETWARDEN_CHANNEL_" + channel.upper().replace("-", "_")
        here = where.child(value, "channel")
        if not book.environment_errors:
            here.warn(f"channel {channel!r} is not configured here (configured: {known}): set {variable}=<webhook "
                      f"URL> where ticketwarden runs, or `serve` refuses this rulebook")
            return compiled
        here.error(f"undefined channel {channel!r} (configured: {known}): set {variable}=<webhook URL>")
        return None
    return compiled


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    params = render_options(compiled, scope)
    params["channel"] = params["channel"].casefold()
    ticket = scope.ticket
    shown = scope.template_context.get("ticket", {})  # the subject as redacted for what leaves the ticket
    params["ticket"] = {"key": ticket.key, "url": ticket.url, "subject": shown.get("subject", ticket.subject),
                        "status": ticket.status, "priority": ticket.priority} if ticket.id else None
    params["rule"] = scope.rule
    return params


SPEC = ActionSpec(
    name="notify", summary="Post a message to an outgoing webhook (chat channel).", options=OPTIONS,
    compile=compile_action, plan=plan, needs_ticket=False, leaves_ticket=True,
    example='- notify: {channel: support-chat, message: "{{ ticket.key }} breached its SLA"}',
)
