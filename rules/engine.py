"""The engine: (rulebook, event, ticket, now) -> Decision (effects to write, and why).

Every matching rule runs, in file order. The returned trace records the trigger, each
condition with its result, and each action with its outcome, so the CLI can print it and the
audit log can keep it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.actions import PlanError, Scope
from rules.conditions import evaluate_condition
from rules.model import Effect, Event, Ticket
from rules.rulebook import Rule, Rulebook
from rules.templates import TemplateError, template_context


@dataclass
class ActionTrace:
    action: str
    outcome: str  # "planned" or "error: ..."
    key: str = ""


@dataclass
class RuleTrace:
    rule: str
    triggered: bool
    conditions: list[tuple[str, bool]] = field(default_factory=list)
    actions: list[ActionTrace] = field(default_factory=list)
    skipped: str = ""

    @property
    def matched(self) -> bool:
        return self.triggered and not self.skipped and all(ok for _, ok in self.conditions)


@dataclass
class Decision:
    event_id: str
    ticket_id: str
    triggers: list[str]
    effects: list[Effect] = field(default_factory=list)
    rules: list[RuleTrace] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready trace for the audit log."""
        return {
            "event": self.event_id, "ticket": self.ticket_id, "triggers": self.triggers,
            "ignored": self.ignored, "warnings": self.warnings,
            "rules": [
                {"rule": r.rule, "triggered": r.triggered, "skipped": r.skipped,
                 "conditions": [{"condition": c, "result": ok} for c, ok in r.conditions],
                 "actions": [{"action": a.action, "outcome": a.outcome, "key": a.key} for a in r.actions]}
                for r in self.rules
            ],
        }

    def format(self) -> str:
        """The trace as lines a person reads."""
        lines = [f"event {self.event_id} on ticket {self.ticket_id}: {', '.join(self.triggers) or '-'}"]
        if self.ignored:
            lines.append(f"  ignored: {self.ignored}")
        for rule in self.rules:
            if not rule.triggered:
                lines.append(f"  rule {rule.rule!r}: not triggered")
                continue
            verdict = "matched" if rule.matched else (rule.skipped or "not matched")
            lines.append(f"  rule {rule.rule!r}: {verdict}")
            for text, ok in rule.conditions:
                lines.append(f"    [{'x' if ok else ' '}] {text}")
            for action in rule.actions:
                lines.append(f"    -> {action.action}: {action.outcome}")
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        return "\n".join(lines)


def effect_key(tracker_kind: str, ticket_id: str, rule: str, event_id: str, index: int, action: str) -> str:
    """The idempotency key of one action of one rule for one event on one ticket."""
    raw = "\x1f".join((tracker_kind, ticket_id, rule, event_id, str(index), action))
    return hashlib.sha256(raw.encode()).hexdigest()


def evaluate(rulebook: Rulebook, event: Event, ticket: Ticket, now: datetime) -> Decision:
    """Run every rule of the rulebook against one event. Pure: `now` is an argument."""
    decision = Decision(event.id, ticket.key, sorted(event.triggers))
    field_refs = rulebook.field_refs(ticket.tracker_kind)
    set_by: dict[str, str] = {}
    for rule in rulebook.rules:
        trace = RuleTrace(rule.name, triggered=bool(rule.triggers & event.triggers))
        decision.rules.append(trace)
        if not trace.triggered:
            continue
        if not rule.enabled:
            trace.skipped = "disabled"
            continue
        for condition in rule.conditions:
            ref = field_refs.get(condition.field) if condition.custom else None
            result = (ref is not None or not condition.custom) and evaluate_condition(
                condition, ticket, event, ref)
            trace.conditions.append((condition.text, result))
            if not result:
                break  # later conditions are not evaluated: AND short-circuits
        if not trace.matched:
            continue
        _plan_actions(rule, event, ticket, now, field_refs, decision, trace, set_by)
    return decision


def _plan_actions(rule: Rule, event: Event, ticket: Ticket, now: datetime,
                  field_refs: dict[str, str | None], decision: Decision, trace: RuleTrace,
                  set_by: dict[str, str]) -> None:
    scope = Scope(ticket, event, now, rule.name, field_refs,
                  template_context(ticket, event, field_refs, now, rule.name))
    for index, action in enumerate(rule.actions):
        name = action.spec.name
        try:
            params = action.spec.plan(action.compiled, scope)
        except (PlanError, TemplateError) as exc:
            trace.actions.append(ActionTrace(name, f"error: {exc}"))
            continue
        for field_name in action.spec.sets_fields(action.compiled):
            if field_name in set_by and set_by[field_name] != rule.name:
                decision.warnings.append(
                    f"field {field_name!r} set by rule {set_by[field_name]!r} and by rule {rule.name!r}")
            set_by[field_name] = rule.name
        key = effect_key(ticket.tracker_kind, ticket.id, rule.name, event.id, index, name)
        decision.effects.append(Effect(key, name, ticket.tracker_kind, ticket.id, rule.name, params))
        trace.actions.append(ActionTrace(name, "planned", key))
