"""The docs and the JSON Schema say what the code does."""

import json
import re
import textwrap

import jsonschema
import pytest

from rules.actions import ACTIONS
from rules.reference import render_reference
from rules.schema import TRIGGERS
from tests.conftest import ROOT
from ticketwarden.gendocs import REFERENCE, SCHEMA, TESTS_SCHEMA, render_rule_tests, rule_test_schema_text, schema_text

DOCUMENT = REFERENCE.read_text()
EXAMPLE = ROOT / "examples" / "rulebooks" / "redmine-support.yaml"


def test_the_generated_parts_of_the_reference_are_current():
    assert render_reference(DOCUMENT) == DOCUMENT, "run `make docs`"
    assert render_rule_tests(DOCUMENT) == DOCUMENT, "run `make docs`"


def test_the_message_list_is_current():
    from rules.reference import messages_document
    from ticketwarden.gendocs import MESSAGES

    assert MESSAGES.read_text() == messages_document(), "run `make docs`"


def test_the_shipped_schema_is_current():
    assert SCHEMA.read_text() == schema_text(), "run `make docs`"
    assert TESTS_SCHEMA.read_text() == rule_test_schema_text(), "run `make docs`"


def test_every_action_and_trigger_is_documented():
    for name in ACTIONS:
        assert re.search(rf"^### `{name}`\n", DOCUMENT, re.M), name
    for trigger in TRIGGERS:
        assert f"| `{trigger}` |" in DOCUMENT


def test_the_readme_rule_file_is_valid_and_an_excerpt_of_the_shipped_example():
    from rules.rulebook import load_rulebook

    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```yaml\n(version: 1\n.*?)```", readme, re.S)
    assert shown, "README.md shows no rule file"
    rulebook = load_rulebook([("README.md", shown.group(1))])
    example = load_rulebook([(str(EXAMPLE), EXAMPLE.read_text())])
    shipped = {rule.name for rule in example.rules}
    assert rulebook.rules and all(rule.name in shipped for rule in rulebook.rules), \
        "every rule the README shows is one the shipped example has"


def validator():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "rulebooks").glob("*.yaml"))
                         + sorted((ROOT / "tests" / "rulebooks" / "valid").glob("*.yaml")), ids=lambda p: p.name)
def test_the_schema_accepts_valid_rulebooks(path):
    from rules.source import parse_yaml

    document = json.loads(json.dumps(parse_yaml(path.read_text())))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]
    assert errors == []


@pytest.mark.parametrize("text, where", [
    ("version: 1\nrulez: []\n", []),
    ("version: 1\nrules: [{name: x, on: [ticket.exploded], then: [{comment: {body: x}}]}]\n", ["rules", 0, "on"]),
    ("version: 1\nrules: [{name: x, on: ticket.created, then: [{comment: {bdy: x}}]}]\n", ["rules", 0, "then", 0]),
    ("version: 1\nsla: {r: {calendar: c, stop: [], targets: [{target: four hours}]}}\n",
     ["sla", "r", "targets", 0, "target"]),
    ("version: 1\ncalendars: {c: {timezone: UTC, hours: {mon: [9-5]}}}\n", ["calendars", "c", "hours"]),
])
def test_the_schema_flags_what_the_loader_refuses(text, where):
    from rules.source import parse_yaml

    document = json.loads(json.dumps(parse_yaml(textwrap.dedent(text))))
    errors = list(validator().iter_errors(document))
    assert errors, "the schema accepted an invalid rulebook"
    assert any(list(e.absolute_path)[:len(where)] == where for e in errors), [list(e.absolute_path) for e in errors]
