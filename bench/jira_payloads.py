"""Real Jira Cloud webhook bodies (tests/payloads/jira), made unique per issue and moved into the
example rulebook's world (project SUP, an Incident, its people as the stand-in Jira knows them).

The recorded envelopes are kept (event names, changelog item shapes, the fields Jira sends that
nobody reads); what rules look at is rewritten, or no rule would fire: the recordings are of a
Task in project KAN and of another site's project. Intake deduplicates on the issue id (creation)
and the changelog id (update), so each benchmarked delivery gets its own.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime
from typing import Any

from bench.common import ROOT
from bench.standin_jira import (
    AGENT,
    API,
    CREATED,
    CUSTOMER,
    SITE,
    STATUSES,
    UPDATED,
    issue_fields,
    option_json,
    user_json,
)
from webhooks.signatures import sign

PAYLOADS = os.path.join(ROOT, "tests", "payloads", "jira")
CHANGELOG_BASE = 1_000_000  # changelog ids far from issue ids, so the two never meet
SECRET = "bench-jira-secret"  # noqa: S105 - loopback only: the app is given it, deliveries are signed with it


def recorded(name: str) -> dict[str, Any]:
    """The `body` of one recorded delivery."""
    with open(os.path.join(PAYLOADS, name), encoding="utf-8") as handle:
        body: dict[str, Any] = json.load(handle)["body"]
    return body


def _epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _with_issue(body: dict[str, Any], issue_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """The body about SUP-<id>: the stand-in's fields over the recorded ones (kept as noise)."""
    issue = body["issue"]
    issue.update(id=str(issue_id), key=f"SUP-{issue_id}", self=f"{SITE}{API}/issue/{issue_id}")
    issue["fields"].update(fields)
    issue["fields"].pop("comment", None)  # webhooks carry no comment page
    return body


def created(issue_id: int, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """jira:issue_created (cloud-issue-created.json) of SUP-<id>, reported by the customer."""
    body = copy.deepcopy(template or recorded("cloud-issue-created.json"))
    body["timestamp"] = _epoch_millis(CREATED)
    body["user"] = user_json(CUSTOMER)
    for item in body["changelog"]["items"]:  # who the creation names: the stand-in's people
        if item.get("fieldId") in ("assignee", "reporter"):
            who = AGENT if item["fieldId"] == "assignee" else CUSTOMER
            item.update(to=who, toString=user_json(who)["displayName"], tmpToAccountId=who)
        elif item.get("fieldId") == "status":
            item.update(to=STATUSES["To Do"][0])
    body["changelog"]["id"] = str(CHANGELOG_BASE + 2 * issue_id)
    return _with_issue(body, issue_id, issue_fields(issue_id, "To Do", None, CREATED))


def status_changed(issue_id: int, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """jira:issue_updated (cloud-issue-updated-status.json: a transition) of SUP-<id> by the agent:
    To Do -> Waiting for customer, and the failure origin classified in the same change."""
    body = copy.deepcopy(template or recorded("cloud-issue-updated-status.json"))
    body["timestamp"] = _epoch_millis(UPDATED)
    body["user"] = user_json(AGENT)
    status = body["changelog"]["items"][0]
    status.update(**{"from": STATUSES["To Do"][0], "fromString": "To Do", "to": STATUSES["Waiting for customer"][0],
                     "toString": "Waiting for customer"})
    origin = option_json("customfield_10050", "infrastructure")
    body["changelog"]["items"] = [status, {"field": "Failure origin", "fieldtype": "custom",
                                           "fieldId": "customfield_10050", "from": None, "fromString": None,
                                           "to": origin["id"], "toString": "infrastructure"}]
    body["changelog"]["id"] = str(CHANGELOG_BASE + 2 * issue_id + 1)
    return _with_issue(body, issue_id, issue_fields(issue_id, "Waiting for customer", "infrastructure", UPDATED))


def signed(body: dict[str, Any], identifier: str) -> tuple[bytes, dict[str, str]]:
    """The bytes to post and the headers Jira sends with them (an admin webhook with a secret)."""
    data = json.dumps(body).encode()
    return data, {"Content-Type": "application/json", "User-Agent": "Atlassian Webhook HTTP Client",
                  "X-Atlassian-Webhook-Flow": "Primary", "X-Atlassian-Webhook-Identifier": identifier,
                  "X-Hub-Signature": sign(data, SECRET)}
