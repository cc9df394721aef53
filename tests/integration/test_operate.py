"""A tracker that is down, as an operator lives it, on the sandbox Redmine (behind a proxy that
answers 503 while it is "down") and both databases: effects wait with growing delays and all
arrive once it is back; past their attempts they are dead letters, which `ticketwarden status`
shows with the reason and `ticketwarden retry` brings back, each written once."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from tests.integration.redmine_service import serve
from tests.integration.sandbox import SandboxRedmine
from tests.integration.slow_proxy import slow_proxy
from ticketwarden.cli import main

TOKEN = "operate-token"
RULES = """
version: 1
rules:
  - name: acknowledge
    on: [ticket.created]
    then: [{comment: {private: true, body: "ticketwarden: {{ ticket.key }} acknowledged."}}]
"""


def _ours(redmine: SandboxRedmine, issue_id: int) -> list[str]:
    me = redmine.service_user()["id"]
    return [j["notes"] for j in redmine.issue(issue_id)["journals"] if j["user"]["id"] == me and j.get("notes")]


def test_effects_wait_out_an_outage_and_dead_letters_are_shown_and_brought_back(tmp_path, database_url,
                                                                                 redmine_env):
    redmine = SandboxRedmine(redmine_env)
    outage = {"down": True}
    with slow_proxy(redmine_env["REDMINE_URL"], lambda method, path: 0.0,
                    down=lambda method, path: outage["down"] and method == "PUT") as proxied:
        env = dict(redmine_env, REDMINE_URL=proxied)
        for application, clock in serve(RULES, tmp_path, database_url, env, webhook_token=TOKEN,
                                        outbox_max_attempts=4):
            worker, store = application.worker, application.store
            created = [redmine.create_incident(f"Outage {n} (operate)") for n in range(3)]
            for issue in created:
                answer = application.app.test_client().post(
                    "/webhooks/redmine", json=redmine.plugin_payload(redmine.issue(issue["id"])),
                    headers={"X-Ticketwarden-Token": TOKEN})
                assert answer.status_code == 202
            assert worker.process_inbox() == 3

            # Down: every write fails and is put off, each time for longer.
            waits = []
            for attempt in (1, 2):
                assert worker.apply_outbox() == 3
                worker.record_outcomes()
                rows = store.outbox_rows()
                assert {(row["state"], row["attempts"]) for row in rows} == {("pending", attempt)}
                assert all("503" in row["last_error"] for row in rows)
                waits.append(min(row["available_at"] for row in rows) - clock())
                assert worker.apply_outbox() == 0  # not before its time
                clock.offset += max(row["available_at"] for row in rows) - clock() + timedelta(seconds=1)
            assert waits[1] > waits[0] > timedelta(0)
            summary = _status(database_url)
            assert summary["queues"]["outbox"]["retrying"] == 3
            assert all(_ours(redmine, issue["id"]) == [] for issue in created)

            # Back after minutes: everything put off arrives, once.
            outage["down"] = False
            assert worker.apply_outbox() == 3
            worker.record_outcomes()
            assert {row["state"] for row in store.outbox_rows()} == {"done"}
            for issue in created:
                assert _ours(redmine, issue["id"]) == [f"ticketwarden: #{issue['id']} acknowledged."]

            # Down for longer than the attempts allow: dead letters, shown with their reason.
            outage["down"] = True
            late = redmine.create_incident("Outage late (operate)")
            application.app.test_client().post(
                "/webhooks/redmine", json=redmine.plugin_payload(redmine.issue(late["id"])),
                headers={"X-Ticketwarden-Token": TOKEN})
            assert worker.process_inbox() == 1
            for _ in range(4):
                worker.apply_outbox()
                worker.record_outcomes()
                clock.offset += timedelta(hours=1)
            [dead] = store.outbox_rows(state="dead")
            assert dead["attempts"] == 4 and "503" in dead["last_error"]
            summary = _status(database_url)
            assert summary["queues"]["outbox"]["states"]["dead"] == 1
            [letter] = summary["dead_letters"]
            assert (letter["queue"], letter["id"]) == ("outbox", dead["id"]) and "503" in letter["error"]
            text = CliRunner().invoke(main, ["status", "--database-url", database_url])
            assert text.exit_code == 0, text.output
            assert f"outbox {dead['id']}: comment on redmine {late['id']} (rule 'acknowledge')" in text.output
            assert "dead 1" in text.output

            # Back, and the operator brings it back: written once.
            outage["down"] = False
            wrong = CliRunner().invoke(main, ["retry", "--outbox", str(dead["id"] + 1000), "--database-url",
                                              database_url])
            assert wrong.exit_code == 1 and "not dead letters" in wrong.output
            done = CliRunner().invoke(main, ["retry", "--outbox", str(dead["id"]), "--database-url", database_url])
            assert done.exit_code == 0 and "outbox: 1 re-queued" in done.output, done.output
            assert worker.apply_outbox() == 1
            worker.record_outcomes()
            [row] = store.outbox_rows(id=dead["id"])
            assert row["state"] == "done", row
            assert _ours(redmine, late["id"]) == [f"ticketwarden: #{late['id']} acknowledged."]
            assert _status(database_url)["dead_letters"] == []


def _status(database_url: str) -> dict:
    result = CliRunner().invoke(main, ["status", "--json", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
