"""How rules set each other off, worked out at load from the compiled rules alone.

The engine feeds the changes a rule makes (a `set` of a status, priority, subject, description,
assignee or custom field, a `transition`, an `assign`) back to the rules as one `ticket.updated`
event by `ticketwarden`, with no note, in the same decision (rules/engine.py). Nothing else a
rule does comes back: notes, links, records and labels trigger no rule, and ticketwarden's own
changes never return from the tracker. So rule A can make rule B run when B listens to
`ticket.updated` and its conditions can hold on the event A's changes make.

Rules that keep undoing each other's changes run up to the chain limit on every event that
starts them. Such a loop is *certain* when, once its first rule runs, each rule writes literal
values that make the next one hold whatever the ticket is, and no other rule can step in
between: the rulebook does not load. It is *possible* when it also depends on the ticket
(`project = support`), on a template's value or on another rule: the rulebook loads with a
warning. A rule that sets a value its own conditions then refuse stops by itself.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rules import jsm
from rules.actions.set_fields import STANDARD as SETTABLE_FIELDS
from rules.conditions import CHANGE_NAMES, CHANGE_OPS, Condition, Facts, Group, Node, evaluate_condition, related_field
from rules.context import Where
from rules.errors import RuleError
from rules.model import Change, Event, Person, Ticket
from rules.people import StaffDefinition
from rules.templates import SAMPLE_EVENT, SAMPLE_SLA, SAMPLE_TICKET, render, template_context

if TYPE_CHECKING:
    from rules.rulebook import Rule, Rulebook

# The standard fields whose change the engine feeds back (custom fields too); labels are not.
CHAINED_FIELDS = ("status", "priority", "subject", "description", "assignee")
CHAINED_TRIGGER = "ticket.updated"
# What a chained event says of itself: ticketwarden acted, with no note, SLA policy or related issue.
_EVENT_FACTS = ("actor", "actor_role", "comment", "comment_visibility", "sla.policy")
# Fields whose values a possible loop is tried against, when only these operators test them.
_SINGLE_FIELDS = ("status", "priority", "tracker", "project", "subject", "description", "assignee", "author",
                  "author_role")
_MULTI_FIELDS = ("labels", "category", "fix_versions")
_IMPLIED_FIELDS = ("status", "priority", "project", "tracker")
_TRIED_OPS = ("=", "!=", "in", "not in", "is empty", "is not empty", "contains")
_OTHER = "\0another value"  # a value no condition names
MAX_LENGTH = 8  # rules in the longest loop looked for
MAX_STEPS = 20_000  # paths walked in search of loops, whatever the rulebook
MAX_TRIALS = 512  # tickets a possible loop is tried on
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class _Unknown:
    """A value the rules do not decide: a template's, or the ticket's own."""

    def __repr__(self) -> str:
        return "?"


class _Fixed:
    """What a template gives that stays the same through a chain (the author, a due time):
    not known here, but written again it is no change."""

    def __repr__(self) -> str:
        return "fixed"


UNKNOWN = _Unknown()
# None: empty; a tuple: a multi-value field's values.
Value = str | None | tuple[str, ...] | _Unknown | _Fixed
Truth = bool | None  # None: it depends on what the rules do not decide


def _all(truths: Iterable[Truth]) -> Truth:
    result: Truth = True
    for truth in truths:
        if truth is False:
            return False
        if truth is None:
            result = None
    return result


def _any(truths: Iterable[Truth]) -> Truth:
    result: Truth = False
    for truth in truths:
        if truth is True:
            return True
        if truth is None:
            result = None
    return result


def _plain(value: Value) -> bool:
    return value is None or isinstance(value, str)


def _known(value: Value) -> bool:
    return _plain(value) or isinstance(value, tuple)


def _round_context(status: str, event_id: str) -> dict[str, Any]:
    """What templates see on one round of a chain: rounds differ in the fields rules change
    and in the event's id and changes, never in the rest."""
    ticket = dataclasses.replace(SAMPLE_TICKET, status=status, priority=status, subject=status, description=status,
                                 assignee=Person(status, status, status))
    event = dataclasses.replace(SAMPLE_EVENT, id=event_id, changes=(Change("status", event_id, status),))
    return template_context(ticket, event, {}, SAMPLE_EVENT.occurred_at, "sample rule", None, SAMPLE_SLA,
                            {"jsm": jsm.SampleViews()})


