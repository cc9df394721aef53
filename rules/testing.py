"""Declarative rule tests, in the spirit of promtool's: a rulebook, an initial ticket, events at
fixed times, and the effects that must (and must not) follow.

    rulebook: ../redmine-support.yaml      # relative to the test file; a file or a directory
    tracker: redmine                       # whose field mapping to use (default redmine)
    tests:
      - name: a new incident is triaged
        ticket: {project: support, tracker: Incident, priority: Normal, fields: {origin: ""}}
        events:
          - at: 2026-03-02T09:00:00Z
            on: ticket.created
            expect:
              - {rule: triage new incidents, action: set, set: {origin: unknown}}
              - {rule: triage new incidents, action: comment, private: true, body_contains: received}
            expect_not:
              - {rule: waiting for customer}

Each event's `changes` ({field: [old, new]}) are applied to the ticket before the rules run,
and the effects the rules plan are applied after, so later events see the ticket as the
tracker would. A multi-value field changes between lists ({labels: [[a], [a, b]]}: b came), a
person between people ({assignee: [null, {id: ..., login: ..., name: ...}]}). Pure: the test
file's text and the loaded rulebook come in, results go out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.changes import set_change
from rules.conditions import ConditionContext
from rules.context import Where
from rules.durations import DurationError, parse_duration
from rules.engine import Decision, apply_effects, evaluate_scheduled
from rules.errors import RuleError
from rules.measures import measure, window
from rules.model import Change, Comment, Effect, Event, Person, SlaCycle, Ticket, TrackerSla
from rules.pipeline import decide_sla, process, sla_event
from rules.rulebook import Rulebook
from rules.schema import TRIGGERS, Option, read_options
from rules.sla import Clock, SlaEvent, Status, calendars_of, due_notifications, status
from rules.source import MappingNode, YamlSyntaxError, parse_yaml

FILE = {
    "rulebook": Option("text", required=True, doc="rule file or directory, relative to the test file"),
    "tracker": Option("text-or-list", default="redmine",
                      doc="whose model to test on: redmine, jira, or both as a list (every test runs on each)"),
    "tests": Option("list-of-tests", required=True, doc="the tests"),
}
TEST = {
    "name": Option("text", required=True, doc="what the test shows"),
    "ticket": Option("mapping", default={}, doc="the ticket before the first event"),
    "events": Option("list-of-events", required=True, doc="events, in order"),
}
TICKET = {
    "id": Option("text", default="1"), "project": Option("text", default="support"),
    "project_name": Option("text", default=""), "tracker": Option("text", default="Incident"),
    "status": Option("text", default="New"), "priority": Option("text", default="Normal"),
    "subject": Option("text", default="Test ticket"), "description": Option("text", default=""),
    "author": Option("person", default=None), "assignee": Option("person", default=None),
    "created": Option("text", default=None), "closed": Option("bool", default=False),
    "labels": Option("list", default=[]), "categories": Option("list", default=[]),
    "fix_versions": Option("list", default=[]), "fields": Option("mapping", default={}),
    "jsm": Option("mapping", default={}, doc="Jira Service Management SLAs: name -> {breached, paused, goal, "
                                             "elapsed, remaining, breach_at, started, completed: [...]}"),
}
SLA_CYCLE_KEYS = ("breached", "paused", "within_calendar_hours", "goal", "elapsed", "remaining", "breach_at",
                  "started", "stopped")
EVENT = {
    "at": Option("text", required=True, doc="ISO time with zone"),
    "on": Option("text-or-list", required=True, doc="trigger(s)"),
    "actor": Option("person", default=None), "changes": Option("mapping", default={}),
    "comment": Option("mapping", default=None), "sla_policy": Option("text", default=None),
    "expect": Option("list-of-expectations", default=[]), "expect_not": Option("list-of-expectations", default=[]),
    "expect_only": Option("bool", default=False, doc="no effects other than those in `expect`"),
    "warnings": Option("list", default=[], doc="texts each expected warning contains"),
    "sla": Option("mapping", default={}, doc="policy -> {state, due, warn, elapsed, remaining, target} after it"),
    "related": Option("mapping", default={}, doc="facts about a related issue: {development: {status: Closed, "
                                                 "resolved: \"yes\"}} or {record: {...}}"),
    "rule": Option("text", default=None, doc="with `on: schedule`: the scheduled rule that runs"),
    "incidents": Option("list-of-incidents", default=[],
                        doc="with `on: schedule`: the stored incidents a measured rule measures "
                            "({team, origin, customer, priority, created, ...})"),
}
SWEEP = "sweep"  # a test event: time passes to `at` and the SLA sweep runs
SCHEDULE = "schedule"  # a test event: a scheduled rule runs at `at` (over `incidents`, if measured)
INCIDENT_KEYS = ("id", "key", "team", "customer", "origin", "priority", "project", "type", "status", "created",
                 "closed", "breaches", "incident")
EXPECTATION = {
    "rule": Option("text"), "action": Option("text"), "set": Option("mapping"), "body": Option("text"),
    "body_contains": Option("text"), "private": Option("bool"), "status": Option("text"),
    "to": Option("text"), "channel": Option("text"), "message_contains": Option("text"),
    "kind": Option("text"), "cause": Option("text"), "project": Option("text"), "subject_contains": Option("text"),
    "sources": Option("list"),
}
_PERSON_KEYS = ("id", "login", "name", "email", "groups", "roles")


@dataclass
class TestCase:
    name: str
    file: str
    line: int
    ticket: Ticket
    events: list[tuple[Event, Mapping[str, Any], int]]  # event, its expectations, its line


@dataclass
class TestResult:
    name: str
    file: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def read_test_file(file_name: str, text: str) -> tuple[Mapping[str, Any] | None, list[RuleError]]:
    """The test file's header (rulebook path, tracker) and every shape error in it."""
    errors: list[RuleError] = []
    try:
        document = parse_yaml(text)
    except YamlSyntaxError as exc:
        return None, [RuleError(file_name, exc.line, (), f"YAML syntax error: {exc.message}")]
    where = Where(file_name, getattr(document, "line", 1), (), errors)
    if not isinstance(document, MappingNode):
        where.error("a rule test file is a mapping with `rulebook` and `tests`")
        return None, errors
    header = read_options(FILE, document, where)
    return (document if header is not None and not errors else None), errors


