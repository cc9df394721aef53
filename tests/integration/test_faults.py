"""Faults survived by real `ticketwarden worker` processes on PostgreSQL and the sandbox Redmine.

- `kill -9` of a worker in the middle of 1,000 events, then a restart under the same name:
  it takes its claims back at once, and every event's note is in Redmine exactly once.
- Three workers racing on one inbox: every note once.
- SIGTERM while the tracker holds every write: the process is gone within 10 s, what it held
  is given back, and the next worker writes each note once.
- Two live processes under one instance name: the second refuses to start.
- A worker killed for good: another takes what it held once its lease lapses.
- Three HTTP processes under gunicorn: a delivery sent many times at once is stored once.

Each event is a delivery of a person's note on one of a few Incidents; the rule answers each
with a private note naming it, so counting the paragraphs of ticketwarden's notes in Redmine
counts effects written (notes written at one time are paragraphs of one note).
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.sandbox import SandboxRedmine
from tests.integration.slow_proxy import slow_proxy
from ticketwarden import migrate
from ticketwarden.store import DONE, PROCESSING, Store, create_db_engine

pytestmark = [pytest.mark.redmine, pytest.mark.postgres]

RULES = """
version: 1
rules:
  - name: echo
    on: [ticket.commented]
    if: ['subject ~= "{marker}"']
    then: [{{comment: {{private: true, body: "echo {{{{ event.comment }}}}"}}}}]
"""


@pytest.fixture
def pg_url(postgres_database: str) -> Iterator[str]:
    from tests.conftest import _reset_schema

    _reset_schema(postgres_database)
    migrate.upgrade(create_db_engine(postgres_database))
    yield postgres_database


INJECTED = 900_000_000  # the journal ids of the deliveries a scenario injects: far above the sandbox's own


def _injected(dedup_key: str) -> bool:
    """A delivery the scenario injected, not one its pollers found in the sandbox (whose journal
    ids grow with every test run, into the 900s and beyond)."""
    journal = dedup_key.rsplit(":journal:", 1)[-1]
    return journal.isdigit() and int(journal) >= INJECTED


class Scenario:
    """Incidents in the sandbox Redmine, a rulebook for them, and their events in the inbox."""

    def __init__(self, redmine_env: dict[str, str], database_url: str, folder: Path, issues: int):
        self.redmine = SandboxRedmine(redmine_env)
        self.env = redmine_env
        self.database_url = database_url
        self.folder = folder
        self.marker = f"faults-{uuid.uuid4().hex[:8]}"
        self.rules = folder / "rules.yaml"
        self.rules.write_text(textwrap.dedent(RULES.format(marker=self.marker)))
        self.issues = [self.redmine.create_incident(f"{self.marker} {n}") for n in range(issues)]
        self.store = Store(create_db_engine(database_url))
        self.expected: list[str] = []

    def deliver(self, events: int) -> None:
        """`events` notes by the person, spread over the incidents, stored as delivered."""
        templates = []
        for issue in self.issues:
            fresh = self.redmine.issue(issue["id"])
            journal = {"id": 0, "notes": "", "created_on": fresh["updated_on"], "user": fresh["author"], "details": []}
            templates.append((issue["id"], self.redmine.plugin_payload(fresh, journal)))
        for n in range(events):
            issue_id, template = templates[n % len(templates)]
            body = copy.deepcopy(template)
            text = f"event {n} on {issue_id}"
            body["payload"]["journal"].update(id=INJECTED + n, notes=text)
            self.expected.append(f"echo {text}")
            self.store.store_delivery(source="redmine", shape="plugin",
                                      dedup_key=f"redmine:issue:{issue_id}:journal:{INJECTED + n}",
                                      path="/webhooks/redmine", headers={}, body=json.dumps(body), now=_now())

    def worker(self, instance: str, redmine_url: str | None = None, lease: float = 6.0) -> subprocess.Popen[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TICKETWARDEN_", "REDMINE_"))}
        env.update(TICKETWARDEN_DATABASE_URL=self.database_url, TICKETWARDEN_RULES=str(self.rules),
                   REDMINE_URL=redmine_url or self.env["REDMINE_URL"], REDMINE_API_KEY=self.env["REDMINE_API_KEY"],
                   TICKETWARDEN_INSTANCE=instance, TICKETWARDEN_LEASE=str(lease),
                   TICKETWARDEN_POLL_INTERVAL="3600", TICKETWARDEN_POLL_LOOKBACK="1",
                   TICKETWARDEN_WORKER_INTERVAL="0.2", TICKETWARDEN_RULES_WATCH_INTERVAL="0")
        log = open(self.folder / f"{instance}-{time.monotonic_ns()}.log", "w")
        return subprocess.Popen([sys.executable, "-m", "ticketwarden.cli", "worker"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def done(self) -> int:
        return len(self.store.outbox_rows(state=DONE))

    def wait_all_done(self, seconds: float) -> float:
        """Seconds until every event is handled and every effect written (fails after `seconds`)."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            # (the inbox also holds what the workers' pollers found: the incidents' creation and
            # ticketwarden's own notes, which the loop guard ignores)
            inbox = Counter(row["state"] for row in self.store.inbox_rows() if _injected(row["dedup_key"]))
            others = Counter(row["state"] for row in self.store.inbox_rows() if not _injected(row["dedup_key"]))
            outbox = Counter(row["state"] for row in self.store.outbox_rows())
            if inbox == {DONE: len(self.expected)} and outbox == {DONE: len(self.expected)} \
                    and set(others) <= {DONE}:
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"not all done within {seconds} s: inbox {dict(inbox)}, outbox {dict(outbox)}\n"
                             + self.logs())

    def written(self) -> Counter[str]:
        """Each paragraph of ticketwarden's notes on the incidents, counted."""
        me = self.redmine.service_user()["id"]
        found: Counter[str] = Counter()
        for issue in self.issues:
            for journal in self.redmine.issue(issue["id"])["journals"]:
                if journal["user"]["id"] == me and journal.get("notes"):
                    found.update(part for part in journal["notes"].split("\n\n"))
        return found

    def assert_each_written_once(self) -> None:
        written = self.written()
        twice = {text: count for text, count in written.items() if count > 1}
        assert not twice, f"written more than once: {sorted(twice.items())[:5]}"
        assert sorted(written) == sorted(self.expected), \
            f"missing {len(set(self.expected) - set(written))}, unexpected {len(set(written) - set(self.expected))}"

    def logs(self, tail: int = 3000) -> str:
        """The workers' output (the last `tail` characters of each; 0: all of it)."""
        return "\n".join(f"--- {path.name}\n{path.read_text()[-tail:]}" for path in sorted(self.folder.glob("*.log")))


