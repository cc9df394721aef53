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
person between people ({assignee: [null, {id: ..., login: ..., name: ...}]}).

The file's shape is declared once, below, as `Option` mappings: the reader checks against
them, `json_schema()` turns them into the JSON Schema editors use, and the reference tables
of docs/rules.md are generated from them, so the three cannot disagree. Everything the
runner needs (times, durations, rule and field names) is checked when the file is read, with
file:line; running a test only compares. Pure: the test file's text and the loaded rulebook
come in, results go out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from rules.actions import ACTIONS
from rules.actions.set_fields import STANDARD_DOCS
from rules.changes import set_change
from rules.conditions import RELATED_FIELDS, SLA_STATES, ConditionContext
from rules.context import Where
from rules.durations import DURATION_PATTERN, DurationError, format_duration, parse_duration
from rules.engine import Decision, apply_effects, evaluate_scheduled
from rules.errors import RuleError
from rules.measures import measure, window
from rules.model import Change, Comment, Effect, Event, Person, SlaCycle, Ticket, TrackerSla
from rules.pipeline import decide_sla, process, sla_event
from rules.rulebook import Rulebook
from rules.schema import TRIGGERS, Option, read_options
from rules.sla import Clock, SlaEvent, Status, calendars_of, due_notifications, status
from rules.source import MappingNode, YamlSyntaxError, parse_yaml
from rules.suggest import did_you_mean
from rules.templates import EMPTY_RELATED

SWEEP = "sweep"  # a test event: time passes to `at` and the SLA sweep runs
SCHEDULE = "schedule"  # a test event: a scheduled rule runs at `at` (over `incidents`, if measured)
TEST_TRIGGERS = (*TRIGGERS, SWEEP, SCHEDULE)
TRACKERS = ("redmine", "jira")
_LOCAL_TIME = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?"
TIME_PATTERN = rf"^{_LOCAL_TIME}(Z|[+-]\d\d:\d\d)$"
DATE_PATTERN = r"^\d{4}-\d\d-\d\d$"
SIGNED_DURATION_PATTERN = "^-?" + DURATION_PATTERN[1:]
RELATED_FACTS = {name: tuple(dict.fromkeys((*RELATED_FIELDS.get(name, ()), *facts)))
                 for name, facts in EMPTY_RELATED.items()}

# -- the file's shape -------------------------------------------------------------------------
# Types beyond the rulebook's (rules.schema.Option): `time` (ISO time with zone), `date-or-time`,
# `signed-duration`, `person`, `trackers`, `triggers`, `changes`, the three kinds of change, and
# `facts:NAME`; `section:NAME`, `list:NAME` and `map:NAME` nest the declaration NAME of SECTIONS.