def build_cases(file_name: str, document: Mapping[str, Any],
                rulebook: Rulebook) -> tuple[list[TestCase], list[RuleError]]:
    errors: list[RuleError] = []
    where = Where(file_name, getattr(document, "line", 1), (), errors)
    trackers = document.get("tracker", "redmine")
    trackers = trackers if isinstance(trackers, list) else [trackers]
    for tracker in trackers:
        if tracker not in ("redmine", "jira"):
            where.child(document, "tracker").error(f"unknown tracker {tracker!r} (expected redmine or jira)")
    tests = document["tests"]
    tests_where = where.child(document, "tests")
    if not isinstance(tests, list) or not tests:
        tests_where.error("expected a non-empty list of tests")
    if errors:
        return [], errors
    cases = []
    for tracker in trackers:
        for index, raw in enumerate(tests):
            case = _build_case(tests_where.child(tests, index), raw, rulebook, tracker)
            if case is not None:
                if len(trackers) > 1:
                    case.name = f"{case.name} [{tracker}]"
                cases.append(case)
    return cases, errors


def _build_case(where: Where, raw: Any, rulebook: Rulebook, tracker: str) -> TestCase | None:
    before = len(where.errors)
    options = read_options(TEST, raw, where)
    if options is None:
        return None
    ticket = _ticket(where.child(raw, "ticket"), options["ticket"], rulebook, tracker)
    events_raw = options["events"]
    events_where = where.child(raw, "events")
    events = []
    if not isinstance(events_raw, list) or not events_raw:
        events_where.error("expected a non-empty list of events")
    else:
        for index, item in enumerate(events_raw):
            built = _event(events_where.child(events_raw, index), item, tracker,
                           ticket.id if ticket else "1", index)
            if built is not None:
                events.append(built)
    if len(where.errors) > before or ticket is None:
        return None
    return TestCase(str(options["name"]), where.file, where.line, ticket, events)


