"""`survey`: invite the customer to rate the service after delivery (options; see _later)."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, compile_options
from rules.actions._later import not_available
from rules.context import Where
from rules.durations import DurationError, parse_duration
from rules.schema import Option

OPTIONS = {
    "expires": Option("duration", default="30d", doc="how long the personal link works"),
    "field": Option("text", doc="logical field that receives the score"),
    "message": Option("template", doc="text of the public note carrying the link"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    compiled = compile_options(OPTIONS, value if value is not None else {}, where, book)
    if compiled is None:
        return None
    try:
        parse_duration(compiled["expires"])
    except DurationError as exc:
        where.child(value, "expires").error(str(exc))
        return None
    if compiled.get("field") and compiled["field"] not in book.field_names:
        where.child(value, "field").error(f"unknown field {compiled['field']!r}")
        return None
    return compiled


SPEC = ActionSpec(
    name="survey", summary="Add a public note with a personal satisfaction-survey link.", options=OPTIONS,
    compile=compile_action, plan=not_available("survey"), example="- survey: {expires: 14d, field: satisfaction}",
)
