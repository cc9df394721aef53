"""`ticketwarden test`: the shipped rule tests pass, and failures read well."""

from __future__ import annotations

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
    assert lines[1] == ("    event 1 (ticket.created at 2026-03-02T09:00:00+00:00, line 7): expected "
                        "rule='triage new incidents', action='comment', body_contains='(Low priority)'")
    assert lines[2].startswith("      but got: set by 'triage new incidents'")
    assert any(line.startswith("    event 1 (ticket.created at 2026-03-02T09:00:00+00:00, line 7): did not expect set")
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
        f"{test_file}:7: tests → 0 → events → 0 → expect → 0 → rul: unknown key (expected one of: rule, action, "
        "set, body, body_contains, private, status, to, channel, message_contains, kind, cause, project, "
        "subject_contains, sources)",
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
