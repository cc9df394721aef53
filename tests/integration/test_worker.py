"""Worker paths that need no tracker: nothing is lost while a tracker or the rules are missing."""

from __future__ import annotations

import json
from datetime import timedelta

from rules.schema import TRIGGERS
from tests.conftest import EXAMPLE_RULEBOOK
from tests.helpers import T0
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.worker import RetryPolicy, Worker

OPENED = {"payload": {"action": "opened", "issue": {"id": 9}}}


def test_events_wait_for_a_tracker_then_are_dead_lettered_not_dropped(store):
    store.store_delivery(source="redmine", shape="plugin", dedup_key="redmine:issue:9:created",
                         path="/webhooks/redmine", headers={}, body=json.dumps(OPENED), now=T0)
    rules = RulebookHolder([EXAMPLE_RULEBOOK])
    assert rules.reload() == []
    clock = [T0]
    worker = Worker(store, {}, rules, clock=lambda: clock[0], retry=RetryPolicy(base=1, cap=1, max_attempts=3))
    for attempt in (1, 2, 3):
        assert worker.process_inbox() == 1
        row = store.inbox_rows()[0]
        assert (row["state"], row["attempts"]) == ("pending", attempt)
        assert row["last_error"] == "no redmine tracker is configured"
        assert worker.process_inbox() == 0  # backing off
        clock[0] += timedelta(seconds=2)
    assert worker.process_inbox() == 1
    row = store.inbox_rows()[0]
    assert (row["state"], row["last_error"]) == ("dead", "gave up after 3 attempts")


def test_an_invalid_rulebook_keeps_the_last_good_one(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE_RULEBOOK.read_text())
    holder = RulebookHolder([path])
    assert holder.reload() == []
    good = holder.current
    path.write_text("version: 1\nrules:\n  - name: broken\n    on: [ticket.nope]\n    then: []\n")
    errors = holder.reload()
    assert [str(e) for e in errors] == [
        f"{path}:4: rules → 0 → on → 0: unknown trigger 'ticket.nope' (expected one of: "
        f"{', '.join(TRIGGERS)}, or {{schedule: cron}})",
        f"{path}:5: rules → 0 → then: expected a non-empty list of actions"]
    assert holder.current is good and holder.last_errors == errors
    path.write_text(EXAMPLE_RULEBOOK.read_text().replace("triage new incidents", "triage incidents"))
    assert holder.reload() == [] and holder.current.rules[0].name == "triage incidents"
