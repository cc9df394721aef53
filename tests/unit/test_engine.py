import json
import textwrap

from rules.engine import Decision, effect_key, evaluate
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
        "Failure origin": "unknown", "Triage": "received 2026-03-02T09:00:00+00:00"},
        "previous": {"Failure origin": "unknown", "Triage": None}}
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
    assert [(c.text, c.result, c.actual) for c in waiting.conditions] == [
        ("project = support", False, "development | Development")]  # AND stops at the first false
    triage = next(r for r in decision.rules if r.rule == "triage new incidents")
    assert not triage.triggered
    text = decision.format()
    assert "rule 'waiting for customer': not matched" in text
    assert "[ ] project = support  (development | Development)" in text


def test_change_rule_and_template_values():
    changed = event("ticket.updated", "ticket.commented",
                    changes=(Change("cf:Failure origin", "unknown", "internal", field_id="1"),),
                    comment=Comment("root cause found"), actor=Person("6", "agent", "Alice Agent"))
    decision = evaluate(example(), changed, ticket(custom_fields={"Failure origin": "internal"}), T0)
    assert [e.rule for e in decision.effects] == ["origin classified"]
    assert decision.effects[0].params["body"] == \
        "ticketwarden: failure origin classified as internal by Alice Agent."
    traced = {r["rule"]: r for r in decision.to_dict()["rules"]}
    assert traced["origin classified"]["conditions"] == [
        {"condition": "project = support", "result": True, "actual": "support | Support", "depth": 0},
        {"condition": "origin changed", "result": True, "actual": "unknown → internal", "depth": 0},
        {"condition": "origin is not empty", "result": True, "actual": "internal", "depth": 0},
        {"condition": "origin != unknown", "result": True, "actual": "internal", "depth": 0}]


def test_the_audit_trace_names_rules_not_triggered_and_reads_back_the_same():
    changed = event("ticket.updated", changes=(Change("status", "New", "In Progress"),))
    decision = evaluate(example(), changed, ticket(), T0)
    record = decision.to_dict()
    idle = [r.rule for r in decision.rules if not r.triggered and r.depth == 0]
    assert idle and record["not_triggered"]["0"] == idle
    assert all(r["triggered"] for r in record["rules"])  # full entries only for rules the event triggered
    back = Decision.from_dict(json.loads(json.dumps(record)))
    assert back.format() == decision.format() and back.format(verbose=False) == decision.format(verbose=False)
    assert f"  not triggered: {', '.join(idle)}" in decision.format()
    assert "not triggered" not in decision.format(verbose=False)


def test_an_audit_record_with_every_rule_in_full_still_reads():
    """Records written before rules not triggered were listed by name only."""
    decision = evaluate(example(), event("ticket.updated", changes=(Change("status", "New", "In Progress"),)),
                        ticket(), T0)
    record = decision.to_dict()
    full = {r.rule: r for r in decision.rules}
    record["rules"] = [{"rule": r.rule, "depth": r.depth, "triggered": r.triggered, "matched": r.matched,
                        "skipped": r.skipped, "conditions": [], "actions": []}
                       if not r.triggered else next(x for x in record["rules"] if x["rule"] == r.rule)
                       for r in full.values()]
    del record["not_triggered"]
    assert Decision.from_dict(record).format() == decision.format()


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
    assert [(c.text, c.result, c.actual) for c in trace.conditions] == [
        ("origin is empty", False, "origin has no mapping for redmine")] and decision.effects == []
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


def test_rules_react_to_each_others_changes_in_one_decision():
    rulebook = book("""
        version: 1
        fields: {origin: "Failure origin"}
        rules:
          - name: urgent incidents wait on the network team
            on: [ticket.created]
            if: [priority = Urgent]
            then: [{transition: {status: "In Progress"}}]
          - name: note work started
            on: [ticket.updated]
            if: [status changed_to "In Progress", actor = ticketwarden]
            then: [{comment: {body: "Work started ({{ event.changes[0].old }} → {{ ticket.status }})."}}]
    """)
    decision = evaluate(rulebook, event("ticket.created", event_id="e1"), ticket(priority="Urgent"), T0)
    assert [(e.action, e.rule) for e in decision.effects] == [
        ("transition", "urgent incidents wait on the network team"), ("comment", "note work started")]
    assert decision.effects[1].params["body"] == "Work started (New → In Progress)."
    note = next(r for r in decision.rules if r.rule == "note work started" and r.matched)
    assert note.depth == 1
    # The chained effect's key is as stable as any other.
    again = evaluate(rulebook, event("ticket.created", event_id="e1"), ticket(priority="Urgent"), T0)
    assert [e.key for e in again.effects] == [e.key for e in decision.effects]


def test_the_chain_limit_stops_rules_that_trigger_each_other():
    # Rules certain to loop do not load; these loop on support tickets only (a warning at load).
    rulebook = book("""
        version: 1
        chain_limit: 3
        rules:
          - name: ping
            on: [ticket.updated]
            if: [project = support, status changed_to Feedback]
            then: [{transition: {status: New}}]
          - name: pong
            on: [ticket.updated]
            if: [status changed_to New]
            then: [{transition: {status: Feedback}}]
    """)
    start = event("ticket.updated", changes=(Change("status", "New", "Feedback"),))
    decision = evaluate(rulebook, start, ticket(status="Feedback"), T0)
    assert [e.rule for e in decision.effects] == ["ping", "pong", "ping", "pong"]
    assert decision.warnings == [
        "chain limit of 3 reached: rules kept changing the ticket (last changes: status); stopped there"]


def test_setting_a_field_to_its_value_ends_the_chain():
    rulebook = book("""
        version: 1
        fields: {origin: "Failure origin"}
        rules:
          - name: keep unknown
            on: [ticket.updated]
            then: [{set: {origin: unknown}}]
    """)
    decision = evaluate(rulebook, event("ticket.updated"), ticket(), T0)
    assert len(decision.effects) == 1 and decision.warnings == []


def test_scheduled_rules_run_without_a_ticket():
    from rules.engine import evaluate_scheduled

    rulebook = book("""
        version: 1
        rules:
          - name: monday reminder
            on: [{schedule: "0 8 * * mon"}]
            then: [{notify: {channel: chat, message: "Weekly review at {{ now | localtime('Europe/Madrid') }}"}}]
    """)
    decision = evaluate_scheduled(rulebook, "monday reminder", T0, T0)
    [effect] = decision.effects
    assert effect.params == {"channel": "chat", "message": "Weekly review at 2026-03-02 10:00 CET",
                             "ticket": None, "rule": "monday reminder"}
    assert evaluate_scheduled(rulebook, "no such rule", T0, T0).ignored
