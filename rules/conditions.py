"""Conditions: `field op value` strings and any / all / not groups, parsed once at load.

Grammar (one condition per string; a list of conditions is an implicit AND):

    field = value | != | < | <= | > | >= | ~= regex
    field in (a, b, "c d")      field not in (a, b)
    field is empty              field is not empty
    field changed               field changed_to value     field changed_from value
    field contains value        field added value          field removed value
    - any: [cond, ...]          - all: [cond, ...]          - not: cond

Text compares case-insensitively; `<`/`>` compare numbers, ISO dates or (for `age` and the
durations of Jira Service Management's SLAs) durations; `age > 5bd on office` counts business
days on a calendar of the rulebook. Multi-value fields (labels, components,
fix versions, multi-selects) are sets: `contains` tests the ticket's values, `added` / `removed`
what the change brought and took away, and `changed_to` / `changed_from` a value that came
(went). People compare by id, login or display name, in the ticket and in its changes, and
`actor_role` / `author_role` by every role the person holds (staff or customer, and the
rulebook's named roles such as `approver`).
Values of fields with a declared vocabulary (statuses, priorities, ... and custom fields with
`values`) are checked at load, so `status = Feedbak` is an error, not a rule that never fires.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rules import jsm
from rules.calendar import BusinessCalendar, NoWorkingTime
from rules.durations import BusinessDays, DurationError, parse_duration, parse_span
from rules.model import Change, Event, Person, Ticket
from rules.suggest import did_you_mean

STANDARD_FIELDS = (
    "project", "tracker", "type", "status", "priority", "assignee", "author", "subject",
    "description", "labels", "category", "fix_versions", "created", "updated", "age", "actor", "actor_role",
    "author_role", "comment", "comment_visibility", "sla.policy",
)
# Facts an event carries about a related issue (see Event.related), by prefix.
RELATED_FIELDS = {
    "development": ("key", "url", "status", "previous_status", "resolved", "resolution"),
    "record": ("kind", "cause", "key", "url", "owner", "action_due", "review_due", "reminder"),
    "survey": ("score", "comment"),
}
CHANGE_NAMES = {"type": "tracker"}
ROLES = ("staff", "customer")
_VOCABULARY_OF = {"status": "statuses", "priority": "priorities", "tracker": "trackers",
                  "type": "trackers", "project": "projects", "labels": "labels",
                  "development.status": "statuses", "development.previous_status": "statuses"}

_HEAD = re.compile(r"^\s*(?P<field>[A-Za-z_][\w.-]*)\s*(?P<rest>.*?)\s*$", re.S)
SLA_STATES = ("running", "paused", "met", "breached", "cancelled")
_OPERATOR = re.compile(
    r"^(?P<op>is\s+not\s+empty|is\s+empty|not\s+in|in|changed_to|changed_from|changed|contains(?=\s)"
    r"|added(?=\s)|removed(?=\s)|~=|!=|<=|>=|=|<|>)(?P<value>.*)$",
    re.S,
)
ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
DURATION_OPS: dict[str, Callable[[Any, Any], bool]] = {**ORDER_OPS, "=": lambda a, b: a == b,
                                                       "!=": lambda a, b: a != b}
CHANGE_OPS = ("changed", "changed_to", "changed_from", "added", "removed")
TEXT_FIELDS = ("subject", "description", "comment")  # free text: `~=` searches it, `contains` does not


class ConditionSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class ConditionContext:
    """What the rulebook declares that conditions are checked against at load."""

    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    vocabulary: Mapping[str, Sequence[str]] = field(default_factory=dict)  # statuses -> names
    field_values: Mapping[str, Sequence[str]] = field(default_factory=dict)  # logical -> values
    sla_policies: Sequence[str] | None = None
    measures: Sequence[str] | None = None  # a measured rule: only these names may be tested
    roles: Sequence[str] = ()  # the rulebook's named roles, besides staff and customer
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)  # for `age > 5bd on NAME`


def related_field(name: str) -> tuple[str, str] | None:
    """`development.status` -> ("development", "status") when it is a known related fact."""
    prefix, _, rest = name.partition(".")
    return (prefix, rest) if rest in RELATED_FIELDS.get(prefix, ()) else None


@dataclass(frozen=True)
class Condition:
    """A parsed leaf condition. `custom` says the field is a logical custom field."""

    text: str
    field: str
    op: str
    values: tuple[str, ...]
    custom: bool
    pattern: re.Pattern[str] | None = None
    duration: timedelta | None = None
    business_days: int | None = None  # `age > 5bd on office`: counted on `calendar`
    calendar: BusinessCalendar | None = dataclasses.field(default=None, compare=False, repr=False)
    # How the condition is tested, worked out once from the fields above: every event tests
    # the conditions of every rule it triggers, and what the operator and field mean is fixed.
    check: Check = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", _compile(self))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (and copied) by its fields: the check is made again, a function is not pickled."""
        return Condition, tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.init)


