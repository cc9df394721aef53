"""Backfill against the sandbox Redmine: a ticket handled before ticketwarden ran is replayed
from its journals into clocks, origin history and facts, with nothing written to Redmine and
nothing announced afterwards."""

from __future__ import annotations

import re
import textwrap
import time

import pytest
from click.testing import CliRunner

from connector.redmine import RedmineConnector
from connector.redmine_payloads import parse_time
from tests.integration.sandbox import SandboxRedmine
from ticketwarden import migrate
from ticketwarden.cli import main
from ticketwarden.store import Store, create_db_engine

pytestmark = pytest.mark.redmine

RULES = """
version: 1
fields:
  origin: {redmine: "Failure origin"}
  team: {redmine: "Team"}
indicators:
  incidents: [project = support, tracker = Incident]
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  resolution:
    applies: [project = support, tracker = Incident]
    calendar: always
    pause: [status = Feedback]
    stop: [status in (Resolved, Closed)]
    targets: [{target: 2h}]
  quick:
    applies: [project = support, tracker = Incident]
    calendar: always
    stop: [status in (Resolved, Closed)]
    targets: [{target: 1s}]
rules:
  - name: would write
    on: [ticket.created, ticket.updated]
    then: [{comment: {body: "must not be written by a backfill"}}]
"""


def test_a_past_ticket_is_rebuilt_from_its_journals(tmp_path, database_url, redmine_env, monkeypatch):
    redmine = SandboxRedmine(redmine_env)
    created = redmine.create_incident("Handled before ticketwarden (backfill)",
                                      fields={"Failure origin": "unknown", "Team": "network"})
    ident = created["id"]
    redmine.update(ident, status="Feedback", notes="Which browser?")
    time.sleep(2)  # whole seconds in Redmine: make the pause measurable
    redmine.update(ident, status="In Progress", fields={"Failure origin": "internal"}, notes="Our bug.")
    redmine.update(ident, status="Resolved")
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(RULES))
    migrate.upgrade(create_db_engine(database_url))
    for name in ("REDMINE_URL", "REDMINE_API_KEY"):
        monkeypatch.setenv(name, redmine_env[name])
    since = parse_time(created["created_on"]).strftime("%Y-%m-%dT%H:%M:%S")
    command = ["backfill", "--since", since, "--rules", str(rules), "--database-url", database_url]

    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    # (the sandbox may hold later tickets of other tests: this one's figures are checked below)
    assert "backfilled " in result.output and "; 0 already followed" in result.output
    assert re.search(r"backfilling \d+ tickets", result.output)  # the progress bar's label

    store = Store(create_db_engine(database_url))
    clocks = {row.clock.policy: row for row in store.clocks_for("redmine", str(ident))}
    resolution = clocks["resolution"]
    assert [t.kind for t in resolution.clock.transitions] == ["started", "paused", "resumed", "stopped"]
    assert resolution.state == "met" and resolution.next_check is None
    assert clocks["quick"].state == "breached" and clocks["quick"].next_check is None  # long past: not owed
    history = store.origin_history("redmine", str(ident))
    assert [(h.old, h.new, h.by_kind, h.by) for h in history] == [
        (None, "unknown", "person", "agent"), ("unknown", "internal", "person", "agent")]
    [facts] = store.facts_for([("redmine", str(ident))])
    assert (facts["origin"], facts["team"], facts["incident"], facts["breaches"]) == ("internal", "network", True, 1)
    assert facts["closed_at"] is None  # Resolved is not a closed status in Redmine

    # Nothing was written to Redmine, and the sweep announces nothing about the past.
    me = RedmineConnector(redmine_env["REDMINE_URL"], redmine_env["REDMINE_API_KEY"]).service_user()
    assert not [j for j in redmine.issue(ident)["journals"] if str(j["user"]["id"]) == me.id]
    from ticketwarden.config import Settings
    from ticketwarden.service import build

    application = build(Settings(database_url=database_url, rules=(str(rules),),
                                 redmine_url=redmine_env["REDMINE_URL"],
                                 redmine_api_key=redmine_env["REDMINE_API_KEY"]), environ={})
    application.sweep_sla()  # (a later ticket of another test, backfilled too, may have a clock due)
    assert not [row for row in store.inbox_rows() if f"redmine:{ident}:" in row["dedup_key"]]
    assert not [row for row in store.outbox_rows() if row["ticket_id"] == str(ident)]
    application.store.engine.dispose()

    again = CliRunner().invoke(main, command)
    assert again.exit_code == 0 and "backfilled 0 ticket(s)" in again.output

    report = CliRunner().invoke(main, ["report", "--from", since[:10], "--format", "json", "--rules", str(rules),
                                       "--database-url", database_url])
    assert '"internal": 1' in report.output and '"sla_compliance.resolution": 100.0' in report.output


