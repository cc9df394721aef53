import textwrap

import pytest

from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook
from tests.conftest import EXAMPLE_RULEBOOK


def load(text: str, name: str = "book.yaml"):
    return load_rulebook([(name, textwrap.dedent(text))])


def errors_of(text: str, name: str = "book.yaml") -> list[str]:
    with pytest.raises(RulebookInvalid) as caught:
        load(text, name)
    return [str(error) for error in caught.value.errors]


def test_example_rulebook_loads():
    book = load_rulebook([(str(EXAMPLE_RULEBOOK), EXAMPLE_RULEBOOK.read_text())])
    assert [rule.name for rule in book.rules] == [
        "triage new incidents", "waiting for customer", "origin classified"]
    assert book.fields["origin"] == {"redmine": "Failure origin", "jira": "customfield_10050"}
    assert book.field_refs("redmine")["team"] == "Team"


def test_on_is_a_key_not_a_boolean():
    book = load("""
        version: 1
        rules:
          - name: r
            on: ticket.created
            then: [{comment: {body: hi}}]
    """)
    assert book.rules[0].triggers == frozenset({"ticket.created"})


def test_every_error_at_once_with_file_line_and_path():
    errors = errors_of("""
        version: 1
        fields:
          origin: {redmine: "Failure origin", github: x}
        rules:
          - name: first
            on: [ticket.created, ticket.exploded]
            if:
              - statuz = New
              - origin ~= "(("
            then:
              - comment: {body: "{{ ticket.subjet }}"}
              - set: {colour: red}
              - frobnicate: {}
          - name: first
            on: [ticket.updated]
            then:
              - comment: {bodyy: x}
    """, name="rules/support.yaml")
    assert errors == [
        "rules/support.yaml:4: fields → origin → github: unknown tracker (expected: redmine, jira)",
        "rules/support.yaml:7: rules → 0 → on → 1: unknown trigger 'ticket.exploded' (expected one of: "
        "ticket.created, ticket.updated, ticket.commented, ticket.closed, ticket.reopened)",
        "rules/support.yaml:9: rules → 0 → if → 0: unknown field 'statuz' (known: actor, assignee, author, "
        "created, description, origin, priority, project, status, subject, tracker, type, updated)",
        "rules/support.yaml:10: rules → 0 → if → 1: invalid regular expression '((': missing ), "
        "unterminated subpattern at position 1",
        "rules/support.yaml:12: rules → 0 → then → 0 → comment → body: template error: "
        "'dict object' has no attribute 'subjet'",
        "rules/support.yaml:13: rules → 0 → then → 1 → set → colour: unknown field 'colour' (known: status, "
        "priority, subject, description, assignee, origin)",
        "rules/support.yaml:14: rules → 0 → then → 2: unknown action 'frobnicate' (expected one of: set, comment)",
        "rules/support.yaml:15: rules → 1 → name: duplicate rule name 'first' (first defined at rules/support.yaml:6)",
        "rules/support.yaml:18: rules → 1 → then → 0 → comment → bodyy: unknown key (expected one of: body, private)",
        "rules/support.yaml:18: rules → 1 → then → 0 → comment: missing required key 'body'",
    ]


def test_yaml_syntax_error_has_its_line():
    errors = errors_of("version: 1\nrules:\n  - name: [unclosed\n    on: x\n")
    assert len(errors) == 1 and errors[0].startswith("book.yaml:4: YAML syntax error")


def test_duplicate_keys_are_refused():
    errors = errors_of("version: 1\nversion: 1\nrules: []\n")
    assert errors[0].startswith("book.yaml:2: YAML syntax error: duplicate key 'version'")


@pytest.mark.parametrize("text, expected", [
    ("", "book.yaml:1: the file is empty"),
    ("- a\n- b\n", "book.yaml:1: a rule file must be a mapping"),
    ("rules: []\n", "book.yaml:1: missing `version`"),
    ("version: 1\nrulez: []\n", "book.yaml:2: rulez: unknown section"),
    ("version: 1\nlocale: fr\nrules: []\n", "book.yaml:2: locale: unknown locale 'fr'"),
    ("version: 1\nrules: {}\n", "book.yaml:2: rules: expected a list of rules"),
    ("version: 1\nrules:\n  - on: [ticket.created]\n    then: [{comment: {body: x}}]\n",
     "book.yaml:3: rules → 0: missing `name`"),
    ("version: 1\nrules:\n  - name: x\n    on: [ticket.created]\n    enabled: maybe\n"
     "    then: [{comment: {body: x}}]\n",
     "book.yaml:5: rules → 0 → enabled: expected true or false"),
    ("version: 1\nrules:\n  - name: x\n    on: [ticket.created]\n    then: [{comment: {body: x, private: 'yes'}}]\n",
     "book.yaml:5: rules → 0 → then → 0 → comment → private: expected bool, got str"),
    ("version: 1\nrules:\n  - name: x\n    on: [ticket.created]\n    then: [{comment: {body: '{% if %}'}}]\n",
     "book.yaml:5: rules → 0 → then → 0 → comment → body: template error"),
])
def test_single_errors(text, expected):
    errors = errors_of(text)
    assert any(error.startswith(expected) for error in errors), errors


def test_a_directory_is_one_rulebook_with_shared_names():
    first = ("a.yaml", "version: 1\nfields:\n  origin: Failure origin\nrules:\n"
                       "  - name: one\n    on: [ticket.created]\n    then: [{set: {origin: unknown}}]\n")
    second = ("b.yaml", "version: 1\nrules:\n  - name: two\n    on: [ticket.updated]\n"
                        "    if: [origin changed]\n    then: [{comment: {body: x}}]\n")
    book = load_rulebook([first, second])
    assert [rule.name for rule in book.rules] == ["one", "two"]
    assert book.files == ("a.yaml", "b.yaml")
    clash = ("c.yaml", "version: 1\nrules:\n  - name: one\n    on: [ticket.created]\n"
                       "    then: [{comment: {body: x}}]\n")
    with pytest.raises(RulebookInvalid) as caught:
        load_rulebook([first, clash])
    assert str(caught.value.errors[0]) == \
        "c.yaml:3: rules → 0 → name: duplicate rule name 'one' (first defined at a.yaml:5)"
