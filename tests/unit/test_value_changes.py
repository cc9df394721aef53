"""Multi-value fields as sets, and people in changes: the trackers' shapes through the
connectors' pure code into conditions (the recorded Jira deliveries show Jira's; Redmine's
one-detail-per-value journal is here)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from connector.redmine_payloads import event_from_body
from rules.conditions import ConditionContext, Facts, evaluate_condition, parse_condition
from rules.model import Change, Person
from rules.people import StaffDefinition
from tests.helpers import T0, event, ticket
from tests.test_recorded_payloads import VOCABULARY

RECORDED = Path(__file__).parent.parent / "payloads" / "redmine" / "plugin-issue-updated-status-note-field.json"


def redmine_multi_value_delivery() -> dict:
    """The recorded plugin delivery, its issue with a multi-value custom field (the plugin
    sends its value as a list) and its journal with Redmine's details for it: one per value,
    old_value null for an addition, value null for a removal."""
    body = copy.deepcopy(json.loads(RECORDED.read_text())["body"])
    issue, journal = body["payload"]["issue"], body["payload"]["journal"]
    issue["custom_field_values"].append({"custom_field_id": 9, "custom_field_name": "Affected modules",
                                         "value": ["API", "Mobile"]})
    journal["details"] = [
        {"id": 10, "value": "Mobile", "old_value": None, "prop_key": "9", "property": "cf"},
        {"id": 11, "value": None, "old_value": "Web", "prop_key": "9", "property": "cf"},
        {"id": 12, "value": "paused", "old_value": "on_track", "prop_key": "1", "property": "cf"},
    ]
    return body


def holds(text: str, the_event, the_ticket=None) -> bool:
    context = ConditionContext(custom_fields={"modules": {"redmine": "Affected modules"}})
    facts = Facts(the_ticket or ticket(), the_event, T0, {"modules": "Affected modules"}, StaffDefinition().role_of)
    return evaluate_condition(parse_condition(text, context), facts)[0]


def test_a_redmine_multi_value_field_is_one_change_of_its_set():
    found = event_from_body(redmine_multi_value_delivery(), VOCABULARY)
    assert [(c.field, c.old, c.new, c.added, c.removed) for c in found.changes] == [
        ("cf:Affected modules", "API, Web", "API, Mobile", ("Mobile",), ("Web",)),
        ("cf:SLA status", "on_track", "paused", (), ())]
    assert found.changes[0].field_id == "9"
    the_ticket = ticket(custom_fields={"Affected modules": ["API", "Mobile"]},
                        custom_field_ids={"Affected modules": "9"})
    expected = {"modules added Mobile": True, "modules changed_to Mobile": True, "modules removed Web": True,
                "modules changed_from Web": True, "modules added API": False, "modules removed API": False,
                "modules contains api": True, "modules contains Web": False, "modules changed": True}
    assert {text: holds(text, found, the_ticket) for text in expected} == expected


def test_a_redmine_single_value_field_is_unchanged_by_the_set_reading():
    body = copy.deepcopy(json.loads(RECORDED.read_text())["body"])
    found = event_from_body(body, VOCABULARY)
    assert all(not change.of_values for change in found.changes)


@pytest.mark.parametrize("text, expected", [
    ("assignee changed_to jdoe", True),           # login (Data Center)
    ("assignee changed_to JIRAUSER10100", True),  # user key, as the changelog names them
    ("assignee changed_to John Doe", True),       # display name
    ("assignee changed_from Mary Roe", True),
    ("assignee changed_from mroe", True),
    ("assignee added jdoe", True),                # on one value, `added` is `changed_to`
    ("assignee removed jdoe", False),
    ("assignee changed_to mroe", False),
])
def test_people_in_changes_match_by_id_login_or_name(text, expected):
    change = Change("assignee", "Mary Roe", "John Doe", old_person=Person("JIRAUSER10200", "mroe", "Mary Roe"),
                    new_person=Person("JIRAUSER10100", "jdoe", "John Doe"))
    assert holds(text, event(changes=(change,))) is expected


def test_text_fields_do_not_take_contains():
    from rules.conditions import ConditionSyntaxError

    with pytest.raises(ConditionSyntaxError, match="use `~=`"):
        parse_condition("subject contains vpn", ConditionContext())
