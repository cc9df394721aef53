"""Backfill against the sandbox Redmine: a ticket handled before ticketwarden ran is replayed
from its journals into clocks, origin history and facts, with nothing written to Redmine and
nothing announced afterwards."""

from __future__ import annotations

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
    assert "backfilled 1 ticket(s) (4 events, 2 SLA clock(s), 2 origin change(s)); 0 already followed" \
        in result.output

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
    assert application.sweep_sla() == 0 and store.outbox_rows() == []
    application.store.engine.dispose()

    again = CliRunner().invoke(main, command)
    assert again.exit_code == 0 and "backfilled 0 ticket(s)" in again.output and "1 already followed" in again.output

    report = CliRunner().invoke(main, ["report", "--from", since[:10], "--format", "json", "--rules", str(rules),
                                       "--database-url", database_url])
    assert '"internal": 1' in report.output and '"sla_compliance.resolution": 100.0' in report.output
