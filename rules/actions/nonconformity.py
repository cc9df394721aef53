"""`nonconformity`: open an ISO 9001 10.2 record in the quality project, once per cause.

`cause` is rendered into the record's identity: one record per cause, ever (per ticket:
`sla-breach-{{ ticket.key }}`; per team and month: `internal-{{ group }}-{{ window.month }}`).
A later occurrence of the same cause links its ticket to the existing record and notes it
there instead of opening another. The record's parts go into a structured description and,
where `record_fields` maps them, into tracker fields.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rules.actions import (
    ActionSpec,
    CompileContext,
    PlanError,
    Scope,
    check_in_vocabulary,
    compile_options,
    rendered_option,
)
from rules.actions.escalate import compile_field_templates, one_line, render_fields
from rules.actions.link import RELATIONS
from rules.calendar import BusinessCalendar
from rules.context import Where
from rules.durations import BusinessDays, DurationError, parse_duration, parse_span
from rules.records import RECORD_PARTS, record_description
from rules.schema import Option

OPTIONS = {
    "kind": Option("enum", default="nonconformity", choices=("nonconformity", "observation"),
                   doc="a nonconformity, or an observation"),
    "project": Option("text", required=True, doc="quality project (identifier or key)"),
    "tracker": Option("text", doc="tracker / issue type; default: Nonconformity or Observation, after `kind`"),
    "cause": Option("template", required=True,
                    doc="what makes two records the same cause; one record per cause, ever"),
    "subject": Option("template", required=True, doc="its subject"),
    "description": Option("template", doc="description and evidence"),
    "clause": Option("text", default="8.5.5", doc="ISO 9001 clause concerned"),
    "severity": Option("text", default="minor", doc="severity (e.g. minor, major)"),
    "containment": Option("template", doc="containment / correction already taken"),
    "owner": Option("text", doc="who owns the corrective action (assignee of the record)"),
    "due": Option("span", default="30d", doc="corrective action due this long after opening: `30d` is 30 "
                  "calendar days, `20bd` 20 business days of `calendar`"),
    "review_after": Option("span", default="60d", doc="effectiveness review due this long after the "
                                                      "corrective action (`d` calendar days, `bd` business days)"),
    "calendar": Option("text", doc="the calendar business days (`bd`) are counted on", example="ba-office"),
    "remind_before": Option("duration", default="3d", doc="reminder (`record.reminder`) this long before the "
                                                          "corrective action is due"),
    "relation": Option("enum", default="relates", choices=RELATIONS, doc="how a source ticket relates to the record"),
    "record_fields": Option("mapping", default={},
                            doc=f"record part -> logical field written on the record ({', '.join(RECORD_PARTS)})",
                            schema={"propertyNames": {"enum": list(RECORD_PARTS)},
                                    "additionalProperties": {"type": "string"}}),
    "fields": Option("mapping", default={}, doc="more fields of the record (logical name -> value template)"),
    "note": Option("template", doc="note added to each source ticket (`record.key`, `record.url` are the record's)"),
    "private": Option("bool", default=True, doc="the note on the source ticket is private"),
}
RECORD_KEY, RECORD_URL = "\x00record.key\x00", "\x00record.url\x00"


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    compiled = compile_options(OPTIONS, value, where, book)
    if compiled is None:
        return None
    ok = True
    for key, parse in (("due", parse_span), ("review_after", parse_span), ("remind_before", parse_duration)):
        try:
            compiled[key] = parse(compiled[key]) if compiled.get(key) else None
        except DurationError as exc:
            where.child(value, key).error(str(exc))
            ok = False
    ok = _compile_calendar(compiled, value, where, book) and ok
    ok = check_in_vocabulary(compiled.get("project"), "projects", where.child(value, "project"), book) and ok
    if compiled.get("tracker"):
        ok = check_in_vocabulary(compiled["tracker"], "trackers", where.child(value, "tracker"), book) and ok
    parts = compiled["record_fields"]
    for part, name in parts.items():
        here = where.child(value, "record_fields").child(parts, part)
        if part not in RECORD_PARTS:
            here.error(f"unknown record part {part!r} (expected one of: {', '.join(RECORD_PARTS)})")
            ok = False
        elif name not in book.field_names:
            here.error(f"unknown field {name!r} (declared in `fields`: {', '.join(book.field_names) or 'none'})")
            ok = False
    compiled["fields"] = compile_field_templates(value, "fields", compiled["fields"], where, book)
    return compiled if ok and compiled["fields"] is not None else None


def _compile_calendar(compiled: dict[str, Any], value: Any, where: Where, book: CompileContext) -> bool:
    """Business days need a calendar to count on: the one named, built once here."""
    name = compiled.get("calendar")
    if name is not None and name not in book.calendars:
        where.child(value, "calendar").error(f"undefined calendar {name!r} (defined: "
                                             f"{', '.join(sorted(book.calendars)) or 'none'})")
        return False
    if name is None:
        for key in ("due", "review_after"):
            if isinstance(compiled.get(key), BusinessDays):
                where.child(value, key).error(f"{key} {compiled[key]} counts business days: name the calendar "
                                              f"they are counted on (`calendar: NAME`)")
                return False
        return True
    compiled["calendar"] = BusinessCalendar.from_calendar(book.calendars[name])
    return True


def _after(moment: datetime, span: timedelta | BusinessDays, calendar: BusinessCalendar | None) -> datetime:
    if isinstance(span, BusinessDays):
        assert calendar is not None  # checked at load
        return calendar.add_business_days(moment, span.days)
    return moment + span


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    context = scope.template_context
    cause = rendered_option(compiled, "cause", context)
    if not cause:
        raise PlanError("nonconformity: the cause renders empty, so records could not be told apart")
    ticket = scope.ticket
    sources = [{"id": ticket.id, "key": ticket.key, "url": ticket.url}] if ticket.id else \
        [dict(source) for source in context.get("sources", [])]
    calendar = compiled.get("calendar")
    action_due = _after(scope.now, compiled["due"], calendar) if compiled.get("due") else None
    review_due = _after(action_due or scope.now, compiled["review_after"], calendar) \
        if compiled.get("review_after") else None
    parts = {
        "kind": compiled["kind"], "clause": compiled["clause"], "severity": compiled["severity"],
        "owner": compiled.get("owner") or "", "cause": cause, "sources": sources, "rule": scope.rule,
        "opened": scope.now.isoformat(), "description": rendered_option(compiled, "description", context),
        "containment": rendered_option(compiled, "containment", context),
        "action_due": action_due.isoformat() if action_due else "",
        "review_due": review_due.isoformat() if review_due else "",
    }
    fields = render_fields(compiled["fields"], [], scope)
    for part, name in compiled["record_fields"].items():
        ref = scope.field_refs.get(name)
        if not ref:
            raise PlanError(f"field {name!r} has no mapping for {ticket.tracker_kind}")
        value = parts[part]
        if part == "sources":
            value = ", ".join(str(s["key"]) for s in sources)
        elif part in ("action_due", "review_due"):
            value = str(value)[:10]
        if value:
            fields[ref] = value
    note_context = dict(context)
    note_context["record"] = {**context.get("record", {}), "key": RECORD_KEY, "url": RECORD_URL}
    remind: timedelta | None = compiled.get("remind_before")
    return {
        "kind": compiled["kind"], "project": compiled["project"],
        "tracker": compiled.get("tracker") or compiled["kind"].capitalize(),
        "cause": cause, "subject": one_line(rendered_option(compiled, "subject", context)),
        "description": record_description(parts, scope.locale, scope.messages), "fields": fields,
        "owner": compiled.get("owner"), "action_due": parts["action_due"], "review_due": parts["review_due"],
        "remind_before": remind.total_seconds() if remind else 0, "relation": compiled["relation"],
        "sources": sources, "note": rendered_option(compiled, "note", note_context),
        "private": compiled["private"],
        "another_notes": {s["id"]: scope.messages.text(scope.locale, "record.another_source", key=s["key"],
                                                       url=s["url"]) for s in sources},
        "record": {k: v for k, v in parts.items() if k not in ("description", "sources")},
    }


SPEC = ActionSpec(
    name="nonconformity", summary="Open a nonconformity or observation (ISO 9001 10.2), once per cause.",
    options=OPTIONS, compile=compile_action, plan=plan, needs_ticket=False, leaves_ticket=True,
    example='- nonconformity: {project: quality, subject: "SLA breach on {{ ticket.key }}", '
            'cause: "sla-breach-{{ ticket.key }}"}',
)
