"""One test over the folder of recorded and crafted Jira deliveries (Cloud and Server/DC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.jira_payloads import classify, event_from_body, ticket_from_issue
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
    event = event_from_body(case["body"], {"customfield_10050": "Failure origin"}, identifier)
    assert event.id == expect["dedup_key"] == classify(case["body"], identifier).dedup_key
    assert sorted(event.triggers) == expect["triggers"]
    assert (event.actor.id if event.actor else None) == expect["actor"]
    assert [{"field": c.field, "old": c.old, "new": c.new} for c in event.changes] == expect["changes"]
    comment = {"text": event.comment.text, "private": event.comment.private} if event.comment else None
    assert comment == expect["comment"]
    if "ticket" in expect:
        ticket = ticket_from_issue(case["body"]["issue"], "https://jira.example.test")
        assert {k: getattr(ticket, k) for k in expect["ticket"]} == expect["ticket"]
        assert ticket.url == f"https://jira.example.test/browse/{ticket.key}"
