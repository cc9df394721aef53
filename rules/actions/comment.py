"""`comment`: add a note to the ticket, public or private, from a template."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, Option, Scope, check_options
from rules.context import Where
from rules.templates import TemplateError, compile_template, dry_render, render

OPTIONS = {
    "body": Option("template", required=True, doc="Text of the note (a template)."),
    "private": Option("bool", default=False,
                      doc="Private note: visible to staff only (Redmine private notes)."),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    options = check_options(OPTIONS, value, where)
    if options is None:
        return None
    body_where = where.child(value, "body")
    try:
        template = compile_template(options["body"])
    except TemplateError as exc:
        body_where.error(f"template error: {exc}")
        return None
    problem = dry_render(template, book.field_names)
    if problem:
        body_where.error(problem)
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