@dataclass(frozen=True)
class Group:
    """any / all / not over child conditions."""

    kind: str
    children: tuple["Condition | Group", ...]

    @property
    def text(self) -> str:
        return f"{self.kind}:"


Node = Condition | Group


@dataclass(slots=True)  # (slots: one is made for every condition tested, per rule, per event)
class ConditionTrace:
    """One evaluated node: its text, result, the values it looked at, and its nesting depth."""

    text: str
    result: bool
    actual: str = ""
    depth: int = 0


def parse_condition(text: str, context: ConditionContext) -> Condition:
    """Parse one condition; raise ConditionSyntaxError with an admin-readable reason."""
    head = _HEAD.match(text)
    if not head:
        raise ConditionSyntaxError(f"cannot read condition {text!r}: expected `field operator value`")
    name, rest = head["field"], head["rest"]
    custom = name in context.custom_fields and context.measures is None
    if context.measures is not None:
        if name not in context.measures:
            raise ConditionSyntaxError(f"unknown measure {name!r}: a measured rule's conditions test its "
                                       f"measures (known: {', '.join(context.measures)})")
    elif _sla_state_policy(name, context) is not None or related_field(name):
        pass
    elif name.startswith(jsm.PREFIX) and not custom:
        _check_jsm_name(name)
    elif not custom and name not in STANDARD_FIELDS:
        policies = [f"sla.{policy}" for policy in context.sla_policies or ()]
        related = [f"{prefix}.{name}" for prefix, names in RELATED_FIELDS.items() for name in names]
        known = ", ".join(sorted(set(STANDARD_FIELDS) | set(context.custom_fields) | set(policies) | set(related)
                                 | {"jsm.NAME", "jsm.NAME.FACT"}))
        raise ConditionSyntaxError(f"unknown field {name!r}{did_you_mean(name, known.split(', '))} (known: {known})")
    match = _OPERATOR.match(rest)
    if not match:
        word = rest.split()[0] if rest.split() else ""
        likely = {"is": "=", "==": "=", "equals": "=", "not": "!=", "<>": "!=", "has": "contains",
                  "includes": "contains", "matches": "~=", "like": "~="}.get(word.casefold())
        hint = f": did you mean `{name} {likely} {rest[len(word):].strip()}`?" if likely else ""
        raise ConditionSyntaxError(f"unknown operator in {text!r}{hint} (operators: =, !=, <, <=, >, >=, ~=, in, "
                                   f"not in, contains, added, removed, changed, changed_to, changed_from, is empty, "
                                   f"is not empty)")
    op = " ".join(match["op"].split())
    if match["value"][:1] in ("=", "<", ">", "~", "!"):
        raise ConditionSyntaxError(f"unknown operator {op + match['value'].split()[0]!r} in {text!r}")
    if op in CHANGE_OPS and _jsm_fact(name, custom):
        raise ConditionSyntaxError(f"{name!r} is what JSM shows of its SLA now, not a change of the ticket: "
                                   f"compare it instead, e.g. `{name} = ...`")
    if op == "contains" and name in TEXT_FIELDS:
        raise ConditionSyntaxError(f"`contains` tests the values of a multi-value field; to search the text of "
                                   f"{name!r} use `~=`, e.g. {name} ~= \"word\"")
    raw = match["value"].strip()
    if op in ("is empty", "is not empty", "changed"):
        if raw:
            raise ConditionSyntaxError(f"`{op}` takes no value, got {raw!r}")
        return Condition(text, name, op, (), custom)
    if op in ("in", "not in"):
        if not (raw.startswith("(") and raw.endswith(")")):
            raise ConditionSyntaxError(f"`{op}` needs a list in parentheses, e.g. (a, b)")
        values = tuple(_split_list(raw[1:-1]))
        if not values:
            raise ConditionSyntaxError(f"`{op}` needs at least one value")
    else:
        if not raw:
            raise ConditionSyntaxError(f"`{op}` needs a value")
        values = (_unquote(raw),)
    pattern = duration = None
    if op == "~=":
        try:
            pattern = re.compile(values[0], re.IGNORECASE)
        except re.error as exc:
            raise ConditionSyntaxError(f"invalid regular expression {values[0]!r}: {exc}") from exc
    else:
        _check_values(name, custom, op, values, context)
    if name == "age":
        if op not in ORDER_OPS:
            raise ConditionSyntaxError("`age` compares with <, <=, > or >= and a duration, e.g. age > 2d, "
                                       "or business days on a calendar, e.g. age > 5bd on office")
        if _BUSINESS_AGE.match(values[0]):
            days, calendar = _business_age(values[0], context)
            return Condition(text, name, op, values, custom, business_days=days, calendar=calendar)
        duration = _duration(values[0])
    elif _jsm_fact(name, custom) in jsm.DURATION_FACTS and op in DURATION_OPS:
        duration = _duration(values[0])
    return Condition(text, name, op, values, custom, pattern, duration)


