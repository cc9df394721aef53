"""Jira issue JSON to the Ticket model: what the recorded payloads do not show."""

from __future__ import annotations

from connector.jira_payloads import ticket_from_issue

NAMES = {"customfield_10001": "Team", "customfield_10051": "Team", "customfield_10050": "Failure origin"}


def issue(order: list[str]) -> dict:
    values = {"customfield_10001": {"id": "t-1", "name": "Atlassian team"},
              "customfield_10051": {"value": "network"}, "customfield_10050": {"value": "internal"}}
    return {"id": "10001", "key": "SUP-1", "fields": {"summary": "x", **{ident: values[ident] for ident in order}}}


def test_a_field_name_shared_by_two_fields_names_neither():
    """Every Jira Cloud site has a built-in "Team": a rulebook's Team is reached by its id, in
    whatever order Jira lists the fields."""
    for order in (["customfield_10001", "customfield_10051", "customfield_10050"],
                  ["customfield_10051", "customfield_10050", "customfield_10001"]):
        ticket = ticket_from_issue(issue(order), "https://jira.test", NAMES)
        assert ticket.custom_field("customfield_10051") == "network"
        assert ticket.custom_field("Failure origin") == ticket.custom_field("customfield_10050") == "internal"
        assert ticket.custom_field("Team") is None  # ambiguous: never the wrong one
