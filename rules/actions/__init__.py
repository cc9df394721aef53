"""The action registry: one module per action, each declaring its options beside its code.

An action has two halves: `compile` checks its options at load (recording errors with
file:line) and `plan` turns them into effect parameters for one ticket and event. Applying the
effect is the connector's job, never the action's. `changes` tells the engine which ticket
fields an effect will change, so rules reacting to those changes run in the same chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.context import Where
from rules.messages import DEFAULT as DEFAULT_MESSAGES
from rules.messages import Messages
from rules.model import Event, Ticket
from rules.schema import Option, read_options
from rules.suggest import did_you_mean
from rules.templates import (
    READS_ANYTHING,
    READS_NOTHING,
    Reads,
    Template,
    TemplateError,
    compile_template,
    dry_render,
    render,
    unknown_names,
)


@dataclass(frozen=True)
class Scope:
    """What an action may look at while planning."""

    ticket: Ticket
    event: Event
    now: datetime
    rule: str
    field_refs: Mapping[str, str | None]  # logical field -> this tracker's field ref (or None)
    template_context: Mapping[str, Any]
    locale: str = "en"
    messages: Messages = DEFAULT_MESSAGES


class PlanError(Exception):
    """An action cannot be planned for this ticket (reported in the trace, nothing written)."""


@dataclass(frozen=True)
class CompileContext:
    """What the rulebook knows at load that an action may check against."""

    field_names: list[str]
    vocabulary: Mapping[str, Any] = field(default_factory=dict)
    field_values: Mapping[str, Any] = field(default_factory=dict)
    channels: frozenset[str] | None = None  # None: channels are not known here (not checked)
    environment_errors: bool = True  # False: what the environment lacks is a warning (`check`)
    calendar_zones: Mapping[str, str] = field(default_factory=dict)
    calendars: Mapping[str, Any] = field(default_factory=dict)  # name -> rules.rulebook.Calendar
    measured: bool = False  # the action belongs to a measured rule (templates see `measure`, `group`)
    locale: str = "en"  # the rulebook's: the language of the texts an action writes by default
    messages: Messages = DEFAULT_MESSAGES

    def default_text(self, name: str, **templates: str) -> str:
        """A default template in the rulebook's language: the message `name` (as the rulebook
        words it) with each placeholder standing for a template expression."""
        return self.messages.text(self.locale, name, **templates)


@dataclass(frozen=True)
class ActionSpec:
    """An action. Most need only their options: by default `compile` checks them and compiles
    their templates, and `plan` renders the templates; an action adds its own steps where it
    needs more."""

    name: str
    summary: str
    options: Mapping[str, Option] | None  # None: a free mapping, checked by `compile`
    compile: Callable[[Any, Where, CompileContext], Any] | None = None
    plan: Callable[[Any, Scope], dict[str, Any]] | None = None
    example: str = ""
    sets_fields: Callable[[Any], list[str]] = lambda compiled: []
    changes: Callable[[Mapping[str, Any]], dict[str, Any]] = lambda params: {}
    needs_ticket: bool = True
    # It writes outside the ticket (another issue, a channel): it plans from redacted ticket text.
    leaves_ticket: bool = False
    # Its `plan` reads the template context only by rendering the compiled mapping's templates,
    # as `render_options` does (so what of the context it reads is what they read: `context_reads`).
    plan_renders_only: bool = False

    def check(self, value: Any, where: Where, book: CompileContext) -> Any:
        """The compiled options, or None with the errors recorded at `where`."""
        if self.compile is not None:
            return self.compile(value, where, book)
        assert self.options is not None
        return compile_options(self.options, value, where, book)

    def make(self, compiled: Any, scope: Scope) -> dict[str, Any]:
        """The effect's parameters for this ticket and event; PlanError when it cannot be."""
        if self.plan is not None:
            return self.plan(compiled, scope)
        return render_options(compiled, scope)


def checked_template(text: str, where: Where, book: CompileContext) -> Template | None:
    """Compile a template and dry-render it against the sample ticket; None (and an error
    recorded at `where`) when either fails, so a typo fails the load, not the event."""
    try:
        unknown = unknown_names(text, book.field_names, book.calendar_zones, book.measured)
        for problem in unknown:
            where.error(problem)
        if unknown:
            return None
        template = compile_template(text)
    except TemplateError as exc:
        where.error(f"template error: {exc}")
        return None
    failure = dry_render(template, book.field_names, book.calendar_zones, book.measured)
    if failure:
        where.error(failure)
        return None
    return template


def rendered_option(compiled: Mapping[str, Any], key: str, context: Mapping[str, Any]) -> str:
    """An optional template option rendered and trimmed; empty when the rule gives none."""
    template = compiled.get(key)
    return render(template, context).strip() if template is not None else ""


def with_template_defaults(options: Mapping[str, Option], value: Any) -> Any:
    """An action's mapping with the defaults of its templates filled in, so they are compiled
    and dry-rendered like the templates written (a default is text the action writes too)."""
    if not isinstance(value, dict):
        return value
    return {**{key: option.default for key, option in options.items()
               if option.type == "template" and option.default}, **value}


def compile_options(options: Mapping[str, Option], value: Any, where: Where,
                    book: CompileContext) -> dict[str, Any] | None:
    """Check the options, then compile every template-typed option. None on any error."""
    before = len(where.errors)
    checked = read_options(options, value, where)
    if checked is None:
        return None
    checked.pop("\0errors", None)
    ok = True
    for key, option in options.items():
        if option.type == "template" and isinstance(checked.get(key), str):
            template = checked_template(checked[key], where.child(value, key), book)
            ok = ok and template is not None
            checked[key] = template
    return checked if ok and len(where.errors) == before else None


def render_options(compiled: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """Every compiled template rendered for this ticket; other options as they are."""
    return {key: render(value, scope.template_context).strip() if hasattr(value, "render") else value
            for key, value in compiled.items()}


def context_reads(spec: ActionSpec, compiled: Any) -> Reads:
    """What of the template context planning this action may read: what its templates read,
    when rendering them is all its plan does with the context; else anything."""
    if (spec.plan is not None and not spec.plan_renders_only) or not isinstance(compiled, Mapping):
        return READS_ANYTHING
    reads = READS_NOTHING
    for value in compiled.values():
        if hasattr(value, "render"):
            reads |= getattr(value, "reads", READS_ANYTHING)
    return reads


def check_in_vocabulary(value: Any, table: str, where: Where, book: CompileContext) -> bool:
    """Refuse a literal (non-template) name that the declared vocabulary lacks."""
    allowed = book.vocabulary.get(table)
    if not allowed or not isinstance(value, str) or "{" in value:
        return True
    if value.casefold() in {str(item).casefold() for item in allowed}:
        return True
    singular = {"statuses": "status", "priorities": "priority", "trackers": "tracker", "projects": "project",
                "labels": "label"}
    where.error(f"unknown {singular.get(table, table)} {value!r}{did_you_mean(value, allowed)} "
                f"(declared: {', '.join(map(str, allowed))})")
    return False


def _registry() -> dict[str, ActionSpec]:
    from rules.actions import (
        add_watcher,
        assign,
        comment,
        escalate,
        knowledge_article,
        link,
        nonconformity,
        notify,
        publish_report,
        set_fields,
        suggest_articles,
        survey,
        transition,
    )

    modules = (set_fields, comment, transition, assign, add_watcher, link, notify, escalate,
               nonconformity, survey, publish_report, knowledge_article, suggest_articles)
    return {module.SPEC.name: module.SPEC for module in modules}


ACTIONS: dict[str, ActionSpec] = _registry()
