"""The engine: (rulebook, event, ticket, now) -> Decision (effects to write, and why).

Every matching rule runs, in file order. Effects that change the ticket (set, transition,
assign) are fed back as a derived event, so rules reacting to those changes run too, in the
same decision; the rulebook's chain limit (default 10) stops rules that keep triggering each
other. The returned trace records the trigger, each condition with its result and the values
it compared, and each action with its outcome.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rules.actions import ACTIONS, PlanError, Scope
from rules.conditions import ConditionTrace, Facts
from rules.conditions import evaluate as evaluate_conditions
from rules.messages import Messages
from rules.model import Change, Effect, Event, Person, Ticket
from rules.redaction import Redactor, redact_context
from rules.rulebook import Rule, Rulebook
from rules.templates import Reads, TemplateError, template_context

SELF = Person("ticketwarden", "ticketwarden", "ticketwarden")


@dataclass(slots=True)  # (slots: traces are made for every rule, at every chain depth, of every event)
class ActionTrace:
    action: str
    outcome: str  # "planned" or "error: ..."
    key: str = ""


@dataclass(slots=True)
class RuleTrace:
    rule: str
    triggered: bool
    conditions: list[ConditionTrace] = field(default_factory=list)
    actions: list[ActionTrace] = field(default_factory=list)
    skipped: str = ""
    matched: bool = False
    depth: int = 0


@dataclass
class Decision:
    event_id: str
    ticket_id: str
    triggers: list[str]
    rulebook_version: str = ""
    effects: list[Effect] = field(default_factory=list)
    rules: list[RuleTrace] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready trace for the audit log. A rule the event did not trigger is listed by
        name only, under its chain depth: most rules are not triggered by a given event, and
        their full entries were most of every audit record. Made for every decision: one pass
        over the rules."""
        rules: list[dict[str, Any]] = []
        not_triggered: dict[str, list[str]] = {}
        idle, idle_depth = None, None  # the list of the depth last seen (the rules come by depth)
        for r in self.rules:
            if r.triggered:  # (loops, not comprehensions: each of those is a call, for a list of 0 to 3)
                conditions = []
                for c in r.conditions:
                    conditions.append({"condition": c.text, "result": c.result, "actual": c.actual, "depth": c.depth})
                actions = []
                for a in r.actions:
                    actions.append({"action": a.action, "outcome": a.outcome, "key": a.key})
                rules.append({"rule": r.rule, "depth": r.depth, "triggered": r.triggered, "matched": r.matched,
                              "skipped": r.skipped, "conditions": conditions, "actions": actions})
            elif r.depth == idle_depth and idle is not None:
                idle.append(r.rule)
            else:
                idle, idle_depth = not_triggered.setdefault(str(r.depth), []), r.depth
                idle.append(r.rule)
        return {
            "event": self.event_id, "ticket": self.ticket_id, "triggers": self.triggers,
            "rulebook": self.rulebook_version, "ignored": self.ignored, "warnings": self.warnings,
            "rules": rules, "not_triggered": not_triggered,
            "effects": [{"key": e.key, "action": e.action, "rule": e.rule, "params": dict(e.params)}
                        for e in self.effects],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """A decision back from its audit record (for `explain`); records written before rules
        not triggered were listed by name hold them as full entries, and read the same."""
        decision = cls(data.get("event", ""), data.get("ticket", ""), list(data.get("triggers", [])),
                       data.get("rulebook", ""), warnings=list(data.get("warnings", [])),
                       ignored=data.get("ignored", ""))
        for rule in data.get("rules", []):
            decision.rules.append(RuleTrace(
                rule["rule"], rule.get("triggered", False),
                [ConditionTrace(c["condition"], c["result"], c.get("actual", ""), c.get("depth", 0))
                 for c in rule.get("conditions", [])],
                [ActionTrace(a["action"], a["outcome"], a.get("key", "")) for a in rule.get("actions", [])],
                rule.get("skipped", ""), rule.get("matched", False), rule.get("depth", 0)))
        for depth, names in data.get("not_triggered", {}).items():
            decision.rules.extend(RuleTrace(name, False, depth=int(depth)) for name in names)
        decision.rules.sort(key=lambda r: r.depth)  # stable: each depth's rules keep their order
        for effect in data.get("effects", []):
            decision.effects.append(Effect(effect["key"], effect["action"], "", "", effect["rule"],
                                           effect.get("params", {})))
        return decision

    def format(self, verbose: bool = True) -> str:
        """The trace as lines a person reads."""
        version = f" (rulebook {self.rulebook_version})" if self.rulebook_version else ""
        lines = [f"event {self.event_id} on ticket {self.ticket_id}: {', '.join(self.triggers) or '-'}{version}"]
        if self.ignored:
            lines.append(f"  ignored: {self.ignored}")
        idle: dict[int, list[str]] = {}  # rules not triggered, by chain depth: one line each depth
        for rule in self.rules:
            chain = f" [chain {rule.depth}]" if rule.depth else ""
            if not rule.triggered:
                idle.setdefault(rule.depth, []).append(rule.rule)
                continue
            verdict = "matched" if rule.matched else (rule.skipped or "not matched")
            lines.append(f"  rule {rule.rule!r}{chain}: {verdict}")
            for condition in rule.conditions:
                indent = "  " * condition.depth
                actual = f"  ({condition.actual})" if condition.actual else ""
                lines.append(f"    {indent}[{'x' if condition.result else ' '}] {condition.text}{actual}")
            for action in rule.actions:
                lines.append(f"    -> {action.action}: {action.outcome}")
        if verbose:
            for depth, names in sorted(idle.items()):
                chain = f" [chain {depth}]" if depth else ""
                lines.append(f"  not triggered{chain}: {', '.join(names)}")
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        return "\n".join(lines)


def effect_key(tracker_kind: str, ticket_id: str, rule: str, event_id: str, index: int, action: str) -> str:
    """The idempotency key of one action of one rule for one event on one ticket."""
    raw = "\x1f".join((tracker_kind, ticket_id, rule, event_id, str(index), action))
    return hashlib.sha256(raw.encode()).hexdigest()


def evaluate(rulebook: Rulebook, event: Event, ticket: Ticket, now: datetime,
             sla_states: Mapping[str, str] | None = None,
             sla_info: Mapping[str, Mapping[str, Any]] | None = None) -> Decision:
    """Run every rule against one event, then against the changes its effects make.

    Pure: `now` is an argument, and the ticket's changes are simulated, not written.
    `sla_states` gives the state of each SLA policy's clock on this ticket (for `sla.<policy>`).
    """
    decision = Decision(event.id, ticket.key, sorted(event.triggers), rulebook.version)
    field_refs = rulebook.field_refs(ticket.tracker_kind)
    current_event, current_ticket = event, ticket
    for depth in range(rulebook.chain_limit + 1):
        set_by: dict[str, str] = {}  # per event: a chain reacting to itself is not a conflict
        planned = _run_rules(rulebook, current_event, current_ticket, now, field_refs, decision, set_by, depth,
                             sla_states or {}, sla_info or {})
        derived = _derive(planned, current_event, current_ticket, field_refs, depth)
        if derived is None:
            break
        if depth == rulebook.chain_limit:
            decision.warnings.append(
                f"chain limit of {rulebook.chain_limit} reached: rules kept changing the ticket "
                f"(last changes: {', '.join(c.field for c in derived[0].changes)}); stopped there")
            break
        current_event, current_ticket = derived
    return decision


def evaluate_scheduled(rulebook: Rulebook, rule_name: str, fired_at: datetime, now: datetime,
                       groups: Sequence[MeasuredGroup] | None = None,
                       window: Mapping[str, Any] | None = None) -> Decision:
    """Run one scheduled rule. A plain one has no ticket (only ticket-less actions such as
    notify); a measured one runs once per group of incidents, its conditions testing the
    group's measures (`groups` and `window`: computed by the caller from stored facts)."""
    event_id = f"schedule:{rule_name}:{fired_at.isoformat()}"
    decision = Decision(event_id, "-", ["schedule"], rulebook.version)
    rule = rulebook.rule(rule_name)
    if rule is None or not rule.schedules:
        decision.ignored = f"rule {rule_name!r} is not a scheduled rule of rulebook {rulebook.version}"
        return decision
    if rule.measure is not None:
        _run_measured(rulebook, rule, decision, fired_at, now, groups or (), window or {})
        return decision
    ticket = Ticket("schedule", "", "-", "", "", "", "", "", "", "")
    event = Event(event_id, "schedule", "", frozenset({"schedule"}), fired_at, SELF)
    trace = RuleTrace(rule.name, triggered=True)
    decision.rules.append(trace)
    if not rule.enabled:
        trace.skipped = "disabled"
        return decision
    trace.matched = True
    _plan_actions(rule, event, ticket, now, {}, decision, trace, {}, rulebook.calendar_zones, locale=rulebook.locale,
                  messages=rulebook.messages, redaction=rulebook.redaction)
    return decision


class MeasuredGroup(Protocol):
    tracker: str
    name: str
    values: dict[str, Any]
    sources: list[dict[str, str]]


def _run_measured(rulebook: Rulebook, rule: Rule, decision: Decision, fired_at: datetime, now: datetime,
                  groups: Sequence[MeasuredGroup], window: Mapping[str, Any]) -> None:
    if not groups:
        decision.rules.append(RuleTrace(rule.name, triggered=True, skipped="no incidents in the window"))
    for group in groups:
        trace = RuleTrace(f"{rule.name} [{group.tracker} {group.name}]", triggered=True)
        decision.rules.append(trace)
        if not rule.enabled:
            trace.skipped = "disabled"
            continue
        event = Event(f"{decision.event_id}:{group.tracker}:{group.name}", group.tracker, "",
                      frozenset({"schedule"}), fired_at, SELF)
        ticket = Ticket(group.tracker, "", "-", "", "", "", "", "", "", "")
        refs = rulebook.field_refs(group.tracker)
        facts = Facts(ticket, event, now, refs, rulebook.staff.roles_of, measures=group.values)
        trace.matched = evaluate_conditions(rule.conditions, facts, trace.conditions)
        if trace.matched:
            extra = {"measure": dict(group.values), "group": group.name, "window": dict(window),
                     "sources": list(group.sources)}
            _plan_actions(rule, event, ticket, now, refs, decision, trace, {}, rulebook.calendar_zones,
                          locale=rulebook.locale, extra=extra, messages=rulebook.messages,
                          redaction=rulebook.redaction)


def _run_rules(rulebook: Rulebook, event: Event, ticket: Ticket, now: datetime,
               field_refs: dict[str, str | None], decision: Decision, set_by: dict[str, str],
               depth: int, sla_states: Mapping[str, str],
               sla_info: Mapping[str, Mapping[str, Any]]) -> list[Effect]:
    """Trace every rule, then evaluate the triggered ones: an event triggers few of the rules,
    so the others only get their (name-only) trace entry, made in one pass."""
    facts = Facts(ticket, event, now, field_refs, rulebook.staff.roles_of, sla_states)
    before = len(decision.effects)
    triggered = rulebook.triggered(event.triggers)
    traces = [RuleTrace(rule.name, hit, [], [], "", False, depth)
              for rule, hit in zip(rulebook.rules, triggered, strict=True)]
    decision.rules.extend(traces)
    for rule, trace in itertools.compress(zip(rulebook.rules, traces, strict=True), triggered):
        if not rule.enabled:
            trace.skipped = "disabled"
            continue
        trace.matched = evaluate_conditions(rule.conditions, facts, trace.conditions)
        if trace.matched:
            _plan_actions(rule, event, ticket, now, field_refs, decision, trace, set_by, rulebook.calendar_zones,
                          sla_info, locale=rulebook.locale, messages=rulebook.messages,
                          redaction=rulebook.redaction)
    return decision.effects[before:]


def _plan_actions(rule: Rule, event: Event, ticket: Ticket, now: datetime,
                  field_refs: dict[str, str | None], decision: Decision, trace: RuleTrace,
                  set_by: dict[str, str], calendar_zones: Mapping[str, str],
                  sla_info: Mapping[str, Mapping[str, Any]] | None = None, *, locale: str = "en",
                  extra: Mapping[str, Any] | None = None, messages: Messages | None = None,
                  redaction: Redactor | None = None) -> None:
    """Plan each action of a matched rule. An action that writes outside the ticket plans from
    the ticket text with the rulebook's `redaction` applied (customer property, rules.redaction);
    the others from the text as it is, since they write on the customer's own ticket. The
    template context holds what the rule's actions may read of it (`Rule.reads`)."""
    reads = rule.reads
    scope = Scope(ticket, event, now, rule.name, field_refs,
                  template_context(ticket, event, field_refs, now, rule.name, calendar_zones,
                                   _sla_seen(sla_info, reads, event), extra, reads.names, reads.ticket_keys,
                                   reads.event_keys),
                  locale, messages or Messages())
    outside: list[Scope] = []  # made once, for the first action that writes outside the ticket
    for index, action in enumerate(rule.actions):
        name = action.spec.name
        if action.spec.leaves_ticket and not outside:
            outside.append(_redacted(scope, redaction))
        try:
            params = action.spec.make(action.compiled, outside[0] if action.spec.leaves_ticket else scope)
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


def _sla_seen(sla_info: Mapping[str, Mapping[str, Any]] | None, reads: Reads,
              event: Event) -> Mapping[str, Mapping[str, Any]] | None:
    """The clocks' info a rule's templates may read (`sla_info` may make each when first read,
    rules.sla.lazy_views): what they cannot read is left out, so it is never made."""
    if reads.sla_policies is None or not sla_info:
        return sla_info
    if reads.names is not None and "sla" not in reads.names:
        return None
    kept = reads.sla_policies | {event.sla_policy or ""} if reads.sla_event else reads.sla_policies
    return {name: sla_info[name] for name in sla_info if name in kept}


def _redacted(scope: Scope, redaction: Redactor | None) -> Scope:
    if redaction is None:
        return scope
    return dataclasses.replace(scope, template_context=redact_context(scope.template_context, redaction))


_STANDARD = {"status": "status", "priority": "priority", "subject": "subject", "description": "description"}


def _derive(effects: list[Effect], event: Event, ticket: Ticket, field_refs: Mapping[str, str | None],
            depth: int) -> tuple[Event, Ticket] | None:
    """The event our own planned changes make, and the ticket after them; None if nothing changes."""
    if not effects:  # the usual, deeper in a chain
        return None
    changes: list[Change] = []
    updates: dict[str, Any] = {}
    custom = dict(ticket.custom_fields)
    for effect in effects:
        for name, value in ACTIONS[effect.action].changes(effect.params).items():
            if name.startswith("cf:"):
                ref = name[3:]
                field_name = _custom_name(ticket, ref)
                old = ticket.custom_field(ref)
                if _text(old) != _text(value):
                    changes.append(Change(f"cf:{field_name}", _text(old), _text(value),
                                          field_id=ticket.custom_field_ids.get(field_name, "")))
                    custom[field_name] = value
            elif name == "assignee":
                old_person = ticket.assignee
                if not (old_person and value and old_person.matches(str(value))) and (old_person or value):
                    changes.append(Change("assignee", old_person.login or old_person.id if old_person else None,
                                          _text(value)))
                    updates["assignee"] = Person(str(value), str(value), str(value)) if value else None
            elif name in _STANDARD:
                old = getattr(ticket, _STANDARD[name])
                if (_text(old) or "").casefold() != (_text(value) or "").casefold():
                    changes.append(Change(name, _text(old), _text(value)))
                    updates[_STANDARD[name]] = value or ""
    if not changes:
        return None
    new_ticket = dataclasses.replace(ticket, custom_fields=custom, **updates)
    derived = Event(f"{event.id}#chain{depth + 1}", event.tracker_kind, event.ticket_id,
                    frozenset({"ticket.updated"}), event.occurred_at, SELF, tuple(changes))
    return derived, new_ticket


def apply_effects(ticket: Ticket, effects: list[Effect]) -> Ticket:
    """The ticket as it will be once these effects are written (for replays and rule tests)."""
    derived = _derive(effects, Event("", ticket.tracker_kind, ticket.id, frozenset(), datetime.min, SELF),
                      ticket, {}, 0)
    return derived[1] if derived else ticket


def _custom_name(ticket: Ticket, ref: str) -> str:
    if ref in ticket.custom_fields:
        return ref
    return next((name for name, ident in ticket.custom_field_ids.items() if ident == ref), ref)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
