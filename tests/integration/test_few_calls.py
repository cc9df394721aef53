"""Few tracker calls, against the sandbox Redmine: a delivery that is the newest state known is
decided on as it came; the tracker is read only when the delivery may be stale (we wrote to
the ticket since, it changed in the same second, a private note may hide the other half of its
save); effects one event planned on one issue go out as one save, notes of one visibility as
one note."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from connector.redmine import RedmineConnector
from rules.model import Effect
from tests.integration.redmine_service import serve
from tests.integration.sandbox import SandboxRedmine
from tests.integration.slow_proxy import slow_proxy
from ticketwarden.service import Application

TOKEN = "few-calls"

QUIET = """
version: 1
fields:
  origin: {redmine: Failure origin, values: [internal, customer, third-party, infrastructure, unknown]}
calendars: {always: {timezone: UTC, hours: 24x7}}
sla:
  resolution:
    calendar: always
    targets: [{target: 8h}]
    pause: [status = Feedback]
    stop: [status in (Resolved, Closed)]
rules:
  - name: never
    on: [ticket.updated]
    if: [subject ~= "no ticket is called this"]
    then: [{comment: {body: never}}]
"""

ONE_SAVE = """
version: 1
fields:
  origin: {redmine: Failure origin, values: [internal, customer, third-party, infrastructure, unknown]}
  triage: {redmine: Triage}
rules:
  - name: triage
    on: [ticket.created]
    then:
      - set: {origin: unknown, triage: pending}
      - transition: {status: In Progress}
      - comment: {body: "Received: we are on it."}
"""

NOTES = """
version: 1
rules:
  - name: first private note
    on: [ticket.created]
    then: [{comment: {private: true, body: "Checked the logs: nothing unusual."}}]
  - name: second private note
    on: [ticket.created]
    then: [{comment: {private: true, body: "Customer is on the premium plan."}}]
  - name: public note
    on: [ticket.created]
    then: [{comment: {body: "Received: we are on it."}}]
