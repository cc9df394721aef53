"""Rules that set each other off: the edges between them, and loops found at load."""

import pytest

from rules.actions.set_fields import STANDARD
from rules.engine import evaluate
from rules.errors import RulebookInvalid
from rules.interactions import CHAINED_FIELDS, analyse, graph_of
from rules.model import Change
from rules.rulebook import load_rulebook
from tests.conftest import ROOT
from tests.helpers import T0, event, ticket

HEAD = """\
version: 1
chain_limit: 5
fields: {origin: "Failure origin", team: Team}
rules:
"""

HIGH_AND_MEDIUM = HEAD + """\
  - name: raise urgent
    on: [ticket.updated]
    if: [priority = Medium]
    then: [{set: {priority: High}}]
  - name: calm down
    on: [ticket.updated]
    if: [priority = High]
    then: [{set: {priority: Medium}}]
"""

THREE_ORIGINS = HEAD + """\
  - name: note the triage
    on: [ticket.created]
    then: [{comment: {body: received}}]
  - name: unknown means customer
    on: [ticket.updated]
    if: [origin changed_to unknown]
    then: [{set: {origin: customer}}]
  - name: customer means internal
    on: [ticket.updated]
    if: [origin changed_to customer]
    then: [{set: {origin: internal}}]
  - name: internal means unknown
    on: [ticket.updated]
    if: [origin changed_to internal]
    then: [{set: {origin: unknown}}]
"""

PING_PONG = HEAD + """\
  - name: ping
    on: [ticket.updated]
    if: [status changed_to Feedback]
    then: [{transition: {status: New}}]
  - name: pong
    on: [ticket.updated]
    if: [status changed_to New]
    then: [{transition: {status: Feedback}}]
"""

SELF_LIMITING = HEAD + """\
  - name: origin unknown when empty
    on: [ticket.updated]
    if: [origin is empty]
    then: [{set: {origin: unknown}}]
  - name: priority stays high
    on: [ticket.updated]
    if: [priority changed]
    then: [{set: {priority: High}}]
"""


def load(text: str):
    return load_rulebook([("rules.yaml", text)])


def errors_of(text: str) -> list[str]:
    with pytest.raises(RulebookInvalid) as caught:
        load(text)
    return [str(error) for error in caught.value.errors]


def loop_warnings(rulebook) -> list[str]:
    return [str(warning) for warning in rulebook.warnings if "forever" in warning.message]


def test_two_rules_setting_a_field_back_and_forth_are_an_error_with_their_path():
    assert errors_of(HIGH_AND_MEDIUM) == [
        "rules.yaml:5: rules → 0: rules 'raise urgent' → 'calm down' → 'raise urgent' undo each other forever: "
        "'raise urgent' sets priority = High, which makes 'calm down' hold (priority = High), which sets "
        "priority = Medium, which makes 'raise urgent' hold (priority = Medium); every event that starts them "
        "runs them up to the chain limit: add a condition so one of them stops, e.g. `actor != ticketwarden` "
        "on 'calm down' (it then reacts to people's changes only, not to rules')"]


def test_a_loop_of_three_rules_is_reported_at_its_first_rule():
    errors = errors_of(THREE_ORIGINS)
    assert len(errors) == 1
    assert errors[0].startswith(
        "rules.yaml:8: rules → 1: rules 'unknown means customer' → 'customer means internal' → "
        "'internal means unknown' → 'unknown means customer' undo each other forever: 'unknown means customer' "
        "sets origin = customer, which makes 'customer means internal' hold (origin changed_to customer), ")
    assert "on 'internal means unknown'" in errors[0]


def test_transitions_that_send_the_status_back_and_forth_are_an_error():
    errors = errors_of(PING_PONG)
    assert len(errors) == 1
    assert ("'ping' transitions to New, which makes 'pong' hold (status changed_to New), which transitions to "
            "Feedback, which makes 'ping' hold (status changed_to Feedback)") in errors[0]


