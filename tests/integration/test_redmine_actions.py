"""Every action that writes to Redmine, against the sandbox; notify against a loopback receiver."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from tests.integration.receiver import Receiver
from tests.integration.sandbox import SandboxRedmine
from ticketwarden.config import Settings
from ticketwarden.service import Application, build

pytestmark = pytest.mark.redmine

RULES = """
version: 1
fields: {origin: "Failure origin", triage: Triage}
staff: {roles: [Manager]}
rules:
  - name: urgent incidents
    on: [ticket.created]
    if: [project = support, priority = Urgent, author_role = staff]
    then:
      - transition: {status: In Progress, comment: "Taken by the on-call team.", private: true}
      - assign: {to: agent}
      - add_watcher: {user: Alice Agent}
      - link: {to: "{{ ticket.subject.split('#')[-1] }}", relation: relates}
      - notify: {channel: on-call, message: "{{ ticket.key }} is urgent: {{ ticket.subject }}"}
  - name: note work started (chained)
    on: [ticket.updated]
    if: [status changed_to "In Progress", actor = ticketwarden]
    then:
      - set: {triage: "in progress since {{ event.occurred_at | iso }}"}
"""


@pytest.fixture
def service(tmp_path, redmine_env) -> Iterator[tuple[Application, Receiver]]:
    receiver = Receiver()
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(RULES))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}", rules=(str(rules),),
                        redmine_url=redmine_env["REDMINE_URL"], redmine_api_key=redmine_env["REDMINE_API_KEY"],
                        poll_overlap=0)
    from ticketwarden import migrate
    from ticketwarden.store import create_db_engine

    migrate.upgrade(create_db_engine(settings.effective_database_url))
    application = build(settings, environ={"TICKETWARDEN_CHANNEL_ON_CALL": receiver.url})
    assert application.rules.current is not None, application.rules.last_errors
    yield application, receiver
    receiver.close()


def test_every_redmine_action_and_notify(service, redmine_env):
    application, receiver = service
    redmine = SandboxRedmine(redmine_env)
    other = redmine.create_incident("Earlier outage")
    created = redmine.create_incident(f"Core switch down, see #{other['id']}", priority="Urgent")
    [poller] = application.pollers
    from connector.redmine_payloads import parse_time

    since = parse_time(created["created_on"])
    application.store.set_value(poller.state_name, since.isoformat(), since)
    poller.poll_once()
    while application.worker.process_inbox() or application.worker.apply_outbox():
        pass

    issue = redmine.issue(created["id"])
    assert issue["status"]["name"] == "In Progress"
    assert issue["assigned_to"]["name"] == "Alice Agent"
    assert redmine.custom_field(issue, "Triage").startswith("in progress since ")
    notes = redmine.notes_by(issue, "ticketwarden service")
    assert [(n["notes"], n["private_notes"]) for n in notes] == [("Taken by the on-call team.", True)]
    full = redmine._request("GET", f"/issues/{created['id']}.json?include=watchers,relations").json()["issue"]
    assert "Alice Agent" in [w["name"] for w in full["watchers"]]
    # Redmine stores a symmetric relation from the lower id to the higher one.
    assert [({r["issue_id"], r["issue_to_id"]}, r["relation_type"]) for r in full["relations"]] == [
        ({created["id"], other["id"]}, "relates")]
    # Issues other tests created in the same second may be polled too: look at ours.
    [posted] = [r for r in receiver.requests if r["body"]["ticket"]["key"] == f"#{created['id']}"]
    assert posted["body"]["text"] == f"#{created['id']} is urgent: Core switch down, see #{other['id']}"
    assert posted["body"]["ticket"]["key"] == f"#{created['id']}"
    assert posted["headers"]["Idempotency-Key"] == posted["body"]["idempotency_key"]
    rows = application.store.outbox_rows(ticket_id=str(created["id"]))
    assert sorted(r["action"] for r in rows) == ["add_watcher", "assign", "link", "notify", "set", "transition"]
    assert {r["state"] for r in rows} == {"done"}
    decision = next(a["detail"] for a in application.store.audit_rows(str(created["id"])) if a["kind"] == "decision")
    assert decision["rulebook"] == application.rules.current.version
    assert [r["rule"] for r in decision["rules"] if r["matched"]] == ["urgent incidents", "note work started (chained)"]