"""


class CountingRedmine(RedmineConnector):
    """The real connector, counting the issue reads it makes."""

    def __init__(self, url: str, key: str):
        super().__init__(url, key)
        self.reads: list[tuple[str, bool]] = []

    def fetch_issue(self, issue_id: int | str, journals: bool = True) -> dict[str, Any] | None:
        self.reads.append((str(issue_id), journals))
        return super().fetch_issue(issue_id, journals)


def _serving(rules: str, tmp_path, database_url, redmine_env) -> Iterator[tuple[Application, CountingRedmine]]:
    for application, _ in serve(rules, tmp_path, database_url, redmine_env, webhook_token=TOKEN):
        counting = CountingRedmine(redmine_env["REDMINE_URL"], redmine_env["REDMINE_API_KEY"])
        application.connectors["redmine"] = counting  # the worker's tracker (the poller is left idle)
        yield application, counting


def _deliver(application: Application, body: dict[str, Any]) -> None:
    answer = application.app.test_client().post("/webhooks/redmine", json=body,
                                                headers={"X-Ticketwarden-Token": TOKEN})
    assert answer.status_code == 202, answer.get_json()


def _handled(application: Application, redmine: SandboxRedmine, subject: str, effects: int) -> dict[str, Any]:
    """A new incident, delivered, decided on and its `effects` written."""
    created = redmine.create_incident(subject)
    _deliver(application, redmine.plugin_payload(redmine.issue(created["id"])))
    assert application.worker.process_inbox() == 1
    assert application.worker.apply_outbox() == effects
    return created


def _journal(redmine: SandboxRedmine, issue_id: int, index: int = -1) -> tuple[dict[str, Any], dict[str, Any]]:
    issue = redmine.issue(issue_id)
    return issue, issue["journals"][index]


@pytest.fixture
def quiet(tmp_path, database_url, redmine_env) -> Iterator[tuple[Application, CountingRedmine]]:
    yield from _serving(QUIET, tmp_path, database_url, redmine_env)


def test_fresh_deliveries_need_no_read_and_a_late_one_takes_the_newest_state(quiet, redmine_env):
    application, counting = quiet
    redmine = SandboxRedmine(redmine_env)
    created = redmine.create_incident("Fresh deliveries (few calls)")
    _deliver(application, redmine.plugin_payload(redmine.issue(created["id"])))
    assert application.worker.process_inbox() == 1
    assert counting.reads == []  # the delivery was the newest state known

    time.sleep(1.1)  # the tracker's times are compared at whole seconds
    redmine.update(created["id"], status="Feedback", notes="Which version?")
    to_feedback = redmine.plugin_payload(*_journal(redmine, created["id"]))
    time.sleep(1.1)
    redmine.update(created["id"], status="In Progress", notes="5.2")
    back = redmine.plugin_payload(*_journal(redmine, created["id"]))
    _deliver(application, back)  # the newer change arrives first...
    _deliver(application, to_feedback)  # ...and the older one late
    assert application.worker.process_inbox() == 2
    assert counting.reads == []  # the late one was decided on the newest state seen, not read again
    [clock] = application.store.clocks_for("redmine", str(created["id"]))
    # Decided on the newest state (In Progress): the late change to Feedback does not pause a
    # clock whose ticket is no longer waiting (a pause begun and ended between two deliveries
    # that arrive out of order is not counted; docs/rules.md, "How SLA clocks work").
    assert [transition.kind for transition in clock.clock.transitions] == ["started"]
    assert clock.state == "running"


def test_a_private_note_reads_the_journals_for_the_other_half_of_its_save(quiet, redmine_env):
    application, counting = quiet
    redmine = SandboxRedmine(redmine_env)
    created = redmine.create_incident("Private note (few calls)")
    _deliver(application, redmine.plugin_payload(redmine.issue(created["id"])))
    application.worker.process_inbox()
    time.sleep(1.1)
    redmine.update(created["id"], status="Feedback", notes="internal: waiting for logs", private_notes=True)
    issue = redmine.issue(created["id"])
    note = issue["journals"][-1]
    assert note["private_notes"] and not note["details"]  # Redmine split the save in two
    _deliver(application, redmine.plugin_payload(issue, note))
    assert application.worker.process_inbox() == 1
    assert counting.reads == [(str(created["id"]), True)]
    [clock] = application.store.clocks_for("redmine", str(created["id"]))
    assert clock.state == "paused"  # the status change of the other half was taken in


def test_a_delivery_after_our_own_write_is_read_again(tmp_path, database_url, redmine_env):
    for application, counting in _serving(ONE_SAVE, tmp_path, database_url, redmine_env):
        redmine = SandboxRedmine(redmine_env)
        created = _handled(application, redmine, "One save (few calls)", effects=3)
        reads_for_writing = len(counting.reads)
        assert reads_for_writing <= 1  # the issue's layout (its custom fields), at most once

        issue = redmine.issue(created["id"])
        ours = [j for j in issue["journals"] if j["user"]["id"] == redmine.service_user()["id"]]
        assert len(ours) == 1, ours  # fields, status and note: one save, one journal
        changed = {detail["name"] for detail in ours[0]["details"]}
        assert "status_id" in changed and len(changed) == 3, ours[0]["details"]
        assert ours[0]["notes"] == "Received: we are on it."
        outcomes = sorted(row["outcome"] for row in application.store.outbox_rows())
        assert outcomes == ["public note added", "set Failure origin, Triage", "status set to In Progress"]

        time.sleep(1.1)
        redmine.update(created["id"], notes="Thanks!")
        _deliver(application, redmine.plugin_payload(*_journal(redmine, created["id"])))
        application.worker.process_inbox()
        # we wrote since the state we had seen: the tracker is asked, without the journals
        assert counting.reads[reads_for_writing:] == [(str(created["id"]), False)]


def test_a_slow_ticket_does_not_hold_up_the_others(tmp_path, database_url, redmine_env):
    """Effects on one ticket wait for a slow tracker answer; the other tickets' are written meanwhile."""
    redmine = SandboxRedmine(redmine_env)
    slow_one = redmine.create_incident("Slow ticket (few calls)")
    others = [redmine.create_incident(f"Other ticket {n} (few calls)") for n in range(3)]
    slow_path = f"/issues/{slow_one['id']}.json"

    def delay(method: str, path: str) -> float:
        return 8.0 if method == "PUT" and path.startswith(slow_path) else 0.0

    with slow_proxy(redmine_env["REDMINE_URL"], delay) as proxied:
        env = dict(redmine_env, REDMINE_URL=proxied)
        for application, _ in serve(ONE_SAVE, tmp_path, database_url, env, webhook_token=TOKEN):
            for created in [slow_one, *others]:
                _deliver(application, redmine.plugin_payload(redmine.issue(created["id"])))
            assert application.worker.process_inbox() == 4
            started = time.monotonic()
            assert application.worker.apply_outbox(wait=False) == 12
            while time.monotonic() - started < 6 and _written(application) < 9:
                time.sleep(0.1)
            assert _written(application) == 9  # the three others, within seconds
            assert time.monotonic() - started < 6
            assert {row["ticket_id"] for row in application.store.outbox_rows(state="done")} == \
                {str(created["id"]) for created in others}
            assert application.worker.wait_applied(30)
            assert _written(application) == 12  # and the slow one in the end