_ROUNDS = (_round_context("New", "sample:1"), _round_context("Other", "sample:1#chain1"))


# -- what rules write ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Write:
    """One change an action makes that comes back to the rules. `key` is a standard field or
    `cf:NAME` for a logical custom field; `value` is literal text, None (emptied) or UNKNOWN."""

    action: str
    key: str
    value: Value
    text: str  # what it does, for people: "sets priority = High", "transitions to Resolved"


def writes_of(rule: Rule) -> tuple[Write, ...]:
    """The changes a rule's actions make that the engine feeds back to the rules, in order."""
    return tuple(write for action in rule.actions for name in action.spec.sets_fields(action.compiled)
                 if (write := _write(action.spec.name, name, action.compiled)) is not None)


def _write(action: str, name: str, compiled: Any) -> Write | None:
    if name in SETTABLE_FIELDS and name not in CHAINED_FIELDS:
        return None  # labels: the engine does not feed them back
    key = name if name in CHAINED_FIELDS else f"cf:{name}"
    if action == "set":
        value = None if compiled[name] is None else _value_of(compiled[name], strip=False)
        text = (f"sets {name} = {value}" if isinstance(value, str)
                else f"empties {name}" if value is None else f"sets {name} from a template")
        return Write(action, key, value, text)
    if action == "transition":
        value = _value_of(compiled["status"], strip=True)
        return Write(action, key, value, f"transitions to {value}" if isinstance(value, str)
                     else "transitions to the status a template names")
    if action == "assign":
        return _assignment(compiled["to"])
    return Write(action, key, UNKNOWN, f"{action} changes {name}")


def _assignment(template: Any) -> Write:
    value = _value_of(template, strip=True)
    if value is None or (isinstance(value, str) and value.casefold() == "nobody"):
        return Write("assign", "assignee", None, "unassigns")
    if not isinstance(value, str):
        return Write("assign", "assignee", value, "assigns to the person a template names")
    if value.casefold() == "author":
        return Write("assign", "assignee", _Fixed(), "assigns to the ticket's author")
    return Write("assign", "assignee", value, f"assigns to {value}")


def _value_of(template: Any, strip: bool) -> Value:
    """The text a template always renders to (None when empty, as the engine writes it); _Fixed
    when it reads what no round of a chain changes; UNKNOWN when it may differ from one round
    to the next (it reads a field rules change) or cannot be told."""
    try:
        rounds = {render(template, context) for context in _ROUNDS}
    except Exception:  # noqa: BLE001 - a template the samples cannot render may give anything
        return UNKNOWN
    if len(rounds) > 1:
        return UNKNOWN
    try:
        alone = render(template, {})
    except Exception:  # noqa: BLE001 - it needs a name: not a literal
        return _Fixed()
    if {alone} != rounds:
        return _Fixed()
    return (alone.strip() if strip else alone) or None


# -- the event a round of writes makes ----------------------------------------------------------

@dataclass(frozen=True)
class _Moved:
    old: Value
    new: Value
    sure: Truth  # True: a change for certain; None: unless the field held that value already


@dataclass
class _State:
    """The ticket and the chained event after one round of writes, as far as the rules decide."""

    values: dict[str, Value]
    changes: dict[str, _Moved]
    facts: Facts | None = None  # built once, when a condition needs it


def _after(writes: Sequence[Write], before: Mapping[str, Value]) -> _State:
    """As the engine derives its event: each write compared with the ticket before the round, a
    write of the value the field has is no change, the last change of a field stands."""
    values = dict(before)
    changes: dict[str, _Moved] = {}
    for write in writes:
        old = before.get(write.key, UNKNOWN)
        moved = _differs(write.key, old, write.value)
        if moved is False:
            continue
        changes.setdefault(write.key, _Moved(old, write.value, moved))
        values[write.key] = write.value
    return _State(values, changes)


