"""End to end against the real sandbox Redmine, on SQLite and on PostgreSQL.

A person creates and updates issues through Redmine's REST API; deliveries reach the real HTTP
server as the plugin or a core webhook would send them, or the poller finds them; the worker
writes back through python-redmine; the test reads the result from Redmine.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from waitress.server import create_server

from connector.redmine import RedmineConnector
from connector.redmine_payloads import parse_time
from tests.conftest import EXAMPLE_RULEBOOK, ROOT
from tests.integration.sandbox import SandboxRedmine
from ticketwarden.config import Settings
from ticketwarden.service import Application, build
from ticketwarden.store import inbox
from ticketwarden.worker import Worker
from webhooks.signatures import sign

pytestmark = pytest.mark.redmine
TOKEN = "e2e-" + uuid.uuid4().hex
SECRET = "e2e-secret-" + uuid.uuid4().hex
SERVICE_NAME = "ticketwarden service"
BASIC_RULEBOOK = ROOT / "tests" / "rulebooks" / "redmine-basic.yaml"


@pytest.fixture(scope="module")
def redmine(redmine_env) -> SandboxRedmine:
    return SandboxRedmine(redmine_env)


@pytest.fixture
def service(database_url, redmine_env) -> Iterator[tuple[Application, str]]:
    settings = Settings(database_url=database_url, rules=(str(BASIC_RULEBOOK),),
                        redmine_url=redmine_env["REDMINE_URL"], redmine_api_key=redmine_env["REDMINE_API_KEY"],
                        webhook_token=TOKEN, redmine_webhook_secret=SECRET, max_body=64 * 1024,
                        poll_overlap=0)
    application = build(settings)
    server = create_server(application.app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield application, f"http://127.0.0.1:{server.effective_port}"
    server.close()
    application.store.engine.dispose()


def post(base: str, body: Any, *, token: str | None = TOKEN, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> requests.Response:
    data = raw if raw is not None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["X-Ticketwarden-Token"] = token
    return requests.post(base + "/webhooks/redmine", data=data, headers=all_headers, timeout=30)


def drain(application: Application) -> tuple[int, int]:
    return application.worker.process_inbox(), application.worker.apply_outbox()


def assert_triaged(redmine: SandboxRedmine, issue_id: int) -> dict[str, Any]:
    issue = redmine.issue(issue_id)
    assert redmine.custom_field(issue, "Failure origin") == "unknown"
    assert redmine.custom_field(issue, "Triage").startswith("received ")
    [note] = redmine.notes_by(issue, SERVICE_NAME)
    assert note["private_notes"] is True
    assert note["notes"].startswith(f"ticketwarden: incident #{issue_id} received (Normal priority).")
    return issue


def test_plugin_webhook_round_trip_and_replay(service, redmine):
    application, base = service
    created = redmine.create_incident("VPN down for ACME (plugin webhook)")
    delivery = redmine.plugin_payload(redmine.issue(created["id"]))

    answer = post(base, delivery)
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    assert drain(application) == (1, 2)
    issue = assert_triaged(redmine, created["id"])
    journals = len(issue["journals"])

    # The same delivery again: acknowledged, not stored, nothing written.
    again = post(base, delivery)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    # Even a replay of the stored event (a worker died after writing) writes nothing twice.
    with application.store.engine.begin() as conn:
        conn.execute(sa.update(inbox).values(state="pending"))
    assert drain(application) == (1, 0)
    assert len(redmine.issue(created["id"])["journals"]) == journals

    # A person asks the customer for feedback: the update rule adds its note.
    redmine.update(created["id"], status="Feedback", notes="Please send the VPN client logs.")
    issue = redmine.issue(created["id"])
    journal = issue["journals"][-1]
    assert post(base, redmine.plugin_payload(issue, journal)).status_code == 202
    assert drain(application) == (1, 1)
    notes = [j["notes"] for j in redmine.notes_by(redmine.issue(created["id"]), SERVICE_NAME)]
    assert notes[-1].startswith("ticketwarden: waiting for the customer since ")
    assert notes[-1].endswith("(Alice Agent asked).")

    # Our own write delivered back (a plugin without X-Skip-Webhooks support): loop guard.
    ours = redmine.issue(created["id"])["journals"][-1]
    assert ours["user"]["name"] == SERVICE_NAME
    assert post(base, redmine.plugin_payload(redmine.issue(created["id"]), ours)).status_code == 202
    assert drain(application) == (1, 0)
    trace = application.store.audit_rows(str(created["id"]))[-1]["detail"]
    assert trace["ignored"] == "change made by ticketwarden itself (loop guard)"


def test_poller_alone_brings_the_event(service, redmine):
    application, _ = service
    created = redmine.create_incident("Mail relay rejects customer mail (polling)")
    [poller] = application.pollers
    since = parse_time(created["created_on"])
    application.store.set_value(poller.state_name, since.isoformat(), since)

    assert poller.poll_once() >= 1
    tickets = {row["dedup_key"]: row["ticket"] for row in application.store.inbox_rows()}
    assert tickets[f"redmine:issue:{created['id']}:created"] == f"redmine:{created['id']}"
    while drain(application) != (0, 0):
        pass
    assert_triaged(redmine, created["id"])

    # Our writes come back as journals: SLA clocks follow them, rules do not (the loop guard).
    poller.poll_once()
    while drain(application) != (0, 0):
        pass
    ours = [j["id"] for j in redmine.issue(created["id"])["journals"] if j["user"]["name"] == SERVICE_NAME]
    keys_after = [row["dedup_key"] for row in application.store.inbox_rows()]
    assert [k for k in keys_after if k.startswith(f"redmine:issue:{created['id']}:")] == \
        [f"redmine:issue:{created['id']}:created"] + [f"redmine:issue:{created['id']}:journal:{j}" for j in ours]
    decisions = [a["detail"] for a in application.store.audit_rows(str(created["id"])) if a["kind"] == "decision"]
    assert [d["ignored"] for d in decisions[1:]] == ["change made by ticketwarden itself (loop guard)"] * len(ours)
    assert len(redmine.notes_by(redmine.issue(created["id"]), SERVICE_NAME)) == 1


def test_webhook_and_poll_of_one_event_write_once(service, redmine):
    application, base = service
    created = redmine.create_incident("Printer queue stuck (webhook and poll)")
    assert post(base, redmine.plugin_payload(redmine.issue(created["id"]))).status_code == 202
    since = parse_time(created["created_on"])
    [poller] = application.pollers
    application.store.set_value(poller.state_name, since.isoformat(), since)
    poller.poll_once()
    while drain(application) != (0, 0):
        pass
    assert_triaged(redmine, created["id"])  # exactly one note


def test_signed_core_webhook(service, redmine):
    application, base = service
    created = redmine.create_incident("Backup job failed (core webhook)")
    body = json.dumps(redmine.core_payload(redmine.issue(created["id"]))).encode()
    unsigned = post(base, None, raw=body, token=None, headers={"X-Redmine-Signature-256": sign(body, "wrong")})
    assert unsigned.status_code == 403
    signed = post(base, None, raw=body, token=None, headers={"X-Redmine-Signature-256": sign(body, SECRET)})
    assert signed.status_code == 202
    assert drain(application) == (1, 2)
    assert_triaged(redmine, created["id"])


def test_bad_requests_change_nothing(service, redmine):
    application, base = service
    created = redmine.create_incident("Bad deliveries must not touch this")
    before = redmine.issue(created["id"])
    delivery = redmine.plugin_payload(before)
    malformed = post(base, None, raw=b'{"payload": {"action": "opened", "issue": ')
    oversized = post(base, dict(delivery, padding="x" * (128 * 1024)))
    chunked = requests.post(base + "/webhooks/redmine", data=iter([b"{" + b" " * (70 * 1024), b"}"]),
                            headers={"X-Ticketwarden-Token": TOKEN}, timeout=30)
    unauthenticated = post(base, delivery, token=None)
    wrong_token = post(base, delivery, token="not-the-token")
    answers = [(r.status_code, "error" in r.json()) for r in
               (malformed, oversized, chunked, unauthenticated, wrong_token)]
    assert answers == [(400, True), (413, True), (413, True), (401, True), (403, True)]
    assert application.store.inbox_rows() == []
    assert drain(application) == (0, 0)
    assert redmine.issue(created["id"]) == before


def test_tracker_down_is_retried_not_lost(service, redmine, redmine_env):
    application, base = service
    created = redmine.create_incident("Effects wait for Redmine to come back")
    assert post(base, redmine.plugin_payload(redmine.issue(created["id"]))).status_code == 202
    assert application.worker.process_inbox() == 1

    down = RedmineConnector("http://127.0.0.1:9", redmine_env["REDMINE_API_KEY"], timeout=2)
    down_worker = Worker(application.store, {"redmine": down}, application.rules)
    assert down_worker.apply_outbox() == 2
    rows = application.store.outbox_rows()
    assert [(r["state"], r["attempts"]) for r in rows] == [("pending", 1), ("pending", 1)]
    assert all(r["last_error"].startswith("Redmine unreachable") for r in rows)
    assert redmine.notes_by(redmine.issue(created["id"]), SERVICE_NAME) == []

    # Later, Redmine is back: the retries apply each effect once.
    later = Worker(application.store, application.connectors, application.rules,
                   clock=lambda: application.clock() + timedelta(hours=1))
    assert later.apply_outbox() == 2
    assert [(r["state"], r["attempts"]) for r in application.store.outbox_rows()] == [("done", 2), ("done", 2)]
    assert_triaged(redmine, created["id"])


def test_the_served_process_writes_back_within_a_minute(redmine, redmine_env, tmp_path):
    """What a newcomer does after `make run`: create an Incident, see the note appear."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REDMINE_", "TICKETWARDEN_"))}
    env.update(TICKETWARDEN_DATA_DIR=str(tmp_path), TICKETWARDEN_BIND=f"127.0.0.1:{port}",
               TICKETWARDEN_RULES=str(EXAMPLE_RULEBOOK), TICKETWARDEN_POLL_INTERVAL="2",
               TICKETWARDEN_POLL_LOOKBACK="5", TICKETWARDEN_POLL_OVERLAP="1",
               REDMINE_URL=redmine_env["REDMINE_URL"], REDMINE_API_KEY=redmine_env["REDMINE_API_KEY"])
    secrets = {"TICKETWARDEN_WEBHOOK_TOKEN": "webhook-token-6f1e", "TICKETWARDEN_ADMIN_TOKEN": "admin-token-93ab",
               "TICKETWARDEN_REPORTS_TOKEN": "reports-token-41cd",
               "TICKETWARDEN_REDMINE_WEBHOOK_SECRET": "redmine-secret-07aa",
               "TICKETWARDEN_CHANNEL_QUALITY": f"http://127.0.0.1:{port}/hooks/channel-secret-5d2c"}
    env.update(secrets)
    subprocess.run([sys.executable, "-m", "ticketwarden.cli", "migrate"], env=env, check=True,
                   capture_output=True, timeout=60)
    process = subprocess.Popen([sys.executable, "-m", "ticketwarden.cli", "serve"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1)
        created = redmine.create_incident("Created by a person after make run")
        started = time.monotonic()
        notes: list = []
        while time.monotonic() - started < 60 and len(notes) < 2:
            time.sleep(1)
            issue = redmine.issue(created["id"])
            # each rule's note: notes written at one time are paragraphs of one journal
            notes = [part for n in redmine.notes_by(issue, SERVICE_NAME) for part in n["notes"].split("\n\n")]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert len(notes) == 2, f"not both notes within a minute; the service said:\n{output}"
    # The shipped example: triage, and the resolution clock of the Buenos Aires office.
    assert notes[0].startswith(f"ticketwarden: incident #{created['id']} received (Normal priority).")
    assert notes[1].startswith("ticketwarden: resolution due ") and notes[1].endswith(" -03 (24h of business time).")
    assert redmine.custom_field(issue, "Failure origin") == "unknown"
    assert redmine.custom_field(issue, "SLA status") == "on_track"
    assert redmine.custom_field(issue, "SLA due at")
    assert process.returncode == 0, output
    assert redmine_env["REDMINE_API_KEY"] not in output  # the key is never logged
    # Nor any other secret: not in the logs, the audit traces, `explain` or an error page.
    explained = subprocess.run([sys.executable, "-m", "ticketwarden.cli", "explain", "--verbose",
                                f"#{created['id']}"], env=env, capture_output=True, text=True, timeout=60)
    assert explained.returncode == 0 and "triage new incidents" in explained.stdout, explained.stderr
    from ticketwarden.store import Store, create_db_engine

    store = Store(create_db_engine(f"sqlite:///{tmp_path / 'ticketwarden.db'}"))
    traces = json.dumps(store.audit_rows(), default=str)
    from ticketwarden.config import Settings
    from ticketwarden.service import build

    refused = build(Settings(data_dir=tmp_path, rules=(str(EXAMPLE_RULEBOOK),), webhook_token="webhook-token-6f1e",
                             admin_token="admin-token-93ab"), connectors={}, environ=env).app.test_client()
    pages = [refused.post("/admin/reload", headers={"Authorization": "Bearer admin-token-93aX"}).get_data(as_text=True),
             refused.post("/webhooks/redmine?token=webhook-token-6f1X", json={}).get_data(as_text=True),
             refused.get("/nothing").get_data(as_text=True)]
    for secret in [redmine_env["REDMINE_API_KEY"], *secrets.values()]:
        for where, text in [("the logs", output), ("the audit traces", traces),
                            ("explain", explained.stdout + explained.stderr), ("an error page", "".join(pages))]:
            assert secret not in text, f"a secret in {where}"


def test_explain_and_replay(service, redmine, redmine_env, tmp_path):
    """After a real round trip: explain tells why; replay with a changed rulebook shows the difference."""
    from click.testing import CliRunner

    from ticketwarden.cli import main

    application, base = service
    created = redmine.create_incident("Explain and replay me")
    assert post(base, redmine.plugin_payload(redmine.issue(created["id"]))).status_code == 202
    drain(application)
    url = application.settings.database_url
    explained = CliRunner().invoke(main, ["explain", f"#{created['id']}", "--database-url", url])
    assert explained.exit_code == 0, explained.output
    lines = explained.output.splitlines()
    assert f"on ticket #{created['id']}: ticket.created (rulebook {application.rules.current.version})" in lines[0]
    assert "  rule 'triage new incidents': matched" in lines
    assert "    [x] tracker = Incident  (Incident)" in lines
    assert any(line.startswith("    comment by 'triage new incidents': written at ") for line in lines)

    changed = tmp_path / "changed.yaml"
    changed.write_text(BASIC_RULEBOOK.read_text().replace("private: true\n          body: |",
                                                            "private: false\n          body: |"))
    env = {"REDMINE_URL": redmine_env["REDMINE_URL"], "REDMINE_API_KEY": redmine_env["REDMINE_API_KEY"]}
    replayed = CliRunner().invoke(main, ["replay", "--rules", str(changed), "--database-url", url], env=env)
    assert replayed.exit_code == 0, replayed.output
    out = replayed.output.splitlines()
    assert out[-1] == "1 event(s) replayed: 1 would change (1 effect(s) added, 1 no longer)"
    assert any(line.startswith("  = set by 'triage new incidents'") for line in out)
    assert any(line.startswith("  + comment by 'triage new incidents'") and '"private": false' in line for line in out)
    assert any(line.startswith("  - comment by 'triage new incidents'") and '"private": true' in line for line in out)
    assert len(redmine.notes_by(redmine.issue(created["id"]), SERVICE_NAME)) == 1  # replay wrote nothing

    recorded = tmp_path / "delivery.json"
    recorded.write_text(json.dumps({"body": redmine.plugin_payload(redmine.issue(created["id"]))}))
    from_file = CliRunner().invoke(main, ["replay", "--rules", str(BASIC_RULEBOOK), str(recorded)], env=env)
    assert from_file.exit_code == 0, from_file.output
    assert "  would: comment by 'triage new incidents'" in from_file.output
