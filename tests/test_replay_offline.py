"""`ticketwarden replay --offline`: recorded Redmine and Jira deliveries through a rulebook with
no tracker configured and none reachable; what a delivery lacks is said, never fetched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ticketwarden.cli import main

PAYLOADS = Path(__file__).parent / "payloads"
RULES = """
version: 1
fields:
  origin: {redmine: "Failure origin", jira: customfield_10050}
  triage: {redmine: "Triage", jira: "Triage"}
staff: {roles: [Manager, Developer]}
rules:
  - name: triage new incidents
    on: [ticket.created]
    if: [project in (support, SUP), tracker = Incident]
    then:
      - comment: {private: true, body: "ticketwarden: incident {{ ticket.key }} received."}
  - name: origin classified
    on: [ticket.updated]
    if: [origin changed_to internal]
    then:
      - comment: {private: true, body: "ticketwarden: our own failure."}
"""
NO_TRACKER = {"REDMINE_URL": "", "REDMINE_API_KEY": "", "JIRA_URL": "", "JIRA_USER": "", "JIRA_API_TOKEN": "",
              "JIRA_PERSONAL_TOKEN": ""}


@pytest.fixture
def rules(tmp_path: Path) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return str(path)


def replay(*args: str):
    return CliRunner().invoke(main, ["replay", *args], env=NO_TRACKER)


def test_a_redmine_creation_is_replayed_from_the_delivery_alone(rules):
    opened = PAYLOADS / "redmine" / "plugin-issue-opened.json"
    result = replay("--offline", "--rules", rules, str(opened))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{opened}: redmine:issue:3:created on #3 at 2026-11-22T01:44:59.156000+00:00"
    # The rulebook tells staff by project roles, which no delivery carries: said, not looked up.
    assert lines[1] == ("  offline: whether Redmine Admin is staff is not in the delivery (the rulebook tells by "
                        "roles): taken as customer")
    assert lines[2] == ("  would: comment by 'triage new incidents' "
                        '{"body": "ticketwarden: incident #3 received.", "private": true}')
    assert lines[-1] == "1 event(s) replayed: 0 would change (0 effect(s) added, 0 no longer)"


def test_a_name_the_delivery_lacks_is_reported_and_the_rest_replayed(rules):
    """Redmine journals give the old status as an id only; core webhooks give no project
    identifier: those deliveries cannot be replayed offline, and the output says why."""
    status = PAYLOADS / "redmine" / "plugin-issue-updated-status-note-field.json"
    core = PAYLOADS / "redmine" / "core-issue-created-signed.json"
    opened = PAYLOADS / "redmine" / "plugin-issue-opened.json"
    result = replay("--offline", "--rules", rules, str(status), str(core), str(opened))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (f"{status}: cannot replay offline: the delivery does not name status id 1 (Redmine journals "
                        "give ids, the names come from Redmine); replay it without --offline")
    assert lines[1] == (f"{core}: cannot replay offline: the delivery gives project 1 ('Support') without its "
                        "identifier, which rules compare (Redmine core webhooks name projects by id and name); "
                        "replay it without --offline")
    assert lines[2].startswith(f"{opened}: redmine:issue:3:created on #3")
    assert lines[-1] == ("1 event(s) replayed: 0 would change (0 effect(s) added, 0 no longer); "
                         "2 could not be replayed offline")


def test_jira_deliveries_offline(tmp_path, rules):
    """A Cloud creation in project SUP runs the triage; a Data Center change names its custom
    field without the id the rulebook maps, and a field the rulebook names is known by id only:
    both said."""
    case = json.loads((PAYLOADS / "jira" / "cloud-issue-created.json").read_text())
    fields = case["body"]["issue"]["fields"]
    case["body"]["issue"]["key"] = "SUP-22"
    fields["project"].update(key="SUP", name="Support")
    fields["issuetype"]["name"] = "Incident"
    created = tmp_path / "sup-created.json"
    created.write_text(json.dumps(case["body"]))  # a raw body, as Jira posts it
    changed = PAYLOADS / "jira" / "dc-issue-updated-custom-field.json"

    result = replay("--offline", "--rules", rules, str(created), str(changed))

    assert result.exit_code == 0, result.output
    by_name = ("  offline: a Jira delivery gives custom fields by id only: 'Triage' (mapped by name in the rulebook) "
               "read as empty")
    staff = ("  offline: whether Sirajudheen MK is staff is not in the delivery (the rulebook tells by roles): "
             "taken as customer")
    assert result.stdout.splitlines() == [
        f"{created}: jira:issue:10021:created on SUP-22 at 2024-12-29T03:11:23.659000+00:00", by_name, staff,
        "  would: comment by 'triage new incidents' "
        '{"body": "ticketwarden: incident SUP-22 received.", "private": true}',
        f"{changed}: jira:issue:11442:changelog:34911 on INDEV-6 at 2019-01-30T12:51:34.870000+00:00",
        "  offline: the change of 'Failure origin' names the custom field but not its id (Jira Data Center): "
        "rules that map the field by id do not see it", by_name,
        "  offline: whether John Doe is staff is not in the delivery (the rulebook tells by roles): taken as customer",
        "  would: nothing",
        "2 event(s) replayed: 0 would change (0 effect(s) added, 0 no longer)"]


def test_without_offline_a_missing_tracker_is_named(rules):
    jira = PAYLOADS / "jira" / "cloud-issue-created.json"
    redmine = PAYLOADS / "redmine" / "plugin-issue-opened.json"
    result = replay("--rules", rules, str(jira), str(redmine))
    assert result.exit_code == 2
    assert ("replay reads field names from Jira: set JIRA_URL and JIRA_USER + JIRA_API_TOKEN (or JIRA_PERSONAL_TOKEN); "
            "replay reads status and tracker names from Redmine: set REDMINE_URL and REDMINE_API_KEY "
            "(or replay without any tracker: --offline)") in " ".join(result.stderr.split())


def test_a_file_that_is_not_a_delivery_is_named(rules):
    bad = PAYLOADS / "redmine" / "plugin-unknown-action.json"
    result = replay("--offline", "--rules", rules, str(bad))
    assert result.exit_code == 2
    assert f"{bad}: not a recognised delivery: payload.action: expected `opened` or `updated`" in result.stderr