_BUSINESS_AGE = re.compile(r"^\s*\d+\s*bd\b", re.I)


def _business_age(text: str, context: ConditionContext) -> tuple[int, BusinessCalendar]:
    """`5bd on office`: business days, and the calendar they are counted on. The calendar is
    always named, as a record's `due` in business days names its own: a rulebook with several
    calendars (an office, a 24x7 desk) has no obvious one."""
    span_text, _, calendar_name = re.sub(r"\s+on\s+", " on ", text.strip(), count=1).partition(" on ")
    try:
        span = parse_span(span_text)
    except DurationError as exc:
        raise ConditionSyntaxError(str(exc)) from exc
    assert isinstance(span, BusinessDays)
    calendar_name = _unquote(calendar_name.strip())
    known = sorted(context.calendars)
    if not calendar_name:
        example = known[0] if known else "office"
        raise ConditionSyntaxError(f"{span} counts business days: name the calendar they are counted on, e.g. "
                                   f"`age > {span} on {example}`" + (f" (calendars: {', '.join(known)})"
                                                                     if known else " (define it in `calendars`)"))
    if calendar_name not in context.calendars:
        raise ConditionSyntaxError(f"undefined calendar {calendar_name!r}{did_you_mean(calendar_name, known)} "
                                   f"(calendars: {', '.join(known) or 'none defined'})")
    return span.days, context.calendars[calendar_name]


def _duration(text: str) -> timedelta:
    """A duration to compare with; `-30m` is half an hour past (JSM's remaining time after a breach)."""
    bare = text.strip().lstrip("-")
    try:
        span = timedelta(0) if bare in ("", "0") else parse_duration(bare)
    except DurationError as exc:
        raise ConditionSyntaxError(str(exc)) from exc
    return -span if text.strip().startswith("-") else span


def _jsm_fact(name: str, custom: bool) -> str | None:
    """The fact `jsm.NAME.FACT` asks for (None for other fields)."""
    parsed = None if custom else jsm.parse_name(name)
    return parsed[1] if parsed else None


def _check_jsm_name(name: str) -> None:
    parsed = jsm.parse_name(name)
    if parsed is None or parsed[1] not in jsm.FACTS:
        raise ConditionSyntaxError(
            f"unknown field {name!r}: a Jira Service Management SLA is `jsm.NAME` or `jsm.NAME.FACT`, NAME in "
            f"lower case with _ between words (jsm.time_to_resolution.breached), FACT one of: "
            f"{', '.join(jsm.FACTS)}")


def _sla_state_policy(name: str, context: ConditionContext) -> str | None:
    """`sla.<policy>` (the state of that policy's clock) names a declared policy."""
    if name.startswith("sla.") and name != "sla.policy" and name[4:] in (context.sla_policies or ()):
        return name[4:]
    return None


