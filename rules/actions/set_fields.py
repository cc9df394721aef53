"""`set`: give fields new values (standard fields, and custom fields through `fields`).

Options are a mapping of field → value. Values are text and may be templates. Standard fields
are written by name; a logical field from the rulebook's `fields` is written to the tracker
field it maps to. Literal values are checked against declared vocabularies at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.actions import ActionSpec, CompileContext, PlanError, Scope, check_in_vocabulary, checked_template
from rules.context import Where
from rules.suggest import did_you_mean
from rules.templates import render

STANDARD_DOCS = {
    "status": "status by name (Jira: by the transition leading to it)",
    "priority": "priority by name",
    "subject": "subject (Jira: summary)",
    "description": "description",
    "assignee": "user id, login or display name; `nobody` to unassign",
    "labels": "Jira labels, the whole set, separated by commas or spaces (Redmine has none)",
}
STANDARD = tuple(STANDARD_DOCS)
_VOCABULARY = {"status": "statuses", "priority": "priorities"}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value:
        where.error("expected a mapping of field: value")
        return None
    compiled: dict[str, Any] = {}
    ok = True
    for name, raw in value.items():
        here = where.child(value, name)
        if name not in STANDARD and name not in book.field_names:
            known = ", ".join(list(STANDARD) + sorted(book.field_names))
            here.error(f"unknown field {name!r}{did_you_mean(name, [*STANDARD, *book.field_names])} (known: {known})")
            ok = False
            continue
        if raw is None:
            compiled[name] = None
            continue
        if not isinstance(raw, (str, int, float, bool)):
            here.error(f"expected a text value, got {type(raw).__name__}")
            ok = False
            continue
        if name in _VOCABULARY and not check_in_vocabulary(str(raw), _VOCABULARY[name], here, book):
            ok = False
            continue
        if name == "labels" and "{" not in str(raw) and not all(
                check_in_vocabulary(label, "labels", here, book) for label in str(raw).replace(",", " ").split()):
            ok = False
            continue
        allowed = book.field_values.get(name)
        if allowed and "{" not in str(raw) and str(raw).casefold() not in {str(a).casefold() for a in allowed}:
            here.error(f"unknown value of {name} {raw!r}{did_you_mean(str(raw), allowed)} "
                       f"(declared: {', '.join(map(str, allowed))})")
            ok = False
            continue
        template = checked_template(str(raw), here, book)
        if template is None:
            ok = False
            continue
        compiled[name] = template
    return compiled if ok else None


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    standard: dict[str, str | None] = {}
    custom: dict[str, str | None] = {}
    for name, template in compiled.items():
        value = None if template is None else render(template, scope.template_context)
        if name in STANDARD:
            standard[name] = value
            continue
        ref = scope.field_refs.get(name)
        if not ref:
            raise PlanError(f"field {name!r} has no mapping for {scope.ticket.tracker_kind}")
        custom[ref] = value
    previous = {ref: _text(scope.ticket.custom_field(ref)) for ref in custom}
    return {"standard": standard, "custom": custom, "previous": previous}


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def changes(params: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = dict(params.get("standard", {}))
    result.update({f"cf:{ref}": value for ref, value in params.get("custom", {}).items()})
    return result


SPEC = ActionSpec(
    name="set", summary="Set standard fields and custom fields (through the rulebook's `fields`).",
    options=None, compile=compile_action, plan=plan, sets_fields=lambda compiled: list(compiled),
    changes=changes, example="- set: {origin: unknown, priority: High}",
    plan_renders_only=True,
)
