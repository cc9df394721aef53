"""`escalate`: hand a real defect to development as a linked issue, once per support ticket.

Planning renders the new issue's texts and fields; the application creates it (finding one
created before, by a marker, so a retry never makes two), links it, notes it on the support
ticket and, if asked, moves the support ticket to a waiting status. Escalating a ticket that
already has a development issue adds a note to that issue instead. When the development issue
changes status, the support ticket gets a `development.updated` event (and
`development.resolved` when it is resolved, closed or rejected), for rules to act on.
"""

from __future__ import annotations

from typing import Any

from rules.actions import (
    ActionSpec,
    CompileContext,
    PlanError,
    Scope,
    check_in_vocabulary,
    compile_options,
    with_template_defaults,
)
from rules.actions.link import RELATIONS
from rules.context import Where
from rules.schema import Option
from rules.templates import render

# Stand-ins for the development issue in `note`, which is rendered before the issue exists.
DEVELOPMENT_KEY, DEVELOPMENT_URL = "\x00development.key\x00", "\x00development.url\x00"

OPTIONS = {
    "project": Option("text", required=True, doc="development project (identifier or key)"),
    "tracker": Option("text", default="Bug", doc="tracker / issue type of the new issue"),
    "subject": Option("template", default="[{{ ticket.key }}] {{ ticket.subject }}", doc="its subject"),
    "description": Option(
        "template",
        default="{{ ticket.description }}\n\nSupport ticket: {{ ticket.key }} ({{ ticket.url }})\n"
                "Customer: {{ ticket.author }}\nPriority: {{ ticket.priority }}",
        doc="its description (the default in the rulebook's `locale`: message `escalate.description`)"),
    "copy": Option("list", default=[], doc="logical fields copied from the support ticket to the new issue"),
    "fields": Option("mapping", default={}, doc="more fields of the new issue (logical name -> value template)"),
    "relation": Option("enum", default="relates", choices=RELATIONS,
                       doc="how the support ticket relates to the new issue"),
    "assign": Option("text", doc="assignee of the new issue (id, login or name)"),
    "note": Option("template",
                   default="Escalated to development: {{ development.key }} ({{ development.url }}).",
                   doc="note added to the support ticket; `development.key` and `.url` are the new issue's "
                       "(the default in the rulebook's `locale`: message `escalate.note`)"),
    "private": Option("bool", default=True, doc="the note on the support ticket is private"),
    "again_note": Option("template", doc="note added to the development issue when the ticket is escalated "
                                         "again (default: says from where)"),
    "waiting_status": Option("text", doc="status the support ticket moves to once escalated"),
    "resolved_statuses": Option("list", default=["Resolved"],
                                doc="statuses of the development issue that count as resolved, besides "
                                    "the tracker's closed ones (`development.resolved`)"),
}


def localized_defaults(book: CompileContext) -> dict[str, str]:
    """The description and note written when the rule gives none, in the rulebook's language."""
    return {
        "description": "{{ ticket.description }}\n\n" + book.default_text(
            "escalate.description", key="{{ ticket.key }}", url="{{ ticket.url }}",
            customer="{{ ticket.author }}", priority="{{ ticket.priority }}"),
        "note": book.default_text("escalate.note", key="{{ development.key }}", url="{{ development.url }}"),
    }


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    if isinstance(value, dict):
        value = {**localized_defaults(book), **value}
    value = with_template_defaults(OPTIONS, value)
    compiled = compile_options(OPTIONS, value, where, book)
    if compiled is None:
        return None
    ok = check_in_vocabulary(compiled.get("project"), "projects", where.child(value, "project"), book)
    ok = check_in_vocabulary(compiled.get("tracker"), "trackers", where.child(value, "tracker"), book) and ok
    if compiled.get("waiting_status"):
        ok = check_in_vocabulary(compiled["waiting_status"], "statuses", where.child(value, "waiting_status"),
                                 book) and ok
    resolved: list[Any] = compiled["resolved_statuses"] if isinstance(value, dict) and "resolved_statuses" in value \
        else []
    for index, status in enumerate(resolved):
        ok = check_in_vocabulary(status, "statuses", where.child(value, "resolved_statuses").child(resolved, index),
                                 book) and ok
    for index, name in enumerate(compiled["copy"]):
        if name not in book.field_names:
            where.child(value, "copy").child(compiled["copy"], index).error(
                f"unknown field {name!r} (declared in `fields`: {', '.join(book.field_names) or 'none'})")
            ok = False
    compiled["fields"] = compile_field_templates(value, "fields", compiled["fields"], where, book)
    return compiled if ok and compiled["fields"] is not None else None


def compile_field_templates(value: Any, key: str, raw: dict[str, Any], where: Where,
                            book: CompileContext) -> dict[str, Any] | None:
    """`fields: {logical: template}`: known logical fields, templates that render."""
    from rules.actions import checked_template

    compiled: dict[str, Any] = {}
    here = where.child(value, key)
    for name, text in raw.items():
        if name not in book.field_names:
            here.child(raw, name).error(f"unknown field {name!r} (declared in `fields`: "
                                        f"{', '.join(book.field_names) or 'none'})")
            return None
        template = checked_template(str(text), here.child(raw, name), book)
        if template is None:
            return None
        compiled[name] = template
    return compiled


def render_fields(compiled: dict[str, Any], copy: list[str], scope: Scope) -> dict[str, Any]:
    """Logical fields (copied and templated) as this tracker's field refs -> values."""
    values: dict[str, Any] = {}
    for name in copy:
        values[name] = scope.template_context["ticket"]["fields"].get(name)
    for name, template in compiled.items():
        values[name] = render(template, scope.template_context).strip()
    refs: dict[str, Any] = {}
    for name, value in values.items():
        ref = scope.field_refs.get(name)
        if not ref:
            raise PlanError(f"field {name!r} has no mapping for {scope.ticket.tracker_kind}")
        if value not in (None, ""):
            refs[ref] = value
    return refs


def one_line(text: str) -> str:
    """A subject is one line on every tracker (Jira refuses line breaks in a summary)."""
    return " ".join(text.split())[:255]


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    context = dict(scope.template_context)
    context["development"] = {**context.get("development", {}), "key": DEVELOPMENT_KEY, "url": DEVELOPMENT_URL}
    ticket = scope.ticket
    again = compiled.get("again_note")
    return {
        "project": compiled["project"], "tracker": compiled["tracker"],
        "subject": one_line(render(compiled["subject"], scope.template_context)),
        "description": render(compiled["description"], scope.template_context).strip(),
        "fields": render_fields(compiled["fields"], compiled["copy"], scope),
        "relation": compiled["relation"], "assign": compiled.get("assign"),
        "note": render(compiled["note"], context).strip(), "private": compiled["private"],
        "again_note": render(again, scope.template_context).strip() if again else
        scope.messages.text(scope.locale, "escalate.again", key=ticket.key, url=ticket.url),
        "waiting_status": compiled.get("waiting_status"),
        "resolved_statuses": [str(status) for status in compiled["resolved_statuses"]],
        "source": {"id": ticket.id, "key": ticket.key, "url": ticket.url},
    }


SPEC = ActionSpec(
    name="escalate", summary="Create (once) a linked issue in the development project.", options=OPTIONS,
    compile=compile_action, plan=plan, leaves_ticket=True,
    example="- escalate: {project: development, tracker: Bug, copy: [origin], waiting_status: Needs development}",
)
