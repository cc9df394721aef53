"""Customer property against the sandbox Redmine: a customer's credentials stay in their ticket.

A customer pastes a password and an API key into an Incident; the rules escalate it to
development, open a nonconformity and notify a channel (a loopback receiver). The rulebook has
no `redaction` section, so the defaults (passwords and tokens) apply. The development issue
and the record, read back through Redmine's REST API, the notification's body and the log
carry neither secret, and say what was hidden.
"""

from __future__ import annotations

import io
import json
import logging
import textwrap
import uuid
from collections.abc import Iterator

import pytest

from connector.redmine_payloads import parse_time
from tests.integration.receiver import Receiver
from tests.integration.redmine_service import poll_from, settle
from tests.integration.sandbox import SandboxRedmine
from ticketwarden import logs, migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build
from ticketwarden.store import create_db_engine

pytestmark = pytest.mark.redmine

RULES = """
version: 1
vocabulary:
  projects: [support, development, quality]
rules:
  - name: secrets go nowhere
    on: [ticket.created]
    if: [project = support, description ~= "VPN login"]
    then:
      - escalate: {project: development, tracker: Bug}
      - nonconformity:
          project: quality
          cause: "credentials-{{ ticket.key }}-RUN"
          subject: "Credentials on {{ ticket.key }}"
          description: "The customer wrote: {{ ticket.description }}"
      - notify: {channel: dev-chat, message: "{{ ticket.key }} escalated: {{ ticket.description }}"}
"""


@pytest.fixture
def service(tmp_path, redmine_env) -> Iterator[tuple[Application, Receiver, io.StringIO]]:
    receiver = Receiver()
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(RULES).replace("RUN", uuid.uuid4().hex[:8]))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}", rules=(str(rules),),
                        redmine_url=redmine_env["REDMINE_URL"], redmine_api_key=redmine_env["REDMINE_API_KEY"],
                        poll_overlap=0)
    migrate.upgrade(create_db_engine(settings.effective_database_url))
    environ = {"TICKETWARDEN_CHANNEL_DEV_CHAT": receiver.url, "REDMINE_API_KEY": redmine_env["REDMINE_API_KEY"]}
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)  # the service's own formatter, as `serve` logs
    handler.setFormatter(logs.Redacting(logging.Formatter("%(levelname)s %(name)s: %(message)s"),
                                        logs.secrets_of(environ)))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        application = build(settings, environ=environ)
        assert application.rules.current is not None, application.rules.last_errors
        yield application, receiver, captured
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        receiver.close()


def create_incident(redmine: SandboxRedmine, subject: str, description: str) -> dict:
    body = {"issue": {"project_id": "support", "subject": subject, "description": description,
                      "tracker_id": redmine.ids("trackers", "trackers")["Incident"]}}
    return redmine._request("POST", "/issues.json", json=body).json()["issue"]


def test_a_customers_credentials_leave_the_ticket_in_no_issue_record_message_or_log(service, redmine_env):
    application, receiver, captured = service
    redmine = SandboxRedmine(redmine_env)
    password = f"Wint3r-{uuid.uuid4().hex[:6]}!"
    api_key = uuid.uuid4().hex + uuid.uuid4().hex[:8]  # 40 hexadecimal characters, as Redmine's keys
    description = (f"VPN login fails since this morning.\nUser: bob, password: {password}\n"
                   f"Our integration uses X-Redmine-API-Key: {api_key}")
    incident = create_incident(redmine, "VPN login fails", description)
    poll_from(application, parse_time(incident["created_on"]))
    settle(application)

    kept = redmine.issue(incident["id"])["description"].replace("\r\n", "\n")
    assert kept == description  # the customer's own ticket is left as it is
    related = [redmine.issue(r["issue_to_id"] if r["issue_id"] == incident["id"] else r["issue_id"])
               for r in redmine.relations(incident["id"])]
    by_project = {issue["project"]["name"]: issue for issue in related}
    assert set(by_project) == {"Development", "Quality"}, [i["project"] for i in related]
    for issue in by_project.values():
        assert password not in issue["description"] and api_key not in issue["description"]
        assert password not in issue["subject"] and api_key not in issue["subject"]
        assert "password: [redacted: password]" in issue["description"]
        assert "X-Redmine-API-Key: [redacted: token]" in issue["description"]
        assert "VPN login fails since this morning." in issue["description"]

    [posted] = [r["body"] for r in receiver.requests if r["body"]["ticket"]["key"] == f"#{incident['id']}"]
    body = json.dumps(posted)
    assert password not in body and api_key not in body
    assert "[redacted: password]" in posted["text"] and "[redacted: token]" in posted["text"]

    log = captured.getvalue()
    assert "VPN login fails since this morning." in log  # the trace shows the description it tested
    assert password not in log and api_key not in log
    assert "[redacted: password]" in log
