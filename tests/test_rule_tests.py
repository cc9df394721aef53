"""`ticketwarden test`: the shipped rule tests pass, and failures read well."""

from __future__ import annotations

import copy
import json
import textwrap

import jsonschema
import pytest
from click.testing import CliRunner

from tests.conftest import EXAMPLE_RULEBOOK, ROOT
from ticketwarden.cli import main

EXAMPLE_TESTS = ROOT / "examples" / "rulebooks" / "tests"


def test_the_example_rulebooks_pass_their_tests():
    result = CliRunner().invoke(main, ["test", "-v", str(EXAMPLE_TESTS)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == f"{len(lines) - 1} passed, 0 failed" and len(lines) > 1
    assert all(line.startswith("PASS ") for line in lines[:-1])


def test_failures_say_what_was_expected_and_what_came(tmp_path):
    test_file = tmp_path / "wrong.test.yaml"
    test_file.write_text(f"""
rulebook: {EXAMPLE_RULEBOOK}
tests:
  - name: expects the wrong priority
    ticket: {{id: "7", project: support, tracker: Incident, priority: High}}
    events:
      - at: 2026-03-02T09:00:00Z
        on: ticket.created
        expect:
          - {{rule: triage new incidents, action: comment, body_contains: "(Low priority)"}}
        expect_not:
          - {{action: set}}
""")
    result = CliRunner().invoke(main, ["test", str(test_file)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"FAIL {test_file}:4 expects the wrong priority"
    assert lines[1] == ("    event 1 (ticket.created at 2026-03-02 09:00 UTC, line 7): expected "
                        "rule='triage new incidents', action='comment', body_contains='(Low priority)'")
    assert lines[2].startswith("      but got: set by 'triage new incidents'")
    assert any(line.startswith("    event 1 (ticket.created at 2026-03-02 09:00 UTC, line 7): did not expect set")
               for line in lines)
    assert lines[-1] == "0 passed, 1 failed"


def test_malformed_test_files_are_errors_with_lines(tmp_path):
    test_file = tmp_path / "broken.test.yaml"
    test_file.write_text(f"""rulebook: {EXAMPLE_RULEBOOK}
tests:
  - name: bad event
    events:
      - at: yesterday
        on: ticket.exploded
        expect: [{{rul: x}}]
""")
    result = CliRunner().invoke(main, ["test", str(test_file)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{test_file}:5: tests → 0 → events → 0 → at: expected an ISO time such as 2026-03-02T09:00:00Z, "
        "got 'yesterday'",
        f"{test_file}:6: tests → 0 → events → 0 → on: unknown trigger 'ticket.exploded' (expected one of: "
        "ticket.created, ticket.updated, ticket.commented, ticket.closed, ticket.reopened, sla.started, "
        "sla.warning, sla.breached, sla.met, development.updated, development.resolved, record.reminder, "
        "record.overdue, record.review_due, survey.answered, sweep or schedule)",
        f"{test_file}:7: tests → 0 → events → 0 → expect → 0 → rul: unknown key: did you mean 'rule'? (expected "
        "one of: rule, action, "
        "set, body, body_contains, private, status, to, channel, message_contains, kind, cause, project, "
        "subject_contains, sources, record)",
        "0 passed, 0 failed, 3 error(s) in test files",
    ]


def test_one_test_file_runs_on_both_trackers_models():
    """The same expectations hold on Redmine's model (fields by name) and Jira's (by id)."""
    from rules.testing import build_cases, read_test_file, run_case
    from ticketwarden.rulefiles import load_paths

    path = EXAMPLE_TESTS / "both-trackers.test.yaml"
    document, errors = read_test_file(str(path), path.read_text())
    assert errors == [] and document is not None
    rulebook = load_paths([EXAMPLE_RULEBOOK])
    cases, errors = build_cases(str(path), document, rulebook)
    assert errors == [] and len(cases) == 6
    first = {case.ticket.tracker_kind: case for case in cases if case.name.startswith("triage")}
    written = {}
    for kind, case in first.items():
        result, decisions = run_case(case, rulebook)
        assert result.passed, result.failures
        written[kind] = sorted(decisions[0].effects[0].params["custom"])
    assert written == {"redmine": ["Failure origin", "Triage"], "jira": ["customfield_10050", "customfield_10052"]}


# -- a rulebook of multi-value fields, records and one SLA clock ------------------------------

RULEBOOK = """
version: 1
fields:
  tags: {redmine: Tags, jira: customfield_10060}
calendars:
  auckland: {timezone: Pacific/Auckland, hours: 24x7}
  ba-office: {timezone: America/Argentina/Buenos_Aires, hours: {mon-fri: ["09:00-18:00"]}}
sla:
  resolution:
    calendar: ba-office
    stop: [status in (Closed)]
    targets: [{target: 8h}]
rules:
  - name: vip came
    on: [ticket.updated]
    if: [labels added vip, labels changed_to vip]
    then: [{comment: {body: vip}}]
  - name: network labelled
    on: [ticket.updated]
    if: [labels contains network]
    then: [{comment: {body: network}}]
  - name: database component came
    on: [ticket.updated]
    if: [category added Database, category contains Database]
    then: [{comment: {body: database}}]
  - name: urgent tag came
    on: [ticket.updated]
    if: [tags added urgent, tags contains legacy]
    then: [{comment: {body: urgent}}]
  - name: record in Auckland
    on: [ticket.created]
    then:
      - nonconformity: {project: quality, cause: "nc-{{ ticket.key }}", subject: x, owner: quality-lead,
                        severity: major, clause: "10.2", due: 2bd, review_after: 5d, calendar: auckland}
  - name: record in UTC
    on: [ticket.closed]
    then:
      - nonconformity: {kind: observation, project: quality, cause: "obs-{{ ticket.key }}", subject: y, due: 30d}
"""


def run_tests(tmp_path, tests, tracker="redmine"):
    """`ticketwarden test` on one test file of `tests` (YAML text) against RULEBOOK."""
    (tmp_path / "rules.yaml").write_text(RULEBOOK)
    test_file = tmp_path / "cases.test.yaml"
    test_file.write_text(f"rulebook: rules.yaml\ntracker: {tracker}\ntests:\n{textwrap.dedent(tests)}")
    result = CliRunner().invoke(main, ["test", str(test_file)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result, test_file


def test_labels_components_and_multi_selects_change_as_sets(tmp_path):
    result, _ = run_tests(tmp_path, """
      - name: values came and went
        ticket: {id: "5"}
        events:
          - at: 2026-03-02T12:00:00Z
            on: ticket.updated
            changes: {labels: [[network], [network, vip]], components: [[], [Database]],
                      tags: [[legacy], [legacy, urgent]]}
            expect: [{rule: vip came}, {rule: network labelled}, {rule: database component came},
                     {rule: urgent tag came}]
            expect_only: true
          - at: 2026-03-02T13:00:00Z
            on: ticket.updated
            changes: {labels: [[network, vip], [vip]], category: [Database, null]}
            expect_not: [{rule: vip came}, {rule: network labelled}, {rule: database component came}]
          - at: 2026-03-02T14:00:00Z
            on: ticket.updated
            changes: {categories: [null, Database]}
            expect: [{rule: database component came}]
    """, tracker="[redmine, jira]")
    assert result.output.splitlines()[-1] == "2 passed, 0 failed", result.output


def test_a_record_s_parts_and_due_dates_are_checked_in_its_calendar_s_time(tmp_path):
    """2bd on Auckland's calendar from 2026-03-03 01:00 NZDT is 2026-03-05 01:00 NZDT, still the
    4th in UTC; with no calendar, dates are UTC's."""
    result, test_file = run_tests(tmp_path, """
      - name: records
        ticket: {id: "5"}
        events:
          - at: 2026-03-02T12:00:00Z
            on: ticket.created
            expect:
              - rule: record in Auckland
                record: {kind: nonconformity, cause: "nc-#5", owner: quality-lead, severity: major, clause: "10.2",
                         due: 2026-03-05, review_due: 2026-03-10}
            expect_not:
              - {rule: record in Auckland, record: {due: 2026-03-04}}
          - at: 2026-03-02T23:30:00Z
            on: ticket.closed
            expect: [{action: nonconformity, record: {kind: observation, due: 2026-04-01}}]
      - name: a due moment is compared as a moment
        events:
          - at: 2026-03-02T12:00:00Z
            on: ticket.created
            expect: [{rule: record in Auckland, record: {due: "2026-03-05T01:00:00+13:00"}}]
            expect_not: [{rule: record in Auckland, record: {due: "2026-03-05T01:00:00Z"}}]
      - name: a record that differs
        events:
          - at: 2026-03-02T12:00:00Z
            on: ticket.created
            expect: [{rule: record in Auckland, record: {due: 2026-03-04, owner: quality-lead, severity: minor}}]
    """)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"FAIL {test_file}:25 a record that differs",
        "    event 1 (ticket.created at 2026-03-02 12:00 UTC, line 27): expected rule='record in Auckland', "
        "record due=2026-03-04, record owner='quality-lead', record severity='minor'",
        "      but its record due: expected 2026-03-04, got 2026-03-05 01:00 NZDT; severity: expected minor, got major",
        "2 passed, 1 failed",
    ]


def test_failures_show_times_in_the_calendar_s_zone_and_durations_in_units(tmp_path):
    result, _ = run_tests(tmp_path, """
      - name: the clock is not where the test thinks
        ticket: {created: "2026-03-02T09:00:00-03:00"}
        events:
          - at: 2026-03-02T12:00:00Z
            on: ticket.created
          - at: 2026-03-02T15:00:00Z
            on: ticket.updated
            sla: {resolution: {due: "2026-03-02T21:00:00Z", elapsed: 1d2h, remaining: 4h, state: running}}
    """)
    where = "    event 2 (ticket.updated at 2026-03-02 15:00 UTC, line 10)"
    assert result.output.splitlines()[1:4] == [
        f"{where}: SLA resolution due: expected 2026-03-02 18:00 -03, got 2026-03-02 17:00 -03",
        f"{where}: SLA resolution elapsed: expected 1d 2h, got 3h",
        f"{where}: SLA resolution remaining: expected 4h, got 5h",
    ]


def test_expectations_naming_rules_the_rulebook_lacks_are_errors_at_their_line(tmp_path):
    result, test_file = run_tests(tmp_path, """
      - name: typos
        events:
          - at: 2026-03-02T12:00:00Z
            on: ticket.updated
            expect: [{rule: network labeled}]
            expect_not:
              - {rule: vip came}
              - {rule: no such rule}
    """)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{test_file}:9: tests → 0 → events → 0 → expect → 0 → rule: unknown rule 'network labeled': "
        "did you mean 'network labelled'?",
        f"{test_file}:12: tests → 0 → events → 0 → expect_not → 1 → rule: unknown rule 'no such rule' "
        "(known: vip came, network labelled, database component came, urgent tag came, record in Auckland, "
        "record in UTC)",
        "0 passed, 0 failed, 2 error(s) in test files",
    ]


# -- malformed test files ---------------------------------------------------------------------

BROKEN_FILE = """rulebook: {rulebook}
tests:
  - name: broken
    ticket: {ticket}
    events:
      - at: 2026-03-02T12:00:00Z
        on: ticket.updated
        {event}
"""
TICKET_LINE, EVENT_LINE = 4, 8
TIME = "expected an ISO time such as 2026-03-02T09:00:00Z, got {!r}"
BROKEN = [  # (ticket, event, line, path, message, the schema sees it too)
    ("{}", "sla: {resolution: {due: tomorrow}}", EVENT_LINE, "events → 0 → sla → resolution → due",
     TIME.format("tomorrow"), True),
    ("{}", "sla: {resolution: {warn: 2026-03-02T18:00:00}}", EVENT_LINE, "events → 0 → sla → resolution → warn",
     "time '2026-03-02T18:00:00' needs a zone (Z or +hh:mm)", True),
    ("{}", "sla: {resolution: {elapsed: three hours}}", EVENT_LINE, "events → 0 → sla → resolution → elapsed",
     "malformed duration 'three hours' (use e.g. 90s, 45m, 4h, 1h30m, 3d, 2w)", True),
    ("{}", "sla: {resolution: {remaining: -soon}}", EVENT_LINE, "events → 0 → sla → resolution → remaining",
     "malformed duration 'soon' (use e.g. 90s, 45m, 4h, 1h30m, 3d, 2w)", True),
    ("{}", "sla: {resolution: {state: late}}", EVENT_LINE, "events → 0 → sla → resolution → state",
     "expected one of: running, paused, met, breached, cancelled; got 'late'", True),
    ("{}", "sla: {resolutoin: {state: met}}", EVENT_LINE, "events → 0 → sla → resolutoin",
     "unknown SLA policy 'resolutoin': did you mean 'resolution'?", False),
    ("{}", "sla: [resolution]", EVENT_LINE, "events → 0 → sla",
     "expected a mapping of SLA policy -> {state, due, warn, target, elapsed, remaining}, got a list", True),
    ("{}", "expect: {rule: vip came}", EVENT_LINE, "events → 0 → expect",
     "expected a list of expectations, got a mapping", True),
    ("{}", "expect: [{record: {due: next week}}]", EVENT_LINE, "events → 0 → expect → 0 → record → due",
     "expected a date such as 2026-04-01 or an ISO time such as 2026-04-01T12:00:00Z, got 'next week'", True),
    ("{}", "expect: [{action: comment, record: {owner: x}}]", EVENT_LINE, "events → 0 → expect → 0 → record",
     "`record` checks what `nonconformity` opens, not `comment`", False),
    ("{}", "expect: [{action: coment}]", EVENT_LINE, "events → 0 → expect → 0 → action",
     "unknown action 'coment': did you mean 'comment'?", False),
    ("{}", "expect: [{set: {tag: x}}]", EVENT_LINE, "events → 0 → expect → 0 → set → tag",
     "unknown field 'tag': did you mean 'tags'?", False),
    ("{}", "warnings: a warning", EVENT_LINE, "events → 0 → warnings", "expected a list of text, got text", True),
    ("{}", "changes: {status: Feedback}", EVENT_LINE, "events → 0 → changes → status",
     "a change is [old, new], got text", True),
    ("{}", "changes: {labels: [[a], {b: c}]}", EVENT_LINE, "events → 0 → changes → labels → 1",
     "expected a list of values, a value or null, got a mapping", True),
    ("{}", "changes: {priority: [[High], Low]}", EVENT_LINE, "events → 0 → changes → priority → 0",
     "expected text or null, got a list", True),
    ("{}", "changes: {colour: [red, blue]}", EVENT_LINE, "events → 0 → changes → colour",
     "unknown field 'colour' (known: status, priority, tracker, project, subject, description, assignee, author, "
     "labels, category, components, categories, fix_versions, tags)", False),
    ("{}", "incidents: [{created: soon}]", EVENT_LINE, "events → 0 → incidents → 0 → created",
     TIME.format("soon"), True),
    ("{}", "incidents: {team: a}", EVENT_LINE, "events → 0 → incidents", "expected a list of incidents, got a mapping",
     True),
    ("{}", "related: {development: {state: Closed}}", EVENT_LINE, "events → 0 → related → development → state",
     "unknown fact 'state' (expected one of: key, url, status, previous_status, resolved, resolution)", True),
    ("{}", "comment: hello", EVENT_LINE, "events → 0 → comment", "expected a mapping with keys: text, private", True),
    ("{}", "actor: {login: a, role: b}", EVENT_LINE, "events → 0 → actor → role",
     "unknown key: did you mean 'roles'? (expected one of: id, login, name, email, groups, roles)", True),
    ("{}", "rule: vip came", EVENT_LINE, "events → 0 → rule", "`rule` names the scheduled rule of `on: schedule`; "
     "to expect a rule's effects, write `expect: [{rule: NAME}]`", False),
    ("{created: 2026-03-02}", "expect: []", TICKET_LINE, "ticket → created", TIME.format("2026-03-02"), True),
    ("{labels: network}", "expect: []", TICKET_LINE, "ticket → labels", "expected a list of text, got text", True),
    ("{jsm: {TTR: {goal: 8 hours}}}", "expect: []", TICKET_LINE, "ticket → jsm → TTR → goal",
     "malformed duration '8 hours' (use e.g. 90s, 45m, 4h, 1h30m, 3d, 2w)", True),
    ("{jsm: {TTR: {completed: yes}}}", "expect: []", TICKET_LINE, "ticket → jsm → TTR → completed",
     "expected a list of cycles, got text", True),
    ("{fields: {tag: x}}", "expect: []", TICKET_LINE, "ticket → fields → tag",
     "unknown field 'tag': did you mean 'tags'?", False),
]


@pytest.mark.parametrize("ticket, event, line, path, message, in_schema", BROKEN, ids=[case[3] for case in BROKEN])
def test_a_malformed_value_is_an_error_at_its_line_and_key(tmp_path, ticket, event, line, path, message, in_schema):
    (tmp_path / "rules.yaml").write_text(RULEBOOK)
    test_file = tmp_path / "broken.test.yaml"
    test_file.write_text(BROKEN_FILE.format(rulebook="rules.yaml", ticket=ticket, event=event))
    result = CliRunner().invoke(main, ["test", str(test_file)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.output.splitlines() == [f"{test_file}:{line}: tests → 0 → {path}: {message}",
                                          "0 passed, 0 failed, 1 error(s) in test files"]


@pytest.mark.parametrize("ticket, event, path", [(case[0], case[1], case[3]) for case in BROKEN if case[5]],
                         ids=[case[3] for case in BROKEN if case[5]])
def test_the_schema_refuses_what_the_runner_refuses(ticket, event, path):
    document = yaml_as_json(BROKEN_FILE.format(rulebook="rules.yaml", ticket=ticket, event=event))
    wanted = ["tests", 0, *[int(part) if part.isdigit() else part for part in path.split(" → ")]]
    flagged = [list(error.absolute_path) for error in schema_of_tests().iter_errors(document)]
    assert any(wanted[:len(where)] == where and len(where) >= len(wanted) - 1 for where in flagged), flagged


def test_no_value_anywhere_makes_the_runner_fail_with_a_traceback():
    """Every value of a test file using every key, replaced in turn by values of each wrong
    shape: the file reads as errors (or runs), never raises."""
    from rules.rulebook import load_rulebook
    from rules.source import parse_yaml
    from rules.testing import build_cases, run_case

    rulebook = load_rulebook([("rules.yaml", RULEBOOK)])
    original = parse_yaml(EVERY_KEY.replace("tracker: [redmine, jira]", "tracker: redmine"))
    cases, errors = build_cases("every.test.yaml", copy.deepcopy(original), rulebook)
    assert errors == [] and len(cases) == 1
    for path in _paths(original):
        for wrong in ("x", 7, True, None, [["y"]], {"x": {"y": 1}}):
            document = copy.deepcopy(original)
            _put(document, path, wrong)
            cases, _ = build_cases("every.test.yaml", document, rulebook)
            for case in cases:
                run_case(case, rulebook)


EVERY_KEY = """
rulebook: rules.yaml
tracker: [redmine, jira]
tests:
  - name: every key
    ticket:
      id: "5"
      project: support
      project_name: Support
      tracker: Incident
      status: New
      priority: High
      subject: s
      description: d
      author: {id: "1", login: carol, name: Carol, email: c@example.test, groups: [g], roles: [r]}
      assignee: alice
      created: "2026-03-02T09:00:00-03:00"
      closed: false
      labels: [network]
      categories: [Database]
      fix_versions: ["1.0"]
      fields: {tags: [legacy]}
      jsm:
        TTR: {breached: false, paused: false, within_calendar_hours: true, goal: 8h, elapsed: 1h, remaining: -1h,
              breach_at: "2026-03-03T20:00:00Z", started: "2026-03-02T12:00:00Z",
              completed: [{breached: true, goal: 2h, stopped: "2026-03-02T13:00:00Z"}]}
    events:
      - at: 2026-03-02T12:00:00Z
        on: [ticket.created]
        actor: {login: alice}
        comment: {text: hi, private: true}
        changes: {status: [New, Open], assignee: [null, bob], labels: [[network], [network, vip]], tags: [a, b]}
        sla_policy: resolution
        related: {development: {status: Closed}, record: {kind: nonconformity}, survey: {score: "2"}}
        expect: [{rule: record in Auckland, action: nonconformity, set: {tags: x}, body: b, body_contains: c,
                  private: true, status: s, to: t, channel: c, message_contains: m, kind: k, cause: c, project: p,
                  subject_contains: s, sources: [a], record: {kind: nonconformity, cause: c, owner: o,
                  severity: s, clause: c, due: 2026-03-05, review_due: "2026-03-10T00:00:00Z"}}]
        expect_not: [{rule: vip came}]
        expect_only: true
        warnings: [w]
        sla: {resolution: {state: running, due: "2026-03-02T20:00:00Z", warn: "2026-03-02T18:00:00Z", target: 8h,
              elapsed: 1h, remaining: -1h}}
      - at: 2026-03-03T12:00:00Z
        on: sweep
      - at: 2026-04-15T09:00:00Z
        on: schedule
        rule: record in UTC
        incidents: [{id: "1", key: "#1", team: t, customer: c, origin: internal, priority: High, project: p,
                     type: Incident, status: New, created: "2026-04-01T10:00:00Z", closed: "2026-04-02T10:00:00Z",
                     breaches: 1, incident: true}]
"""


def _paths(node, path=()):
    """Every path to a value in a parsed document, mappings' and lists' own included."""
    yield path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _paths(value, (*path, key))


def _put(document, path, value):
    if not path:
        return
    *parents, last = path
    for key in parents:
        document = document[key]
    document[last] = value


def yaml_as_json(text):
    from rules.source import parse_yaml

    return json.loads(json.dumps(parse_yaml(text)))


def schema_of_tests():
    from ticketwarden.gendocs import TESTS_SCHEMA

    schema = json.loads(TESTS_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# -- the schema and the reference -------------------------------------------------------------

def test_schema_tests_prints_the_committed_rule_test_schema():
    from ticketwarden.gendocs import TESTS_SCHEMA

    result = CliRunner().invoke(main, ["schema", "--tests"])
    assert result.exit_code == 0 and result.output == TESTS_SCHEMA.read_text()
    assert json.loads(result.output)["title"] == "ticketwarden rule tests"


@pytest.mark.parametrize("path", sorted(EXAMPLE_TESTS.glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_rule_test_file_is_valid_under_the_schema(path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in schema_of_tests().iter_errors(
        yaml_as_json(path.read_text()))]
    assert errors == []


def test_the_schema_accepts_a_file_using_every_key():
    assert list(schema_of_tests().iter_errors(yaml_as_json(EVERY_KEY))) == []


def test_every_key_of_a_test_file_is_in_the_reference():
    from rules.testing import SECTIONS
    from ticketwarden.gendocs import REFERENCE

    document = REFERENCE.read_text()
    section = document[document.index("## Rule tests\n"):]
    for name, options in SECTIONS.items():
        if name in ("jsm-cycle", "comment"):  # the keys of `jsm`, without `completed`; in `comment`'s meaning
            continue
        block = section[section.index(f"<!-- generated: test-{name} -->"):]
        block = block[:block.index("<!-- end generated -->")]
        for key in options:
            assert f"| `{key}` |" in block, (name, key)