FILE = {
    "rulebook": Option("text", required=True, doc="rule file or directory, relative to the test file"),
    "tracker": Option("trackers", default="redmine",
                      doc="whose model to test on: `redmine`, `jira`, or both as a list (every test runs on each)"),
    "tests": Option("list:test", required=True, doc="the tests"),
}
TEST = {
    "name": Option("text", required=True, doc="what the test shows"),
    "ticket": Option("section:ticket", default={}, doc="the ticket before the first event"),
    "events": Option("list:event", required=True, doc="events, in order"),
}
PERSON = {
    "id": Option("text", doc="the tracker's id (Jira Cloud: the accountId); default: the login"),
    "login": Option("text", doc="login; default: the id"),
    "name": Option("text", doc="display name; default: the login"),
    "email": Option("text", doc="e-mail address"),
    "groups": Option("list", doc="groups the person is in"),
    "roles": Option("list", doc="roles in the ticket's project"),
}
_A_PERSON = f"a login, or a mapping with {', '.join(PERSON)}"
TICKET = {
    "id": Option("text", default="1", doc="its id; its key is `#ID` on Redmine, the id itself on Jira"),
    "project": Option("text", default="support", doc="project identifier or key"),
    "project_name": Option("text", default="", doc="project name; default: the project, capitalised"),
    "tracker": Option("text", default="Incident", doc="tracker / issue type"),
    "status": Option("text", default="New", doc="status"),
    "priority": Option("text", default="Normal", doc="priority"),
    "subject": Option("text", default="Test ticket", doc="subject (Jira: summary)"),
    "description": Option("text", default="", doc="description"),
    "author": Option("person", doc=f"who reported it: {_A_PERSON}"),
    "assignee": Option("person", doc=f"who it is assigned to: {_A_PERSON}"),
    "created": Option("time", doc="when it was created"),
    "closed": Option("bool", default=False, doc="its status is a closed one"),
    "labels": Option("list", default=[], doc="labels (Jira)"),
    "categories": Option("list", default=[], doc="Redmine's category, Jira's components"),
    "fix_versions": Option("list", default=[], doc="fix versions (Jira)"),
    "fields": Option("mapping", default={}, doc="logical field -> value (a list for a multi-value field)"),
    "jsm": Option("map:jsm", default={}, doc="Jira Service Management's own SLAs: name -> SLA"),
}
JSM_CYCLE = {
    "breached": Option("bool", doc="the goal was missed"),
    "paused": Option("bool", doc="the SLA's clock is paused"),
    "within_calendar_hours": Option("bool", doc="now is within the SLA's calendar"),
    "goal": Option("signed-duration", doc="the goal (`8h`)"),
    "elapsed": Option("signed-duration", doc="time counted so far"),
    "remaining": Option("signed-duration", doc="time left, negative (`-1h`) past the goal"),
    "breach_at": Option("time", doc="when it breaches (or breached)"),
    "started": Option("time", doc="when the cycle started"),
    "stopped": Option("time", doc="when a completed cycle stopped"),
}
JSM_SLA = {
    **JSM_CYCLE,
    "completed": Option("list:jsm-cycle", default=[], doc="finished cycles, each with the keys above"),
}
EVENT = {
    "at": Option("time", required=True, doc="when it happens"),
    "on": Option("triggers", required=True,
                 doc="trigger(s); `sweep`: time passes to `at` and due SLA warnings and breaches fire; "
                     "`schedule`: the scheduled rule `rule` runs"),
    "actor": Option("person", doc=f"who acted: {_A_PERSON}"),
    "changes": Option("changes", default={}, doc="field -> [old, new], applied to the ticket before the rules run"),
    "comment": Option("section:comment", doc="the comment the event adds: `{text: ..., private: true}`"),
    "sla_policy": Option("text", doc="the SLA policy an `sla.*` trigger is about"),
    "expect": Option("list:expectation", default=[], doc="effects that must follow, each matched by its own effect"),
    "expect_not": Option("list:expectation", default=[], doc="effects that must not follow"),
    "expect_only": Option("bool", default=False, doc="no effects other than those in `expect`"),
    "warnings": Option("list", default=[], doc="texts the decision's warnings must contain, one each"),
    "sla": Option("map:clock", default={}, doc="SLA policy -> what its clock shows after the event"),
    "related": Option("section:related", default={},
                      doc="facts about a related issue, for `development.*`, `record.*` and `survey.*` triggers"),
    "rule": Option("text", doc="with `on: schedule`: the scheduled rule that runs"),
    "incidents": Option("list:incident", default=[],
                        doc="with `on: schedule`: the stored incidents a measured rule measures"),
}
COMMENT = {
    "text": Option("text", required=True, doc="its text"),
    "private": Option("bool", default=False, doc="a private note (Jira: internal comment)"),
}
RELATED = {name: Option(f"facts:{name}", doc=f"{', '.join(facts)}") for name, facts in RELATED_FACTS.items()}
CHANGE = {
    "status": Option("change", doc="status names"),
    "priority": Option("change", doc="priority names"),
    "tracker": Option("change", doc="tracker / issue type names"),
    "project": Option("change", doc="project identifiers or keys"),
    "subject": Option("change", doc="subjects"),
    "description": Option("change", doc="descriptions"),
    "assignee": Option("person-change", doc=f"people, each {_A_PERSON}, or null"),
    "author": Option("person-change", doc=f"people, each {_A_PERSON}, or null"),
    "labels": Option("values-change", doc="lists of labels: rules see which came and which went"),
    "category": Option("values-change", doc="lists of categories (Redmine) or components (Jira); a text is one"),
    "components": Option("values-change", doc="the same as `category`"),
    "categories": Option("values-change", doc="the same as `category`"),
    "fix_versions": Option("values-change", doc="lists of fix versions"),
}
CHANGE_ALIASES = {"components": "category", "categories": "category"}
LOGICAL_CHANGE = ("any logical field", "values of the field: texts, lists for a multi-value field (multi-select, "
                                       "multi-user picker), people for a user field, or null")
EXPECTATION = {
    "rule": Option("text", doc="the rule that planned it"),
    "action": Option("text", doc="the action: `set`, `comment`, `transition`, `nonconformity`, ..."),
    "set": Option("mapping", doc="field -> value it writes (logical or standard fields; null: cleared)"),
    "body": Option("text", doc="a note's whole text"),
    "body_contains": Option("text", doc="text the note contains"),
    "private": Option("bool", doc="the note is private (true) or public (false)"),
    "status": Option("text", doc="`transition`: the status it goes to"),
    "to": Option("text", doc="`assign`, `link`: whom or what"),
    "channel": Option("text", doc="`notify`: the channel"),
    "message_contains": Option("text", doc="`notify`, `survey`: text the message contains"),
    "kind": Option("text", doc="records: `nonconformity` or `observation`"),
    "cause": Option("text", doc="records: the rendered cause"),
    "project": Option("text", doc="records, escalations, reports: the project it goes to"),
    "subject_contains": Option("text", doc="records, escalations: text the subject contains"),
    "sources": Option("list", doc="records: the keys of the linked tickets, in order"),
    "record": Option("section:record", doc="`nonconformity`: parts of the record it opens"),
}
RECORD = {
    "kind": Option("enum", choices=("nonconformity", "observation"), doc="the record's kind"),
    "cause": Option("text", doc="the rendered cause"),
    "owner": Option("text", doc="who owns the corrective action"),
    "severity": Option("text", doc="its severity"),
    "clause": Option("text", doc="the ISO 9001 clause"),
    "due": Option("date-or-time", doc="when the corrective action is due: a date is the due moment's day in the "
                                      "time zone of the action's `calendar` (UTC when it names none); a time "
                                      "is the moment itself"),
    "review_due": Option("date-or-time", doc="when the effectiveness review is due, read as `due` is"),
}
CLOCK = {
    "state": Option("enum", choices=SLA_STATES, doc="the clock's state"),
    "due": Option("time", doc="when it is due"),
    "warn": Option("time", doc="when it warns"),
    "target": Option("duration", doc="working time allowed"),
    "elapsed": Option("duration", doc="working time counted"),
    "remaining": Option("signed-duration", doc="working time left, negative (`-1h`) once breached"),
}
INCIDENT = {
    "id": Option("text", doc="the ticket's id; default: its position in the list"),
    "key": Option("text", doc="its key; default: `#ID`"),
    "team": Option("text", doc="its team"),
    "customer": Option("text", doc="its customer"),
    "origin": Option("text", doc="its failure origin"),
    "priority": Option("text", default="Normal", doc="its priority"),
    "project": Option("text", default="support", doc="its project"),
    "type": Option("text", default="Incident", doc="its tracker / issue type"),
    "status": Option("text", default="New", doc="its status"),
    "created": Option("time", doc="when it was created; default: the event's time"),
    "closed": Option("time", doc="when it was closed"),
    "breaches": Option("int", default=0, doc="how many SLA breaches it had"),
    "incident": Option("bool", default=True, doc="it counts as a customer-reported incident"),
}
SECTIONS: dict[str, Mapping[str, Option]] = {
    "file": FILE, "test": TEST, "ticket": TICKET, "person": PERSON, "jsm": JSM_SLA, "jsm-cycle": JSM_CYCLE,
    "event": EVENT, "comment": COMMENT, "related": RELATED, "changes": CHANGE, "expectation": EXPECTATION,
    "record": RECORD, "clock": CLOCK, "incident": INCIDENT,
}
TYPE_NAMES = {
    "trackers": "`redmine`, `jira` or a list", "triggers": "trigger or list", "time": "ISO time with zone",
    "date-or-time": "date or ISO time with zone", "duration": "duration", "signed-duration": "signed duration",
    "person": "login or person", "changes": "mapping field → [old, new]", "change": "[old, new] texts",
    "person-change": "[old, new] people", "values-change": "[old, new] lists", "list:test": "list of tests",
    "list:event": "list of events", "list:expectation": "list of expectations", "list:incident": "list of incidents",
    "list:jsm-cycle": "list of cycles", "map:clock": "mapping policy → clock", "map:jsm": "mapping name → SLA",
    "section:comment": "comment", "section:ticket": "ticket", "section:related": "mapping",
    "section:record": "record",
}
TYPE_NAMES.update({f"facts:{name}": "mapping fact → text" for name in RELATED_FACTS})
# What the builders read themselves, with the rulebook at hand; `_read` converts every other type.
_BUILT = frozenset({"list:test", "list:event", "list:expectation", "section:ticket", "map:clock", "changes"})
_STATUS_ATTRIBUTES = {"due": "due_at", "warn": "warn_at"}
_TICKET_ATTRIBUTES = {"status": "status", "priority": "priority", "tracker": "tracker", "project": "project",
                      "subject": "subject", "description": "description", "assignee": "assignee", "author": "author",
                      "labels": "labels", "category": "categories", "components": "categories",
                      "fix_versions": "fix_versions"}


