import textwrap

from rules.engine import effect_key, evaluate
from rules.model import Change, Comment, Person
from rules.rulebook import load_rulebook
from tests.conftest import EXAMPLE_RULEBOOK
from tests.helpers import T0, event, ticket


def example():
    return load_rulebook([(str(EXAMPLE_RULEBOOK), EXAMPLE_RULEBOOK.read_text())])


def book(text: str):
    return load_rulebook([("book.yaml", textwrap.dedent(text))])


def test_new_incident_gets_origin_and_private_note():
    created = event("ticket.created", event_id="redmine:issue:42:created")
    decision = evaluate(example(), created, ticket(), T0)
    assert [(e.action, e.rule) for e in decision.effects] == [
        ("set", "triage new incidents"), ("comment", "triage new incidents")]
    set_effect, note = decision.effects
    assert set_effect.params == {"standard": {}, "custom": {
        "Failure origin": "unknown", "Triage": "received 2026-03-02T09:00:00+00:00"}}
    assert note.params["private"] is True
    assert note.params["body"].startswith("ticketwarden: incident #42 received (Normal priority).")
    assert set_effect.key == effect_key("redmine", "42", "triage new incidents", "redmine:issue:42:created", 0, "set")


def test_effect_keys_are_stable_and_distinct():
    created = event("ticket.created", event_id="redmine:issue:42:created")
    first = evaluate(example(), created, ticket(), T0)
    again = evaluate(example(), created, ticket(), T0.replace(hour=23))
    assert [e.key for e in first.effects] == [e.key for e in again.effects]
    assert len({e.key for e in first.effects}) == 2
    other = evaluate(example(), event("ticket.created", event_id="redmine:issue:42:created-2"), ticket(), T0)
    assert not {e.key for e in other.effects} & {e.key for e in first.effects}


def test_trace_explains_each_condition():
    feedback = event("ticket.updated", changes=(Change("status", "New", "Feedback"),))
    decision = evaluate(example(), feedback, ticket(project="development", project_name="Development"), T0)
    assert decision.effects == []
    waiting = next(r for r in decision.rules if r.rule == "waiting for customer")
    assert waiting.triggered and not waiting.matched
    assert waiting.conditions == [("project = support", False)]  # AND stops at the first false
    triage = next(r for r in decision.rules if r.rule == "triage new incidents")
    assert not triage.triggered
    text = decision.format()
    assert "rule 'waiting for customer': not matched" in text and "[ ] project = support" in text


def test_change_rule_and_template_values():
    changed = event("ticket.updated", "ticket.commented",
                    changes=(Change("cf:Failure origin", "unknown", "internal", field_id="1"),),
                    comment=Comment("root cause found"), actor=Person("6", "agent", "Alice Agent"))
    decision = evaluate(example(), changed, ticket(custom_fields={"Failure origin": "internal"}), T0)
    assert [e.rule for e in decision.effects] == ["origin classified"]
    assert decision.effects[0].params["body"] == \
        "ticketwarden: failure origin classified as internal by Alice Agent."
    assert decision.to_dict()["rules"][2]["conditions"] == [
        {"condition": "project = support", "result": True},
        {"condition": "origin changed", "result": True},
        {"condition": "origin is not empty", "result": True},
        {"condition": "origin != unknown", "result": True}]


def test_disabled_rules_and_conflicting_sets_are_reported():
    rulebook = book("""
        version: 1
        fields: {origin: "Failure origin"}
        rules:
          - name: one
            on: [ticket.created]
            then: [{set: {origin: internal}}]
          - name: two
            on: [ticket.created]
            then: [{set: {origin: customer}}]
          - name: off
            enabled: false
            on: [ticket.created]
            then: [{comment: {body: never}}]
    """)
    decision = evaluate(rulebook, event("ticket.created"), ticket(), T0)
    assert [e.rule for e in decision.effects] == ["one", "two"]
    assert decision.warnings == ["field 'origin' set by rule 'one' and by rule 'two'"]
    assert next(r for r in decision.rules if r.rule == "off").skipped == "disabled"


def test_unmapped_field_is_an_action_error_not_a_crash():
    rulebook = book("""
        version: 1
        fields: {origin: {jira: customfield_10050}}
        rules:
          - name: one
            on: [ticket.created]
            if: [origin is empty]
            then: [{set: {origin: internal}}, {comment: {body: "still runs"}}]
    """)
    decision = evaluate(rulebook, event("ticket.created"), ticket(), T0)
    trace = decision.rules[0]
    # An unmapped custom field cannot be read: its conditions are false, nothing is written.
    assert trace.conditions == [("origin is empty", False)] and decision.effects == []
    rulebook = book("""
        version: 1
        fields: {origin: {jira: customfield_10050}}
        rules:
          - name: one
            on: [ticket.created]
            then: [{set: {origin: internal}}, {comment: {body: "still runs"}}]
    """)
    decision = evaluate(rulebook, event("ticket.created"), ticket(), T0)
    assert [a.outcome for a in decision.rules[0].actions] == [
        "error: field 'origin' has no mapping for redmine", "planned"]
    assert [e.action for e in decision.effects] == ["comment"]
