"""`link`: relate the ticket to another one."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, PlanError, Scope, render_options
from rules.schema import Option

RELATIONS = ("relates", "duplicates", "duplicated_by", "blocks", "blocked_by", "precedes", "follows",
             "copied_to", "copied_from")
OPTIONS = {
    "to": Option("template", required=True, doc="the other ticket: id or key (`#42`, `SUP-7`)"),
    "relation": Option("enum", default="relates", choices=RELATIONS,
                       doc="how this ticket relates to the other (Jira: link type by name)"),
}


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    params = render_options(compiled, scope)
    params["to"] = params["to"].lstrip("#")
    if not params["to"]:
        raise PlanError("link: the other ticket is empty")
    if params["to"] == scope.ticket.id:
        raise PlanError("link: a ticket cannot be related to itself")
    return params


SPEC = ActionSpec(
    name="link", summary="Relate the ticket to another ticket.", options=OPTIONS,
    plan=plan,
    example='- link: {to: "{{ ticket.fields.parent }}", relation: relates}',
)
