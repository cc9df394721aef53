"""Real redmine_webhook plugin delivery bodies (tests/payloads/redmine), made unique per issue.

Intake deduplicates on the issue id (and journal id), so each benchmarked delivery gets its own.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from bench.common import ROOT
from bench.standin_redmine import CUSTOM_FIELDS

PAYLOADS = os.path.join(ROOT, "tests", "payloads", "redmine")
JOURNAL_BASE = 1_000_000  # journal ids far from issue ids, so the two never meet


def recorded(name: str) -> dict[str, Any]:
    """The `body` of one recorded delivery."""
    with open(os.path.join(PAYLOADS, name), encoding="utf-8") as handle:
        body: dict[str, Any] = json.load(handle)["body"]
    return body


def with_every_field(issue: dict[str, Any]) -> None:
    """Every custom field the stand-in's issues have, as Redmine lists all of an issue's fields
    in a delivery (the recordings predate the sandbox's Triage field)."""
    values = issue["custom_field_values"]
    known = {value["custom_field_name"] for value in values}
    for number, name in enumerate(CUSTOM_FIELDS, start=1):
        if name not in known:
            values.append({"custom_field_id": number, "custom_field_name": name, "value": ""})


def opened(issue_id: int, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """"Issue opened" as the plugin posts it, for issue `issue_id`."""
    body = copy.deepcopy(template or recorded("plugin-issue-opened.json"))
    issue = body["payload"]["issue"]
    with_every_field(issue)
    issue["id"] = issue["root_id"] = issue_id
    issue["subject"] = f"VPN down for customer {issue_id}"
    body["payload"]["url"] = f"http://127.0.0.1/issues/{issue_id}"
    return body


def status_changed(issue_id: int, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """"Issue updated" (New -> Feedback, origin classified, a public note) for issue `issue_id`."""
    body = copy.deepcopy(template or recorded("plugin-issue-updated-status-note-field.json"))
    body["payload"]["issue"]["id"] = issue_id
    with_every_field(body["payload"]["issue"])
    body["payload"]["journal"]["id"] = JOURNAL_BASE + issue_id
    body["payload"]["url"] = f"http://127.0.0.1/issues/{issue_id}"
    return body


def encoded_opened(count: int, first_id: int) -> list[bytes]:
    """`count` distinct "opened" bodies, ready to post."""
    template = recorded("plugin-issue-opened.json")
    return [json.dumps(opened(first_id + n, template)).encode() for n in range(count)]