def _differs(key: str, old: Value, new: Value) -> Truth:
    """Whether the engine sees a change: custom fields compare as text, the rest case-insensitively."""
    if isinstance(new, _Fixed) and old is new:
        return False
    if not (_plain(old) and _plain(new)):
        return None
    if key.startswith("cf:"):
        return old != new
    return str(old or "").casefold() != str(new or "").casefold()


def condition_key(condition: Condition) -> str:
    """The field a condition looks at, named as writes name it."""
    if condition.custom:
        return f"cf:{condition.field}"
    return CHANGE_NAMES.get(condition.field, condition.field)


def _is_event_fact(condition: Condition) -> bool:
    return not condition.custom and (condition.field in _EVENT_FACTS or related_field(condition.field) is not None)


def _leaves(nodes: Sequence[Node], negated: bool = False) -> Iterator[tuple[Condition, bool]]:
    """Every condition of a tree, and whether a `not` holds it."""
    for node in nodes:
        if isinstance(node, Group):
            yield from _leaves(node.children, negated or node.kind == "not")
        else:
            yield node, negated


def _conjuncts(nodes: Sequence[Node]) -> Iterator[Condition]:
    """The conditions that must all hold for these to hold (those outside `any` and `not`)."""
    for node in nodes:
        if isinstance(node, Group):
            if node.kind == "all":
                yield from _conjuncts(node.children)
        else:
            yield node


def _implied(rule: Rule) -> dict[str, Value]:
    """What a rule's own conditions say of the ticket when it runs, for single-value fields:
    `status changed_to Closed` means it was Closed before the rule moved it, `project = quality`
    that the rules its change triggers see a ticket of that project."""
    return {condition_key(condition): condition.values[0] for condition in _conjuncts(rule.conditions)
            if not condition.custom and condition_key(condition) in _IMPLIED_FIELDS and len(condition.values) == 1
            and condition.op in ("=", "in", "changed_to")}


def _reads(rule: Rule) -> set[str]:
    return {condition_key(condition) for condition, _ in _leaves(rule.conditions)}


class _Reader:
    """Conditions read on a chained event: true, false, or None where they look at something
    the rules do not decide. What is decided is read by the engine's own evaluator."""

    def __init__(self, staff: StaffDefinition, custom_names: Iterable[str]):
        from rules.engine import SELF  # the engine imports the rulebook, which imports this module

        self.actor = SELF
        self.actor_role = staff.roles_of(SELF)
        self.refs: dict[str, str | None] = {name: name for name in custom_names}

    def holds(self, nodes: Sequence[Node], state: _State) -> Truth:
        return _all(self.truth(node, state) for node in nodes)

    def truth(self, node: Node, state: _State) -> Truth:
        if isinstance(node, Group):
            if node.kind == "any":
                return _any(self.truth(child, state) for child in node.children)
            inner = self.holds(node.children, state)
            return (None if inner is None else not inner) if node.kind == "not" else inner
        key = condition_key(node)
        if node.op in CHANGE_OPS:
            return self._change(node, state.changes.get(key), state)
        if not _is_event_fact(node) and not _known(state.values.get(key, UNKNOWN)):
            return None
        return evaluate_condition(node, self._facts(state))[0]

    def _change(self, condition: Condition, moved: _Moved | None, state: _State) -> Truth:
        if moved is None:
            return False  # the chained event changes only what the round wrote
        if condition.op == "changed":
            return moved.sure
        if _plain(moved.old) and _plain(moved.new):
            return evaluate_condition(condition, self._facts(state))[0]
        side = moved.new if condition.op in ("changed_to", "added") else moved.old
        if side is None or (isinstance(side, str) and side.casefold() != condition.values[0].casefold()):
            return False  # nothing came (or went), or another value did
        return None  # the side not known decides

    def _facts(self, state: _State) -> Facts:
        if state.facts is None:
            state.facts = self._build_facts(state)
        return state.facts

    def _build_facts(self, state: _State) -> Facts:
        values = state.values
        author_role = values.get("author_role")

        def role_of(person: Person | None, ticket: Ticket | None = None) -> str | Sequence[str] | None:
            if person is self.actor:
                return self.actor_role
            return author_role if isinstance(author_role, str) else None

        ticket = Ticket(
            "analysis", "", "", "", _one(values, "project"), _one(values, "project"), _one(values, "tracker"),
            _one(values, "status"), _one(values, "priority"), _one(values, "subject"), _one(values, "description"),
            author=_person(values.get("author")), assignee=_person(values.get("assignee")),
            labels=_many(values.get("labels")), categories=_many(values.get("category")),
            fix_versions=_many(values.get("fix_versions")),
            custom_fields={key[3:]: _custom(value) for key, value in values.items() if key.startswith("cf:")})
        changes = tuple(Change(key, _text(moved.old), _text(moved.new)) for key, moved in state.changes.items()
                        if _plain(moved.old) and _plain(moved.new))
        event = Event("analysis", "analysis", "", frozenset({CHAINED_TRIGGER}), _EPOCH, self.actor, changes)
        sla_states = {key[4:]: value for key, value in values.items()
                      if key.startswith("sla.") and isinstance(value, str)}
        return Facts(ticket, event, _EPOCH, self.refs, role_of, sla_states)