@dataclass
class TestCase:
    name: str
    file: str
    line: int
    ticket: Ticket
    # each event, what it checks (its options as read, `changes` being each field's value after
    # it: a ticket attribute or `cf:REF` -> value) and its line
    events: list[tuple[Event, Mapping[str, Any], int]]


@dataclass
class TestResult:
    name: str
    file: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


# -- reading ----------------------------------------------------------------------------------

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
    """Every test of the file on each tracker it names; an error anywhere in a test (a value of
    the wrong shape, a rule, field or SLA policy the rulebook lacks) leaves that test out."""
    errors: list[RuleError] = []
    where = Where(file_name, getattr(document, "line", 1), (), errors)
    header = _read(FILE, document, where)
    tests = document.get("tests")
    tests_where = where.child(document, "tests")
    if not isinstance(tests, list) or not tests:
        tests_where.error("expected a non-empty list of tests")
        return [], errors
    if errors or header is None:
        return [], errors
    trackers: list[str] = header["tracker"]
    cases = []
    for tracker in trackers:
        for index, raw in enumerate(tests):
            case = _build_case(tests_where.child(tests, index), raw, rulebook, tracker)
            if case is not None:
                if len(trackers) > 1:
                    case.name = f"{case.name} [{tracker}]"
                cases.append(case)
    # in the order of the file; a test run on two trackers reports its shape errors once
    return cases, sorted(dict.fromkeys(errors), key=lambda error: error.line)


def _read(options: Mapping[str, Option], raw: Any, where: Where) -> dict[str, Any] | None:
    """A mapping checked against its declaration, each value turned into what the runner uses
    (times, durations, people, nested sections), defaults filled in. Every error is recorded
    where it is; a wrong value is left at its default so reading goes on. None when `raw` is no
    mapping."""
    values = read_options(options, raw, where)
    if values is None:
        return None
    values.pop("\0errors", None)
    for key, option in options.items():
        if option.type in _BUILT:
            continue
        if key in raw and values[key] is raw[key]:
            values[key] = _convert(option.type, raw[key], where.child(raw, key))
        elif values[key] is not None:  # the default, in place of a value missing or of the wrong type
            values[key] = _convert(option.type, values[key], where)
    return values


def _convert(kind: str, value: Any, where: Where) -> Any:
    if kind.startswith("section:"):
        return _read(SECTIONS[kind.split(":", 1)[1]], value, where)
    if kind.startswith("list:"):
        if not isinstance(value, list):
            where.error(f"expected a {TYPE_NAMES[kind]}, got {_shape(value)}")
            return []
        return [_convert(f"section:{kind[5:]}", item, where.child(value, index)) for index, item in enumerate(value)]
    if kind.startswith("map:"):
        if not isinstance(value, dict):
            where.error(f"expected a {TYPE_NAMES[kind]}, got {_shape(value)}")
            return {}
        return {name: _convert(f"section:{kind[4:]}", item, where.child(value, name)) for name, item in value.items()}
    if kind.startswith("facts:"):
        return _facts(where, value, RELATED_FACTS[kind[6:]])
    reader = _VALUE_READERS.get(kind)
    return reader(where, value) if reader else value


