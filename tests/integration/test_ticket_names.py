"""Naming a ticket on the command line: `explain`, `records` and `sla show` take a Jira key as
well as a Redmine id, and a Redmine ticket and a Jira issue that share an id are never mixed;
`replay` reads stored Jira events (from the stand-in Jira, or offline from the deliveries).

The Jira side is the real application with the stand-in Jira (OpenAPI-checked, signed webhooks).
The Redmine side is a recorded plugin delivery taken in by the real intake and decided with the
recorded payloads' vocabulary, stored as the worker stores a decision (its Redmine is not needed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.redmine_payloads import event_from_body, ticket_from_issue
from rules.measures import ticket_facts
from rules.pipeline import process
from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.integration.jira_service import serve, work
from tests.test_recorded_payloads import VOCABULARY
from ticketwarden import sla
from ticketwarden.cli import main
from ticketwarden.service import Application

SECRET = "ticket-names-secret"
TOKEN = "ticket-names-token"
PLUGIN_OPENED = Path(__file__).parent.parent / "payloads" / "redmine" / "plugin-issue-opened.json"
RULES = """
version: 1
fields:
  origin: {redmine: "Failure origin", jira: customfield_10050}
staff: {groups: [support-staff]}
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  resolution:
    applies: [tracker = Incident]
    calendar: always
    stop: [status in (Done, Closed)]
    targets: [{target: 4h}]
rules:
  - name: triage new incidents
    on: [ticket.created]
    if: [project = SUP, tracker = Incident]
    then:
      - comment: {private: true, body: "ticketwarden: incident {{ ticket.key }} received."}
  - name: escalate internal defects
    on: [ticket.updated]
    if: [project = SUP, origin changed_to internal, actor_role = staff]
    then:
      - escalate:
          project: DEV
          tracker: Bug
          note: "ticketwarden: escalated to development as {{ development.key }}."
