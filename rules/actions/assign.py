"""`assign`: give the ticket to someone (id, login or name), to its author, or to nobody."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.actions import ActionSpec, Scope, render_options
from rules.schema import Option

OPTIONS = {
    "to": Option("template", required=True,
                 doc="user id, login or display name; `author` for the ticket's author; `nobody` to unassign"),
}


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    params = render_options(compiled, scope)
    target = params["to"]
    if target.casefold() == "author":
        author = scope.ticket.author
        params["to"] = author.id if author else "nobody"
    return params


def changes(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"assignee": None if params["to"].casefold() == "nobody" else params["to"]}


SPEC = ActionSpec(
    name="assign", summary="Assign the ticket.", options=OPTIONS, plan=plan,
    sets_fields=lambda compiled: ["assignee"], changes=changes, example="- assign: {to: agent}",
)