def test_a_loop_error_is_sorted_with_the_other_errors():
    broken = "  - name: broken\n    on: [ticket.updated]\n    if: [colour = red]\n    then: [{comment: {body: x}}]\n"
    errors = errors_of(PING_PONG + broken)
    assert len(errors) == 1 and "unknown field 'colour'" in errors[0]  # a rule that did not compile may be in a loop
    errors = errors_of(PING_PONG + "calendars: {office: {timezone: Mars/Olympus, hours: 24x7}}\n")
    assert [error.split(": ")[0] for error in errors] == ["rules.yaml:5", "rules.yaml:13"]
    assert "undo each other forever" in errors[0] and "Mars/Olympus" in errors[1]
    second = "version: 1\nrules:\n  - name: first\n    on: [ticket.created]\n    then: [{comment: {body: x}}]\n"
    with pytest.raises(RulebookInvalid) as caught:
        load_rulebook([("a.yaml", second), ("b.yaml", PING_PONG)])
    assert [str(error).split(": rules", 1)[0] for error in caught.value.errors] == ["b.yaml:5"]
    assert str(caught.value.errors[0]).startswith("b.yaml:5: rules → 0: rules 'ping' → 'pong' → 'ping'")


def test_a_rule_that_sets_what_its_own_conditions_then_refuse_is_no_loop():
    rulebook = load(SELF_LIMITING)
    assert loop_warnings(rulebook) == []
    assert analyse(rulebook.rules, rulebook.staff).loops == ()


@pytest.mark.parametrize("guard", [
    "actor != ticketwarden",  # reacts to people only: ticketwarden's own change never makes it hold
    "origin = internal",  # nothing in the loop sets it, and the other rule needs it otherwise
])
def test_a_condition_that_breaks_the_loop_leaves_nothing_to_report(guard):
    text = HEAD + f"""\
  - name: raise urgent
    on: [ticket.updated]
    if: [priority = Medium, origin != internal]
    then: [{{set: {{priority: High}}}}]
  - name: calm down
    on: [ticket.updated]
    if: [priority = High, {guard}]
    then: [{{set: {{priority: Medium}}}}]
"""
    rulebook = load(text)
    assert loop_warnings(rulebook) == []


def test_a_loop_that_depends_on_the_ticket_is_a_warning_naming_what():
    text = HIGH_AND_MEDIUM.replace("if: [priority = Medium]", "if: [project = support, priority = Medium]")
    rulebook = load(text)
    assert loop_warnings(rulebook) == [
        "rules.yaml:5: rules → 0: rules 'raise urgent' → 'calm down' → 'raise urgent' may undo each other forever: "
        "'raise urgent' sets priority = High, which can make 'calm down' hold (priority = High), which sets "
        "priority = Medium, which can make 'raise urgent' hold (priority = Medium); that depends on "
        "project = support. If it can happen, add a condition so one of them stops, e.g. `actor != ticketwarden` "
        "on 'calm down' (it then reacts to people's changes only, not to rules')"]


def test_a_rule_that_may_step_in_between_makes_a_loop_only_possible():
    text = PING_PONG + """\
  - name: demote on status change
    on: [ticket.updated]
    if: [project = support, status changed]
    then: [{set: {priority: Low}}]
  - name: close low ones
    on: [ticket.updated]
    if: [priority changed_to Low]
    then: [{transition: {status: Closed}}]
"""
    warnings = loop_warnings(load(text))
    assert len(warnings) == 1
    assert "may undo each other forever" in warnings[0]
    assert "the rules that may run in between ('demote on status change')" in warnings[0]


def test_a_rule_feeding_its_own_template_back_is_a_warning():
    text = HEAD + """\
  - name: append to team
    on: [ticket.updated]
    if: [team changed]
    then: [{set: {team: "{{ ticket.fields.team }}+"}}]
"""
    warnings = loop_warnings(load(text))
    assert warnings == [
        "rules.yaml:5: rules → 0: rule 'append to team' → 'append to team' may trigger itself forever: "
        "'append to team' sets team from a template, which can make 'append to team' hold (team changed); that "
        "depends on the values its templates give. If it can happen, add a condition so it stops, e.g. "
        "`actor != ticketwarden` on 'append to team' (it then reacts to people's changes only, not to rules')"]


def test_a_template_whose_value_no_round_changes_is_no_change_the_second_time():
    text = HEAD + """\
  - name: keep it with the author
    on: [ticket.updated]
    if: [project = support]
    then:
      - assign: {to: author}
      - set: {team: "due {{ event.occurred_at | iso }}"}
"""
    rulebook = load(text)
    assert [edge.describe() for edge in graph_of(rulebook).edges] == [
        "assigns to the ticket's author, sets team from a template (it runs on any change)"]
    assert loop_warnings(rulebook) == []


