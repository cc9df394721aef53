"""Change control after delivery (examples/rulebooks/change-control.yaml) against the sandbox Redmine.

The example rulebook as shipped, on the project `changes` that sandbox/redmine_setup.rb creates:
the tracker Change request, the list fields Approval, Impact and Risk, and the group
change-board (a member of `changes`) whose users hold the rulebook's role `approver`. Cora
Board is on the board; Alice Agent is a Manager of `changes` but not an approver. Each acts as
herself through Redmine's REST API (the administrator's key with X-Redmine-Switch-User), the
poller and the worker do the rest, and each test reads back what Redmine holds: field values,
the journals of the change and of ticketwarden's answer, relations and the development issue.
The decision deadline is swept with the application's clock moved past it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from connector.redmine_payloads import parse_time
from tests.conftest import ROOT
from tests.helpers import MovableClock
from tests.integration.redmine_service import poll_from, serve, settle
from tests.integration.sandbox import SandboxRedmine
from ticketwarden.service import Application
from ticketwarden.sla import SlaBook

pytestmark = pytest.mark.redmine

RULEBOOK = ROOT / "examples" / "rulebooks" / "change-control.yaml"
SERVICE_NAME = "ticketwarden service"
APPROVER, NOT_APPROVER = "cora", "agent"  # sandbox/redmine_setup.rb: Cora Board, Alice Agent


class ChangeBoardRedmine(SandboxRedmine):
    """The sandbox Redmine as its people use it: each request made as one of them."""

    def act(self, login: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, self.url + path, timeout=30, headers={
            "X-Redmine-API-Key": self.admin_key, "X-Redmine-Switch-User": login}, **kwargs)
        assert response.ok, (response.status_code, response.text)
        return response

    def create_change(self, login: str, subject: str, fields: dict[str, str] | None = None,
                      priority: str = "Normal") -> dict[str, Any]:
        body = {"issue": {"project_id": "changes", "subject": subject,
                          "description": f"{subject}: asked for by the customer after delivery.",
                          "tracker_id": self.ids("trackers", "trackers")["Change request"],
                          "priority_id": self.ids("enumerations/issue_priorities", "issue_priorities")[priority],
                          **self._custom(fields)}}
        issue: dict[str, Any] = self.act(login, "POST", "/issues.json", json=body).json()["issue"]
        return issue

    def change(self, login: str, issue_id: int, fields: dict[str, str] | None = None, **changes: Any) -> None:
        if "status" in changes:
            changes["status_id"] = self.ids("issue_statuses", "issue_statuses")[changes.pop("status")]
        self.act(login, "PUT", f"/issues/{issue_id}.json", json={"issue": {**changes, **self._custom(fields)}})

    def field_id(self, name: str) -> str:
        [field] = self._custom({name: None})["custom_fields"]
        return str(field["id"])

    def fields(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {name: self.custom_field(issue, name) for name in ("Approval", "Impact", "Risk")}

    def notes(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        """ticketwarden's notes on the issue, each rule's note a paragraph (one journal per write)."""
        return [{"private": j["private_notes"], "text": part}
                for j in self.notes_by(issue, SERVICE_NAME) for part in j["notes"].split("\n\n")]

    def related(self, issue_id: int) -> list[dict[str, Any]]:
        return [self.issue(r["issue_to_id"] if r["issue_id"] == issue_id else r["issue_id"])
                for r in self.relations(issue_id)]


@pytest.fixture
def service(tmp_path, redmine_env) -> Iterator[tuple[Application, MovableClock]]:
    yield from serve(RULEBOOK.read_text(), tmp_path, f"sqlite:///{tmp_path / 'tw.db'}", redmine_env)


@pytest.fixture
def redmine(redmine_env) -> ChangeBoardRedmine:
    return ChangeBoardRedmine(redmine_env)


def received(application: Application, redmine: ChangeBoardRedmine, subject: str, **options: Any) -> dict[str, Any]:
    """Alice files a change request; ticketwarden sets it Pending and says what comes next."""
    created = redmine.create_change(NOT_APPROVER, subject, **options)
    moment = parse_time(created["created_on"])
    assert moment is not None
    poll_from(application, moment)
    settle(application)
    issue = redmine.issue(created["id"])
    assert redmine.custom_field(issue, "Approval") == "Pending"
    assert redmine.notes(issue) == [{"private": True, "text": (
        f"ticketwarden: change request #{created['id']} received. Fill in its impact and risk; the change board "
        "decides it within 5 business days, and no work starts before it is approved.")}]
    return issue


Detail = tuple[str, str, str | None, str | None]


def details(journal: dict[str, Any]) -> set[Detail]:
    return {(d["property"], d["name"], d.get("old_value"), d.get("new_value")) for d in journal["details"]}


def exchange(issue: dict[str, Any], person: str) -> tuple[set[Detail], set[Detail], list[tuple[bool, str]]]:
    """The person's last change, and ticketwarden's answer after it: what it changed and its notes
    (private, text). Redmine keeps a change saved with a private note as two journals."""
    journals = issue["journals"]
    [at] = [i for i, j in enumerate(journals) if j["user"]["name"] == person][-1:]
    answer = journals[at + 1:]
    assert answer and all(j["user"]["name"] == SERVICE_NAME for j in answer), answer
    changed = set().union(*(details(j) for j in answer))
    return details(journals[at]), changed, [(j["private_notes"], j["notes"]) for j in answer if j["notes"]]


def test_a_decision_by_someone_outside_the_change_board_is_set_back_with_a_note(service, redmine):
    application, _ = service
    created = received(application, redmine, "Export invoices as CSV (not an approver)",
                       fields={"Impact": "Medium", "Risk": "Low"})
    approval = redmine.field_id("Approval")

    redmine.change(NOT_APPROVER, created["id"], fields={"Approval": "Approved"})
    settle(application)
    issue = redmine.issue(created["id"])
    assert redmine.fields(issue) == {"Approval": "Pending", "Impact": "Medium", "Risk": "Low"}
    theirs, ours, notes = exchange(issue, "Alice Agent")
    assert theirs == {("cf", approval, "Pending", "Approved")}
    assert ours == {("cf", approval, "Approved", "Pending")}
    assert notes == [(True, "ticketwarden: only the change board decides a change request; Alice Agent is not "
                            "an approver, so the approval is back to Pending.")]
    assert redmine.relations(created["id"]) == []  # nothing went to development

    redmine.change(NOT_APPROVER, created["id"], fields={"Approval": "Rejected"})  # a rejection alike
    settle(application)
    issue = redmine.issue(created["id"])
    assert redmine.custom_field(issue, "Approval") == "Pending"
    theirs, ours, notes = exchange(issue, "Alice Agent")
    assert (theirs, ours) == ({("cf", approval, "Pending", "Rejected")}, {("cf", approval, "Rejected", "Pending")})
    assert [text for _, text in notes] == [("ticketwarden: only the change board decides a change request; Alice "
                                            "Agent is not an approver, so the approval is back to Pending.")]
    [row] = application.store.clocks_for("redmine", str(created["id"]))
    assert row.state == "running"  # no decision stands: the board's clock runs on


def test_an_approval_before_impact_and_risk_is_set_back_naming_what_is_missing(service, redmine):
    application, _ = service
    created = received(application, redmine, "Archive closed orders (no assessment)")
    approval = redmine.field_id("Approval")

    redmine.change(APPROVER, created["id"], fields={"Approval": "Approved"})
    settle(application)
    issue = redmine.issue(created["id"])
    assert redmine.fields(issue) == {"Approval": "Pending", "Impact": None, "Risk": None}
    theirs, ours, notes = exchange(issue, "Cora Board")
    assert (theirs, ours) == ({("cf", approval, "Pending", "Approved")}, {("cf", approval, "Approved", "Pending")})
    assert notes == [(True, "ticketwarden: a change is approved once its impact and risk are assessed; missing: "
                            "impact and risk. The approval is back to Pending.")]

    redmine.change(NOT_APPROVER, created["id"], fields={"Impact": "High"})  # assessed in part
    redmine.change(APPROVER, created["id"], fields={"Approval": "Approved"})
    settle(application)
    issue = redmine.issue(created["id"])
    assert redmine.fields(issue) == {"Approval": "Pending", "Impact": "High", "Risk": None}
    _, ours, notes = exchange(issue, "Cora Board")
    assert ours == {("cf", approval, "Approved", "Pending")}
    assert notes == [(True, "ticketwarden: a change is approved once its impact and risk are assessed; missing: "
                            "risk. The approval is back to Pending.")]
    # Cora is an approver: never told she is not one, and nothing went to development.
    assert not any("is not an approver" in note["text"] for note in redmine.notes(issue))
    assert redmine.relations(created["id"]) == []


def test_work_started_before_approval_goes_back_to_new_with_a_note(service, redmine):
    application, _ = service
    created = received(application, redmine, "Rename the billing menu (started early)",
                       fields={"Impact": "Low", "Risk": "Low"})
    status = str(redmine.ids("issue_statuses", "issue_statuses")["In Progress"])
    new = str(redmine.ids("issue_statuses", "issue_statuses")["New"])

    redmine.change(NOT_APPROVER, created["id"], status="In Progress")
    settle(application)
    issue = redmine.issue(created["id"])
    assert issue["status"]["name"] == "New"
    theirs, ours, notes = exchange(issue, "Alice Agent")
    assert (theirs, ours) == ({("attr", "status_id", new, status)}, {("attr", "status_id", status, new)})
    assert notes == [(True, "ticketwarden: work on a change request starts once the change board has approved it "
                            "(approval: Pending); it is back to New.")]
    assert redmine.custom_field(issue, "Approval") == "Pending"


def test_an_approvers_approval_with_impact_and_risk_goes_to_development(service, redmine):
    application, _ = service
    subject = "Export invoices as CSV (approved)"
    created = received(application, redmine, subject, fields={"Impact": "Medium", "Risk": "Low"})

    redmine.change(APPROVER, created["id"], fields={"Approval": "Approved"})
    settle(application)
    issue = redmine.issue(created["id"])
    assert redmine.fields(issue) == {"Approval": "Approved", "Impact": "Medium", "Risk": "Low"}  # it stands
    [development] = redmine.related(created["id"])
    [relation] = redmine.relations(created["id"])
    assert relation["relation_type"] == "relates"
    assert development["project"]["name"] == "Development" and development["tracker"]["name"] == "Feature"
    assert development["subject"] == f"[#{created['id']}] {subject}"
    description = development["description"].replace("\r\n", "\n")
    assert f"Approved change request: #{created['id']} ({redmine.url}/issues/{created['id']}), approved by " \
           "Cora Board." in description
    assert "Impact: Medium. Risk: Low." in description
    assert redmine.notes(issue)[-1] == {"private": True, "text": (
        f"ticketwarden: approved by Cora Board; implemented in #{development['id']} "
        f"({redmine.url}/issues/{development['id']}).")}
    [row] = application.store.clocks_for("redmine", str(created["id"]))
    assert row.state == "met"  # the board decided in time

    # Work on the approved change goes ahead, and the approval is not escalated twice.
    redmine.change(NOT_APPROVER, created["id"], status="In Progress")
    settle(application)
    issue = redmine.issue(created["id"])
    assert issue["status"]["name"] == "In Progress"
    assert issue["journals"][-1]["user"]["name"] == "Alice Agent"  # no answer
    assert len(redmine.relations(created["id"])) == 1


def test_a_change_request_without_a_decision_in_five_business_days_is_escalated(service, redmine):
    application, clock = service
    waiting = received(application, redmine, "Add a second invoice address (waiting)")
    decided = redmine.create_change(NOT_APPROVER, "Larger logo on invoices (decided)",
                                    fields={"Impact": "Low", "Risk": "Low"})
    settle(application)
    redmine.change(APPROVER, decided["id"], fields={"Approval": "Rejected"})
    settle(application)
    assert redmine.custom_field(redmine.issue(decided["id"]), "Approval") == "Rejected"  # an approver's, it stands

    [row] = application.store.clocks_for("redmine", str(waiting["id"]))
    start = parse_time(waiting["created_on"])
    assert row.state == "running" and row.due_at is not None and start is not None
    rulebook = application.rules.current
    assert rulebook is not None
    office = SlaBook(rulebook).calendars["office"]
    # Five business days of the office's calendar, whatever the day it came in (from a Sunday
    # evening, less than five days of the clock on the wall).
    assert office.business_days_between(start, row.due_at, limit=10) == 5
    now = clock()

    def swept(at: Any) -> list[dict[str, Any]]:
        clock.offset = at - now
        application.sweep_sla()
        settle(application)
        return redmine.notes(redmine.issue(waiting["id"]))

    before = swept(row.due_at - timedelta(minutes=5))
    assert len(before) == 1  # only the note it got when it came in
    issue = redmine.issue(waiting["id"])
    assert issue["priority"]["name"] == "Normal"

    after = swept(row.due_at + timedelta(minutes=5))
    issue = redmine.issue(waiting["id"])
    assert issue["priority"]["name"] == "High"
    assert redmine.custom_field(issue, "Approval") == "Pending"
    [overdue] = after[1:]
    assert overdue["private"] is True
    assert overdue["text"].startswith(f"ticketwarden: change board, #{waiting['id']} has waited for your decision "
                                      "since it came in; it was due ")
    assert overdue["text"].endswith(" (5 business days). Please approve or reject it.")
    due_local = row.due_at.astimezone(application.worker._sla_book(application.rules.current)
                                      .calendar_of("change-decision").zone)
    assert due_local.strftime("%Y-%m-%d %H:%M") in overdue["text"]
    [row] = application.store.clocks_for("redmine", str(waiting["id"]))
    assert row.state == "breached"

    # Once: a later sweep adds nothing; the request decided in time is never escalated.
    assert swept(row.due_at + timedelta(days=3)) == after
    assert redmine.notes(redmine.issue(decided["id"]))[1:] == []
    assert redmine.issue(decided["id"])["priority"]["name"] == "Normal"
