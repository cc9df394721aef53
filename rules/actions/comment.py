"""`comment`: add a note to the ticket, public or private, from a template."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, Scope, compile_options, render_options
from rules.context import Where
from rules.schema import Option

OPTIONS = {
    "body": Option("template", required=True, doc="text of the note"),
    "private": Option("bool", default=False, doc="private note: visible to staff only"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    return compile_options(OPTIONS, value, where, book)


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    return render_options(compiled, scope)


SPEC = ActionSpec(
    name="comment", summary="Add a public or private note to the ticket.", options=OPTIONS,
    compile=compile_action, plan=plan,
    example='- comment: {private: true, body: "Waiting for the customer since {{ event.occurred_at | iso }}"}',
)