def _now() -> Any:
    from ticketwarden.clock import utcnow

    return utcnow()


def _stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> float:
    started = time.monotonic()
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return time.monotonic() - started


def test_kill_9_in_the_middle_of_1000_events_loses_nothing_and_writes_nothing_twice(redmine_env, pg_url, tmp_path):
    scenario = Scenario(redmine_env, pg_url, tmp_path, issues=40)
    scenario.deliver(1000)
    first = scenario.worker("w1")
    try:
        started = time.monotonic()
        while scenario.done() < 150 and time.monotonic() - started < 120:
            time.sleep(0.05)
        assert scenario.done() >= 150, scenario.logs()
    finally:
        _stop(first, signal.SIGKILL)
    held = [row for row in scenario.store.outbox_rows() + scenario.store.inbox_rows() if row["state"] == PROCESSING]
    assert scenario.done() < 1000  # killed in the middle
    assert all(row["lease_owner"] == "w1" for row in held)

    again = scenario.worker("w1")  # restarted under its name: its claims are taken back at once
    try:
        scenario.wait_all_done(240)
    finally:
        _stop(again)
    if held:
        assert re.search(r"took back \d+ inbox item\(s\) and \d+ effect\(s\)", scenario.logs(0)), scenario.logs()
    scenario.assert_each_written_once()


def test_three_workers_racing_on_one_inbox_write_each_effect_once(redmine_env, pg_url, tmp_path):
    scenario = Scenario(redmine_env, pg_url, tmp_path, issues=30)
    workers = [scenario.worker(f"racer-{n}") for n in range(3)]
    try:
        started = time.monotonic()  # all three running (each has beaten) before the events come
        while len(scenario.store.values_named("instance:racer-")) < 3 and time.monotonic() - started < 60:
            time.sleep(0.1)
        scenario.deliver(600)
        scenario.wait_all_done(240)
    finally:
        for process in workers:
            _stop(process)
    scenario.assert_each_written_once()
    owners = Counter(row["lease_owner"] for row in scenario.store.inbox_rows() + scenario.store.outbox_rows()
                     if row.get("dedup_key") is None or _injected(row["dedup_key"]))
    assert len(owners) >= 2, owners  # the work was shared


