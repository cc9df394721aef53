"""`check` on rules that set each other off: loops reported, and `--graph` as text and as dot."""

from __future__ import annotations

from click.testing import CliRunner

from tests.conftest import ROOT
from ticketwarden.cli import main

TRIAGE = """\
version: 1
fields: {origin: "Failure origin"}
rules:
  - name: triage
    on: [ticket.created]
    then: [{set: {origin: unknown}}]
  - name: origin reset
    on: [ticket.updated]
    if: [origin changed_to unknown]
    then: [{comment: {private: true, body: "Classify it."}}]
  - name: escalate when urgent
    on: [ticket.updated]
    if: [priority changed_to Urgent]
    then: [{transition: {status: Needs development}}]
"""

LOOPING = """\
version: 1
rules:
  - name: raise urgent
    on: [ticket.updated]
    if: [{condition}priority = Medium]
    then: [{{set: {{priority: High}}}}]
  - name: calm down
    on: [ticket.updated]
    if: [priority = High]
    then: [{{set: {{priority: Medium}}}}]
"""


def check(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def test_graph_as_text_lists_each_rule_with_the_rules_it_can_trigger(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(TRIAGE)
    result = check("--graph", str(rules))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"SUCCESS {rules}: 3 rule(s) in {rules}",
        "rules that can trigger other rules, by the changes they make:",
        f"  'triage' ({rules}:4)",
        "    → 'origin reset': sets origin = unknown",
    ]


def test_graph_as_dot_is_alone_on_stdout(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(TRIAGE)
    result = check("--graph", "--format", "dot", str(rules))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "digraph rules {",
        "  rankdir=LR;",
        "  node [shape=box, style=rounded];",
        f'  "triage" [tooltip="{rules}:4"];',
        f'  "origin reset" [tooltip="{rules}:7"];',
        '  "triage" -> "origin reset" [label="sets origin = unknown"];',
        "}",
    ]
    assert result.stderr == f"SUCCESS {rules}: 3 rule(s) in {rules}\n"


def test_a_certain_loop_fails_the_check_with_its_path(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(LOOPING.format(condition=""))
    result = check("--graph", str(rules))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"FAILED {rules}: 1 error(s)"
    assert lines[1].startswith(f"  {rules}:3: rules → 0: rules 'raise urgent' → 'calm down' → 'raise urgent' "
                               "undo each other forever: 'raise urgent' sets priority = High, which makes "
                               "'calm down' hold (priority = High)")
    assert "`actor != ticketwarden` on 'calm down'" in lines[1]
    assert len(lines) == 2  # no graph for a rulebook that does not load


def test_a_possible_loop_is_a_warning_and_marked_in_the_graph(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(LOOPING.format(condition="project = support, "))
    text = check("--graph", str(rules))
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[1].startswith(f"  warning: {rules}:3: rules → 0: rules 'raise urgent' → 'calm down' → "
                               "'raise urgent' may undo each other forever")
    assert "that depends on project = support" in lines[1]
    assert lines[2:] == [
        "rules that can trigger other rules, by the changes they make:",
        f"  'raise urgent' ({rules}:3)",
        "    → 'calm down': sets priority = High  [loop]",
        f"  'calm down' ({rules}:7)",
        "    → 'raise urgent': sets priority = Medium  [loop]",
    ]
    dot = check("--graph", "--format", "dot", str(rules))
    assert dot.exit_code == 0
    assert ('  "raise urgent" -> "calm down" [label="sets priority = High", color=red, fontcolor=red];'
            in dot.stdout.splitlines())
    assert "warning:" in dot.stderr and "warning:" not in dot.stdout


def test_the_shipped_rulebooks_graph_without_warnings():
    rulebooks = sorted((ROOT / "examples" / "rulebooks").glob("*.yaml"))
    result = check("--graph", *map(str, rulebooks))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output and "[loop]" not in result.output
    assert "    → 'third-party outage named by the customer': sets origin = unknown" in result.output


def test_format_needs_graph(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(TRIAGE)
    result = check("--format", "dot", str(rules))
    assert result.exit_code == 2 and "add --graph" in result.output
