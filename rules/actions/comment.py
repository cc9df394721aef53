"""`comment`: add a note to the ticket, public or private, from a template."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, Option, Scope, check_options, checked_template
from rules.context import Where
from rules.templates import render

OPTIONS = {
    "body": Option("template", required=True, doc="Text of the note (a template)."),
    "private": Option("bool", default=False,
                      doc="Private note: visible to staff only (Redmine private notes)."),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    options = check_options(OPTIONS, value, where)
    if options is None:
        return None
    template = checked_template(options["body"], where.child(value, "body"), book)
    if template is None:
        return None
    return {"body": template, "private": options["private"]}


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    body = render(compiled["body"], scope.template_context).strip()
    return {"body": body, "private": compiled["private"]}


SPEC = ActionSpec(
    name="comment",
    summary="Add a public or private note to the ticket.",
    options=OPTIONS,
    compile=compile_action,
    plan=plan,
)
