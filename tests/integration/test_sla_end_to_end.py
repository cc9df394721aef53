"""SLA clocks end to end against the sandbox Redmine: due time and status written at start,
a private note at warning, `breached` at breach, and a pause in Feedback moving the due time.

Short targets on a 24x7 calendar; the sweep runs with a clock moved ahead instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from connector.redmine_payloads import parse_time
from tests.helpers import MovableClock
from tests.integration.redmine_service import serve, settle, start_incident
from tests.integration.sandbox import SandboxRedmine
from ticketwarden.service import Application
from ticketwarden.store import sla_clocks

pytestmark = pytest.mark.redmine

RULES = """
version: 1
fields:
  sla_status: {redmine: "SLA status", values: [on_track, warning, paused, met, breached]}
  sla_due_at: {redmine: "SLA due at"}
  sla_due: {redmine: "SLA due"}
calendars:
  always: {timezone: America/Argentina/Buenos_Aires, hours: 24x7}
sla:
  resolution:
    applies: [project = support, tracker = Incident]
    calendar: always
    pause: [status = Feedback]
    stop: [status in (Resolved, Closed)]
    targets: [{when: priority = Urgent, target: 30m}, {target: 2h}]
    warn_at: 50%
rules:
  - name: write the due time
    on: [sla.started]
    then: [{set: {sla_status: on_track, sla_due_at: "{{ sla.due }}", sla_due: "{{ sla.due_date }}"}}]
  - name: paused in feedback
    on: [ticket.updated]
    if: [sla.resolution = paused, status changed_to Feedback]
    then: [{set: {sla_status: paused}}]
  - name: resumed
    on: [ticket.updated]
    if: [status changed_from Feedback, sla.resolution = running]
    then: [{set: {sla_status: on_track, sla_due_at: "{{ sla.policies.resolution.due }}"}}]
  - name: warn
    on: [sla.warning]
    then:
      - set: {sla_status: warning}
      - comment: {private: true, body: "SLA {{ sla.policy }}: {{ sla.remaining }} left, due {{ sla.due_local }}."}
  - name: breach
    on: [sla.breached]
    then: [{set: {sla_status: breached}}]
