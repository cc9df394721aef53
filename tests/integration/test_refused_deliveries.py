"""A delivery the intake refuses (a body past the limit: 413) is not lost: the poller reads the
change from the tracker and the rules act on it, on the stand-in Jira and the sandbox Redmine."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.integration.jira_service import serve, work

SECRET = "refused-secret"
LIMIT = 16 * 1024
JIRA_RULES = """
version: 1
rules:
  - name: acknowledge
    on: [ticket.created]
    if: [project = SUP]
    then: [{comment: {private: true, body: "ticketwarden: {{ ticket.key }} received."}}]
"""


@pytest.fixture(params=["Cloud", "Server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    yield from checked_fake_jira(request.param)


def test_a_jira_delivery_past_the_limit_is_read_by_the_poller(fake: FakeJira, tmp_path, database_url):
    for application in serve(fake, JIRA_RULES, tmp_path, database_url, SECRET, max_body=LIMIT):
        issue = fake.create_issue("SUP", "Crash dump attached inline", issuetype="Incident", reporter="customer",
                                  description="frame 0x7f00 in ???\n" * 2000, emit=True)
        [delivery] = [d for d in fake.deliveries if d.event == "jira:issue_created"]
        assert len(delivery.body) > LIMIT and delivery.status == 413
        assert application.store.inbox_rows(source="jira") == []

        application.poll_all()
        work(application)
        comments = [c for c in fake.issue_json(issue.key)["fields"]["comment"]["comments"]]
        assert [c["body"] for c in comments] == [f"ticketwarden: {issue.key} received."]


@pytest.mark.redmine
def test_a_redmine_delivery_past_the_limit_is_read_by_the_poller(tmp_path, database_url, redmine_env):
    from connector.redmine_payloads import parse_time
    from tests.integration.redmine_service import poll_from, settle
    from tests.integration.redmine_service import serve as serve_redmine
    from tests.integration.sandbox import SandboxRedmine

    rules = JIRA_RULES.replace("project = SUP", "project = support")
    for application, _ in serve_redmine(rules, tmp_path, database_url, redmine_env, webhook_token="t",
                                        max_body=LIMIT):
        redmine = SandboxRedmine(redmine_env)
        created = redmine.create_incident("Crash dump pasted in the report")
        redmine.update(created["id"], description="frame 0x7f00 in ???\n" * 2000)
        issue = redmine.issue(created["id"])
        delivery = redmine.plugin_payload(issue)
        assert len(json.dumps(delivery)) > LIMIT
        refused = application.app.test_client().post("/webhooks/redmine?token=t", json=delivery)
        assert refused.status_code == 413 and "limit" in refused.get_json()["error"]
        assert application.store.inbox_rows(source="redmine") == []

        poll_from(application, parse_time(created["created_on"]))
        settle(application)
        notes = redmine.notes_by(redmine.issue(created["id"]), "ticketwarden service")
        assert [n["notes"] for n in notes] == [f"ticketwarden: #{created['id']} received."]