JIRA_RULES = """
version: 1
fields:
  origin: {jira: customfield_10050}
  team: {jira: customfield_10051}
staff: {groups: [support-staff]}
indicators:
  incidents: [project = SUP, tracker = Incident]
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  first-response:
    applies: [project = SUP]
    calendar: always
    stop: [actor_role = staff, comment_visibility = public]
    targets: [{target: 1h}]
  resolution:
    applies: [project = SUP]
    calendar: always
    stop: [status = Done]
    targets: [{target: 4h}]
rules:
  - name: would write
    on: [ticket.created, ticket.updated, ticket.commented]
    then: [{comment: {body: "must not be written by a backfill"}}]
"""


@pytest.mark.parametrize("deployment", ["Cloud", "Server"])
def test_a_past_jira_issue_is_rebuilt_from_its_changelog(deployment, tmp_path, database_url, monkeypatch):
    from datetime import timedelta

    from tests.fakejira.fixtures import checked_fake_jira
    from tests.helpers import MovableClock

    clock = MovableClock()
    clock.offset = -timedelta(hours=6)
    for fake in checked_fake_jira(deployment, clock=clock):
        issue = fake.create_issue("SUP", "Handled before ticketwarden", issuetype="Incident", reporter="customer",
                                  **{"customfield_10051": "network", "Failure origin": "unknown"})
        clock.offset += timedelta(minutes=30)
        fake.comment(issue.key, "We are on it.", author="agent")
        clock.offset += timedelta(minutes=30)
        fake.edit(issue.key, author="agent", **{"Failure origin": "internal"})
        clock.offset += timedelta(hours=1)
        fake.transition(issue.key, "Done", author="agent", resolution="Done")
        created = fake.issue_json(issue.key)["fields"]["created"]
        rules = tmp_path / "rules.yaml"
        rules.write_text(textwrap.dedent(JIRA_RULES))
        migrate.upgrade(create_db_engine(database_url))
        email, token = fake.basic_auth()
        for name, value in (("JIRA_URL", fake.url), ("JIRA_USER", email), ("JIRA_API_TOKEN", token)):
            monkeypatch.setenv(name, value)
        since = parse_time(created).strftime("%Y-%m-%dT%H:%M:%S")
        result = CliRunner().invoke(main, ["backfill", "--tracker", "jira", "--since", since, "--rules", str(rules),
                                           "--database-url", database_url])
        assert result.exit_code == 0, result.output
        assert "backfilled 1 ticket(s) (4 events, 2 SLA clock(s), 2 origin change(s))" in result.output

        store = Store(create_db_engine(database_url))
        clocks = {row.clock.policy: row for row in store.clocks_for("jira", issue.id)}
        assert clocks["first-response"].state == "met" and clocks["resolution"].state == "met"
        assert [t.kind for t in clocks["resolution"].clock.transitions] == ["started", "stopped"]
        stopped = clocks["resolution"].clock.transitions[-1].at - clocks["resolution"].clock.transitions[0].at
        assert abs(stopped - timedelta(hours=2)) < timedelta(seconds=1)  # Jira times have milliseconds
        history = store.origin_history("jira", issue.id)
        assert [(h.old, h.new, h.by_kind) for h in history] == [(None, "unknown", "person"),
                                                                ("unknown", "internal", "person")]
        [facts] = store.facts_for([("jira", issue.id)])
        assert (facts["origin"], facts["team"], facts["breaches"]) == ("internal", "network", 0)
        assert facts["closed_at"] is not None
        assert [c.author.name for c in fake.issue(issue.key).comments] == [fake.users["agent"].name]  # nothing ours
