"""The JSON Schema is as strict as the loader can be without the tracker, and says where.

An editor shows a schema error at the path it names, so a mistake must be reported at its own
key (a wrong key inside `comment: {...}` at that `comment`, not at the rule), and a rulebook
the loader accepts must never be flagged.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jsonschema.exceptions import best_match

from rules.actions import ACTIONS
from rules.conditions import STANDARD_FIELDS, ConditionContext, ConditionSyntaxError, parse_condition
from rules.durations import DURATION_PATTERN, SPAN_PATTERN, DurationError, parse_duration, parse_span
from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook
from rules.schema import CONDITION_PATTERN, CONDITION_PIECE_PATTERN
from rules.source import parse_yaml
from tests.conftest import ROOT
from ticketwarden.gendocs import SCHEMA

VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
VALID = sorted((ROOT / "examples" / "rulebooks").glob("*.yaml")) + sorted((ROOT / "tests" / "rulebooks" / "valid")
                                                                        .glob("*.yaml"))
BASE = """\
version: 1
fields: {origin: Failure origin}
calendars: {c: {timezone: UTC, hours: 24x7}}
"""


def as_json(text: str) -> Any:
    """The document as an editor's YAML 1.2 reading gives it to the schema."""
    return json.loads(json.dumps(parse_yaml(text)))


def rule(body: str) -> str:
    """BASE with one rule named r made of `body`."""
    return BASE + "rules:\n  - name: r\n" + textwrap.indent(textwrap.dedent(body), "    ")


def where(text: str) -> list[Any] | None:
    """The path of the error an editor would show first (None: the schema accepts the text)."""
    error = best_match(VALIDATOR.iter_errors(as_json(text)))
    return None if error is None else list(error.absolute_path)


@pytest.mark.parametrize("path", VALID, ids=lambda path: path.name)
def test_every_shipped_and_valid_rulebook_passes_the_schema(path: Path):
    text = path.read_text()
    load_rulebook([(str(path), text)])
    assert [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(as_json(text))] == []


def test_a_quoted_on_is_the_same_key():
    """`on:` is a key for ticketwarden and YAML 1.2 editors; YAML 1.1 tools read it as true,
    and `"on":` is the same key for everyone."""
    text = rule('"on": [ticket.created]\nthen: [{comment: {body: x}}]\n')
    load_rulebook([("quoted.yaml", text)])
    assert where(text) is None
    assert True in yaml.safe_load(rule("on: [ticket.created]\nthen: [{comment: {body: x}}]\n"))["rules"][0]


