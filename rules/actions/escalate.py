"""`escalate`: hand a real defect to development as a linked issue (options; see _later)."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, compile_options
from rules.actions._later import not_available
from rules.actions.link import RELATIONS
from rules.context import Where
from rules.schema import Option

OPTIONS = {
    "project": Option("text", required=True, doc="development project (identifier or key)"),
    "tracker": Option("text", default="Bug", doc="tracker / issue type of the new issue"),
    "subject": Option("template", default="[{{ ticket.key }}] {{ ticket.subject }}", doc="its subject"),
    "description": Option("template", default="{{ ticket.description }}\n\nReported in {{ ticket.url }}",
                          doc="its description"),
    "relation": Option("enum", default="relates", choices=RELATIONS, doc="link from the support ticket"),
    "fields": Option("mapping", default={}, doc="more fields of the new issue (logical name -> value)"),
    "assign": Option("text", doc="assignee of the new issue"),
    "note": Option("template", default="Escalated to development.", doc="note added to the support ticket"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    if isinstance(value, dict):
        value = {**{k: o.default for k, o in OPTIONS.items() if o.type == "template" and o.default}, **value}
    return compile_options(OPTIONS, value, where, book)


SPEC = ActionSpec(
    name="escalate", summary="Create (once) a linked issue in the development project.", options=OPTIONS,
    compile=compile_action, plan=not_available("escalate"),
    example="- escalate: {project: development, tracker: Bug}",
)
