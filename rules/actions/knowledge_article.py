"""`knowledge_article`: draft a knowledge-base article from a solved incident, one per key.

`key` is rendered into the article's identity (`{{ ticket.fields.cause }}`, say): the first
ticket with a key drafts its article, a later one adds itself to the article's source tickets
and fills in the parts still empty, never a second article. Planning renders the parts and the
keywords the article is found by, from the ticket text with the rulebook's `redaction` applied
(an article is read by everyone: `leaves_ticket`). Writing it (its generated part into a Redmine
wiki page and its product's index page, or into a Jira issue labelled for its product, keeping
what people wrote around it) and the note linking each source ticket to it are the worker's,
which keeps the articles in the store.
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
    rendered_option,
    with_template_defaults,
)
from rules.actions.escalate import one_line
from rules.context import Where
from rules.knowledge import keywords
from rules.schema import Option

OPTIONS = {
    "project": Option("text", required=True, doc="knowledge project (Redmine identifier, Jira key)"),
    "key": Option("template", required=True, doc="what makes two incidents one article; one article per key"),
    "title": Option("template", default="{{ ticket.subject }}",
                    doc="wiki page title (Redmine) or issue summary (Jira), fixed by the first ticket"),
    "problem": Option("template", default="{{ ticket.subject }}\n\n{{ ticket.description }}",
                      doc="the problem as the customer saw it"),
    "cause": Option("template", doc="its cause (e.g. `{{ ticket.fields.cause }}`)"),
    "solution": Option("template", default="{{ event.comment }}",
                       doc="the solution; default: the note written with the change that ran the rule"),
    "product": Option("template", doc="affected product: one index per product (default: the ticket's project)"),
    "version": Option("template", doc="affected version"),
    "keywords": Option("template", doc="more words the article is found by, besides its title, problem and cause"),
    "issue_type": Option("text", default="Article", doc="Jira: the type of the article's issue"),
}
TEXT_PARTS = ("title", "problem", "cause", "solution", "product", "version")


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    value = with_template_defaults(OPTIONS, value)
    compiled = compile_options(OPTIONS, value, where, book)
    if compiled is None:
        return None
    ok = check_in_vocabulary(compiled.get("project"), "projects", where.child(value, "project"), book)
    return compiled if ok else None


def _sources(scope: Scope) -> list[dict[str, str]]:
    """The ticket the rule runs on; in a measured rule, the group's incidents."""
    ticket = scope.ticket
    if ticket.id:
        return [{"id": ticket.id, "key": ticket.key, "url": ticket.url}]
    return [{"id": str(s["id"]), "key": str(s["key"]), "url": str(s.get("url") or "")}
            for s in scope.template_context.get("sources", [])]


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    context = scope.template_context
    key = one_line(rendered_option(compiled, "key", context))
    if not key:
        raise PlanError("knowledge_article: the key renders empty, so articles could not be told apart")
    sources = _sources(scope)
    if not scope.ticket.id and "sources" not in context:
        raise PlanError("knowledge_article: no ticket (a rule on a ticket, or a measured rule's incidents)")
    parts = {name: rendered_option(compiled, name, context) for name in TEXT_PARTS}
    parts["title"] = one_line(parts["title"]) or key
    parts["product"] = one_line(parts["product"] or scope.ticket.project_name or scope.ticket.project
                                or scope.messages.text(scope.locale, "kb.general"))
    return {
        "project": compiled["project"], "key": key, "parts": parts, "sources": sources,
        "keywords": keywords(parts["title"], parts["problem"], parts["cause"],
                             rendered_option(compiled, "keywords", context)),
        "issue_type": compiled["issue_type"], "locale": scope.locale,
    }


SPEC = ActionSpec(
    name="knowledge_article",
    summary="Draft (once per key) or update a knowledge-base article from solved incidents; "
            "each source ticket gets a private note linking to it.",
    options=OPTIONS, compile=compile_action, plan=plan, needs_ticket=False, leaves_ticket=True,
    example='- knowledge_article: {project: knowledge, key: "{{ ticket.subject }}", '
            'product: "{{ ticket.fields.team }}"}',
)