BROKEN = [
    ("unknown section", BASE + "rulez: []\n", []),
    ("wrong version", "version: 2\n", ["version"]),
    ("chain limit out of range", BASE + "chain_limit: 0\n", ["chain_limit"]),
    ("unknown trigger", rule("on: [ticket.exploded]\nthen: [{comment: {body: x}}]\n"), ["rules", 0, "on", 0]),
    ("no trigger", rule("on: []\nthen: [{comment: {body: x}}]\n"), ["rules", 0, "on"]),
    ("cron of four fields", rule("on: [{schedule: '0 9 * *'}]\nthen: [{notify: {channel: a, message: b}}]\n"),
     ["rules", 0, "on", 0, "schedule"]),
    ("empty rule name", BASE + "rules: [{name: '', on: ticket.created, then: [{comment: {body: x}}]}]\n",
     ["rules", 0, "name"]),
    ("no actions", rule("on: ticket.created\nthen: []\n"), ["rules", 0, "then"]),
    ("unknown action", rule("on: ticket.created\nthen: [{coment: {body: x}}]\n"), ["rules", 0, "then", 0]),
    ("two actions in one item", rule("on: ticket.created\nthen: [{comment: {body: x}, assign: {to: y}}]\n"),
     ["rules", 0, "then", 0]),
    ("unknown key in an action", rule("on: ticket.created\nthen: [{comment: {bdy: x}}]\n"),
     ["rules", 0, "then", 0, "comment"]),
    ("missing key in an action", rule("on: ticket.created\nthen: [{comment: {private: true}}]\n"),
     ["rules", 0, "then", 0, "comment"]),
    ("wrong type in an action", rule("on: ticket.created\nthen: [{comment: {body: x, private: 'yes'}}]\n"),
     ["rules", 0, "then", 0, "comment", "private"]),
    ("unknown choice in an action", rule("on: ticket.created\nthen: [{link: {to: '#1', relation: blocker}}]\n"),
     ["rules", 0, "then", 0, "link", "relation"]),
    ("malformed duration", rule("on: ticket.created\nthen: [{survey: {expires: soon}}]\n"),
     ["rules", 0, "then", 0, "survey", "expires"]),
    ("empty duration", rule("on: ticket.created\nthen: [{survey: {expires: ''}}]\n"),
     ["rules", 0, "then", 0, "survey", "expires"]),
    ("set nothing", rule("on: ticket.created\nthen: [{set: {}}]\n"), ["rules", 0, "then", 0, "set"]),
    ("set a list", rule("on: ticket.created\nthen: [{set: {origin: [a]}}]\n"),
     ["rules", 0, "then", 0, "set", "origin"]),
    ("unknown record part", rule("on: ticket.created\nthen: [{nonconformity: {project: q, cause: c, subject: s, "
                                 "record_fields: {clase: origin}}}]\n"),
     ["rules", 0, "then", 0, "nonconformity", "record_fields"]),
    ("malformed report window", rule("on: [{schedule: '0 9 1 * *'}]\n"
                                     "then: [{publish_report: {tracker: redmine, project: q, window: lastmonth}}]\n"),
     ["rules", 0, "then", 0, "publish_report", "window"]),
    ("condition with ==", rule("on: ticket.created\nif: [status == Feedback]\nthen: [{comment: {body: x}}]\n"),
     ["rules", 0, "if", 0]),
    ("condition without operator", rule("on: ticket.created\nif: [urgent]\nthen: [{comment: {body: x}}]\n"),
     ["rules", 0, "if", 0]),
    ("condition with `is`", rule("on: ticket.created\nif: [{any: [status is New]}]\nthen: [{comment: {body: x}}]\n"),
     ["rules", 0, "if", 0, "any", 0]),
    ("unknown group", rule("on: ticket.created\nif: [status = New, {anyy: [status = New]}]\n"
                           "then: [{comment: {body: x}}]\n"), ["rules", 0, "if", 1]),
    ("empty group", rule("on: ticket.created\nif: [{not: []}]\nthen: [{comment: {body: x}}]\n"),
     ["rules", 0, "if", 0, "not"]),
    ("measured rule on an event", rule("on: [ticket.created]\nmeasure: {by: team}\n"
                                       "then: [{notify: {channel: a, message: b}}]\n"), ["rules", 0, "on", 0]),
    ("malformed measure window", rule("on: [{schedule: '0 9 * * *'}]\nmeasure: {window: last month}\n"
                                      "then: [{notify: {channel: a, message: b}}]\n"),
     ["rules", 0, "measure", "window"]),
    ("scheduled rule with a ticket action", rule("on: [{schedule: '0 9 * * *'}]\nthen: [{comment: {body: b}}]\n"),
     ["rules", 0, "then", 0]),
    ("scheduled rule with conditions", rule("on: {schedule: '0 9 * * *'}\nif: [status = New]\n"
                                            "then: [{notify: {channel: a, message: b}}]\n"), ["rules", 0, "if"]),
    ("empty target", BASE + "sla: {r: {calendar: c, stop: [], targets: [{target: ''}]}}\n",
     ["sla", "r", "targets", 0, "target"]),
    ("malformed target", BASE + "sla: {r: {calendar: c, stop: [], targets: [{target: four hours}]}}\n",
     ["sla", "r", "targets", 0, "target"]),
    ("malformed warn_at", BASE + "sla: {r: {calendar: c, stop: [], targets: [{target: 4h}], warn_at: eighty}}\n",
     ["sla", "r", "warn_at"]),
    ("unknown weekday", BASE.replace("24x7", "{monday: ['09:00-17:00']}"), ["calendars", "c", "hours"]),
    ("malformed range", BASE.replace("24x7", "{mon: ['9-5']}"), ["calendars", "c", "hours", "mon", 0]),
    ("range past midnight", BASE.replace("24x7", "{mon: '09:00-25:00'}"), ["calendars", "c", "hours", "mon"]),
    ("malformed holiday", BASE.replace("24x7}", "24x7, holidays: {dates: [2026-13-01]}}"),
     ["calendars", "c", "holidays", "dates", 0]),
    ("malformed special day", BASE.replace("24x7}", "24x7, special: {12/24: []}}"), ["calendars", "c", "special"]),
    ("field for no tracker", BASE.replace("origin: Failure origin", "origin: {values: [a]}"), ["fields", "origin"]),
    ("unknown message", BASE + "messages: {en: {survey.invitaton: x}}\n", ["messages", "en"]),
    ("unknown language", BASE + "messages: {fr: {survey.invitation: x}}\n", ["messages"]),
]