def _check_values(name: str, custom: bool, op: str, values: tuple[str, ...], context: ConditionContext) -> None:
    """A value outside a declared vocabulary can never match: refuse it at load."""
    if op in ORDER_OPS:
        return
    if _sla_state_policy(name, context) is not None:
        allowed: Sequence[str] | None = SLA_STATES
        kind = "SLA state"
    elif custom:
        allowed = context.field_values.get(name)
        kind = f"value of {name}"
    elif name in ("actor_role", "author_role"):
        allowed, kind = (*ROLES, *context.roles), "role"
    elif name == "comment_visibility":
        allowed, kind = ("public", "private"), "visibility"
    elif _jsm_fact(name, custom) in ("state", *jsm.BOOLEAN_FACTS):
        allowed = jsm.STATES if _jsm_fact(name, custom) == "state" else ("true", "false")
        kind = f"value of {name}"
    elif name == "sla.policy":
        allowed, kind = context.sla_policies, "SLA policy"
    else:
        table = _VOCABULARY_OF.get(name)
        allowed = context.vocabulary.get(table) if table else None
        kind = "label" if name == "labels" else name
    if not allowed:
        return
    folded = {str(item).casefold() for item in allowed}
    for value in values:
        if value.casefold() not in folded:
            raise ConditionSyntaxError(f"unknown {kind} {value!r}{did_you_mean(value, allowed)} "
                                       f"(declared: {', '.join(map(str, allowed))})")



def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _split_list(body: str) -> list[str]:
    items, current, quote = [], "", ""
    for char in body:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote = char
        elif char == ",":
            items.append(current.strip())
            current = ""
        else:
            current += char
    if quote:
        raise ConditionSyntaxError("unterminated quote in list")
    if current.strip():
        items.append(current.strip())
    return [item for item in items if item]


# -- evaluation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Facts:
    """Everything a condition may look at."""

    ticket: Ticket
    event: Event
    now: datetime
    field_refs: Mapping[str, str | None]
    role_of: Callable[[Person | None, Ticket | None], str | Sequence[str] | None]  # a person's role(s)
    sla_states: Mapping[str, str] = field(default_factory=dict)  # policy -> running|paused|met|breached|cancelled
    measures: Mapping[str, Any] | None = None  # a measured rule's figures for one group
    # A field's values, their text for the trace and their case-folded set (what `=`, `in` and
    # `contains` test), read once per event: most rules look at the same few fields (project,
    # tracker, status). Keyed by the field's name; a custom field's by (name, its ref).
    read: dict[str | tuple[str, str], Known] = field(
        default_factory=dict, init=False, compare=False, repr=False)  # a copy (`replace`) starts empty
    # The same for the event's change of a field (None: not changed) and its text for the trace.
    changed: dict[str | tuple[str, str], tuple[Change | None, str]] = field(
        default_factory=dict, init=False, compare=False, repr=False)


def evaluate(nodes: Sequence[Node], facts: Facts, trace: list[ConditionTrace] | None = None,
             depth: int = 0) -> bool:
    """AND over the nodes, stopping at the first false; every evaluated node is traced. (A
    condition is tested here, not through `evaluate_node`: this runs for every condition of
    every rule an event triggers.)"""
    for node in nodes:
        if isinstance(node, Group):
            if not evaluate_node(node, facts, trace, depth):
                return False
            continue
        result, actual = node.check(facts)
        if trace is not None:
            trace.append(ConditionTrace(node.text, result, actual, depth))
        if not result:
            return False
    return True


def evaluate_node(node: Node, facts: Facts, trace: list[ConditionTrace] | None, depth: int) -> bool:
    if isinstance(node, Group):
        entry = ConditionTrace(node.text, False, depth=depth)
        if trace is not None:
            trace.append(entry)
        if node.kind == "all":
            result = evaluate(node.children, facts, trace, depth + 1)
        elif node.kind == "any":  # (a loop, not any() over a generator: a group is tested per rule per event)
            result = False
            for child in node.children:
                if evaluate_node(child, facts, trace, depth + 1):
                    result = True
                    break
        else:  # not
            result = not evaluate(node.children, facts, trace, depth + 1)
        entry.result = result
        return result
    result, actual = node.check(facts)
    if trace is not None:
        trace.append(ConditionTrace(node.text, result, actual, depth))
    return result


