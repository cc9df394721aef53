"""`suggest_articles`: on a new incident, point the agent to knowledge-base articles that may
solve it, in a private note with their links.

Planning is pure, so it only takes the incident's significant words; which articles share
them is known where the articles are kept, so the worker looks them up when it writes the
note, and writes nothing when none matches. What it suggested is remembered with the effect,
so a retried note names the same articles.
"""

from __future__ import annotations

from typing import Any

from rules.actions import (
    ActionSpec,
    CompileContext,
    Scope,
    check_in_vocabulary,
    compile_options,
    with_template_defaults,
)
from rules.context import Where
from rules.knowledge import keywords
from rules.schema import Option
from rules.templates import render

OPTIONS = {
    "limit": Option("int", default=3, doc="at most this many articles", schema={"minimum": 1, "maximum": 20}),
    "min_shared": Option("int", default=2, doc="an article must share at least this many significant words",
                         schema={"minimum": 1}),
    "project": Option("text", doc="only articles of this knowledge project (default: any)"),
    "text": Option("template", default="{{ ticket.subject }}\n{{ ticket.description }}",
                   doc="what is matched against the articles"),
    "note": Option("template", doc="first line of the note, before the articles (default: says what they are)"),
    "private": Option("bool", default=True, doc="the note is private"),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    value = with_template_defaults(OPTIONS, value)
    compiled = compile_options(OPTIONS, value, where, book)
    if compiled is None:
        return None
    if compiled.get("project") and not check_in_vocabulary(compiled["project"], "projects",
                                                           where.child(value, "project"), book):
        return None
    return compiled


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    intro = render(compiled["note"], scope.template_context).strip() if compiled.get("note") is not None else ""
    return {
        "keywords": keywords(render(compiled["text"], scope.template_context)),
        "limit": compiled["limit"], "min_shared": compiled["min_shared"], "project": compiled.get("project"),
        "intro": intro or scope.messages.text(scope.locale, "kb.suggestions"), "private": compiled["private"],
    }


SPEC = ActionSpec(
    name="suggest_articles", summary="Suggest knowledge-base articles matching the ticket, in a note.",
    options=OPTIONS, compile=compile_action, plan=plan,
    example="- suggest_articles: {limit: 3, project: knowledge}",
)
