"""What the rules pipeline works out once or only when read (per rulebook, per template, per
condition, per event) answers exactly as working it out afresh each time would."""

import copy as copy_module
import dataclasses
import pickle
import textwrap
from datetime import timedelta

import pytest
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from rules import pipeline
from rules.calendar import BusinessCalendar
from rules.conditions import ConditionContext, Facts, evaluate_condition, parse_condition
from rules.durations import format_duration
from rules.engine import ActionTrace, Decision, RuleTrace
from rules.jsm import SlaViews as JsmViews
from rules.model import Change, Comment, Person
from rules.pipeline import process
from rules.rulebook import TRIGGER_SETS, Rule, load_rulebook
from rules.sla import LazyMapping, calendars_of, describe, lazy_views, views
from rules.templates import READS_ANYTHING, Reads, compile_template, render
from tests.helpers import T0, event, ticket

AGENT = Person("6", "agent", "Alice Agent")
CUSTOMER = Person("7", "carol", "Carol Customer")
SLA_BOOK = textwrap.dedent("""
    version: 1
    fields: {sla_due: "SLA due", origin: "Failure origin"}
    staff: {logins: [agent]}
    calendars:
      office:
        timezone: America/Argentina/Buenos_Aires
        hours: {mon-fri: ["09:00-13:00", "14:00-18:00"]}
    sla:
      resolution:
        applies: [project = support]
        calendar: office
        pause: [status = Feedback]
        stop: [status in (Resolved, Closed)]
        targets: [{when: priority = Urgent, target: 4h}, {target: 8h}]
        warn_at: 75%
      first-response:
        applies: [project = support]
        calendar: office
        stop: [actor_role = staff, comment_visibility = public]
        targets: [{target: 2h}]
    rules:
      - name: the event's policy
        on: [sla.started, sla.met, ticket.updated]
        then: [{comment: {body: "{{ sla.policy }} due {{ sla.due_local }} ({{ sla['remaining'] }} left)"}}]
      - name: a named policy
        on: [sla.started, ticket.updated]
        if: [sla.resolution = running]
        then: [{set: {sla_due: "{{ sla.policies.resolution.due_date }}"}}]
      - name: the whole of sla
        on: [sla.met]
        then: [{comment: {body: "{{ sla }}"}}]
      - name: every policy
        on: [ticket.commented]
        then: [{comment: {body: "{{ sla.policies | length }} {{ sla.policies.resolution }}"}}]
      - name: a loop over the policies
        on: [ticket.updated]
        then: [{comment: {body: "{% for name in sla.policies %}{{ name }} {% endfor %}"}}]
      - name: no sla
        on: [ticket.updated]
        if: [sla.first-response = met]
        then: [{comment: {body: "{{ ticket.key }} by {{ event.actor }}, origin {{ ticket.fields.origin }}"}}]
      - name: a plan of its own
        on: [sla.started]
        then: [{notify: {channel: chat, message: "{{ sla.due }} {{ ticket.subject }}"}}]
      - name: some keys
        on: [ticket.updated]
        then: [{comment: {body: "{{ ticket['subject'] }}: {{ event.changes | map(attribute='field') | join(',') }}"}}]
      - name: the whole ticket and event
        on: [sla.met]
        then: [{comment: {body: "{{ ticket }} {{ event }}"}}]
""")


def sla_book():
    return load_rulebook([("sla.yaml", SLA_BOOK)])


def steps(rulebook):
    """A ticket's life: opened, answered in public by staff, waiting for the customer, resolved."""
    calendars = calendars_of(rulebook)
    clocks = []
    deliveries = [
        (event("ticket.created", event_id="e1"), ticket(), T0),
        (event("ticket.updated", "ticket.commented", comment=Comment("on it"), actor=AGENT, event_id="e2"),
         ticket(), T0 + timedelta(hours=1)),
        (event("ticket.updated", changes=(Change("status", "New", "Feedback"),), actor=AGENT, event_id="e3"),
         ticket(status="Feedback"), T0 + timedelta(hours=2)),
        (event("ticket.updated", changes=(Change("status", "Feedback", "Resolved"),), actor=CUSTOMER,
               event_id="e4"), ticket(status="Resolved"), T0 + timedelta(days=2)),
    ]
    made = []
    for happened, seen, now in deliveries:
        step = process(rulebook, calendars, happened, seen, clocks, now + timedelta(minutes=30))
        clocks = step.clocks
        made.append(([d.to_dict() for d in step.decisions], step.clocks, step.moved, step.sla_events))
    return made