def _one(values: Mapping[str, Value], key: str) -> str:
    value = values.get(key)
    return value if isinstance(value, str) else ""


def _text(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def _many(value: Value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,) if isinstance(value, str) else ()


def _person(value: Value) -> Person | None:
    return Person(value, value, value) if isinstance(value, str) else None


def _custom(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value if _plain(value) else None


# -- the graph ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Edge:
    """`source`'s changes can make `target` run. `writes` are those `target`'s conditions look
    at; all of them when it looks at none (`any_change`: it runs on any change)."""

    source: Rule
    target: Rule
    writes: tuple[Write, ...]
    any_change: bool

    def describe(self) -> str:
        done = ", ".join(write.text for write in self.writes)
        return f"{done} (it runs on any change)" if self.any_change else done


@dataclass(frozen=True)
class _Step:
    """One rule of a loop at work: what it changes, and whether that makes the next one hold."""

    rule: Rule
    made: tuple[Write, ...]
    moved: Truth
    next: Rule
    holds: Truth
    because: tuple[str, ...]  # the next rule's conditions on what this one wrote, holding
    unknown: tuple[str, ...]  # the next rule's conditions on what the rules do not decide
    state: _State


@dataclass(frozen=True)
class Loop:
    """Rules that can undo each other's changes forever, the first in rulebook order first."""

    rules: tuple[Rule, ...]
    certain: bool
    steps: tuple[_Step, ...]
    meddlers: tuple[str, ...] = ()  # other rules that may run in between

    def message(self) -> str:
        names = " → ".join(f"'{rule.name}'" for rule in (*self.rules, self.rules[0]))
        verb = "makes" if self.certain else "can make"
        path = ", ".join(
            f"{_subject(step, index)} {' and '.join(write.text for write in step.made)}, "
            f"which {verb} '{step.next.name}' hold ({', '.join(step.because) or 'it runs on any change'})"
            for index, step in enumerate(self.steps))
        alone = len(self.rules) == 1
        fix = (f"add a condition so {'it' if alone else 'one of them'} stops, e.g. `actor != ticketwarden` on "
               f"'{self.rules[-1].name}' (it then reacts to people's changes only, not to rules')")
        if alone:
            head = f"rule {names} {'triggers' if self.certain else 'may trigger'} itself forever"
        else:
            head = f"rules {names} {'undo' if self.certain else 'may undo'} each other forever"
        if self.certain:
            return f"{head}: {path}; every event that starts them runs them up to the chain limit: {fix}"
        return f"{head}: {path}; that depends on {'; '.join(self._doubts())}. If it can happen, {fix}"

    def _doubts(self) -> list[str]:
        """What the loop depends on: the ticket's own fields, templates, rules running in between."""
        doubts = list(dict.fromkeys(text for step in self.steps for text in step.unknown))
        if any(not _plain(write.value) for step in self.steps for write in step.made):
            doubts.append("the values its templates give")
        if self.meddlers:
            named = ", ".join(f"'{name}'" for name in self.meddlers[:3])
            more = f" and {len(self.meddlers) - 3} more" if len(self.meddlers) > 3 else ""
            doubts.append(f"the rules that may run in between ({named}{more})")
        return doubts or ["the ticket"]

    def pairs(self) -> set[tuple[str, str]]:
        return {(step.rule.name, step.next.name) for step in self.steps}


def _subject(step: _Step, index: int) -> str:
    return f"'{step.rule.name}'" if index == 0 else "which"


@dataclass(frozen=True)
class InteractionGraph:
    """Which rules can trigger which, and the loops among them."""

    rules: tuple[Rule, ...]
    edges: tuple[Edge, ...]
    loops: tuple[Loop, ...]


def graph_of(rulebook: Rulebook) -> InteractionGraph:
    """The graph of a loaded rulebook (its certain loops kept it from loading)."""
    return analyse(rulebook.rules, rulebook.staff)


def analyse(rules: Sequence[Rule], staff: StaffDefinition) -> InteractionGraph:
    """Every edge between enabled rules, and every loop that can run forever (those through
    more than MAX_LENGTH rules, or beyond MAX_STEPS paths, are not looked for)."""
    active = [rule for rule in rules if rule.enabled]
    writes = {rule.name: writes_of(rule) for rule in active}
    custom = {write.key[3:] for made in writes.values() for write in made if write.key.startswith("cf:")}
    custom |= {condition.field for rule in active for condition, _ in _leaves(rule.conditions) if condition.custom}
    search = _Search(active, writes, _Reader(staff, custom))
    return InteractionGraph(tuple(rules), tuple(search.edges), search.loops())


def report_cycles(rules: Sequence[Rule], staff: StaffDefinition, errors: list[RuleError],
                  warnings: list[RuleError]) -> None:
    """Certain loops as errors, possible ones as warnings, each at its first rule. Rules are
    left alone when one of them, or a whole file, did not compile: it may be part of a loop."""
    if any(error.path[:1] in ((), ("rules",)) for error in errors):
        return
    for loop in analyse(rules, staff).loops:
        first = loop.rules[0]
        index = [rule.name for rule in rules if rule.file == first.file].index(first.name)
        where = Where(first.file, first.line, ("rules", index), errors, warnings)
        if loop.certain:
            where.error(loop.message())
        else:
            where.warn(loop.message())


class _Search:
    """The edges between rules, then the loops along them, each walked as the engine would."""

    def __init__(self, active: list[Rule], writes: dict[str, tuple[Write, ...]], reader: _Reader):
        self.active = active
        self.writes = writes
        self.reader = reader
        self.order = {rule.name: index for index, rule in enumerate(active)}
        self.listeners = [rule for rule in active if CHAINED_TRIGGER in rule.triggers]
        self.edges = self._edges()
        self.nexts: dict[str, list[str]] = {}
        for edge in self.edges:
            self.nexts.setdefault(edge.source.name, []).append(edge.target.name)

    def _edges(self) -> list[Edge]:
        edges = []
        for source in self.active:
            made = self.writes[source.name]
            if not made:
                continue
            state = _after(made, _implied(source))
            for target in self.listeners:
                if self.reader.holds(target.conditions, state) is False:
                    continue
                read = _reads(target)
                looked_at = tuple(write for write in made if write.key in read)
                edges.append(Edge(source, target, looked_at or made, not looked_at))
        return edges

    def loops(self) -> tuple[Loop, ...]:
        by_name = {rule.name: rule for rule in self.active}
        found = [loop for names in self._cycles()
                 if (loop := self._judge(tuple(by_name[name] for name in names))) is not None]
        found.sort(key=lambda loop: (not loop.certain, len(loop.rules), self.order[loop.rules[0].name]))
        chosen: list[Loop] = []
        for loop in found:  # a possible loop through the rules of one already told is not told again
            names = {rule.name for rule in loop.rules}
            if loop.certain or not any({rule.name for rule in other.rules} <= names for other in chosen):
                chosen.append(loop)
        return tuple(chosen)

    def _volatile(self) -> set[str]:
        """Rules that can change a field again once every rule of a loop has run: they write a
        template's value, or a value another rule replaces with its own. Only they can loop."""
        values: dict[str, set[Any]] = {}
        for made in self.writes.values():
            for write in made:
                values.setdefault(write.key, set()).add(_folded(write))
        return {name for name, made in self.writes.items()
                if any(write.value is UNKNOWN or len(values[write.key]) > 1 for write in made)}

    def _cycles(self) -> Iterator[tuple[str, ...]]:
        """Each elementary cycle once, from its first rule in rulebook order."""
        allowed = self._volatile()
        steps = 0
        for start in sorted(allowed, key=self.order.__getitem__):
            path, stack = [start], [iter(self.nexts.get(start, ()))]
            while stack and steps < MAX_STEPS:
                steps += 1
                following = next(stack[-1], None)
                if following is None:
                    stack.pop()
                    path.pop()
                elif following == start:
                    yield tuple(path)
                elif (following in allowed and self.order[following] > self.order[start]
                      and following not in path and len(path) < MAX_LENGTH):
                    path.append(following)
                    stack.append(iter(self.nexts.get(following, ())))

    def _judge(self, rules: tuple[Rule, ...]) -> Loop | None:
        steps = self._walk(rules, {})
        verdict = _verdict(steps)
        if verdict is False:
            return None
        meddlers = self._meddlers(rules, steps)
        if verdict is True and not meddlers:
            return Loop(rules, True, steps)
        if verdict is None and self._refuted(rules):
            return None
        return Loop(rules, False, steps, meddlers)

    def _walk(self, rules: tuple[Rule, ...], facts: Mapping[str, Value]) -> tuple[_Step, ...]:
        """One turn of the loop, after a first one left each field it writes at its last value."""
        values: dict[str, Value] = dict(facts)
        for rule in rules:
            values.update((write.key, write.value) for write in self.writes[rule.name])
        steps = []
        for index, rule in enumerate(rules):
            state = _after(self.writes[rule.name], values)
            values = state.values
            following = rules[(index + 1) % len(rules)]
            made = tuple(write for write in self.writes[rule.name] if write.key in state.changes)
            truths = [(condition, negated, self.reader.truth(condition, state))
                      for condition, negated in _leaves(following.conditions)]
            steps.append(_Step(
                rule, made, _any(moved.sure for moved in state.changes.values()), following,
                self.reader.holds(following.conditions, state),
                tuple(condition.text for condition, negated, truth in truths
                      if not negated and truth is not False and condition_key(condition) in state.changes),
                tuple(condition.text for condition, _, truth in truths
                      if truth is None and condition_key(condition) not in values),
                state))
        return tuple(steps)

    def _meddlers(self, rules: tuple[Rule, ...], steps: tuple[_Step, ...]) -> tuple[str, ...]:
        """Other rules that may run in a round of the loop and, themselves or through the rules
        they trigger, change a field the loop reads or writes."""
        keys = set().union(*(_reads(rule) | {w.key for w in self.writes[rule.name]} for rule in rules))
        found: list[str] = []
        for step in steps:
            for rule in self.listeners:
                if rule.name == step.next.name or rule.name in found or not self._reaches(rule.name) & keys:
                    continue
                if self.reader.holds(rule.conditions, step.state) is not False:
                    found.append(rule.name)
        return tuple(found)

    def _reaches(self, name: str) -> set[str]:
        """The fields a rule changes, itself or through the rules its changes trigger."""
        seen, todo = {name}, [name]
        while todo:
            for following in self.nexts.get(todo.pop(), ()):
                if following not in seen:
                    seen.add(following)
                    todo.append(following)
        return {write.key for each in seen for write in self.writes[each]}

    def _refuted(self, rules: tuple[Rule, ...]) -> bool:
        """Whether no ticket lets the loop run: each value its conditions name is tried (with
        the empty one and another), and on none of them does it go round."""
        trials = _trials(rules, {write.key for rule in rules for write in self.writes[rule.name]})
        return trials is not None and all(_verdict(self._walk(rules, facts)) is False for facts in trials)


def _verdict(steps: Sequence[_Step]) -> Truth:
    return _all(truth for step in steps for truth in (step.moved, step.holds))


def _folded(write: Write) -> Any:
    """A written value as the engine compares it."""
    if not isinstance(write.value, str) or write.key.startswith("cf:"):
        return write.value
    return write.value.casefold()


def _trials(rules: Sequence[Rule], written: set[str]) -> list[dict[str, Value]] | None:
    """The tickets to try a loop on: every mix of the values its conditions name for the
    fields it does not write. None when there is nothing to try, or too much."""
    tested: dict[str, list[Condition]] = {}
    for rule in rules:
        for condition, _ in _leaves(rule.conditions):
            key = condition_key(condition)
            if key not in written and not _is_event_fact(condition) and condition.op not in CHANGE_OPS:
                tested.setdefault(key, []).append(condition)
    choices = {key: values for key, conditions in tested.items()
               if (values := _candidates(key, conditions)) is not None}
    if not choices or math.prod(len(values) for values in choices.values()) > MAX_TRIALS:
        return None
    return [dict(zip(choices, mix, strict=True)) for mix in itertools.product(*choices.values())]


def _candidates(key: str, conditions: Sequence[Condition]) -> list[Value] | None:
    """One value of each kind the conditions tell apart: empty, each value they name, another;
    for a multi-value field every set of those. None when other operators test the field."""
    multi = key.startswith("cf:") or key in _MULTI_FIELDS
    if not (multi or key in _SINGLE_FIELDS or (key.startswith("sla.") and key != "sla.policy")):
        return None
    if any(condition.op not in _TRIED_OPS or condition.duration is not None for condition in conditions):
        return None
    named = list(dict.fromkeys(value for condition in conditions for value in condition.values))
    if not multi:
        return [None, _OTHER, *named]
    pool = [*named, _OTHER]
    if len(pool) > 5:
        return None
    return [None, *(tuple(mix) for size in range(1, len(pool) + 1) for mix in itertools.combinations(pool, size))]


# -- what `check --graph` prints ----------------------------------------------------------------

def format_text(graph: InteractionGraph) -> str:
    """Each rule that can trigger others, with what it changes that they react to."""
    if not graph.edges:
        return "no rule can trigger another: none reacts to the changes the rules make"
    looping = set().union(*(loop.pairs() for loop in graph.loops))
    lines = ["rules that can trigger other rules, by the changes they make:"]
    for _, group in itertools.groupby(graph.edges, key=lambda edge: edge.source.name):
        edges = list(group)
        source = edges[0].source
        lines.append(f"  '{source.name}' ({source.file}:{source.line})")
        for edge in edges:
            mark = "  [loop]" if (source.name, edge.target.name) in looping else ""
            lines.append(f"    → '{edge.target.name}': {edge.describe()}{mark}")
    return "\n".join(lines)


def format_dot(graph: InteractionGraph) -> str:
    """The same as Graphviz dot: a box per rule that takes part, an arrow per edge (loops in red)."""
    looping = set().union(*(loop.pairs() for loop in graph.loops))
    named = {rule.name for edge in graph.edges for rule in (edge.source, edge.target)}
    lines = ["digraph rules {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    lines += [f"  {_quoted(rule.name)} [tooltip={_quoted(f'{rule.file}:{rule.line}')}];"
              for rule in graph.rules if rule.name in named]
    for edge in graph.edges:
        attributes = [f"label={_quoted(edge.describe())}"]
        if (edge.source.name, edge.target.name) in looping:
            attributes += ["color=red", "fontcolor=red"]
        lines.append(f"  {_quoted(edge.source.name)} -> {_quoted(edge.target.name)} [{', '.join(attributes)}];")
    return "\n".join([*lines, "}"])


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
