"""Malformed deliveries: the intake answers 400 with the reason, and one that was stored anyway
(by an earlier version, or a poll) is set aside once with its reason, never retried as if the
tracker were down. On the fake Jira and the sandbox Redmine."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.integration import jira_service, redmine_service
from ticketwarden.service import Application
from webhooks.signatures import sign

PAYLOADS = Path(__file__).parent.parent / "payloads"
SECRET = "malformed-secret"
TOKEN = "malformed-token"
RULES = """
version: 1
rules:
  - {name: note, on: [ticket.updated], then: [{comment: {body: "seen"}}]}
"""


def recorded(tracker: str, name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / tracker / f"{name}.json").read_text())["body"]


def jira_broken() -> dict[str, dict[str, Any]]:
    """The shapes Jira sent that once were answered 503 (and re-sent for ever)."""
    good = recorded("jira", "cloud-issue-updated-status")
    changelog_list = copy.deepcopy(good)
    changelog_list["changelog"] = [good["changelog"]]
    null_item = copy.deepcopy(good)
    null_item["changelog"]["items"] = [None, *good["changelog"]["items"]]
    fields_list = copy.deepcopy(good)
    fields_list["issue"]["fields"] = [fields_list["issue"]["fields"]]
    return {"changelog is a list": changelog_list, "first changelog item is null": null_item,
            "issue fields are a list": fields_list}


@pytest.fixture
def jira(tmp_path, database_url) -> Iterator[Application]:
    fake: FakeJira
    for fake in checked_fake_jira("Cloud"):
        yield from jira_service.serve(fake, RULES, tmp_path, database_url, SECRET)


@pytest.mark.parametrize("case", sorted(jira_broken()))
def test_a_malformed_jira_delivery_is_refused_and_a_stored_one_set_aside_once(jira, case):
    body = json.dumps(jira_broken()[case]).encode()
    answer = jira.app.test_client().post("/webhooks/jira", data=body, headers={"X-Hub-Signature": sign(body, SECRET)})
    assert answer.status_code == 400, answer.get_json()
    assert "malformed delivery" in answer.get_json()["error"]
    assert jira.store.inbox_rows() == []

    # Stored anyway (as an earlier version did): one attempt, then set aside with the reason.
    jira.store.store_delivery(source="jira", shape="webhook", dedup_key=f"jira:malformed:{case}",
                              path="/webhooks/jira", headers={}, body=body, now=jira.clock())
    assert jira.worker.process_inbox() == 1
    [row] = jira.store.inbox_rows()
    assert (row["state"], row["attempts"]) == ("dead", 1), row
    assert row["last_error"].startswith("malformed delivery"), row["last_error"]
    assert jira.worker.process_inbox() == 0 and jira.store.outbox_rows() == []


def test_a_malformed_redmine_delivery_is_refused_and_a_stored_one_set_aside_once(tmp_path, database_url,
                                                                                  redmine_env):
    good = recorded("redmine", "plugin-issue-updated-status-note-field")
    broken = copy.deepcopy(good)
    broken["payload"]["journal"]["details"] = [None, "status_id"]
    body = json.dumps(broken).encode()
    for application, _ in redmine_service.serve(RULES, tmp_path, database_url, redmine_env, webhook_token=TOKEN):
        answer = application.app.test_client().post("/webhooks/redmine", data=body,
                                                    headers={"X-Ticketwarden-Token": TOKEN})
        assert answer.status_code == 400 and "malformed delivery" in answer.get_json()["error"]
        application.store.store_delivery(source="redmine", shape="plugin", dedup_key="redmine:malformed",
                                         path="/webhooks/redmine", headers={}, body=body, now=application.clock())
        assert application.worker.process_inbox() == 1
        [row] = application.store.inbox_rows()
        assert (row["state"], row["attempts"]) == ("dead", 1), row
        assert row["last_error"].startswith("malformed delivery"), row["last_error"]