def evaluate_condition(condition: Condition, facts: Facts) -> tuple[bool, str]:
    """(holds?, the values looked at, for the trace)."""
    return condition.check(facts)


Check = Callable[["Facts"], tuple[bool, str]]
Known = tuple["list[str] | None", str, frozenset[str]]  # a field's values, their text, their case-folded set


def _compile(condition: Condition) -> Check:
    """The test of one condition, its operator and field settled here once: a change test, or
    a test of the field's values (read once per event into `Facts.read`)."""
    if condition.op in CHANGE_OPS:
        return _change_check(condition)
    name, source, test = condition.field, _source(condition.field), _test(condition)
    if not condition.custom:
        def check(facts: Facts) -> tuple[bool, str]:
            known = facts.read.get(name)
            if known is None:
                known = _remember(facts, name, name, None, source)
            return test(known, facts)
        return check

    def check_custom(facts: Facts) -> tuple[bool, str]:
        ref = facts.field_refs.get(name)
        if not ref:
            return False, f"{name} has no mapping for {facts.ticket.tracker_kind}"
        known = facts.read.get((name, ref))
        if known is None:
            known = _remember(facts, (name, ref), name, ref, source)
        return test(known, facts)
    return check_custom


def _remember(facts: Facts, key: str | tuple[str, str], name: str, ref: str | None,
              source: Callable[[Ticket, Event, Facts], Any]) -> Known:
    """A field's values read, kept in `Facts.read` under `key`: most rules test the same few fields."""
    values = _read_values(name, ref, facts, source)
    known = facts.read[key] = (values, "empty" if values is None else " | ".join(values),
                               frozenset() if values is None else frozenset(map(str.casefold, values)))
    return known


def _test(condition: Condition) -> Callable[[Known, Facts], tuple[bool, str]]:
    """What the operator makes of the values read (None: the field is empty). `=`, `in`,
    `contains` and their negations compare case-folded sets, which an empty field leaves empty."""
    op, wanted = condition.op, condition.values
    if op == "is empty":
        return lambda known, facts: (known[0] is None, known[1])
    if op == "is not empty":
        return lambda known, facts: (known[0] is not None, known[1])
    if condition.business_days is None and condition.duration is None and op in ("contains", "=", "in", "!=",
                                                                                 "not in"):
        folded = frozenset(w.casefold() for w in (wanted[:1] if op == "contains" else wanted))
        if op in ("!=", "not in"):
            return lambda known, facts: (folded.isdisjoint(known[2]), known[1])
        return lambda known, facts: (not folded.isdisjoint(known[2]), known[1])
    holds = _holds(condition)
    when_empty = op in ("!=", "not in")

    def test(known: Known, facts: Facts) -> tuple[bool, str]:
        if known[0] is None:
            return when_empty, known[1]
        return holds(known[0], known[1], facts)
    return test


def _holds(condition: Condition) -> Callable[[list[str], str, Facts], tuple[bool, str]]:
    """The operator's test of a field that has values: business days, a duration, a regular
    expression or an order."""
    op, wanted = condition.op, condition.values
    if condition.business_days is not None:  # age in business days
        return lambda values, shown, facts: _business_age_holds(condition, facts)
    if condition.duration is not None:  # age, or a duration of a JSM SLA
        return lambda values, shown, facts: _duration_holds(condition, facts)
    if op == "~=":
        pattern = condition.pattern
        assert pattern is not None
        return lambda values, shown, facts: (any(pattern.search(value) for value in values), shown)
    compare, bound = ORDER_OPS[op], wanted[0]

    def ordered(values: list[str], shown: str, facts: Facts) -> tuple[bool, str]:
        pairs = [_ordered(value, bound) for value in values]
        return any(pair is not None and compare(*pair) for pair in pairs), shown
    return ordered


def _duration_holds(condition: Condition, facts: Facts) -> tuple[bool, str]:
    assert condition.duration is not None
    span = _span(condition, facts)
    shown = "unknown" if span is None else _short(span)
    return span is not None and DURATION_OPS[condition.op](span, condition.duration), shown