@pytest.mark.parametrize("text, path", [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_a_mistake_is_reported_at_its_key(text, path):
    with pytest.raises(RulebookInvalid):
        load_rulebook([("broken.yaml", text)])
    assert where(text) == path


@pytest.mark.parametrize("name", list(ACTIONS))
def test_an_unknown_key_inside_any_action_is_reported_at_that_action(name):
    (options,) = yaml.safe_load(ACTIONS[name].example)[0].values()
    bad = "not a field!" if name == "set" else "bogus"
    item = json.dumps({name: {**options, bad: "x"}})
    assert where(BASE + f"rules: [{{name: r, on: ticket.created, then: [{item}]}}]\n") == \
        ["rules", 0, "then", 0, name]


# -- conditions and durations: whatever the loader reads, the schema lets through ---------------

CONTEXT = ConditionContext(custom_fields={"origin": {}, "team": {}}, sla_policies=("resolution",))
FIELDS = st.sampled_from([*STANDARD_FIELDS, "origin", "team", "sla.resolution", "development.status",
                          "jsm.time_to_resolution", "jsm.time_to_resolution.remaining", "record.owner"])
OPERATORS = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "~=", "in", "not in", "is empty", "is not empty",
                             "changed", "changed_to", "changed_from", "contains", "added", "removed",
                             "==", "=>", "is", "~", "equals", "not  in", "is  not empty"])
SPACES = st.sampled_from(["", " ", "  ", "\t"])
VALUES = st.text(alphabet="ab 1-2.:()\",'=<>!~%|", max_size=12)


@given(SPACES, FIELDS, SPACES, OPERATORS, SPACES, VALUES, SPACES)
def test_every_condition_the_loader_reads_passes_the_schema(lead, field, gap, op, space, value, tail):
    text = f"{lead}{field}{gap}{op}{space}{value}{tail}"
    try:
        parse_condition(text, CONTEXT)
    except ConditionSyntaxError:
        return
    assert re.search(CONDITION_PATTERN, text), text
    assert re.search(CONDITION_PIECE_PATTERN, text), text


def test_every_condition_of_the_docs_passes_the_schema():
    """The conditions the reference shows in backticks, one by one."""
    shown = re.findall(r"`([^`\n]+)`", (ROOT / "docs" / "rules.md").read_text())
    readable = []
    for text in shown:
        try:
            parse_condition(text, CONTEXT)
        except ConditionSyntaxError:
            continue
        readable.append(text)
    assert len(readable) > 20
    assert [text for text in readable if not re.search(CONDITION_PATTERN, text)] == []


@given(st.text(alphabet="0123456789wdhmsb ", max_size=10))
def test_a_duration_passes_the_schema_exactly_when_it_parses(text):
    def reads(parse: Any) -> bool:
        try:
            parse(text)
        except DurationError:
            return False
        return True

    for pattern, parse in ((DURATION_PATTERN, parse_duration), (SPAN_PATTERN, parse_span)):
        if re.search(pattern, text):
            assert reads(parse), (pattern, text)
        elif " " not in text.strip():  # the parser drops every space; the schema allows them between parts
            assert not reads(parse), (pattern, text)
