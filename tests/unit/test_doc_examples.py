"""Every YAML example in README.md, docs/*.md and docs/es/*.md loads, or is marked as a mistake and fails.

A block that is a whole rulebook (it has `version:`) is loaded as it is. A fragment (a few
sections, rules, one rule's conditions, actions, an action's options) is wrapped into the
smallest rulebook around it, beside a shared file that declares the fields, calendars and SLA
policy the docs' examples refer to. A rule test (`rulebook:` and `tests:`) runs against the
rulebook it names, as `ticketwarden test` would, and so do events shown on their own; a part
of one event (what it expects) is read against that rulebook without running. A block marked
`<!-- example: invalid -->` on the line before its fence shows a mistake: it must fail.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rules.actions import ACTIONS
from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook
from rules.schema import RULE, TOP_LEVEL
from rules.source import YamlSyntaxError, parse_yaml
from rules.testing import EVENT, build_cases, read_test_file, run_case
from tests.conftest import ROOT
from ticketwarden.rulefiles import load_paths

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "es").glob("*.md"))]
INVALID = "<!-- example: invalid -->"
RULE_TESTS = ROOT / "examples" / "rulebooks" / "tests"  # where the docs' rule tests are written from
SHARED = {  # what the docs' examples refer to, by section
    "fields": """\
fields:
  origin: {redmine: "Failure origin", jira: customfield_10050}
  sla_status: {redmine: "SLA status", jira: customfield_10054}
  team: Team
  satisfaction: Satisfaction
  effectiveness: Effectiveness review
  parent: Parent
""",
    "calendars": """\
calendars:
  ba-office:
    timezone: America/Argentina/Buenos_Aires
    hours: {mon-fri: ["09:00-13:00", "14:00-18:00"]}
  always: {timezone: UTC, hours: 24x7}
""",
    "sla": """\
sla:
  resolution: {calendar: ba-office, stop: [status in (Resolved, Closed)], targets: [{target: 24h}]}
""",
}


@dataclass(frozen=True)
class Example:
    document: Path
    line: int
    text: str
    invalid: bool

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def blocks(document: Path, text: str) -> list[Example]:
    """Every ```yaml block of a document, with the line of its fence and its marking."""
    found = []
    for match in re.finditer(r"^```yaml\n(.*?)^```", text, re.S | re.M):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(Example(document, text.count("\n", 0, match.start()) + 1, match.group(1),
                             before.strip() == INVALID))
    return found


EXAMPLES = [example for document in DOCUMENTS for example in blocks(document, document.read_text())]


def indent(text: str, width: int) -> str:
    return textwrap.indent(textwrap.dedent(text), " " * width)


def in_a_rule(body: str, has: set[str] | frozenset[str] = frozenset()) -> str:
    """A rulebook of one rule made of `body` (indented already), given a name, a trigger and an
    action when it `has` none of its own."""
    on = "" if "on" in has else "    on: [ticket.updated]\n"
    then = "" if "then" in has else "    then: [{comment: {body: example}}]\n"
    return f"version: 1\nrules:\n  - name: example\n{on}{then}{body}"


def as_rulebook(text: str, data: Any) -> str | None:
    """The block as a rule file: itself, or wrapped (the text itself, so inline lists stay
    inline); None when it is no part of a rulebook."""
    if isinstance(data, dict):
        keys = set(data)
        if "version" in keys:
            return text
        if keys <= set(TOP_LEVEL):
            return "version: 1\n" + text
        if keys <= set(RULE) - {"name"}:
            return in_a_rule(indent(text, 4), keys)
        action = next((name for name, spec in ACTIONS.items() if spec.options and keys <= set(spec.options)), None)
        if action:
            return in_a_rule(f"    then:\n      - {action}:\n" + indent(text, 10), {"then"})
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        if all("name" in item for item in data):
            return "version: 1\nrules:\n" + indent(text, 2)
        if all(len(item) == 1 and next(iter(item)) in ACTIONS for item in data):
            return in_a_rule("    then:\n" + indent(text, 6), {"then"})
    return None


def as_rule_test(text: str, data: Any) -> tuple[str, bool] | None:
    """The block as a rule test file of the shipped example rulebook, and whether to run it:
    a whole file or a list of events runs; a part of one event (what it expects, say) is only
    checked, since what it expects follows from events the docs leave out. None when the block
    is no part of a rule test."""
    test = "rulebook: ../redmine-support.yaml\ntests:\n  - name: example\n    events:\n"
    if isinstance(data, dict) and "tests" in data:
        return text, True
    if isinstance(data, list) and data and all(isinstance(item, dict) and "at" in item for item in data):
        return test + indent(text, 6), True
    if isinstance(data, dict) and set(data) <= set(EVENT) - {"at"}:
        on = "" if "on" in data else "        on: sweep\n"
        return test + "      - at: 2026-01-01T00:00:00Z\n" + on + indent(text, 8), False
    return None


def problems(example: Example) -> list[str]:
    """What is wrong with the example as the docs show it (empty: it loads, or it passes)."""
    try:
        data = parse_yaml(textwrap.dedent(example.text))
    except YamlSyntaxError as exc:
        return [f"YAML syntax error: {exc}"]
    rulebook = as_rulebook(example.text, data)
    if rulebook is not None:
        return rulebook_problems(example.name, rulebook)
    rule_test = as_rule_test(example.text, data)
    if rule_test is not None:
        return rule_test_problems(example.name, *rule_test)
    return [f"neither a rulebook, nor a part of one, nor a rule test: {textwrap.shorten(example.text, 60)}"]


def rulebook_problems(name: str, text: str) -> list[str]:
    """The load errors of the rule file, beside the shared sections it does not define itself."""
    defined = set(parse_yaml(text))
    shared = "".join(section for key, section in SHARED.items() if key not in defined)
    files = [("shared.yaml", "version: 1\n" + shared)] if shared else []
    try:
        load_rulebook([*files, (name, text)])
    except RulebookInvalid as exc:
        return [str(error) for error in exc.errors]
    return []


def rule_test_problems(name: str, text: str, run: bool) -> list[str]:
    """Errors in the test file, as if written in examples/rulebooks/tests/, and what fails when
    it runs."""
    document, errors = read_test_file(name, text)
    if document is None:
        return [str(error) for error in errors]
    try:
        rulebook = load_paths([(RULE_TESTS / str(document["rulebook"])).resolve()])
    except RulebookInvalid as exc:
        return [str(error) for error in exc.errors]
    cases, errors = build_cases(name, document, rulebook)
    found = [str(error) for error in errors]
    for case in cases if run else ():
        result, _ = run_case(case, rulebook)
        found.extend(f"{result.name}: {failure}" for failure in result.failures)
    return found


def test_the_docs_have_examples_of_each_kind():
    assert len(EXAMPLES) >= 30
    assert any("version:" in example.text for example in EXAMPLES)


def test_a_block_marked_as_a_mistake_is_told_apart():
    """The marker on the line before the fence, and only there, makes a block a mistake."""
    text = ("A mistake:\n\n" + INVALID + "\n```yaml\n- comment: {bdy: x}\n```\n\n"
            "Right:\n\n```yaml\n- comment: {body: x}\n```\n")
    mistake, right = blocks(ROOT / "README.md", text)
    assert (mistake.invalid, mistake.line, right.invalid) == (True, 4, False)
    assert problems(mistake) and not problems(right)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_every_example_in_the_docs_loads(example: Example):
    found = problems(example)
    if example.invalid:
        assert found, f"{example.name} is marked {INVALID} but loads"
    else:
        assert found == [], f"{example.name}:\n" + "\n".join(found)