def test_what_templates_cannot_read_is_neither_made_nor_missed(monkeypatch):
    """The SLA clocks worked out as read and the template context cut to what a rule's templates
    read decide exactly as every clock worked out and the whole context made, for every rule."""
    rulebook = sla_book()
    lazy = steps(rulebook)
    monkeypatch.setattr(Rule, "reads", property(lambda rule: READS_ANYTHING))
    monkeypatch.setattr(pipeline, "_views", lambda book, calendars, clocks, now: views(book, calendars, clocks, now))
    eager = steps(sla_book())
    assert lazy == eager
    bodies = [effect["params"].get("body", "") for decisions, *_ in lazy for decision in decisions
              for effect in decision["effects"]]
    assert any(body.startswith("resolution due 2026-03-") for body in bodies)
    assert any("'policies': {'resolution'" in body for body in bodies)  # the whole of sla, met
    assert any(body.startswith("#42 by Alice Agent") for body in bodies)
    assert any(body.startswith("VPN down for ACME: status") for body in bodies)
    assert any(body.startswith("{'id': '42', 'key': '#42'") for body in bodies)


def test_what_a_rule_reads_of_the_template_context():
    rulebook = sla_book()
    reads = {rule.name: rule.reads for rule in rulebook.rules}
    assert reads["the event's policy"] == Reads(frozenset({"sla"}), True, frozenset())
    assert reads["a named policy"] == Reads(frozenset({"sla"}), False, frozenset({"resolution"}))
    assert reads["the whole of sla"].sla_policies is None
    assert reads["every policy"].sla_policies is None
    assert reads["a loop over the policies"].sla_policies is None
    assert reads["no sla"] == Reads(frozenset({"ticket", "event"}), ticket_keys=frozenset({"key", "fields"}),
                                    event_keys=frozenset({"actor"}))
    assert reads["some keys"] == Reads(frozenset({"ticket", "event"}), ticket_keys=frozenset({"subject"}),
                                       event_keys=frozenset({"changes"}))
    assert (reads["the whole ticket and event"].ticket_keys, reads["the whole ticket and event"].event_keys) == \
        (None, None)
    assert reads["a plan of its own"] == READS_ANYTHING  # its plan reads the context itself


@pytest.mark.parametrize(("text", "ticket_keys", "event_keys"), [
    ("{{ ticket.key }} {{ ticket['url'] }} {{ ticket.fields.origin }} {{ event.actor }}", {"key", "url", "fields"},
     {"actor"}),
    ("{{ ticket.labels | join(',') }} {{ ticket.key.upper() }}", {"labels", "key"}, set()),
    ("{{ ticket }}", None, set()),
    ("{{ ticket.items() | list }}", None, set()),
    ("{{ ticket[event.id] }}", None, {"id"}),
    ("{% set t = ticket %}{{ t.key }} {{ event.changes | length }}", None, {"changes"}),
    ("{% for event in [1] %}{{ event }}{% endfor %}", set(), None),
])
def test_what_a_template_reads_of_the_ticket_and_the_event(text, ticket_keys, event_keys):
    reads = compile_template(text).reads
    assert reads.ticket_keys == (None if ticket_keys is None else frozenset(ticket_keys))
    assert reads.event_keys == (None if event_keys is None else frozenset(event_keys))


@pytest.mark.parametrize(("text", "names", "event", "policies"), [
    ("plain text", set(), False, set()),
    ("{{ ticket.key }} {{ now | iso }}", {"ticket", "now"}, False, set()),
    ("{{ sla.due }} {{ sla['state'] }}", {"sla"}, True, set()),
    ("{{ sla.policies.resolution.due }} {{ sla.policies['first-response'].due }}", {"sla"}, False,
     {"resolution", "first-response"}),
    ("{{ sla }}", {"sla"}, True, None),
    ("{{ sla.items() | list }}", {"sla"}, True, None),  # a dict method, not a key
    ("{{ sla.policies.values() | list }}", {"sla"}, True, None),
    ("{{ sla[ticket.key] }}", {"sla", "ticket"}, True, None),
    ("{% set sla = ticket %}{{ sla.key }}", {"ticket"}, False, set()),
    ("{% for sla in [ticket] %}{{ sla.key }}{% endfor %}", {"ticket"}, False, set()),
    ("{% set x %}{{ sla.due }}{% endset %}{{ x }}", {"sla"}, True, set()),
])
def test_what_a_template_reads(text, names, event, policies):
    reads = compile_template(text).reads
    assert reads.names == frozenset(names)
    if "sla" in names:
        assert (reads.sla_event, reads.sla_policies) == (event, None if policies is None else frozenset(policies))


