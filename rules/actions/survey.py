"""`survey`: invite the customer to rate the service after delivery.

The application makes a personal, single-use link that expires, and adds it to the ticket in a
public note; the answer (a score of 1 to 5 and a comment) is written back to the ticket (a note,
and the score in `field`), counted in the indicators, and fires `survey.answered` for rules.
"""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, Scope, compile_options
from rules.context import Where
from rules.durations import DurationError, parse_duration
from rules.messages import LOCALES
from rules.schema import Option
from rules.templates import render

# Stand-in for the personal link in `message`, which is rendered before the link exists.
SURVEY_URL = "\x00survey.url\x00"
OPTIONS = {
    "expires": Option("duration", default="30d", doc="how long the personal link works"),
    "field": Option("text", doc="logical field that receives the score"),
    "message": Option("template", doc="text of the public note; `survey.url` is the personal link (default: "
                                      "an invitation in the survey's language)"),
    "language": Option("template", doc="language of the note and the survey page: en or es (default: the "
                                       "rulebook's locale); a template, e.g. from a ticket field"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    compiled = compile_options(OPTIONS, value if value is not None else {}, where, book)
    if compiled is None:
        return None
    try:
        compiled["expires"] = parse_duration(compiled["expires"])
    except DurationError as exc:
        where.child(value, "expires").error(str(exc))
        return None
    if compiled.get("field") and compiled["field"] not in book.field_names:
        where.child(value, "field").error(f"unknown field {compiled['field']!r}")
        return None
    return compiled


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    context = dict(scope.template_context)
    context["survey"] = {"url": SURVEY_URL}
    language = render(compiled["language"], context).strip().lower()[:2] if compiled.get("language") else ""
    ref = scope.field_refs.get(compiled["field"]) if compiled.get("field") else None
    ticket = scope.ticket
    language = language if language in LOCALES else scope.locale
    default = scope.messages.text(language, "survey.invitation", key=ticket.key, url=SURVEY_URL)
    return {
        "message": render(compiled["message"], context).strip() if compiled.get("message") else default,
        "language": language,
        "expires_seconds": compiled["expires"].total_seconds(), "field": ref or "",
        "ticket": {"key": ticket.key, "url": ticket.url, "subject": ticket.subject},
    }


SPEC = ActionSpec(
    name="survey", options=OPTIONS,
    summary=("Add a public note with a personal satisfaction-survey link, if the close stands: not when a rule "
             "sends the close back, nor once the ticket is open again. A new survey withdraws the ticket's "
             "unanswered one."),
    compile=compile_action, plan=plan, example="- survey: {expires: 14d, field: satisfaction}",
)
