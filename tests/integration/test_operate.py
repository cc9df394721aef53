"""A tracker that is down, as an operator lives it, on the sandbox Redmine (behind a proxy that
answers 503 while it is "down") and both databases: effects wait with growing delays and all
arrive once it is back; past their attempts they are dead letters, which `ticketwarden status`
shows with the reason and `ticketwarden retry` brings back, each written once. And what
`/metrics` shows of it all, without ticket data."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

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


def test_metrics_count_this_process_and_show_the_shared_queues_without_ticket_data(tmp_path, database_url,
                                                                                     redmine_env):
    redmine = SandboxRedmine(redmine_env)
    subject = f"Metrics secret subject {tmp_path.name}"
    for application, _ in serve(RULES, tmp_path, database_url, redmine_env, webhook_token=TOKEN):
        web = application.app.test_client()
        issue = redmine.create_incident(subject)
        body = redmine.plugin_payload(redmine.issue(issue["id"]))
        for token in (TOKEN, TOKEN, "wrong"):
            web.post("/webhooks/redmine", json=body, headers={"X-Ticketwarden-Token": token})
        assert application.worker.process_inbox() == 1
        assert application.worker.apply_outbox() == 1
        application.worker.record_outcomes()

        page = web.get("/metrics")
        assert page.status_code == 200 and page.content_type.startswith("text/plain")
        text = page.get_data(as_text=True)
        samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                   for family in text_string_to_metric_families(text) for sample in family.samples}

        def value(name: str, **labels: str) -> float:
            return samples[(name, tuple(sorted(labels.items())))]

        assert value("ticketwarden_deliveries_received_total", tracker="redmine", outcome="accepted") == 1
        assert value("ticketwarden_deliveries_received_total", tracker="redmine", outcome="duplicate") == 1
        assert value("ticketwarden_deliveries_received_total", tracker="redmine", outcome="refused") == 1
        assert value("ticketwarden_events_total", source="redmine", outcome="decided") == 1
        assert value("ticketwarden_effects_total", tracker="redmine", action="comment", outcome="applied") == 1
        assert value("ticketwarden_rule_evaluation_seconds_count", source="redmine") == 1
        assert value("ticketwarden_effect_write_seconds_count", tracker="redmine") == 1
        assert value("ticketwarden_queue_depth", queue="outbox", state="done") == 1
        assert value("ticketwarden_queue_depth", queue="inbox", state="pending") == 0
        assert value("ticketwarden_queue_oldest_waiting_seconds", queue="inbox") == 0
        assert value("ticketwarden_store_up") == 1
        # no ticket data: not its subject, not its id as a label value
        assert subject not in text and "Metrics secret" not in text
        assert all(str(issue["id"]) not in labels for (_, labels) in samples for labels in [dict(labels).values()])
        health = web.get("/healthz").get_data(as_text=True) + web.get("/readyz").get_data(as_text=True)
        assert subject not in health and str(issue["id"]) not in health