def test_sigterm_while_the_tracker_holds_every_write_is_gone_within_10_s(redmine_env, pg_url, tmp_path):
    scenario = Scenario(redmine_env, pg_url, tmp_path, issues=4)
    scenario.deliver(40)
    with slow_proxy(redmine_env["REDMINE_URL"], lambda method, path: 60.0 if method == "PUT" else 0.0) as proxied:
        stuck = scenario.worker("w1", redmine_url=proxied, lease=60)
        try:
            started = time.monotonic()
            while not scenario.store.outbox_rows(state=PROCESSING) and time.monotonic() - started < 60:
                time.sleep(0.1)
            assert scenario.store.outbox_rows(state=PROCESSING), scenario.logs()
            time.sleep(1)  # the writes are on their way to the tracker, which holds them
        finally:
            took = _stop(stuck)
        assert took < 10, f"SIGTERM took {took:.1f} s\n{scenario.logs()}"
        assert stuck.returncode == 0, scenario.logs()
    assert scenario.store.outbox_rows(state=PROCESSING) == []  # given back, not left to lapse
    assert scenario.store.inbox_rows(state=PROCESSING) == []
    assert "given back" in scenario.logs(0)

    after = scenario.worker("w1")
    try:
        scenario.wait_all_done(120)
    finally:
        _stop(after)
    scenario.assert_each_written_once()


def test_a_second_live_process_under_the_same_name_refuses_to_start(redmine_env, pg_url, tmp_path):
    scenario = Scenario(redmine_env, pg_url, tmp_path, issues=1)
    first = scenario.worker("twin", lease=3)
    try:
        time.sleep(2)
        second = scenario.worker("twin", lease=3)
        assert second.wait(timeout=30) != 0
        assert "another process is running as instance 'twin'" in scenario.logs(0)
        assert first.poll() is None  # the first keeps running
    finally:
        _stop(first)


def test_another_worker_takes_a_dead_ones_claims_once_its_lease_lapses(redmine_env, pg_url, tmp_path):
    scenario = Scenario(redmine_env, pg_url, tmp_path, issues=10)
    scenario.deliver(300)
    dead = scenario.worker("doomed", lease=6)
    try:
        started = time.monotonic()
        while scenario.done() < 40 and time.monotonic() - started < 120:
            time.sleep(0.05)
    finally:
        _stop(dead, signal.SIGKILL)
    held = [row for row in scenario.store.inbox_rows() + scenario.store.outbox_rows() if row["state"] == PROCESSING]
    survivor = scenario.worker("survivor", lease=6)
    try:
        scenario.wait_all_done(240)
    finally:
        _stop(survivor)
    scenario.assert_each_written_once()
    if held:  # what the dead one held was finished by the survivor, after the lease
        finished_by = {row["lease_owner"] for row in scenario.store.inbox_rows() + scenario.store.outbox_rows()
                       if row["id"] in {h["id"] for h in held}}
        assert "survivor" in finished_by


def test_several_http_processes_under_gunicorn_store_each_delivery_once(redmine_env, pg_url, tmp_path):
    scenario = Scenario(redmine_env, pg_url, tmp_path, issues=1)
    issue = scenario.redmine.issue(scenario.issues[0]["id"])
    body = json.dumps(scenario.redmine.plugin_payload(issue)).encode()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TICKETWARDEN_", "REDMINE_"))}
    env.update(TICKETWARDEN_DATABASE_URL=pg_url, TICKETWARDEN_RULES=str(scenario.rules),
               TICKETWARDEN_WEBHOOK_TOKEN="gunicorn-token")
    log = open(tmp_path / "gunicorn.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}",
                               "ticketwarden.wsgi:application"], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        while time.monotonic() - started < 60:
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        headers = {"X-Ticketwarden-Token": "gunicorn-token", "Content-Type": "application/json"}
        with ThreadPoolExecutor(8) as clients:  # the same delivery many times at once (retries, overlaps)
            answers = list(clients.map(lambda _: requests.post(base + "/webhooks/redmine", data=body,
                                                               headers=headers, timeout=30).json()["status"],
                                       range(40)))
        assert answers.count("accepted") == 1 and answers.count("duplicate") == 39
        assert len(scenario.store.inbox_rows()) == 1
        assert "ticketwarden_store_up 1.0" in requests.get(base + "/metrics", timeout=5).text
    finally:
        took = _stop(server)
        log.close()
    assert took < 10, (tmp_path / "gunicorn.log").read_text()
