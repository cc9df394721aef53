"""`nonconformity`: open an ISO 9001 10.2 record in the quality project (options; see _later)."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, compile_options
from rules.actions._later import not_available
from rules.context import Where
from rules.durations import DurationError, parse_duration
from rules.schema import Option

OPTIONS = {
    "kind": Option("enum", default="nonconformity", choices=("nonconformity", "observation"),
                   doc="a nonconformity, or an observation"),
    "project": Option("text", required=True, doc="quality project (identifier or key)"),
    "tracker": Option("text", doc="tracker / issue type; default: Nonconformity or Observation"),
    "clause": Option("text", default="8.5.5", doc="ISO 9001 clause concerned"),
    "subject": Option("template", required=True, doc="its subject"),
    "description": Option("template", doc="description and evidence"),
    "cause": Option("template", required=True,
                    doc="what makes two records the same cause; one record per cause, ever"),
    "owner": Option("text", doc="who owns the corrective action"),
    "due": Option("duration", doc="corrective action due after", example="30d"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    compiled = compile_options(OPTIONS, value, where, book)
    if compiled is not None and compiled.get("due") is not None:
        try:
            parse_duration(compiled["due"])
        except DurationError as exc:
            where.child(value, "due").error(str(exc))
            return None
    return compiled


SPEC = ActionSpec(
    name="nonconformity", summary="Open a nonconformity or observation (ISO 9001 10.2), once per cause.",
    options=OPTIONS, compile=compile_action, plan=not_available("nonconformity"),
    example='- nonconformity: {project: quality, subject: "SLA breach on {{ ticket.key }}", '
            'cause: "sla-breach-{{ ticket.key }}"}',
)
