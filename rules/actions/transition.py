"""`transition`: move the ticket to a status (by name), optionally with a note."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, check_in_vocabulary, compile_options
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


SPEC = ActionSpec(
    name="transition", summary="Change the ticket's status.", options=OPTIONS,
    compile=compile_action, sets_fields=lambda compiled: ["status"],
    changes=lambda params: {"status": params["status"]},
    example='- transition: {status: "Waiting for customer", comment: "We need your logs."}',
)