@pytest.mark.parametrize("text", ["plain", "two\nlines\n", "windows\r\nline\r\n", "", "tab\there", "{# a note #}x",
                                  "100% {x} } {", "trailing\n\n"])
def test_a_plain_template_renders_as_jinja_renders_it(text):
    reference = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    assert render(compile_template(text), {"ticket": {}}) == reference.from_string(text).render(ticket={})


def _rendered(environment, text, context):
    try:
        return environment.from_string(text).render(context)
    except TemplateError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", [
    "{{ ticket.key }}", "{{ ticket.items() | list | length }}", "{{ ticket.missing }}", "{{ ticket._hidden }}",
    "{{ ticket.get('key') }}", "{{ ticket.fields.origin }}", "{{ jsm.anything.state }}", "{{ ticket.key.upper() }}",
    "{{ ticket.key.__class__ }}", "{{ ticket.labels.append }}", "{{ person.name }}", "{{ ticket.keys }}",
    "{{ shown.label }}", "{{ shown.other }}",
])
def test_the_quicker_lookup_answers_as_the_sandbox(text):
    class Shown(dict):
        label = "an attribute"

    context = {"ticket": {"key": "#1", "_hidden": "h", "fields": {"origin": "internal"}, "labels": [], "keys": "k"},
               "jsm": JsmViews(), "person": AGENT, "shown": Shown(label="a key", other="another key")}
    reference = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    ours = _rendered(compile_template(text).environment, text, context)
    assert ours == _rendered(reference, text, context)


def test_rules_triggered_are_worked_out_per_trigger_set_and_per_rulebook():
    rulebook = sla_book()
    for triggers in (frozenset({"ticket.updated"}), frozenset({"sla.met"}), frozenset({"sla.met", "ticket.updated"}),
                     frozenset(), frozenset({"ticket.updated"})):
        assert rulebook.triggered(triggers) == tuple(bool(rule.triggers & triggers) for rule in rulebook.rules)
    fewer = dataclasses.replace(rulebook, rules=rulebook.rules[2:])
    met = frozenset({"sla.met"})
    assert fewer.triggered(met) == tuple(bool(rule.triggers & met) for rule in rulebook.rules[2:]) != \
        rulebook.triggered(met)
    for n in range(TRIGGER_SETS + 10):
        assert rulebook.triggered(frozenset({f"trigger {n}"})) == (False,) * len(rulebook.rules)
    assert len(rulebook._triggered) <= TRIGGER_SETS


def test_field_references_and_zones_kept_on_the_rulebook_are_given_as_copies():
    rulebook = sla_book()
    rulebook.field_refs("redmine")["origin"] = "changed"
    rulebook.calendar_zones["office"] = "UTC"
    assert rulebook.field_refs("redmine") == {"sla_due": "SLA due", "origin": "Failure origin"}
    assert rulebook.field_refs("jira") == {name: refs.get("jira") for name, refs in rulebook.fields.items()}
    assert rulebook.calendar_zones == {"office": "America/Argentina/Buenos_Aires"}
    other = dataclasses.replace(rulebook, fields={"origin": {"redmine": "Origin"}})
    assert other.field_refs("redmine") == {"origin": "Origin"}


def test_a_lazy_mapping_makes_each_value_once_and_raises_what_making_raises():
    made = []

    def make(key):
        made.append(key)
        if key == "broken":
            raise KeyError("calendar 'x' is not among the calendars given")
        return key.upper()

    lazy = LazyMapping(["b", "a", "broken"], make)
    assert list(lazy) == ["b", "a", "broken"] and len(lazy) == 3 and made == []
    assert lazy["a"] == lazy.get("a") == "A" and made == ["a"]
    assert lazy.get("missing", "default") == "default" and "missing" not in lazy
    with pytest.raises(KeyError, match="not among the calendars"):
        lazy.get("broken")  # not taken for a missing key
    with pytest.raises(KeyError):
        lazy["missing"]


def test_sla_views_worked_out_when_read_are_the_views():
    rulebook = sla_book()
    calendars = calendars_of(rulebook)
    clocks = process(rulebook, calendars, event("ticket.created"), ticket(), [], T0).clocks
    later = T0 + timedelta(hours=3)
    states, info = views(rulebook, calendars, clocks, later)
    lazy_states, lazy_info = lazy_views(rulebook, calendars, clocks, later)
    assert lazy_states.get("first-response") == states["first-response"] == "running"
    assert {name: dict(described) for name, described in lazy_info.items()} == info
    assert dict(lazy_states.items()) == states and list(lazy_info) == list(info) == ["resolution", "first-response"]
    newest = {clock.policy: clock for clock in clocks}
    assert info == {name: describe(clock, rulebook.sla[name], calendars["office"], later, calendars)
                    for name, clock in newest.items()}