"""


TOKEN = "sla-end-to-end"


@pytest.fixture
def service(tmp_path, database_url, redmine_env) -> Iterator[tuple[Application, MovableClock]]:
    yield from serve(RULES, tmp_path, database_url, redmine_env, webhook_token=TOKEN)


def fields(redmine: SandboxRedmine, issue_id: int) -> dict:
    issue = redmine.issue(issue_id)
    return {name: redmine.custom_field(issue, name) for name in ("SLA status", "SLA due at", "SLA due")}


def test_clock_written_warned_breached(service, redmine_env):
    application, clock = service
    redmine = SandboxRedmine(redmine_env)
    created = start_incident(application, redmine, "Payments API down (SLA end to end)", priority="Urgent")
    start = parse_time(created["created_on"])

    due = start + timedelta(minutes=30)
    written = fields(redmine, created["id"])
    assert written["SLA status"] == "on_track"
    assert parse_time(written["SLA due at"]) == due
    assert written["SLA due"] == due.astimezone(application.worker._sla_book(application.rules.current)
                                                .calendar_of("resolution").zone).date().isoformat()

    def owed() -> list[str]:
        """The SLA events the sweep queued for this ticket (sla.started was decided with the
        event that started the clock; the poller may also have seen other tests' issues)."""
        return sorted(row["dedup_key"].rsplit(":", 1)[1] for row in application.store.inbox_rows(source="sla")
                      if row["dedup_key"].startswith(f"sla:redmine:{created['id']}:"))

    clock.offset = timedelta(minutes=16)  # past 50% of 30 minutes
    application.sweep_sla()
    assert owed() == ["sla.warning"]
    assert {row["ticket"] for row in application.store.inbox_rows(source="sla")
            if row["dedup_key"].startswith(f"sla:redmine:{created['id']}:")} == {f"redmine:{created['id']}"}
    application.sweep_sla()
    assert owed() == ["sla.warning"]  # once per cycle
    settle(application)
    issue = redmine.issue(created["id"])
    assert redmine.custom_field(issue, "SLA status") == "warning"
    [note] = [j for j in redmine.notes_by(issue, "ticketwarden service") if j["notes"].startswith("SLA resolution")]
    assert note["private_notes"] is True and "left, due " in note["notes"]

    clock.offset = timedelta(minutes=31)
    application.sweep_sla()
    assert owed() == ["sla.breached", "sla.warning"]
    settle(application)
    assert fields(redmine, created["id"])["SLA status"] == "breached"
    clock.offset = timedelta(hours=5)
    application.sweep_sla()
    assert owed() == ["sla.breached", "sla.warning"]


def test_a_pause_in_feedback_moves_the_due_time(service, redmine_env):
    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    created = start_incident(application, redmine, "Report export slow (SLA pause)")
    start = parse_time(created["created_on"])
    first_due = parse_time(fields(redmine, created["id"])["SLA due at"])
    assert first_due == start + timedelta(hours=2)

    redmine.update(created["id"], status="Feedback", notes="Which report?")
    settle(application)
    assert fields(redmine, created["id"])["SLA status"] == "paused"
    time.sleep(2)  # Redmine's timestamps have whole seconds: make the pause measurable
    redmine.update(created["id"], status="In Progress", notes="The monthly one.")
    settle(application)
    issue = redmine.issue(created["id"])
    journals = [j for j in issue["journals"] if j["user"]["name"] != "ticketwarden service"]
    paused_for = parse_time(journals[-1]["created_on"]) - parse_time(journals[-2]["created_on"])
    written = fields(redmine, created["id"])
    assert written["SLA status"] == "on_track"
    assert paused_for >= timedelta(seconds=2)
    assert parse_time(written["SLA due at"]) == first_due + paused_for
    rows = application.store.clocks_for("redmine", str(created["id"]))
    assert [t.kind for t in rows[0].clock.transitions] == ["started", "paused", "resumed"]


def test_a_clock_another_worker_moved_meanwhile_is_decided_again_at_once(service, redmine_env):
    """Two workers deciding on one ticket at once: the second to record finds the clock changed
    since it read it. Its event is decided again on the clock as it now is, at the next pass,
    not after a retry's back-off (nothing failed)."""
    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    created = start_incident(application, redmine, "Invoices stuck (clock moved meanwhile)")
    redmine.update(created["id"], status="Feedback", notes="Which invoices?")
    record, raced = application.store.complete, []

    def another_worker_first(completions, now):
        if not raced:  # the other worker records its change of the same clock first
            raced.append(True)
            with application.store.engine.begin() as conn:
                conn.execute(sa.update(sla_clocks).where(sla_clocks.c.ticket_id == str(created["id"]))
                             .values(version=sla_clocks.c.version + 1))
        return record(completions, now)

    application.store.complete = another_worker_first  # type: ignore[method-assign]
    settle(application)
    assert raced
    assert fields(redmine, created["id"])["SLA status"] == "paused"
    rows = [row for row in application.store.inbox_rows(source="redmine")
            if row["dedup_key"].startswith(f"redmine:issue:{created['id']}:")]
    assert all(row["state"] == "done" for row in rows), rows
    assert max(row["attempts"] for row in rows) == 2  # the change, decided a second time
    [clock] = application.store.clocks_for("redmine", str(created["id"]))
    assert [t.kind for t in clock.clock.transitions] == ["started", "paused"]


def test_show_and_recalc(service, redmine_env, tmp_path):
    """`sla show` prints the timeline; a changed target recalculates: dry by default, on reload for real."""
    from click.testing import CliRunner

    from ticketwarden.cli import main

    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    created = start_incident(application, redmine, "Timeline please (sla show)")
    start = parse_time(created["created_on"])
    rules_file = application.rules.paths[0]
    url = application.settings.database_url
    shown = CliRunner().invoke(main, ["sla", "show", str(created["id"]), "--rules", str(rules_file),
                                      "--database-url", url])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("resolution cycle 1 on calendar always (America/Argentina/Buenos_Aires): running, "
                               "target 2h, elapsed ")
    assert lines[1].endswith("  started target 2h  (started)") and "-03" in lines[1]

    longer = tmp_path / "longer.yaml"
    longer.write_text(open(rules_file).read().replace("{target: 2h}", "{target: 3h}"))
    dry = CliRunner().invoke(main, ["sla", "recalc", "--rules", str(longer), "--database-url", url])
    assert dry.exit_code == 0 and dry.output.splitlines()[-1].endswith("would change (use --apply)")
    mine = [line for line in dry.output.splitlines() if f" {created['id']} resolution" in line]
    assert len(mine) == 1 and "running due" in mine[0]
    before = application.store.clocks_for("redmine", str(created["id"]))[0]
    assert before.due_at == start + timedelta(hours=2)  # dry: nothing stored

    open(rules_file, "w").write(open(longer).read())
    assert application.rules.reload_if_changed()  # the reload recalculates for real
    after = application.store.clocks_for("redmine", str(created["id"]))[0]
    assert after.clock.transitions == before.clock.transitions  # the history is the same
    assert after.due_at == start + timedelta(hours=3)


def test_a_status_change_saved_with_a_private_note_pauses_from_the_webhook_alone(service, redmine_env):
    """Redmine records the save as two journals (the change, then the private note) and the
    redmine_webhook plugin posts only the second: the change must not wait for a poll."""
    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    created = start_incident(application, redmine, "Ledger totals wrong (split save)")
    redmine.update(created["id"], status="Feedback", notes="Asked the customer for the export.", private_notes=True)
    issue = redmine.issue(created["id"])
    change, note = [j for j in issue["journals"] if j["user"]["name"] != "ticketwarden service"][-2:]
    assert change["details"] and not change["notes"] and note["private_notes"] and not note["details"]

    delivery = redmine.plugin_payload(issue, note)  # what the plugin posts: the note's journal only
    accepted = application.app.test_client().post(f"/webhooks/redmine?token={TOKEN}", json=delivery)
    assert accepted.status_code == 202, accepted.get_json()
    while application.worker.process_inbox() or application.worker.apply_outbox():
        pass  # no poll
    assert fields(redmine, created["id"])["SLA status"] == "paused"
    [row] = application.store.clocks_for("redmine", str(created["id"]))
    paused = row.clock.transitions[-1]
    assert paused.kind == "paused" and paused.at == parse_time(note["created_on"])
    [audit] = [a for a in application.store.audit_rows(str(created["id"]))
               if a["subject"] == f"redmine:issue:{created['id']}:journal:{note['id']}"]
    assert any(r["rule"] == "paused in feedback" and r["matched"] for r in audit["detail"]["rules"])

    settle(application)  # the poller now finds both journals: the change was taken in already
    keys = {row["dedup_key"]: row["shape"] for row in application.store.inbox_rows(source="redmine")}
    assert keys[f"redmine:issue:{created['id']}:journal:{change['id']}"] == "claimed"
    issue = redmine.issue(created["id"])
    assert len([j for j in issue["journals"] if j["user"]["name"] == "ticketwarden service"
                and any(d["new_value"] == "paused" for d in j["details"])]) == 1
