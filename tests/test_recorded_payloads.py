"""One test over the folder of recorded and crafted Redmine deliveries.

Each file holds a request (headers, body or raw_body, how it authenticates) and what must come
of it: the HTTP answer, and for accepted deliveries the normalised event. Secrets are not in
the files: the test signs or adds the token itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.redmine_payloads import Vocabulary, classify, event_from_body, ticket_from_issue
from ticketwarden.clock import utcnow
from ticketwarden.service import StoreIntake
from webhooks.app import WebhookSettings, create_app
from webhooks.signatures import sign

FOLDER = Path(__file__).parent / "payloads" / "redmine"
TOKEN = "test-token-for-recorded-payloads"
SECRET = "test-secret-for-recorded-payloads"
# The sandbox Redmine's ids, as the recorded payloads carry them.
VOCABULARY = Vocabulary(
    statuses={"1": "New", "2": "In Progress", "3": "Resolved", "4": "Feedback", "5": "Closed", "6": "Rejected"},
    closed_statuses=frozenset({"Closed", "Rejected"}),
    trackers={"1": "Bug", "2": "Feature", "3": "Support", "4": "Incident"},
    priorities={"1": "Low", "2": "Normal", "3": "High", "4": "Urgent", "5": "Immediate"},
    projects={"1": ("support", "Support"), "2": ("development", "Development"), "3": ("quality", "Quality")},
)


def request_of(case: dict) -> tuple[str, dict[str, str], bytes]:
    body = case["raw_body"].encode() if "raw_body" in case else json.dumps(case["body"]).encode()
    headers = {k: v for k, v in case.get("headers", {}).items() if k.lower() not in ("content-length", "host")}
    url = "/webhooks/redmine"
    auth = case["auth"]
    if auth == "token":
        headers["X-Ticketwarden-Token"] = TOKEN
    elif auth == "query-token":
        url += f"?token={TOKEN}"
    elif auth == "bad-token":
        headers["X-Ticketwarden-Token"] = TOKEN + "x"
    elif auth == "signature":
        headers["X-Redmine-Signature-256"] = sign(body, SECRET)
    elif auth == "bad-signature":
        headers["X-Redmine-Signature-256"] = sign(body, SECRET + "x")
    return url, headers, body


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_delivery(path: Path, sqlite_store) -> None:
    case = json.loads(path.read_text())
    expect = case["expect"]
    app = create_app(StoreIntake(sqlite_store, utcnow), WebhookSettings(TOKEN, SECRET))
    url, headers, body = request_of(case)

    response = app.test_client().post(url, data=body, headers=headers)

    assert response.status_code == expect["status"], response.get_json()
    assert response.is_json
    rows = sqlite_store.inbox_rows()
    if expect["status"] != 202:
        assert rows == []  # rejected input is never stored
        assert expect.get("reason_contains", "") in response.get_json()["error"]
        return
    assert response.get_json()["status"] == "accepted"
    assert [row["dedup_key"] for row in rows] == [expect["dedup_key"]]
    assert "X-Ticketwarden-Token" not in json.loads(rows[0]["headers"])
    assert json.loads(rows[0]["body"]) == case["body"]  # stored raw, exactly as received

    again = app.test_client().post(url, data=body, headers=headers)
    assert again.status_code == 202 and again.get_json()["status"] == "duplicate"
    assert len(sqlite_store.inbox_rows()) == 1

    event = event_from_body(case["body"], VOCABULARY)
    assert event.id == expect["dedup_key"] == classify(case["body"]).dedup_key
    assert sorted(event.triggers) == expect["triggers"]
    assert (event.actor.id if event.actor else None) == expect["actor"]
    assert [{"field": c.field, "old": c.old, "new": c.new} for c in event.changes] == expect["changes"]
    comment = {"text": event.comment.text, "private": event.comment.private} if event.comment else None
    assert comment == expect["comment"]
    issue = (case["body"].get("payload") or case["body"]["data"])["issue"]
    if "project" in issue:
        ticket = ticket_from_issue(issue, VOCABULARY, "http://127.0.0.1:3000")
        assert ticket.key == f"#{issue['id']}" and ticket.project == "support"
        assert ticket.status == issue["status"]["name"]
        assert ticket.is_closed == (ticket.status in ("Closed", "Rejected"))
