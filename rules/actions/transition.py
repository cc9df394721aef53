"""`transition`: move the ticket to a status (by name), optionally with a note."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, Scope, check_in_vocabulary, compile_options, render_options
from rules.context import Where
from rules.schema import Option

OPTIONS = {
    "status": Option("template", required=True, doc="target status name (Jira: the transition's target)"),
    "comment": Option("template", doc="note added with the transition"),
    "private": Option("bool", default=False, doc="make that note private"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    if isinstance(value, dict) and not check_in_vocabulary(value.get("status"), "statuses",
                                                           where.child(value, "status"), book):
        return None
    return compile_options(OPTIONS, value, where, book)


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A transition planned for the event that closed the ticket sends the close back (a rule
    refused it): the reopen it causes continues the SLA cycle and cancels the close's survey."""
    params = render_options(compiled, scope)
    if "ticket.closed" in scope.event.triggers:
        params["refuses_close"] = True
    return params


SPEC = ActionSpec(
    name="transition", summary="Change the ticket's status.", options=OPTIONS,
    compile=compile_action, plan=plan, sets_fields=lambda compiled: ["status"],
    changes=lambda params: {"status": params["status"]},
    example='- transition: {status: "Waiting for customer", comment: "We need your logs."}',
    plan_renders_only=True,
)