CONTEXT = ConditionContext(custom_fields={"origin": {"redmine": "Failure origin"}, "team": {"jira": "customfield_1"}},
                           vocabulary={"statuses": ["New", "Feedback", "Resolved"]})


@pytest.mark.parametrize("texts", [
    ["status = New", "status != new", "status in (Feedback, NEW)", "status not in (Feedback)", "status is empty",
     "status is not empty", "status ~= ^n", "status contains New", "status > M"],
    ["status changed", "status changed_to Feedback", "status changed_from new", "status changed_to New",
     "status added Feedback", "status removed New", "priority changed"],
    ["origin = unknown", "origin is empty", "origin changed", "origin changed_to internal", "team = network",
     "team changed", "origin != unknown"],
    ["labels contains urgent", "labels = URGENT", "labels added vip", "labels removed old", "labels is empty"],
    ["assignee = agent", "assignee = 6", "assignee changed_to bob", "actor = Alice Agent", "author is empty"],
])
def test_conditions_reading_an_event_once_answer_as_read_afresh(texts):
    seen = ticket(labels=("urgent", "vip"), custom_fields={"Failure origin": "internal"})
    happened = event("ticket.updated", changes=(
        Change("status", "New", "Feedback"), Change("cf:Failure origin", "unknown", "internal"),
        Change("labels", "old urgent", "urgent vip", added=("vip",), removed=("old",)),
        Change("assignee", "agent", "bob", old_person=AGENT, new_person=Person("8", "bob", "Bob"))))
    refs = {"origin": "Failure origin", "team": None}
    shared = Facts(seen, happened, T0, refs, lambda person, ticket: None)
    conditions = [parse_condition(text, CONTEXT) for text in texts]
    assert [evaluate_condition(c, shared) for c in conditions] == \
        [evaluate_condition(c, Facts(seen, happened, T0, refs, lambda person, ticket: None)) for c in conditions]


def test_the_audit_record_lists_rules_not_triggered_by_depth_in_any_order():
    decision = Decision("e", "#1", ["ticket.updated"], rules=[
        RuleTrace("a", False, depth=0), RuleTrace("b", True, actions=[ActionTrace("set", "planned", "k")]),
        RuleTrace("c", False, depth=1), RuleTrace("d", False, depth=0), RuleTrace("e", False, depth=1)])
    record = decision.to_dict()
    assert record["not_triggered"] == {"0": ["a", "d"], "1": ["c", "e"]}
    assert [r["rule"] for r in record["rules"]] == ["b"] and record["rules"][0]["actions"] == [
        {"action": "set", "outcome": "planned", "key": "k"}]
    assert Decision.from_dict(record).to_dict() == {**record, "not_triggered": {"0": ["a", "d"], "1": ["c", "e"]}}


def test_format_duration_from_each_largest_unit():
    assert [format_duration(timedelta(days=1, hours=2, seconds=5), unit) for unit in "dhms"] == [
        "1d 2h 5s", "26h 5s", "1560m 5s", "93605s"]
    with pytest.raises(ValueError):
        format_duration(5, "y")


def test_a_condition_compares_copies_and_pickles_by_its_fields_alone():
    """Its compiled check is not part of what a condition is: equal, hashed, shown, copied and
    pickled as before, the check made again for a copy."""
    office = BusinessCalendar.from_calendar(sla_book().calendars["office"])
    context = dataclasses.replace(CONTEXT, calendars={"office": office})
    first, second = parse_condition("age > 2bd on office", context), parse_condition("age > 2bd on office", context)
    assert first == second and hash(first) == hash(second) and "check" not in repr(first)
    status = parse_condition("status in (New, Feedback)", CONTEXT)
    facts = Facts(ticket(), event(), T0, {}, lambda person, ticket: None)
    for copy in (pickle.loads(pickle.dumps(status)), copy_module.deepcopy(status), copy_module.copy(status),
                 dataclasses.replace(status)):
        assert copy == status and evaluate_condition(copy, facts) == (True, "New")
    changed = dataclasses.replace(status, values=("Feedback",))
    assert evaluate_condition(changed, facts) == (False, "New")
