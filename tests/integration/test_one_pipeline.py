"""The four places an event is processed (the worker, `replay`, `backfill` and the rule-test
runner) go through one step (rules/pipeline.py), so on the same history they agree: the same
decisions, the same SLA clocks. The history is a real one, made in the sandbox Redmine."""

from __future__ import annotations

import json
from datetime import timedelta

from connector.redmine_payloads import parts
from rules.model import Ticket
from rules.testing import TestCase as RuleTestCase
from rules.testing import run_case
from tests.integration.redmine_service import serve, settle, start_incident
from tests.integration.sandbox import SandboxRedmine
from ticketwarden import migrate
from ticketwarden.backfill import backfill
from ticketwarden.replay import replay, stored_items
from ticketwarden.store import Store, create_db_engine
from ticketwarden.worker import Worker

EXAMPLE = "examples/rulebooks/redmine-support.yaml"


def _signatures(store: Store, ticket_id: str) -> dict[str, list[tuple[str, str]]]:
    """The effects the worker decided, by the event (inbox key) that decided them."""
    keys = {row["id"]: row["dedup_key"] for row in store.inbox_rows()}
    found: dict[str, list[tuple[str, str]]] = {}
    for row in store.outbox_rows():
        if row["ticket_id"] == ticket_id:
            found.setdefault(keys[row["inbox_id"]], []).append((row["rule"], row["action"]))
    return found


def _clocks(store: Store, ticket_id: str) -> list[tuple[str, int, list[str], str]]:
    return sorted((row.clock.policy, row.clock.cycle, [t.kind for t in row.clock.transitions if t.kind not in
                                                       ("warned", "breached")], row.state)
                  for row in store.all_clocks(open_only=False) if row.clock.ticket_id == ticket_id)


def test_worker_replay_backfill_and_rule_tests_agree(redmine_env, tmp_path, database_url):
    rules = open(EXAMPLE, encoding="utf-8").read()
    for application, clock in serve(rules, tmp_path, database_url, redmine_env):
        redmine = SandboxRedmine(redmine_env)
        created = start_incident(application, redmine, "Payroll export fails (one pipeline)")
        ident = str(created["id"])
        redmine.update(created["id"], status="Feedback", notes="Which file did you export?")
        settle(application)
        redmine.update(created["id"], status="In Progress", notes="payroll-2026-11.csv")
        settle(application)
        rulebook = application.rules.current
        assert rulebook is not None
        worker_effects = _signatures(application.store, ident)
        worker_clocks = _clocks(application.store, ident)
        resolution = [kinds for policy, _, kinds, _ in worker_clocks if policy == "resolution"]
        assert resolution == [["started", "paused", "resumed"]], worker_clocks

        # replay: every stored delivery through the same step decides what the worker decided
        items = [item for item in stored_items(application.store, ["redmine"], None, None)
                 if str(parts(item.body)[0].get("id")) == ident]
        report = replay(rulebook, items, application.connectors)
        assert report.events >= 3, report.lines
        assert report.changed == 0, "\n".join(report.lines)

        # backfill: the tracker's history into an empty store rebuilds the same clocks
        fresh = Store(create_db_engine(f"sqlite:///{tmp_path / 'backfilled.db'}"))
        migrate.upgrade(fresh.engine)
        connector = application.connectors["redmine"]
        since = clock() - timedelta(minutes=5)
        summary = backfill(fresh, connector, rulebook, since, clock())  # type: ignore[arg-type]
        assert summary.tickets >= 1
        assert _clocks(fresh, ident) == worker_clocks

        # rule tests: the same history through the rule-test runner plans the same effects
        steps = connector.history(ident)  # type: ignore[attr-defined]
        first: Ticket = steps[0][1]
        case = RuleTestCase("history", "-", 1, first, [(event, {}, 0) for event, _ in steps])
        _, decisions = run_case(case, rulebook)
        us = connector.service_user().id  # type: ignore[attr-defined]
        by_people = {event.id for event, _ in steps if event.actor is None or event.actor.id != us}
        runner: dict[str, list[tuple[str, str]]] = {}
        for decision in decisions:
            if decision.event_id in by_people or decision.event_id.startswith(f"sla:redmine:{ident}:"):
                parent = decision.event_id
                runner.setdefault(parent, []).extend((e.rule, e.action) for e in decision.effects)
        worker_by_person = {key: sorted(value) for key, value in worker_effects.items()}
        assert ("resolution clock started", "set") in worker_by_person[f"redmine:issue:{ident}:created"]
        assert any(("resolution clock paused", "set") in value for value in worker_by_person.values())
        runner_by_event = _by_delivery(runner, ident)
        assert runner_by_event == worker_by_person, json.dumps(
            {"worker": worker_by_person, "rule tests": runner_by_event}, indent=1)
        assert isinstance(application.worker, Worker)


def _by_delivery(decided: dict[str, list[tuple[str, str]]], ident: str) -> dict[str, list[tuple[str, str]]]:
    """Effects of SLA events belong to the delivery that raised them (the worker records them
    with it): sla.started with the creation."""
    merged: dict[str, list[tuple[str, str]]] = {}
    for event_id, effects in decided.items():
        owner = f"redmine:issue:{ident}:created" if event_id.startswith("sla:") else event_id
        merged.setdefault(owner, []).extend(effects)
    return {key: sorted(value) for key, value in merged.items() if value}