def _time(where: Where, text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        where.error(f"expected an ISO time such as 2026-03-02T09:00:00Z, got {text!r}")
        return None
    if moment.tzinfo is None:
        where.error(f"time {text!r} needs a zone (Z or +hh:mm)")
        return None
    return moment


def _person(where: Where, raw: Any) -> Person | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Person(raw, raw, raw)
    if not isinstance(raw, dict) or set(raw) - set(_PERSON_KEYS):
        where.error(f"a person is a login or a mapping with {', '.join(_PERSON_KEYS)}")
        return None
    login = str(raw.get("login", raw.get("id", "")))
    return Person(str(raw.get("id", login)), login, str(raw.get("name", login)), str(raw.get("email", "")),
                  tuple(raw.get("groups", ())), tuple(raw.get("roles", ())))


def _ticket(where: Where, raw: Any, rulebook: Rulebook, tracker: str) -> Ticket | None:
    options = read_options(TICKET, raw if raw is not None else {}, where)
    if options is None:
        return None
    refs = rulebook.field_refs(tracker)
    custom: dict[str, Any] = {}
    for name, value in (options["fields"] or {}).items():
        if name not in refs or not refs[name]:
            where.child(raw, "fields").error(f"unknown field {name!r} (or not mapped for {tracker})")
            continue
        custom[str(refs[name])] = value
    created = _time(where.child(raw, "created"), options["created"]) if options["created"] else None
    slas = _tracker_slas(where.child(raw, "jsm"), options["jsm"] or {})
    ident = str(options["id"])
    return Ticket(
        tracker_kind=tracker, id=ident, key=f"#{ident}" if tracker == "redmine" else ident,
        url=f"https://tracker.invalid/issues/{ident}", project=options["project"],
        project_name=options["project_name"] or str(options["project"]).title(), tracker=options["tracker"],
        status=options["status"], priority=options["priority"], subject=options["subject"],
        description=options["description"], author=_person(where.child(raw, "author"), options["author"]),
        assignee=_person(where.child(raw, "assignee"), options["assignee"]), created=created, updated=created,
        is_closed=bool(options["closed"]), labels=tuple(map(str, options["labels"])),
        categories=tuple(map(str, options["categories"])), fix_versions=tuple(map(str, options["fix_versions"])),
        custom_fields=custom, custom_field_ids={name: name for name in custom}, tracker_slas=slas)


def _tracker_slas(where: Where, raw: Any) -> tuple[TrackerSla, ...]:
    """The ticket's Jira Service Management SLAs: each name's facts are its ongoing cycle (none
    when only `completed` cycles are given)."""
    if not isinstance(raw, dict):
        where.error("expected a mapping of SLA name -> {breached, paused, goal, elapsed, remaining, ...}")
        return ()
    slas = []
    for name, facts in raw.items():
        here = where.child(raw, name)
        facts = facts if isinstance(facts, dict) else {}
        completed = [_sla_cycle(here.child(facts, "completed"), item) for item in facts.get("completed") or []]
        ongoing = {key: value for key, value in facts.items() if key != "completed"}
        slas.append(TrackerSla(str(name), _sla_cycle(here, ongoing) if ongoing or not completed else None,
                               tuple(completed)))
    return tuple(slas)


def _sla_cycle(where: Where, raw: Any) -> SlaCycle:
    """One SLA cycle from facts as a test writes them (durations such as 4h or -30m, ISO times)."""
    if not isinstance(raw, dict) or set(raw) - set(SLA_CYCLE_KEYS):
        where.error(f"an SLA cycle is a mapping with {', '.join(SLA_CYCLE_KEYS)}")
        return SlaCycle()

    def span(key: str) -> Any:
        text = str(raw[key]).strip()
        try:
            value = parse_duration(text.lstrip("-"))
        except DurationError as exc:
            where.child(raw, key).error(str(exc))
            return None
        return -value if text.startswith("-") else value

    def moment(key: str) -> datetime | None:
        return _time(where.child(raw, key), raw[key])

    return SlaCycle(start=moment("started") if "started" in raw else None,
                    stop=moment("stopped") if "stopped" in raw else None,
                    breach_at=moment("breach_at") if "breach_at" in raw else None,
                    breached=raw.get("breached") is True, paused=raw.get("paused") is True,
                    within_calendar_hours=raw.get("within_calendar_hours"),
                    goal=span("goal") if "goal" in raw else None, elapsed=span("elapsed") if "elapsed" in raw else None,
                    remaining=span("remaining") if "remaining" in raw else None)


def _event(where: Where, raw: Any, tracker: str, ticket_id: str, index: int
           ) -> tuple[Event, Mapping[str, Any], int] | None:
    before = len(where.errors)
    options = read_options(EVENT, raw, where)
    if options is None:
        return None
    at = _time(where.child(raw, "at"), options["at"])
    triggers = options["on"] if isinstance(options["on"], list) else [options["on"]]
    for trigger in triggers:
        if trigger not in TRIGGERS and trigger not in (SWEEP, SCHEDULE):
            where.child(raw, "on").error(
                f"unknown trigger {trigger!r} (expected one of: {', '.join(TRIGGERS)}, sweep or schedule)")
    if SCHEDULE in triggers and not options["rule"]:
        where.child(raw, "on").error("`on: schedule` names the scheduled rule that runs: `rule: NAME`")
    if not isinstance(options["incidents"], list):
        where.child(raw, "incidents").error("expected a list of incidents")
        options["incidents"] = []
    for position, item in enumerate(options["incidents"]):
        if not isinstance(item, dict) or set(item) - set(INCIDENT_KEYS):
            where.child(raw, "incidents").child(options["incidents"], position).error(
                f"an incident is a mapping with {', '.join(INCIDENT_KEYS)}")
    changes = []
    for name, pair in (options["changes"] or {}).items():
        if not isinstance(pair, list) or len(pair) != 2:
            where.child(options["changes"], name).error("a change is [old, new]")
            continue
        changes.append(_change(where.child(options["changes"], name), str(name), pair))
    comment = None
    if options["comment"] is not None:
        raw_comment = options["comment"]
        if not isinstance(raw_comment, dict) or "text" not in raw_comment:
            where.child(raw, "comment").error("a comment is {text: ..., private: true|false}")
        else:
            comment = Comment(str(raw_comment["text"]), bool(raw_comment.get("private", False)))
    for key in ("expect", "expect_not"):
        for position, item in enumerate(options[key] or []):
            read_options(EXPECTATION, item, where.child(raw, key).child(options[key], position))
    if len(where.errors) > before or at is None:
        return None
    related = {str(k): {str(n): str(v) for n, v in (facts or {}).items()}
               for k, facts in (options["related"] or {}).items()}
    event = Event(f"test:{ticket_id}:{index}", tracker, ticket_id, frozenset(triggers), at,
                  _person(where.child(raw, "actor"), options["actor"]), tuple(changes), comment,
                  options["sla_policy"], related=related)
    return event, options, where.line


def _change(where: Where, name: str, pair: list[Any]) -> Change:
    """[old, new]: texts, lists (a multi-value field: what came and went) or people."""
    old, new = pair
    if isinstance(old, list) or isinstance(new, list):
        return set_change(name, map(str, old or []), map(str, new or []))
    if isinstance(old, dict) or isinstance(new, dict):
        before, after = _person(where, old), _person(where, new)
        return Change(name, before.name if before else None, after.name if after else None,
                      old_person=before, new_person=after)
    return Change(name, None if old in (None, "") else str(old), None if new in (None, "") else str(new))


def run_case(case: TestCase, rulebook: Rulebook) -> tuple[TestResult, list[Decision]]:
    """Run one test; every unmet expectation becomes a readable failure line.

    SLA clocks run along: each event advances them, `sla.started` / `sla.met` follow at once,
    and an event `on: sweep` lets time pass so due warnings and breaches fire.
    """
    result = TestResult(case.name, case.file, case.line)
    decisions = []
    ticket = case.ticket
    refs = rulebook.field_refs(ticket.tracker_kind)
    clocks = _Clocks(rulebook)
    for number, (event, expectations, line) in enumerate(case.events, start=1):
        at = event.occurred_at
        if SWEEP in event.triggers:
            made = [clocks.decide(happened, ticket, at) for happened in clocks.sweep(at)]
        elif SCHEDULE in event.triggers:
            made = [_scheduled(rulebook, str(expectations["rule"]), expectations.get("incidents") or [],
                               ticket.tracker_kind, at)]
        else:
            ticket, event = _with_changes(ticket, event, refs)
            step = process(rulebook, clocks.calendars, event, ticket, clocks.every(), at)
            clocks.moved(step.moved)
            made = step.decisions
        combined = Decision(event.id, ticket.key, sorted(event.triggers), rulebook.version,
                            effects=[e for d in made for e in d.effects],
                            warnings=[w for d in made for w in d.warnings])
        decisions.extend(made)
        where = f"event {number} ({', '.join(sorted(event.triggers))} at {at.isoformat()}, line {line})"
        _check(result, where, combined, expectations, refs)
        _check_clocks(result, where, clocks, expectations.get("sla") or {}, at)
        ticket = apply_effects(ticket, combined.effects)
    return result, decisions


def _scheduled(rulebook: Rulebook, name: str, incidents: list[Mapping[str, Any]], tracker: str,
               at: datetime) -> Decision:
    """A scheduled rule run at `at`; a measured one measures the test's incidents."""
    rule = rulebook.rule(name)
    if rule is None or rule.measure is None:
        return evaluate_scheduled(rulebook, name, at, at)
    rows = [_incident(item, number, tracker, at) for number, item in enumerate(incidents, start=1)]
    start, end, month = window(rule.measure, at)
    inside = [row for row in rows if start <= row["created_at"] < end]
    bounds = {"start": start, "end": end, "month": month, "label": rule.measure.month or month}
    return evaluate_scheduled(rulebook, name, at, at, measure(rulebook, rule.measure, inside), bounds)


def _incident(item: Mapping[str, Any], number: int, tracker: str, at: datetime) -> dict[str, Any]:
    ident = str(item.get("id", number))
    created = item.get("created")
    closed = item.get("closed")
    return {
        "tracker": tracker, "ticket_id": ident, "key": str(item.get("key", f"#{ident}")),
        "url": f"https://tracker.invalid/issues/{ident}", "team": item.get("team"),
        "customer": item.get("customer"), "origin": item.get("origin"), "priority": item.get("priority", "Normal"),
        "project": item.get("project", "support"), "type": item.get("type", "Incident"),
        "status": item.get("status", "New"), "incident": bool(item.get("incident", True)),
        "created_at": datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else at,
        "closed_at": datetime.fromisoformat(str(closed).replace("Z", "+00:00")) if closed else None,
        "breaches": int(item.get("breaches", 0)),
    }


class _Clocks:
    """The SLA clocks of one rule test's ticket, every cycle, as the store keeps them."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.calendars = calendars_of(rulebook) if rulebook.sla else {}
        self.cycles: dict[tuple[str, int], Clock] = {}

    @property
    def clocks(self) -> dict[str, Clock]:
        """The newest cycle of each policy."""
        return {policy: clock for (policy, _), clock in sorted(self.cycles.items())}

    def every(self) -> list[Clock]:
        return list(self.cycles.values())

    def moved(self, clocks: list[Clock]) -> None:
        self.cycles.update({(clock.policy, clock.cycle): clock for clock in clocks})

    def sweep(self, now: datetime) -> list[SlaEvent]:
        owed_events = []
        for name, clock in self.clocks.items():
            policy = self.rulebook.sla[name]
            quiet = self.calendars[policy.quiet_hours] if policy.quiet_hours else None
            for marker, happened in due_notifications(clock, policy, self.calendars[policy.calendar], now, quiet,
                                                       self.calendars):
                clock = clock.with_transition(marker)
                owed_events.append(happened)
            self.cycles[(name, clock.cycle)] = clock
        return owed_events

    def status(self, policy: str, now: datetime) -> Status:
        return status(self.clocks[policy], self.rulebook.sla[policy],
                      self.calendars[self.rulebook.sla[policy].calendar], now, self.calendars)

    def decide(self, happened: SlaEvent, ticket: Ticket, now: datetime) -> Decision:
        """The rules on an SLA event the sweep found, as the worker runs them (at `now`)."""
        return decide_sla(self.rulebook, self.calendars, sla_event(ticket.tracker_kind, ticket.id, happened),
                          ticket, self.every(), now)


def _check_clocks(result: TestResult, where: str, clocks: _Clocks, expected: Mapping[str, Any],
                  now: datetime) -> None:
    for policy, wanted in expected.items():
        if policy not in clocks.clocks:
            result.failures.append(f"{where}: expected an SLA clock {policy!r}; there is none")
            continue
        current = clocks.status(policy, now)
        for key, value in (wanted or {}).items():
            actual = getattr(current, {"due": "due_at", "warn": "warn_at"}.get(key, key), "\0unknown")
            if key in ("due", "warn"):
                same = actual is not None and datetime.fromisoformat(str(value).replace("Z", "+00:00")) == actual
            elif key in ("elapsed", "remaining", "target"):
                same = actual == parse_duration(str(value))
            else:
                same = str(actual) == str(value)
            if not same:
                shown = actual.isoformat() if isinstance(actual, datetime) else actual
                result.failures.append(f"{where}: SLA {policy} {key}: expected {value}, got {shown}")


def _with_changes(ticket: Ticket, event: Event, refs: Mapping[str, str | None]) -> tuple[Ticket, Event]:
    """The ticket after the event's own changes, and the event with logical fields resolved."""
    updates: dict[str, Any] = {}
    custom = dict(ticket.custom_fields)
    resolved = []
    for change in event.changes:
        if refs.get(change.field):
            ref = str(refs[change.field])
            custom[ref] = _after(custom.get(ref), change) if change.of_values else change.new
            resolved.append(dataclasses.replace(change, field=f"cf:{ref}", field_id=ref))
            continue
        resolved.append(change)
        if change.field in ("status", "priority", "subject", "description", "tracker"):
            updates[change.field] = change.new or ""
        elif change.field in ("labels", "fix_versions") or change.field == "category":
            name = "categories" if change.field == "category" else change.field
            updates[name] = tuple(_after(getattr(ticket, name), change))
        elif change.field == "assignee":
            updates["assignee"] = change.new_person or (Person(change.new, change.new, change.new)
                                                        if change.new else None)
    return (dataclasses.replace(ticket, custom_fields=custom, **updates),
            dataclasses.replace(event, changes=tuple(resolved)))


def _after(values: Any, change: Change) -> list[str]:
    """A multi-value field's values once the change's added and removed values are applied."""
    current = [str(v) for v in values] if isinstance(values, (list, tuple)) else []
    return [v for v in current if v not in change.removed] + [v for v in change.added if v not in current]


def _matches(effect: Effect, expected: Mapping[str, Any], refs: Mapping[str, str | None]) -> bool:
    params = effect.params
    checks: dict[str, Callable[[Any], bool]] = {
        "rule": lambda v: effect.rule == v,
        "action": lambda v: effect.action == v,
        "body": lambda v: params.get("body") == v,
        "body_contains": lambda v: v in str(params.get("body", "")),
        "private": lambda v: params.get("private") == v,
        "status": lambda v: str(params.get("status", "")).casefold() == str(v).casefold(),
        "to": lambda v: str(params.get("to", "")) == str(v),
        "channel": lambda v: params.get("channel") == str(v).casefold(),
        "message_contains": lambda v: v in str(params.get("message", "")),
        "kind": lambda v: str(params.get("kind", "")) == str(v),
        "cause": lambda v: str(params.get("cause", "")) == str(v),
        "project": lambda v: str(params.get("project", "")) == str(v),
        "subject_contains": lambda v: str(v) in str(params.get("subject", "")),
        "sources": lambda v: [str(s.get("key")) for s in params.get("sources", [])] == [str(x) for x in v],
        "set": lambda v: all(_set_value(params, name, refs) == (None if value is None else str(value))
                             for name, value in v.items()),
    }
    return all(checks[key](value) for key, value in expected.items() if key in checks)


def _set_value(params: Mapping[str, Any], name: str, refs: Mapping[str, str | None]) -> Any:
    if name in params.get("standard", {}):
        return params["standard"][name]
    ref = refs.get(name)
    return params.get("custom", {}).get(ref, "\0absent") if ref else "\0absent"


def _check(result: TestResult, where: str, decision: Decision, expectations: Mapping[str, Any],
           refs: Mapping[str, str | None]) -> None:
    effects = decision.effects
    used: set[int] = set()
    for expected in expectations.get("expect") or []:
        found = next((i for i, e in enumerate(effects) if i not in used and _matches(e, expected, refs)), None)
        if found is None:
            result.failures.append(f"{where}: expected {describe_expectation(expected)}\n      but got: "
                                   + ("\n               ".join(map(describe_effect, effects)) or "no effects"))
        else:
            used.add(found)
    for unexpected in expectations.get("expect_not") or []:
        for effect in effects:
            if _matches(effect, unexpected, refs):
                result.failures.append(f"{where}: did not expect {describe_effect(effect)}")
    if expectations.get("expect_only"):
        for index, effect in enumerate(effects):
            if index not in used:
                result.failures.append(f"{where}: unexpected {describe_effect(effect)}")
    for text in expectations.get("warnings") or []:
        if not any(text in warning for warning in decision.warnings):
            result.failures.append(f"{where}: expected a warning containing {text!r}; got {decision.warnings}")


def describe_expectation(expected: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in expected.items())


def describe_effect(effect: Effect) -> str:
    params = {k: v for k, v in effect.params.items() if k not in ("ticket", "description", "record", "previous")}
    return f"{effect.action} by {effect.rule!r} {params}"


__all__ = ["ConditionContext", "TestCase", "TestResult", "build_cases", "read_test_file", "run_case"]