def _change_check(condition: Condition) -> Check:
    """The test of a change condition; the change of a field, found once per event (`Facts.changed`)."""
    name, op = condition.field, condition.op
    standard = CHANGE_NAMES.get(name, name)
    came, wanted = op in ("changed_to", "added"), condition.values[0] if condition.values else ""

    def holds(seen: tuple[Change | None, str]) -> tuple[bool, str]:
        change, shown = seen
        if change is None:
            return False, shown
        if op == "changed":
            return True, shown
        return _moved(change, came, wanted), shown

    def check(facts: Facts) -> tuple[bool, str]:
        seen = facts.changed.get(standard)
        if seen is None:
            change = facts.event.change_of(standard)
            seen = facts.changed[standard] = (change, _change_text(change))
        return holds(seen)

    def check_custom(facts: Facts) -> tuple[bool, str]:
        ref = facts.field_refs.get(name)
        if not ref:
            return False, f"{name} has no mapping for {facts.ticket.tracker_kind}"
        seen = facts.changed.get((name, ref))
        if seen is None:
            change = facts.event.change_of_custom(ref)
            seen = facts.changed[(name, ref)] = (change, _change_text(change))
        return holds(seen)
    return check_custom if condition.custom else check


def _business_age_holds(condition: Condition, facts: Facts) -> tuple[bool, str]:
    """`age > 5bd on office`: the ticket's age against the span from its creation to the same
    point of the working day five working days later (`add_business_days`), so `>` holds from
    just after that moment, as an SLA clock is breached just after its due moment."""
    calendar, created, days = condition.calendar, facts.ticket.created, condition.business_days
    assert calendar is not None and days is not None
    if created is None:
        return False, "unknown"
    try:
        due = calendar.add_business_days(created, days)
    except NoWorkingTime as exc:
        return False, str(exc)
    shown = f"{_business_days_since(calendar, created, facts.now, days)} on {calendar.name} " \
            f"({days}bd at {due.isoformat()})"
    return ORDER_OPS[condition.op](facts.now, due), shown


def _business_days_since(calendar: BusinessCalendar, created: datetime, now: datetime, limit: int) -> str:
    """How many working days old the ticket is, for the trace (past `limit`, only that it is)."""
    elapsed = calendar.business_days_between(created, now, limit)
    return f"{elapsed}bd" if elapsed <= limit else f"over {limit}bd"


def _span(condition: Condition, facts: Facts) -> timedelta | None:
    """The duration a duration condition compares: the ticket's age, or a JSM SLA's goal,
    elapsed or remaining time."""
    if condition.field == "age":
        return facts.now - facts.ticket.created if facts.ticket.created else None
    value = _jsm_value(condition.field, facts.ticket)
    return value if isinstance(value, timedelta) else None


def _jsm_value(name: str, ticket: Ticket) -> Any:
    """What `jsm.NAME` or `jsm.NAME.FACT` is on the ticket (None when it has no such SLA)."""
    slug, fact = jsm.parse_name(name) or ("", "")
    sla = jsm.find(ticket.tracker_slas, slug)
    return jsm.fact(sla, fact) if sla is not None else None


def _short(delta: timedelta) -> str:
    from rules.durations import format_duration

    return format_duration(delta)


def ticket_values(name: str, custom_ref: str | None, facts: Facts) -> list[str] | None:
    """Every text form a field may be matched by (an id, a login, a name); None when empty."""
    return _read_values(name, custom_ref, facts, _source(name))


def _read_values(name: str, custom_ref: str | None, facts: Facts,
                 source: Callable[[Ticket, Event, Facts], Any]) -> list[str] | None:
    """`ticket_values`, with the field's `_source` found beforehand."""
    if facts.measures is not None and name in facts.measures:
        return _as_values(facts.measures[name])
    if custom_ref is not None:
        return _as_values(facts.ticket.custom_field(custom_ref))
    return _as_values(source(facts.ticket, facts.event, facts))


def _source(name: str) -> Callable[[Ticket, Event, Facts], Any]:
    """How a field that is neither a measure nor a custom field is read (once per condition)."""
    related = related_field(name)
    if related is not None:
        prefix, fact = related
        return lambda ticket, event, facts: event.related.get(prefix, {}).get(fact)
    if name.startswith("sla.") and name != "sla.policy":
        policy = name[4:]
        return lambda ticket, event, facts: facts.sla_states.get(policy)
    if name.startswith(jsm.PREFIX):
        return lambda ticket, event, facts: _jsm_value(name, ticket)
    return _GETTERS.get(name) or _unknown_field(name)