"""


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    yield from checked_fake_jira()


@pytest.fixture
def service(fake: FakeJira, tmp_path, database_url) -> Iterator[Application]:
    yield from serve(fake, RULES, tmp_path, database_url, SECRET, webhook_token=TOKEN)


def run(application: Application, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--database-url", application.settings.database_url],
                              env={"REDMINE_URL": "", "JIRA_URL": "", **(env or {})})


def redmine_twin(application: Application, issue_id: int) -> None:
    """Redmine issue `issue_id` created: delivered to the intake, then decided and stored with
    its SLA clock, as the worker does."""
    body = json.loads(PLUGIN_OPENED.read_text())["body"]
    body["payload"]["issue"]["id"] = issue_id
    answer = application.app.test_client().post("/webhooks/redmine", json=body,
                                                headers={"X-Ticketwarden-Token": TOKEN})
    assert answer.status_code == 202, answer.get_json()
    [row] = application.store.inbox_rows(source="redmine")
    rulebook, now = application.rules.current, application.clock()
    assert rulebook is not None
    event = event_from_body(body, VOCABULARY)
    ticket = ticket_from_issue(body["payload"]["issue"], VOCABULARY, "http://redmine.test")
    book = sla.SlaBook(rulebook)
    step = process(rulebook, book.calendars, event, ticket, [], now)
    application.store.complete_inbox(row["id"], effects=step.effects, trace=step.decisions[0].to_dict(),
                                     tracker="redmine", ticket_id=ticket.id, now=now,
                                     clocks=[book.row(clock, now, 0) for clock in step.moved],
                                     facts=ticket_facts(rulebook, ticket, rulebook.staff.role_of, now))


def test_a_jira_issue_and_a_redmine_ticket_with_the_same_id(fake: FakeJira, service: Application):
    incident = fake.create_issue("SUP", "VPN down for ACME", issuetype="Incident", reporter="customer", emit=True,
                                 **{"Failure origin": "unknown"})
    work(service)
    fake.edit(incident.key, author="agent", **{"Failure origin": "internal"})
    work(service)
    redmine_twin(service, int(incident.id))
    rules = str(service.rules.paths[0])

    # A bare number both trackers have: an error naming both, for every command.
    for command in (["explain", incident.id], ["records", incident.id], ["sla", "show", incident.id, "--rules", rules]):
        ambiguous = run(service, *command)
        assert ambiguous.exit_code == 2, ambiguous.output
        assert (f"ticket {incident.id} is ambiguous: Redmine #{incident.id}, Jira {incident.key} (id {incident.id}); "
                f"say which with --tracker redmine|jira") in " ".join(ambiguous.stderr.split())

    # The Jira key: the Jira issue's decisions only.
    by_key = run(service, "explain", incident.key)
    assert by_key.exit_code == 0, by_key.output
    lines = by_key.stdout.splitlines()
    assert f"on ticket {incident.key}: ticket.created" in lines[0]
    assert "  rule 'triage new incidents': matched" in lines
    assert any(line.startswith("    escalate by 'escalate internal defects': written at ") for line in lines)
    assert f"#{incident.id}" not in by_key.stdout
    assert run(service, "explain", incident.id, "--tracker", "jira").stdout == by_key.stdout
    assert run(service, "explain", incident.key.lower()).stdout == by_key.stdout

    # The Redmine id: the Redmine ticket's decision only.
    redmine = run(service, "explain", f"#{incident.id}", "-v")
    assert redmine.exit_code == 0, redmine.output
    assert f"on ticket #{incident.id}: ticket.created" in redmine.stdout
    assert "  rule 'triage new incidents': not matched" in redmine.stdout  # project support, not SUP
    assert incident.key not in redmine.stdout and "escalate by" not in redmine.stdout
    assert run(service, "explain", incident.id, "--tracker", "redmine", "-v").stdout == redmine.stdout

    # records: the development issue is the Jira incident's, not the Redmine ticket's.
    [record] = service.store.all_records("development")
    jira_records = run(service, "records", incident.key)
    assert jira_records.exit_code == 0, jira_records.output
    assert jira_records.stdout.splitlines() == [
        f"development {record.target_key} [open] cause '{incident.id}' from {incident.id}"]
    assert run(service, "records", f"#{incident.id}").stdout == "no records\n"
    assert run(service, "records", str(record.target_key)).stdout == jira_records.stdout  # the record's own issue

    # sla show: each ticket its own clock (the Redmine one started when the recorded delivery says).
    for name, tracker in ((incident.key, "jira"), (f"#{incident.id}", "redmine")):
        shown = run(service, "sla", "show", name, "--rules", rules)
        assert shown.exit_code == 0, shown.output
        [row] = service.store.clocks_for(tracker, incident.id)
        started = row.clock.transitions[0].at
        lines = shown.stdout.splitlines()
        assert lines[0].startswith("resolution cycle 1 on calendar always (UTC): ")
        assert lines[0].endswith(f"due {(started + timedelta(hours=4)).strftime('%Y-%m-%d %H:%M:%S')} UTC")
        assert lines[1].startswith(f"  {started.strftime('%Y-%m-%d %H:%M:%S')} UTC  started target 4h")
    assert service.store.clocks_for("redmine", incident.id)[0].clock.transitions[0].at.isoformat() == \
        "2026-11-22T01:44:59.156000+00:00"


def test_names_that_match_nothing_or_the_wrong_tracker(fake: FakeJira, service: Application):
    delivered = fake.create_issue("SUP", "Printer jam", issuetype="Incident", reporter="customer", emit=True)
    # Received, not handled yet: its key is known from the stored delivery alone.
    shown = run(service, "explain", delivered.key)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == f"no decisions recorded for Jira {delivered.key} (id {delivered.id})\n"
    for args, error in (
            (["explain", "SUP-999"], "nothing is stored about a Jira issue SUP-999"),
            (["explain", delivered.key, "--tracker", "redmine"], f"{delivered.key} is a Jira key, not a Redmine id"),
            (["explain", "#12", "--tracker", "jira"], "#12 is a Redmine id"),
            (["records", "twelve"], "'twelve' names no ticket: give a Redmine id (12 or #12) or a Jira key")):
        refused = run(service, *args)
        assert refused.exit_code == 2 and error in " ".join(refused.stderr.split()), (args, refused.output)


def test_replay_of_stored_jira_events(fake: FakeJira, service: Application, tmp_path):
    incident = fake.create_issue("SUP", "VPN down for ACME", issuetype="Incident", reporter="customer", emit=True)
    work(service)
    redmine_twin(service, int(incident.id))
    public = tmp_path / "public.yaml"
    public.write_text(RULES.replace("comment: {private: true,", "comment: {private: false,"))
    email, token = fake.basic_auth()
    jira = {"JIRA_URL": fake.url, "JIRA_USER": email, "JIRA_API_TOKEN": token}

    replayed = run(service, "replay", "--rules", str(public), "--tracker", "jira", env=jira)

    assert replayed.exit_code == 0, replayed.output
    out = replayed.stdout.splitlines()
    [created] = [line for line in out if f": jira:issue:{incident.id}:created on {incident.key} at " in line]
    assert created.startswith("inbox ")
    assert any(line.startswith("  + comment by 'triage new incidents'") and '"private": false' in line for line in out)
    assert any(line.startswith("  - comment by 'triage new incidents'") and '"private": true' in line for line in out)
    assert not any("redmine:" in line for line in out)  # --tracker jira: the Redmine event is left out
    assert out[-1].endswith("1 would change (1 effect(s) added, 1 no longer)")
    assert [c.text for c in fake.issue(incident.key).comments] == [
        f"ticketwarden: incident {incident.key} received."]  # replay wrote nothing

    # A recorded Jira webhook body, names read from the stand-in Jira.
    recorded = PLUGIN_OPENED.parent.parent / "jira" / "cloud-issue-created.json"
    from_file = run(service, "replay", "--rules", str(public), str(recorded), env=jira)
    assert from_file.exit_code == 0, from_file.output
    assert from_file.stdout.splitlines()[:2] == [
        f"{recorded}: jira:issue:10021:created on KAN-22 at 2024-12-29T03:11:23.659000+00:00", "  would: nothing"]

    # Both trackers, no tracker configured: refused, with what to set; offline: both replayed.
    refused = run(service, "replay", "--rules", str(public))
    assert refused.exit_code == 2 and "(or replay without any tracker: --offline)" in refused.stderr
    offline = run(service, "replay", "--rules", str(public), "--offline")
    assert offline.exit_code == 0, offline.output
    assert any(line.endswith(f"redmine:issue:{incident.id}:created on #{incident.id} at 2026-11-22T01:44:59.156000"
                             "+00:00") for line in offline.stdout.splitlines())
    assert any(f"jira:issue:{incident.id}:created on {incident.key}" in line for line in offline.stdout.splitlines())
    assert any(line.startswith("  + comment by 'triage new incidents'") for line in offline.stdout.splitlines())