def _shape(value: Any) -> str:
    for kind, name in ((bool, "true/false"), (dict, "a mapping"), (list, "a list"), (str, "text"),
                       (int, "a number"), (float, "a number"), (type(None), "nothing")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _time(where: Where, text: Any) -> datetime | None:
    if isinstance(text, str) and re.match(rf"^{_LOCAL_TIME}$", text):
        where.error(f"time {text!r} needs a zone (Z or +hh:mm)")
        return None
    if isinstance(text, str) and re.match(TIME_PATTERN, text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    where.error(f"expected an ISO time such as 2026-03-02T09:00:00Z, got {text!r}")
    return None


def _date_or_time(where: Where, text: Any) -> date | datetime | None:
    if isinstance(text, str) and re.match(DATE_PATTERN, text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    elif isinstance(text, str) and re.match(rf"^{_LOCAL_TIME}", text):
        return _time(where, text)
    where.error(f"expected a date such as 2026-04-01 or an ISO time such as 2026-04-01T12:00:00Z, got {text!r}")
    return None


def _duration(where: Where, text: Any) -> timedelta | None:
    try:
        if not isinstance(text, str):
            raise DurationError(f"malformed duration {text!r} (use e.g. 90s, 45m, 4h, 1h30m, 3d, 2w)")
        return parse_duration(text)
    except DurationError as exc:
        where.error(str(exc))
        return None


def _signed_duration(where: Where, text: Any) -> timedelta | None:
    negative = isinstance(text, str) and text.strip().startswith("-")
    value = _duration(where, text.strip()[1:] if negative else text)
    return -value if negative and value is not None else value


def _person(where: Where, raw: Any) -> Person | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Person(raw, raw, raw)
    values = _read(PERSON, raw, where)
    if values is None:
        return None
    login = str(values["login"] or values["id"] or "")
    return Person(str(values["id"] or login), login, str(values["name"] or login), str(values["email"] or ""),
                  tuple(map(str, values["groups"] or ())), tuple(map(str, values["roles"] or ())))


def _trackers(where: Where, raw: Any) -> list[str]:
    names = raw if isinstance(raw, list) else [raw]
    for name in names:
        if name not in TRACKERS:
            where.error(f"unknown tracker {name!r} (expected redmine or jira)")
    return [str(name) for name in names]


def _triggers(where: Where, raw: Any) -> list[str]:
    names = raw if isinstance(raw, list) else [raw]
    for name in names:
        if name not in TEST_TRIGGERS:
            where.error(f"unknown trigger {name!r} (expected one of: {', '.join(TRIGGERS)}, sweep or schedule)")
    return [name for name in names if isinstance(name, str)]


def _facts(where: Where, raw: Any, known: Sequence[str]) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        where.error(f"expected a mapping of facts ({', '.join(known)}), got {_shape(raw)}")
        return None
    facts = {}
    for name, value in raw.items():
        here = where.child(raw, name)
        if name not in known:
            here.error(f"unknown fact {name!r} (expected one of: {', '.join(known)})")
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
            here.error(f"expected text, got {_shape(value)}")
        else:
            facts[str(name)] = str(value)
    return facts


_VALUE_READERS: dict[str, Callable[[Where, Any], Any]] = {
    "time": _time, "date-or-time": _date_or_time, "duration": _duration, "signed-duration": _signed_duration,
    "person": _person, "trackers": _trackers, "triggers": _triggers,
}


def _unknown(what: str, name: Any, known: Sequence[str]) -> str:
    """`unknown rule 'x'`, with the closest known name (a typo is the usual cause), or the known
    names when they are few."""
    suggestion = did_you_mean(str(name), known)
    if suggestion:
        return f"unknown {what} {name!r}{suggestion}"
    if len(known) > 20:
        return f"unknown {what} {name!r} (the rulebook has none of that name)"
    return f"unknown {what} {name!r} (known: {', '.join(map(str, known)) or 'none'})"


def _logical_ref(where: Where, name: Any, refs: Mapping[str, str | None], tracker: str,
                 standard: Sequence[str] = ()) -> str | None:
    """The tracker's reference of a logical field, or a located error saying why there is none."""
    if name not in refs:
        where.error(_unknown("field", name, [*standard, *refs]))
        return None
    if not refs[name]:
        where.error(f"field {name!r} is not mapped for {tracker} in the rulebook's `fields`")
        return None
    return refs[name]


# -- building ---------------------------------------------------------------------------------

def _build_case(where: Where, raw: Any, rulebook: Rulebook, tracker: str) -> TestCase | None:
    before = len(where.errors)
    options = _read(TEST, raw, where)
    if options is None:
        return None
    ticket = _ticket(where.child(raw, "ticket"), raw.get("ticket", {}), rulebook, tracker)
    events_raw = raw.get("events")
    events_where = where.child(raw, "events")
    events = []
    if not isinstance(events_raw, list) or not events_raw:
        events_where.error("expected a non-empty list of events")
    else:
        for index, item in enumerate(events_raw):
            built = _event(events_where.child(events_raw, index), item, rulebook, tracker,
                           ticket.id if ticket else "1", index)
            if built is not None:
                events.append(built)
    if len(where.errors) > before or ticket is None:
        return None
    return TestCase(str(options["name"]), where.file, where.line, ticket, events)


def _ticket(where: Where, raw: Any, rulebook: Rulebook, tracker: str) -> Ticket | None:
    options = _read(TICKET, raw, where)
    if options is None:
        return None
    refs = rulebook.field_refs(tracker)
    custom: dict[str, Any] = {}
    fields = options["fields"] or {}
    for name, value in fields.items():
        ref = _logical_ref(where.child(raw, "fields").child(fields, name), name, refs, tracker)
        if ref is not None:
            custom[ref] = value
    ident = str(options["id"])
    return Ticket(
        tracker_kind=tracker, id=ident, key=f"#{ident}" if tracker == "redmine" else ident,
        url=f"https://tracker.invalid/issues/{ident}", project=options["project"],
        project_name=options["project_name"] or str(options["project"]).title(), tracker=options["tracker"],
        status=options["status"], priority=options["priority"], subject=options["subject"],
        description=options["description"], author=options["author"], assignee=options["assignee"],
        created=options["created"], updated=options["created"], is_closed=bool(options["closed"]),
        labels=tuple(map(str, options["labels"])), categories=tuple(map(str, options["categories"])),
        fix_versions=tuple(map(str, options["fix_versions"])), custom_fields=custom,
        custom_field_ids={name: name for name in custom}, tracker_slas=_tracker_slas(options["jsm"]))


def _tracker_slas(slas: Mapping[str, Mapping[str, Any] | None]) -> tuple[TrackerSla, ...]:
    """The ticket's Jira Service Management SLAs: each name's facts are its ongoing cycle (none
    when only `completed` cycles are given)."""
    out = []
    for name, facts in slas.items():
        if facts is None:
            continue
        completed = tuple(_sla_cycle(cycle) for cycle in facts["completed"] if cycle is not None)
        ongoing = any(value is not None for key, value in facts.items() if key != "completed")
        out.append(TrackerSla(str(name), _sla_cycle(facts) if ongoing or not completed else None, completed))
    return tuple(out)


def _sla_cycle(facts: Mapping[str, Any]) -> SlaCycle:
    return SlaCycle(start=facts["started"], stop=facts["stopped"], breach_at=facts["breach_at"],
                    breached=facts["breached"] is True, paused=facts["paused"] is True,
                    within_calendar_hours=facts["within_calendar_hours"], goal=facts["goal"],
                    elapsed=facts["elapsed"], remaining=facts["remaining"])


def _event(where: Where, raw: Any, rulebook: Rulebook, tracker: str, ticket_id: str, index: int
           ) -> tuple[Event, Mapping[str, Any], int] | None:
    before = len(where.errors)
    options = _read(EVENT, raw, where)
    if options is None:
        return None
    triggers = options["on"] or []
    if SCHEDULE in triggers:
        if not options["rule"]:
            where.child(raw, "on").error("`on: schedule` names the scheduled rule that runs: `rule: NAME`")
        elif rulebook.rule(options["rule"]) is None:
            where.child(raw, "rule").error(_unknown("rule", options["rule"], _rule_names(rulebook)))
    elif options["rule"] is not None:
        where.child(raw, "rule").error("`rule` names the scheduled rule of `on: schedule`; to expect a rule's "
                                       "effects, write `expect: [{rule: NAME}]`")
    changes, after = _changes(where.child(raw, "changes"), raw.get("changes", {}), rulebook, tracker)
    for key in ("expect", "expect_not"):
        options[key] = _expectations(where.child(raw, key), raw.get(key, []), rulebook, tracker)
    options["sla"] = _clock_expectations(where.child(raw, "sla"), raw.get("sla", {}), rulebook)
    options["changes"] = after
    if len(where.errors) > before:
        return None
    comment = Comment(options["comment"]["text"], options["comment"]["private"]) if options["comment"] else None
    related = {name: facts for name, facts in (options["related"] or {}).items() if facts}
    event = Event(f"test:{ticket_id}:{index}", tracker, ticket_id, frozenset(triggers), options["at"],
                  options["actor"], changes, comment, options["sla_policy"], related=related)
    return event, options, where.line


def _rule_names(rulebook: Rulebook) -> list[str]:
    return [rule.name for rule in rulebook.rules]


def _changes(where: Where, raw: Any, rulebook: Rulebook, tracker: str
             ) -> tuple[tuple[Change, ...], dict[str, Any]]:
    """The event's changes as rules see them, and each changed field's value after the event."""
    if not isinstance(raw, dict):
        where.error(f"expected a mapping of field -> [old, new], got {_shape(raw)}")
        return (), {}
    refs = rulebook.field_refs(tracker)
    changes, after = [], {}
    for name, pair in raw.items():
        here = where.child(raw, name)
        if not isinstance(pair, list) or len(pair) != 2:
            here.error(f"a change is [old, new], got {_shape(pair)}" + (
                f" of {len(pair)}" if isinstance(pair, list) else ""))
            continue
        built = _change(here, name, pair, refs, tracker)
        if built is not None:
            changes.append(built[0])
            after[built[1]] = built[2]
    return tuple(changes), after


def _change(where: Where, name: Any, pair: list[Any], refs: Mapping[str, str | None],
            tracker: str) -> tuple[Change, str, Any] | None:
    """One change: the Change rules see, the ticket attribute (or `cf:REF`) it changes, and the
    attribute's value after it."""
    standard = CHANGE_ALIASES.get(name, name)
    if standard in CHANGE:
        kind, label, ref = CHANGE[standard].type, standard, ""
        target = _TICKET_ATTRIBUTES[standard]
    else:
        found = _logical_ref(where, name, refs, tracker, standard=list(CHANGE))
        if found is None:
            return None
        ref, label, target = found, f"cf:{found}", f"cf:{found}"
        kind = "values-change" if any(isinstance(side, list) for side in pair) else \
            "person-change" if any(isinstance(side, dict) for side in pair) else "change"
    errors = len(where.errors)
    read: Callable[[Where, Any], Any] = {"values-change": _values, "person-change": _person, "change": _text}[kind]
    old, new = (read(where.child(pair, side), pair[side]) for side in (0, 1))
    if len(where.errors) > errors:
        return None
    if kind == "values-change":
        return set_change(label, old, new, field_id=ref), target, list(new) if ref else tuple(new)
    if kind == "person-change":
        value = new.name if ref and new else new
        return Change(label, old.name if old else None, new.name if new else None, ref,
                      old_person=old, new_person=new), target, value
    return Change(label, old, new, ref), target, new if ref else new or ""


def _values(where: Where, side: Any) -> list[str]:
    """One side of a multi-value change: a list, one value, or null for none."""
    if side is None:
        return []
    if isinstance(side, list) and not any(isinstance(item, (list, dict)) for item in side):
        return [str(item) for item in side]
    if isinstance(side, (str, int, float)) and not isinstance(side, bool):
        return [str(side)]
    where.error(f"expected a list of values, a value or null, got {_shape(side)}")
    return []


def _text(where: Where, side: Any) -> str | None:
    """One side of a change of a single value: its text, None for null (or empty)."""
    if side is None or side == "":
        return None
    if isinstance(side, (str, int, float)) and not isinstance(side, bool):
        return str(side)
    where.error(f"expected text or null, got {_shape(side)}")
    return None


def _expectations(where: Where, raw: Any, rulebook: Rulebook, tracker: str) -> list[dict[str, Any]]:
    """Expectations as written (only the keys given), each checked against the rulebook."""
    if not isinstance(raw, list):
        where.error(f"expected a list of expectations, got {_shape(raw)}")
        return []
    refs = rulebook.field_refs(tracker)
    out = []
    for position, item in enumerate(raw):
        here = where.child(raw, position)
        values = _read(EXPECTATION, item, here)
        if values is None:
            continue
        if values["rule"] is not None and rulebook.rule(values["rule"]) is None:
            here.child(item, "rule").error(_unknown("rule", values["rule"], _rule_names(rulebook)))
        if values["action"] is not None and values["action"] not in ACTIONS:
            here.child(item, "action").error(_unknown("action", values["action"], list(ACTIONS)))
        if values["record"] is not None and values["action"] not in (None, "nonconformity"):
            here.child(item, "record").error(f"`record` checks what `nonconformity` opens, not `{values['action']}`")
        for name in values["set"] or {}:
            if name not in STANDARD_DOCS:
                _logical_ref(here.child(item, "set").child(values["set"], name), name, refs, tracker,
                             standard=list(STANDARD_DOCS))
        if values["record"] is not None:  # the parts given, in their order
            values["record"] = {key: values["record"][key] for key in item["record"] if key in values["record"]}
        out.append({key: values[key] for key in item if key in values})
    return out


def _clock_expectations(where: Where, raw: Any, rulebook: Rulebook) -> dict[str, dict[str, Any]]:
    """SLA policy -> what its clock must show, as written (only the keys given)."""
    if not isinstance(raw, dict):
        where.error(f"expected a mapping of SLA policy -> {{{', '.join(CLOCK)}}}, got {_shape(raw)}")
        return {}
    out = {}
    for policy, wanted in raw.items():
        here = where.child(raw, policy)
        if policy not in rulebook.sla:
            here.error(_unknown("SLA policy", policy, list(rulebook.sla)))
            continue
        values = _read(CLOCK, wanted, here)
        if values is not None:
            out[str(policy)] = {key: values[key] for key in wanted if key in values}
    return out


# -- running ----------------------------------------------------------------------------------

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
            ticket = _changed(ticket, event, expectations.get("changes") or {})
            step = process(rulebook, clocks.calendars, event, ticket, clocks.every(), at)
            clocks.moved(step.moved)
            made = step.decisions
        combined = Decision(event.id, ticket.key, sorted(event.triggers), rulebook.version,
                            effects=[e for d in made for e in d.effects],
                            warnings=[w for d in made for w in d.warnings])
        decisions.extend(made)
        where = f"event {number} ({', '.join(sorted(event.triggers))} at {local_time(at, UTC)}, line {line})"
        _check(result, where, combined, expectations, refs, rulebook)
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
    ident = str(item.get("id") or number)
    return {
        "tracker": tracker, "ticket_id": ident, "key": str(item.get("key") or f"#{ident}"),
        "url": f"https://tracker.invalid/issues/{ident}", "team": item.get("team"),
        "customer": item.get("customer"), "origin": item.get("origin"),
        "priority": item.get("priority", "Normal"), "project": item.get("project", "support"),
        "type": item.get("type", "Incident"), "status": item.get("status", "New"),
        "incident": item.get("incident") is not False, "created_at": item.get("created") or at,
        "closed_at": item.get("closed"), "breaches": int(item.get("breaches") or 0),
    }


def _changed(ticket: Ticket, event: Event, after: Mapping[str, Any]) -> Ticket:
    """The ticket after the event's changes: a field takes the value the test gives it after the
    change; a change from a tracker's history (no such value) moves it as it tells."""
    custom = dict(ticket.custom_fields)
    attributes: dict[str, Any] = {}
    for change in event.changes:
        target = change.field if change.field.startswith("cf:") else _TICKET_ATTRIBUTES.get(change.field)
        if target is None:
            continue
        value = after[target] if target in after else _told(ticket, change, target)
        if target.startswith("cf:"):
            custom[target[3:]] = value
        else:
            attributes[target] = value
    if "project" in attributes:
        attributes["project_name"] = attributes["project"]
    return dataclasses.replace(ticket, custom_fields=custom, **attributes)


def _told(ticket: Ticket, change: Change, target: str) -> Any:
    """A field's value after a change, from the change alone."""
    current = ticket.custom_fields.get(target[3:]) if target.startswith("cf:") else getattr(ticket, target)
    if change.of_values:
        values = [str(v) for v in current] if isinstance(current, (list, tuple)) else []
        moved = [v for v in values if v not in change.removed] + [v for v in change.added if v not in values]
        return moved if target.startswith("cf:") else tuple(moved)
    if target in ("labels", "categories", "fix_versions"):
        return (change.new,) if change.new else ()
    if target in ("assignee", "author"):
        return change.new_person or (Person(change.new, change.new, change.new) if change.new else None)
    return change.new if target.startswith("cf:") else change.new or ""


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

    def zone(self, policy: str) -> tzinfo:
        """The time zone of the policy's calendar, which its times are shown in."""
        return self.calendars[self.rulebook.sla[policy].calendar].zone

    def decide(self, happened: SlaEvent, ticket: Ticket, now: datetime) -> Decision:
        """The rules on an SLA event the sweep found, as the worker runs them (at `now`)."""
        return decide_sla(self.rulebook, self.calendars, sla_event(ticket.tracker_kind, ticket.id, happened),
                          ticket, self.every(), now)


def _check_clocks(result: TestResult, where: str, clocks: _Clocks, expected: Mapping[str, Mapping[str, Any]],
                  now: datetime) -> None:
    for policy, wanted in expected.items():
        if policy not in clocks.clocks:
            result.failures.append(f"{where}: expected an SLA clock {policy!r}; there is none")
            continue
        current, zone = clocks.status(policy, now), clocks.zone(policy)
        for key, value in wanted.items():
            actual = getattr(current, _STATUS_ATTRIBUTES.get(key, key))
            if actual != value:
                result.failures.append(f"{where}: SLA {policy} {key}: expected {shown(value, zone)}, "
                                       f"got {shown(actual, zone)}")


def local_time(moment: datetime, zone: tzinfo) -> str:
    """`2026-03-10 11:00 -03`: a moment in a calendar's local time, its zone said (`UTC` too)."""
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M" + (":%S" if local.second else "") + " %Z")


def shown(value: Any, zone: tzinfo = UTC) -> str:
    """A value as failure messages show it: times in `zone`, durations as `1d 2h`."""
    if isinstance(value, datetime):
        return local_time(value, zone)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, date):
        return value.isoformat()
    return "none" if value is None else str(value)


# -- matching ---------------------------------------------------------------------------------

def _matches(effect: Effect, expected: Mapping[str, Any], refs: Mapping[str, str | None], zone: tzinfo) -> bool:
    return _matches_but_record(effect, expected, refs) and not (
        "record" in expected and _record_differences(effect, expected["record"], zone))


def _matches_but_record(effect: Effect, expected: Mapping[str, Any], refs: Mapping[str, str | None]) -> bool:
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
        "record": lambda v: effect.action == "nonconformity",
    }
    return all(checks[key](value) for key, value in expected.items() if key in checks)


def _record_differences(effect: Effect, wanted: Mapping[str, Any], zone: tzinfo) -> list[str]:
    """How the record an effect opens differs from the one expected, one text per part."""
    record = effect.params.get("record") or {}
    differences = []
    for key, value in wanted.items():
        if key in ("due", "review_due"):
            text = record.get("action_due" if key == "due" else "review_due") or ""
            actual: Any = datetime.fromisoformat(text) if text else None
            same = actual is not None and (actual == value if isinstance(value, datetime)
                                           else actual.astimezone(zone).date() == value)
        else:
            actual = record.get(key) or None
            same = str(actual) == str(value)
        if not same:
            differences.append(f"{key}: expected {shown(value, zone)}, got {shown(actual, zone)}")
    return differences


def _record_zone(rulebook: Rulebook, rule_name: Any) -> tzinfo:
    """The time zone a rule's record dates are read in: its `nonconformity` action's calendar's,
    else UTC."""
    rule = rulebook.rule(str(rule_name)) if rule_name is not None else None
    for action in rule.actions if rule else ():
        calendar = action.compiled.get("calendar") if action.spec.name == "nonconformity" else None
        if calendar is not None:
            zone: tzinfo = calendar.zone
            return zone
    return UTC


def _set_value(params: Mapping[str, Any], name: str, refs: Mapping[str, str | None]) -> Any:
    if name in params.get("standard", {}):
        return params["standard"][name]
    ref = refs.get(name)
    return params.get("custom", {}).get(ref, "\0absent") if ref else "\0absent"


def _check(result: TestResult, where: str, decision: Decision, expectations: Mapping[str, Any],
           refs: Mapping[str, str | None], rulebook: Rulebook) -> None:
    effects = decision.effects
    zones = [_record_zone(rulebook, effect.rule) for effect in effects]
    used: set[int] = set()
    for expected in expectations.get("expect") or []:
        found = next((i for i, e in enumerate(effects) if i not in used and _matches(e, expected, refs, zones[i])),
                     None)
        if found is None:
            zone = _record_zone(rulebook, expected.get("rule"))
            result.failures.append(f"{where}: expected {describe_expectation(expected, zone)}\n      "
                                   + _what_came(expected, effects, zones, used, refs))
        else:
            used.add(found)
    for unexpected in expectations.get("expect_not") or []:
        for effect, zone in zip(effects, zones, strict=True):
            if _matches(effect, unexpected, refs, zone):
                result.failures.append(f"{where}: did not expect {describe_effect(effect, zone)}")
    if expectations.get("expect_only"):
        for index, effect in enumerate(effects):
            if index not in used:
                result.failures.append(f"{where}: unexpected {describe_effect(effect, zones[index])}")
    for text in expectations.get("warnings") or []:
        if not any(text in warning for warning in decision.warnings):
            result.failures.append(f"{where}: expected a warning containing {text!r}; got {decision.warnings}")


def _what_came(expected: Mapping[str, Any], effects: Sequence[Effect], zones: Sequence[tzinfo], used: set[int],
               refs: Mapping[str, str | None]) -> str:
    """What a failure shows next to an unmet expectation: how the record of an effect it matches
    otherwise differs, or else every effect that came."""
    for index, effect in enumerate(effects):
        if index not in used and "record" in expected and _matches_but_record(effect, expected, refs):
            return "but its record " + "; ".join(_record_differences(effect, expected["record"], zones[index]))
    came = [describe_effect(effect, zone) for effect, zone in zip(effects, zones, strict=True)]
    return "but got: " + ("\n               ".join(came) or "no effects")


def describe_expectation(expected: Mapping[str, Any], zone: tzinfo = UTC) -> str:
    parts: list[str] = []
    for key, value in expected.items():
        if key == "record":
            parts.extend(f"record {name}={shown(part, zone) if isinstance(part, date) else repr(part)}"
                         for name, part in value.items())
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)