def _unknown_field(name: str) -> Callable[[Ticket, Event, Facts], Any]:
    """A field with no reader (a measure name, outside a measured rule): fails when read."""
    def read(ticket: Ticket, event: Event, facts: Facts) -> Any:
        raise KeyError(name)
    return read


# How each built-in field is read: built once (this runs for every condition of every rule).
_GETTERS: dict[str, Callable[[Ticket, Event, Facts], Any]] = {
    "project": lambda ticket, event, facts: [ticket.project, ticket.project_name],
    "tracker": lambda ticket, event, facts: ticket.tracker,
    "type": lambda ticket, event, facts: ticket.tracker,
    "status": lambda ticket, event, facts: ticket.status,
    "priority": lambda ticket, event, facts: ticket.priority,
    "subject": lambda ticket, event, facts: ticket.subject,
    "description": lambda ticket, event, facts: ticket.description,
    "labels": lambda ticket, event, facts: list(ticket.labels),
    "category": lambda ticket, event, facts: list(ticket.categories),
    "fix_versions": lambda ticket, event, facts: list(ticket.fix_versions),
    "created": lambda ticket, event, facts: ticket.created,
    "updated": lambda ticket, event, facts: ticket.updated,
    "age": lambda ticket, event, facts: ticket.created,
    "assignee": lambda ticket, event, facts: _person(ticket.assignee),
    "author": lambda ticket, event, facts: _person(ticket.author),
    "actor": lambda ticket, event, facts: _person(event.actor),
    "actor_role": lambda ticket, event, facts: facts.role_of(event.actor, ticket),
    "author_role": lambda ticket, event, facts: facts.role_of(ticket.author, ticket),
    "comment": lambda ticket, event, facts: event.comment.text if event.comment else None,
    "comment_visibility": lambda ticket, event, facts: (("private" if event.comment.private else "public")
                                                        if event.comment else None),
    "sla.policy": lambda ticket, event, facts: event.sla_policy,
}


def _person(person: Person | None) -> list[str] | None:
    if person is None:
        return None
    return [value for value in (person.id, person.login, person.name) if value]


def _as_values(value: Any) -> list[str] | None:
    if type(value) is str:  # the usual: a name, a status
        return [value] if value else None
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, datetime):
        return [value.isoformat()]
    if isinstance(value, timedelta):
        return [_short(value)]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if item not in (None, "")] or None
    return [str(value)]


def _same(left: str, right: str) -> bool:
    return left.casefold() == right.casefold()


def _ordered(left: str, right: str) -> tuple[Any, Any] | None:
    for convert in (_number, _as_datetime):
        try:
            return convert(left), convert(right)
        except (TypeError, ValueError):
            continue
    return None


def _number(text: str) -> float:
    """A number; `20%` is 20 (shares are percentages)."""
    return float(text[:-1] if text.endswith("%") else text)


def _as_datetime(text: str) -> datetime:
    """ISO dates and times; a value without a zone is taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _change_text(change: Change | None) -> str:
    """A change as the trace shows it. A multi-value field's change is a set: `changed_to X`
    holds when X came (is among the values after and was not before), `changed_from X` when X
    went (`_moved`)."""
    if change is None:
        return "not changed"
    shown = f"{change.old or 'empty'} → {change.new or 'empty'}"
    if change.of_values:
        shown += f" (added: {', '.join(change.added) or 'none'}; removed: {', '.join(change.removed) or 'none'})"
    return shown


def _moved(change: Change, came: bool, wanted: str) -> bool:
    """Whether `wanted` is a value the change brought (`came`) or took away: one of the values
    added or removed for a multi-value field, else the new or old value (a person by id, login
    or display name). On a single-value field `added` is `changed_to` and `removed` `changed_from`."""
    if change.of_values:
        return any(_same(value, wanted) for value in (change.added if came else change.removed))
    if _same(change.old or "", change.new or "") and change.old_person == change.new_person:
        return False  # reported, but nothing came or went (a multi-value field reordered)
    side, person = (change.new, change.new_person) if came else (change.old, change.old_person)
    if person is not None and person.matches(wanted):
        return True
    return side is not None and _same(side, wanted)