def test_notes_and_disabled_rules_trigger_nothing():
    text = HEAD + """\
  - name: note
    on: [ticket.commented]
    then: [{comment: {body: seen}}]
  - name: switched off
    enabled: false
    on: [ticket.updated]
    if: [priority = High]
    then: [{set: {priority: Medium}}]
  - name: raise urgent
    on: [ticket.updated]
    if: [priority = Medium]
    then: [{set: {priority: High}}]
"""
    graph = graph_of(load(text))
    assert [(edge.source.name, edge.target.name) for edge in graph.edges] == []
    assert graph.loops == ()


def test_the_shipped_rulebooks_have_no_loops_and_their_edges_make_sense():
    for path in sorted((ROOT / "examples" / "rulebooks").glob("*.yaml")):
        rulebook = load_rulebook([(str(path), path.read_text())])
        assert loop_warnings(rulebook) == [], path
        assert graph_of(rulebook).loops == ()
    redmine = ROOT / "examples" / "rulebooks" / "redmine-support.yaml"
    edges = {(edge.source.name, edge.target.name): edge.describe()
             for edge in graph_of(load_rulebook([(str(redmine), redmine.read_text())])).edges}
    assert edges[("triage new incidents", "third-party outage named by the customer")] == "sets origin = unknown"
    assert edges[("no closing without origin", "origin required at resolution")] == "transitions to Resolved"
    # It was Closed when it went back to Resolved: nothing changed from Feedback.
    assert ("no closing without origin", "resolution clock resumed") not in edges


@pytest.mark.parametrize("name, value", [
    ("status", "Resolved"), ("priority", "High"), ("subject", "Another"), ("description", "Another"),
    ("assignee", "bob"), ("labels", "vip")])
def test_the_fields_whose_change_comes_back_are_those_the_engine_feeds_back(name, value):
    text = f"""\
version: 1
rules:
  - name: writer
    on: [ticket.created]
    then: [{{set: {{{name}: {value}}}}}]
  - name: reader
    on: [ticket.updated]
    if: [{name} changed]
    then: [{{comment: {{body: seen}}}}]
"""
    rulebook = load(text)
    decision = evaluate(rulebook, event("ticket.created"), ticket(), T0)
    engine_chains = any(trace.rule == "reader" and trace.matched for trace in decision.rules)
    assert engine_chains == (name in CHAINED_FIELDS)
    assert bool(graph_of(rulebook).edges) == engine_chains
    assert set(CHAINED_FIELDS) <= set(STANDARD)


@pytest.mark.parametrize("text, start, state", [
    (HIGH_AND_MEDIUM, Change("subject", "a", "b"), {"priority": "Medium"}),
    (THREE_ORIGINS, Change("cf:Failure origin", "internal", "unknown"), {}),
    (PING_PONG, Change("status", "New", "Feedback"), {"status": "Feedback"}),
])
def test_what_is_called_certain_the_engine_runs_to_its_chain_limit(monkeypatch, text, start, state):
    monkeypatch.setattr("rules.rulebook.report_cycles", lambda *args: None)  # load it anyway
    rulebook = load(text)
    assert [loop.certain for loop in graph_of(rulebook).loops] == [True]
    decision = evaluate(rulebook, event("ticket.updated", changes=(start,)), ticket(**state), T0)
    assert any("chain limit of 5 reached" in warning for warning in decision.warnings)


@pytest.mark.parametrize("text", [SELF_LIMITING, HEAD + """\
  - name: raise urgent
    on: [ticket.updated]
    if: [priority = Medium]
    then: [{set: {priority: High}}]
  - name: calm down
    on: [ticket.updated]
    if: [priority = High, actor != ticketwarden]
    then: [{set: {priority: Medium}}]
"""])
def test_what_is_called_no_loop_the_engine_ends(text):
    rulebook = load(text)
    for priority in ("Medium", "High"):
        start = event("ticket.updated", changes=(Change("priority", "Normal", priority),))
        decision = evaluate(rulebook, start, ticket(priority=priority, custom_fields={}), T0)
        assert not any("chain limit" in warning for warning in decision.warnings)
