"""The action registry: one module per action, each declaring its options beside its code.

An action has two halves: `compile` checks its options at load (recording errors with
file:line) and `plan` turns them into effect parameters for one ticket and event. Applying the
effect to a tracker is the connector's job, never the action's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.context import Where
from rules.model import Event, Ticket
from rules.templates import Template, TemplateError, compile_template, dry_render


@dataclass(frozen=True)
class Option:
    """One option of an action: the key's type, whether it is required, its default, its meaning."""

    type: str  # "text", "template", "bool", "int", "mapping"
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class Scope:
    """What an action may look at while planning."""

    ticket: Ticket
    event: Event
    now: datetime
    rule: str
    field_refs: Mapping[str, str | None]  # logical field -> this tracker's field ref (or None)
    template_context: Mapping[str, Any]


class PlanError(Exception):
    """An action cannot be planned for this ticket (reported in the trace, nothing written)."""


@dataclass(frozen=True)
class ActionSpec:
    name: str
    summary: str
    options: Mapping[str, Option] | None  # None: a free mapping, checked by `compile`
    compile: Callable[[Any, Where, "CompileContext"], Any]
    plan: Callable[[Any, Scope], dict[str, Any]]
    sets_fields: Callable[[Any], list[str]] = field(default=lambda compiled: [])


@dataclass(frozen=True)
class CompileContext:
    """What the rulebook knows at load that an action may check against."""

    field_names: list[str]


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "text": lambda v: isinstance(v, str),
    "template": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "mapping": lambda v: isinstance(v, dict),
}


def check_options(options: Mapping[str, Option], value: Any, where: Where) -> dict[str, Any] | None:
    """Validate an options mapping against a schema; fill defaults. None when anything is wrong."""
    if not isinstance(value, dict):
        where.error(f"expected a mapping of options ({', '.join(options)})")
        return None
    ok = True
    result: dict[str, Any] = {}
    for key in value:
        if key not in options:
            where.child(value, key).error(f"unknown key (expected one of: {', '.join(options)})")
            ok = False
    for key, option in options.items():
        if key not in value:
            if option.required:
                where.error(f"missing required key {key!r}")
                ok = False
            result[key] = option.default
            continue
        if not _TYPE_CHECKS[option.type](value[key]):
            where.child(value, key).error(f"expected {option.type}, got {type(value[key]).__name__}")
            ok = False
        result[key] = value[key]
    return result if ok else None


def checked_template(text: str, where: Where, book: CompileContext) -> Template | None:
    """Compile a template and dry-render it against the sample ticket; None (and an error
    recorded at `where`) when either fails, so a typo fails the load, not the event."""
    try:
        template = compile_template(text)
    except TemplateError as exc:
        where.error(f"template error: {exc}")
        return None
    problem = dry_render(template, book.field_names)
    if problem:
        where.error(problem)
        return None
    return template


def _registry() -> dict[str, ActionSpec]:
    from rules.actions import comment, set_fields

    return {spec.name: spec for spec in (set_fields.SPEC, comment.SPEC)}


ACTIONS: dict[str, ActionSpec] = _registry()