def _written(application: Application) -> int:
    application.worker.record_outcomes()  # as the service's loop does on each pass
    return len(application.store.outbox_rows(state="done"))


def _our_journals(redmine: SandboxRedmine, issue_id: int) -> list[dict[str, Any]]:
    me = redmine.service_user()["id"]
    return [j for j in redmine.issue(issue_id)["journals"] if j["user"]["id"] == me and j.get("notes")]


def test_notes_of_one_visibility_are_one_note_and_a_retry_writes_only_the_missing(tmp_path, database_url,
                                                                                   redmine_env):
    for application, counting in _serving(NOTES, tmp_path, database_url, redmine_env):
        redmine = SandboxRedmine(redmine_env)
        created = _handled(application, redmine, "Notes together (few calls)", effects=3)
        ours = _our_journals(redmine, created["id"])
        # The two private notes, in rule order, are one journal; the public one is a save of its
        # own (a save carries one visibility).
        assert [(j["notes"], j["private_notes"]) for j in ours] == [
            ("Checked the logs: nothing unusual.\n\nCustomer is on the premium plan.", True),
            ("Received: we are on it.", False)]
        assert sorted(row["outcome"] for row in application.store.outbox_rows()) == \
            ["private note added", "private note added", "public note added"]

        # A retry (the first attempt may have reached
        # Redmine) leaves out the note an earlier save holds and writes the rest.
        def note(body: str) -> Effect:
            return Effect(f"retry:{body}", "comment", "redmine", str(created["id"]), "r",
                          {"body": body, "private": True})

        first, second, third = note("Step one done."), note("Step two done."), note("Step three done.")
        assert counting.apply_together([first, second], True) == ["private note added"] * 2
        assert _our_journals(redmine, created["id"])[-1]["notes"] == "Step one done.\n\nStep two done."
        assert counting.apply_together([first, second, third], False) == [
            "note already written (an earlier attempt reached Redmine)",
            "note already written (an earlier attempt reached Redmine)", "private note added"]
        ours = _our_journals(redmine, created["id"])
        assert [j["notes"] for j in ours[-2:]] == ["Step one done.\n\nStep two done.", "Step three done."]
        assert counting.apply_together([second, third], False) == [
            "note already written (an earlier attempt reached Redmine)"] * 2
        assert len(_our_journals(redmine, created["id"])) == len(ours)  # nothing written twice
