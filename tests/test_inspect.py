"""`ticketwarden inspect`: what ticketwarden sees in recorded deliveries, read with no tracker.

Runs over every recorded Redmine and Jira payload: the deliveries show their tracker and ticket,
the malformed ones (those the intake answers 400) give an error naming the file and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ticketwarden.cli import main

PAYLOADS = Path(__file__).parent / "payloads"
RECORDED = sorted(PAYLOADS.glob("redmine/*.json")) + sorted(PAYLOADS.glob("jira/*.json"))


def rulebook(folder: Path, staff: str) -> str:
    """A rule file whose `staff` section is `staff` (what inspect looks at in a rulebook)."""
    path = folder / "rules.yaml"
    path.write_text(f"version: 1\nstaff: {staff}\nrules:\n  - name: noted\n    on: [ticket.commented]\n"
                    f"    then: [{{comment: {{private: true, body: noted}}}}]\n")
    return str(path)


def inspect(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["inspect", *args], env={"REDMINE_URL": "", "JIRA_URL": ""})
    return result.exit_code, result.stdout, result.stderr


def what_the_file_says(case: dict, tracker: str) -> tuple[str, str | None]:
    """The ticket id and key the recorded body names, read straight from its JSON."""
    body = case["body"]
    if tracker == "redmine":
        issue = (body.get("payload") or body.get("data"))["issue"]
        return str(issue["id"]), f"#{issue['id']}"
    if "issue" in body:
        return str(body["issue"]["id"]), body["issue"]["key"]
    return body["comment"]["self"].split("/issue/")[1].split("/")[0], None  # Data Center: no `issue`


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recorded_payload(path: Path) -> None:
    case = json.loads(path.read_text())
    tracker = path.parent.name
    code, out, err = inspect(str(path))
    if case["expect"]["status"] == 400:  # not a delivery: the intake refuses it, inspect says why
        assert code == 1 and out == ""
        assert err.startswith(f"{path}: not a recognised delivery: ")
        assert case["expect"]["reason_contains"] in err
        return
    assert code == 0, err
    shown = json.loads(out)
    assert shown["file"] == str(path) and shown["tracker"] == tracker
    ticket_id, key = what_the_file_says(case, tracker)
    assert shown["ticket"]["id"] == ticket_id and shown["ticket"]["key"] == key
    if "dedup_key" in case["expect"] and "also" not in case:  # the event and its kind, as the worker reads them
        assert shown["event"] == case["expect"]["dedup_key"]
        assert shown["kind"] == case["expect"]["triggers"]


def test_a_jira_cloud_comment_and_its_visibility(tmp_path: Path) -> None:
    """A recorded Cloud comment (public), and the same comment made internal in Jira Service
    Management or restricted to a role: private."""
    recorded = PAYLOADS / "jira" / "cloud-comment-adf.json"
    code, out, _ = inspect(str(recorded))
    shown = json.loads(out)
    assert code == 0
    assert shown["tracker"] == "jira" and shown["shape"] == "cloud" and shown["kind"] == ["ticket.commented"]
    assert shown["comment"] == {"text": "Restarted the service", "visibility": "public"}
    assert shown["ticket"]["key"] == "KAN-22" and shown["ticket"]["project"] == "KAN"
    assert shown["ticket"]["status"] == "To Do" and shown["ticket"]["tracker"] == "Task"
    assert shown["actor"] == {"id": "712020:f1ad7cfd-7f82-4dc0-85e4-8bc47bcc08e4",
                              "login": "712020:f1ad7cfd-7f82-4dc0-85e4-8bc47bcc08e4", "name": "Sirajudheen MK"}
    assert shown["changes"] == []

    case = json.loads(recorded.read_text())
    internal, restricted = json.loads(json.dumps(case)), json.loads(json.dumps(case))
    internal["body"]["comment"]["properties"] = [{"key": "sd.public.comment", "value": {"internal": True}}]
    restricted["body"]["comment"]["visibility"] = {"type": "role", "value": "Developers"}
    files = []
    for name, document in (("internal", internal), ("restricted", restricted)):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps(document))
    code, out, _ = inspect(*map(str, files))
    assert code == 0
    assert [item["comment"]["visibility"] for item in json.loads(out)] == ["private", "private"]


def test_a_redmine_journal_with_a_status_change(tmp_path: Path) -> None:
    """The plugin's journal: status New -> Feedback with a note and two custom fields. Offline,
    the journal's old status is an id the delivery does not name: shown as is, and said so."""
    path = PAYLOADS / "redmine" / "plugin-issue-updated-status-note-field.json"
    code, out, _ = inspect(str(path), "--rules", rulebook(tmp_path, "{roles: [Manager, Developer]}"))
    shown = json.loads(out)
    assert code == 0
    assert (shown["tracker"], shown["shape"], shown["event"]) == ("redmine", "plugin", "redmine:issue:3:journal:7")
    assert shown["kind"] == ["ticket.commented", "ticket.updated"]
    assert {k: shown["ticket"][k] for k in ("id", "key", "project", "tracker", "status", "priority")} == {
        "id": "3", "key": "#3", "project": "support", "tracker": "Incident", "status": "Feedback", "priority": "Normal"}
    assert shown["ticket"]["custom_fields"]["Failure origin"] == "infrastructure"
    assert [(c["field"], c["old"], c["new"]) for c in shown["changes"]] == [
        ("status", "1", "Feedback"), ("cf:SLA status", "on_track", "paused"),
        ("cf:Failure origin", "unknown", "infrastructure")]
    assert all({"field", "old", "new", "field_id"} <= set(change) for change in shown["changes"])
    assert shown["comment"] == {"text": "Please send the VPN client logs.", "visibility": "public"}
    assert shown["actor"] == {"id": "1", "login": "admin", "name": "Redmine Admin"}  # no role: see the note
    assert "the delivery does not name status id 1: shown as the id" in shown["notes"]
    assert "staff or customer: the rulebook tells by roles, which the delivery does not show for this person" \
        in shown["notes"]