def describe_effect(effect: Effect, zone: tzinfo = UTC) -> str:
    """An effect in a line: a record by its parts (dates in `zone`), others by their parameters."""
    if effect.action == "nonconformity":
        record = effect.params.get("record") or {}
        parts = [f"{key}={record[key]!r}" for key in ("kind", "cause", "owner", "severity", "clause")
                 if record.get(key)]
        parts += [f"{key}={shown(datetime.fromisoformat(record[part]), zone)}"
                  for key, part in (("due", "action_due"), ("review_due", "review_due")) if record.get(part)]
        return f"nonconformity by {effect.rule!r} in {effect.params.get('project')!r}: {', '.join(parts)}"
    params = {k: v for k, v in effect.params.items() if k not in ("ticket", "description", "record", "previous")}
    return f"{effect.action} by {effect.rule!r} {params}"


# -- JSON Schema ------------------------------------------------------------------------------

def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of rule test files, for editors, from the declarations above."""
    defs = {name: _schema_object(options) for name, options in SECTIONS.items()}
    defs["changes"]["additionalProperties"] = {"$ref": "#/$defs/change"}
    defs["changes"]["description"] = f"{LOGICAL_CHANGE[0]}: {LOGICAL_CHANGE[1]}"
    scalar = {"type": ["string", "number", "boolean", "null"]}
    text = {"type": ["string", "number", "null"]}
    values = {"anyOf": [text, {"type": "array", "items": {"type": ["string", "number"]}}]}
    person = {"anyOf": [{"type": ["string", "null"]}, {"$ref": "#/$defs/person"}]}
    defs["change"] = _pair({"anyOf": [scalar, {"type": "array", "items": {"type": ["string", "number"]}},
                                      {"$ref": "#/$defs/person"}]})
    defs["text-change"], defs["values-change"], defs["person-change"] = _pair(text), _pair(values), _pair(person)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ticketwarden.invalid/schema/ruletests.schema.json",
        "title": "ticketwarden rule tests",
        "$ref": "#/$defs/file",
        "$defs": defs,
    }


def _pair(side: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "prefixItems": [side, side], "minItems": 2, "maxItems": 2,
            "description": "[old, new]"}


def _schema_object(options: Mapping[str, Option]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [key for key, option in options.items() if option.required],
        "properties": {key: _schema_property(option) for key, option in options.items()},
    }


def _schema_property(option: Option) -> dict[str, Any]:
    kind = option.type
    if kind.startswith("section:"):
        schema: dict[str, Any] = {"$ref": f"#/$defs/{kind.split(':', 1)[1]}"}
    elif kind.startswith("list:"):
        schema = {"type": "array", "items": {"$ref": f"#/$defs/{kind[5:]}"}}
    elif kind.startswith("map:"):
        schema = {"type": "object", "additionalProperties": {"$ref": f"#/$defs/{kind[4:]}"}}
    elif kind.startswith("facts:"):
        schema = {"type": "object", "propertyNames": {"enum": list(RELATED_FACTS[kind[6:]])},
                  "additionalProperties": {"type": ["string", "number"]}}
    elif kind == "enum":
        schema = {"enum": list(option.choices)}
    else:
        schema = dict(_SCHEMA_TYPES[kind])
    if option.doc:
        schema["description"] = option.doc
    if option.default not in (None, [], {}, ""):
        schema["default"] = option.default
    return schema


def _one_or_list(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}


_TIME_SCHEMA = {"type": "string", "pattern": TIME_PATTERN, "examples": ["2026-03-02T09:00:00Z"]}
_SCHEMA_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"}, "bool": {"type": "boolean"}, "int": {"type": "integer"},
    "mapping": {"type": "object"}, "list": {"type": "array", "items": {"type": ["string", "integer"]}},
    "time": _TIME_SCHEMA,
    "date-or-time": {"anyOf": [{"type": "string", "pattern": DATE_PATTERN}, _TIME_SCHEMA]},
    "duration": {"type": "string", "pattern": DURATION_PATTERN, "examples": ["4h", "1h30m"]},
    "signed-duration": {"type": "string", "pattern": SIGNED_DURATION_PATTERN, "examples": ["4h", "-30m"]},
    "person": {"anyOf": [{"type": ["string", "null"]}, {"$ref": "#/$defs/person"}]},
    "trackers": _one_or_list({"enum": list(TRACKERS)}),
    "triggers": _one_or_list({"enum": list(TEST_TRIGGERS)}),
    "changes": {"$ref": "#/$defs/changes"},
    "change": {"$ref": "#/$defs/text-change"},
    "person-change": {"$ref": "#/$defs/person-change"},
    "values-change": {"$ref": "#/$defs/values-change"},
}


__all__ = ["ConditionContext", "TestCase", "TestResult", "build_cases", "json_schema", "read_test_file",
           "run_case"]
