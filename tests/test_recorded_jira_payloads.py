"""One test over the folder of recorded and crafted Jira deliveries (Cloud and Server/DC).

Besides the intake's answer, each case may say what ticketwarden sees in it: the event (its
time, given `received_at` when the delivery carries no `timestamp`; its changes with the
values that came and went and the people they name), `conditions` that must hold or not
against it (`fields` maps logical names to its custom fields) and `templates` with what they
render to, so the rule language is tested on the trackers' own shapes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connector.jira_payloads import classify, event_from_body, ticket_from_issue
from rules.conditions import ConditionContext, Facts, evaluate_condition, parse_condition
from rules.model import Change, Event, Ticket
from rules.people import StaffDefinition
from rules.templates import compile_template, render, template_context
from ticketwarden.clock import utcnow
from ticketwarden.service import StoreIntake
from webhooks.app import WebhookSettings, create_app
from webhooks.signatures import sign

FOLDER = Path(__file__).parent / "payloads" / "jira"
SECRET = "test-secret-for-recorded-jira-payloads"


def request_of(case: dict, body_doc=None, headers=None) -> tuple[dict[str, str], bytes]:
    if body_doc is None and "raw_body" in case:
        body = case["raw_body"].encode()
    else:
        body = json.dumps(body_doc if body_doc is not None else case["body"]).encode()
    all_headers = dict(headers or case.get("headers", {}))
    if case["auth"] == "signature":
        all_headers["X-Hub-Signature"] = sign(body, SECRET)
    elif case["auth"] == "bad-signature":
        all_headers["X-Hub-Signature"] = sign(body, SECRET + "x")
    return all_headers, body


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_jira_delivery(path: Path, sqlite_store) -> None:
    case = json.loads(path.read_text())
    expect = case["expect"]
    web = create_app(StoreIntake(sqlite_store, utcnow), WebhookSettings(jira_secret=SECRET)).test_client()
    headers, body = request_of(case)

    response = web.post("/webhooks/jira", data=body, headers=headers)

    assert response.status_code == expect["status"], response.get_json()
    if expect["status"] != 202:
        assert sqlite_store.inbox_rows() == []
        assert expect["reason_contains"] in response.get_json()["error"]
        return
    rows = sqlite_store.inbox_rows()
    assert [(row["source"], row["dedup_key"]) for row in rows] == [("jira", expect["dedup_key"])]
    for extra in case.get("also", []):  # retries and the other half of a comment pair
        extra_headers, extra_body = request_of(case, extra.get("body", case["body"]), extra["headers"])
        again = web.post("/webhooks/jira", data=extra_body, headers=extra_headers)
        assert again.status_code == 202 and again.get_json()["status"] == "duplicate", extra["why"]
    assert len(sqlite_store.inbox_rows()) == 1

    identifier = headers.get("X-Atlassian-Webhook-Identifier")
    names = {"customfield_10050": "Failure origin", **case.get("field_names", {})}
    received = datetime.fromisoformat(case["received_at"]) if "received_at" in case else None
    event = event_from_body(case["body"], names, identifier, received_at=received)
    assert event.id == expect["dedup_key"] == classify(case["body"], identifier).dedup_key
    assert sorted(event.triggers) == expect["triggers"]
    assert (event.actor.id if event.actor else None) == expect["actor"]
    if "actor_login" in expect:
        assert event.actor is not None and event.actor.login == expect["actor_login"]
    assert event.occurred_at.year > 1970
    if "occurred_at" in expect:
        assert event.occurred_at == datetime.fromisoformat(expect["occurred_at"])
    assert [shown(c, wanted) for c, wanted in zip(event.changes, expect["changes"], strict=False)] == expect["changes"]
    assert len(event.changes) == len(expect["changes"])
    comment = {"text": event.comment.text, "private": event.comment.private} if event.comment else None
    assert comment == expect["comment"]
    issue = case["body"].get("issue")
    ticket = ticket_from_issue(issue, "https://jira.example.test", names) if issue else None
    if "ticket" in expect:
        assert ticket is not None
        assert {k: getattr(ticket, k) for k in expect["ticket"]} == expect["ticket"]
        assert ticket.url == f"https://jira.example.test/browse/{ticket.key}"
    seen = [[text, holds(text, expect.get("fields", {}), ticket, event)] for text, _ in expect.get("conditions", [])]
    assert seen == expect.get("conditions", [])
    rendered = [[text, rendered_by(text, ticket, event)] for text, _ in expect.get("templates", [])]
    assert rendered == expect.get("templates", [])


def shown(change: Change, wanted: dict[str, Any]) -> dict[str, Any]:
    """A change as the case writes it: field, old, new; the values that came and went, and
    the ids of the people it names, where the case lists them."""
    view: dict[str, Any] = {"field": change.field, "old": change.old, "new": change.new}
    if "added" in wanted or change.of_values:
        view.update(added=list(change.added), removed=list(change.removed))
    for side in ("old_person", "new_person"):
        if side in wanted or getattr(change, side) is not None:
            who = getattr(change, side)
            view[side] = who.id if who else None
    return view


def holds(text: str, fields: dict[str, str], ticket: Ticket | None, event: Event) -> bool:
    assert ticket is not None, "conditions need the delivery's issue"
    condition = parse_condition(text, ConditionContext(custom_fields={name: {"jira": ref}
                                                                      for name, ref in fields.items()}))
    facts = Facts(ticket, event, event.occurred_at, dict(fields), StaffDefinition().role_of)
    return evaluate_condition(condition, facts)[0]


def rendered_by(text: str, ticket: Ticket | None, event: Event) -> str:
    assert ticket is not None, "templates need the delivery's issue"
    return render(compile_template(text), template_context(ticket, event, {}, event.occurred_at, "case"))