@pytest.mark.parametrize(("staff", "role"), [("{email_domains: [example.com]}", "customer"),
                                           ("{email_domains: [example.test]}", "staff"),
                                           ("{logins: [jdoe], groups: [support-staff]}", "staff")])
def test_the_actor_is_staff_or_customer_when_the_rulebook_can_tell(tmp_path: Path, staff: str, role: str) -> None:
    """Staff by e-mail domain or login: the Data Center user's address and login say it (their
    groups do not matter once the login does)."""
    path = PAYLOADS / "jira" / "dc-issue-updated-custom-field.json"
    code, out, _ = inspect(str(path), "--rules", rulebook(tmp_path, staff))
    shown = json.loads(out)
    assert code == 0
    assert shown["actor"] == {"id": "JIRAUSER10100", "login": "jdoe", "name": "John Doe",
                              "email": "jdoe@example.test", "role": role}
    assert shown["changes"][1]["field"] == "cf:Failure origin" and shown["changes"][1]["field_id"] == ""
    assert any("names the custom field but not its id" in note for note in shown["notes"])


def test_several_files_give_a_list_and_a_bad_one_does_not_stop_the_others(tmp_path: Path) -> None:
    good = PAYLOADS / "redmine" / "plugin-issue-opened.json"
    raw = tmp_path / "raw-body.json"  # a raw body, not a recorded request
    raw.write_text(json.dumps(json.loads((PAYLOADS / "jira" / "cloud-issue-created.json").read_text())["body"]))
    missing = tmp_path / "gone.json"
    code, out, err = inspect(str(good), str(missing), str(raw), str(PAYLOADS / "redmine" / "unknown-shape.json"))
    assert code == 1
    assert [(item["file"], item["tracker"], item["ticket"]["key"]) for item in json.loads(out)] == [
        (str(good), "redmine", "#3"), (str(raw), "jira", "KAN-22")]
    assert err.splitlines()[0].startswith(f"{missing}: not a recognised delivery: cannot read it: ")
    assert err.splitlines()[1].startswith(f"{PAYLOADS / 'redmine' / 'unknown-shape.json'}: not a recognised delivery: "
                                          "neither a Redmine nor a Jira delivery")
