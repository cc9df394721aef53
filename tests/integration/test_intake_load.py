"""The intake under load while the worker writes to the same store: every delivery answered
2xx and stored (SQLite: one writer at a time, and the intake waits its turn instead of
failing), and a store that is down answers 503, never a 2xx for a delivery not stored."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from waitress.server import create_server

from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import build
from ticketwarden.store import create_db_engine

TOKEN = "load-token"
RULES = "version: 1\nrules:\n  - {name: note, on: [ticket.created], then: [{comment: {body: hi}}]}\n"


def opened(issue_id: int) -> bytes:
    return json.dumps({"payload": {"action": "opened", "issue": {
        "id": issue_id, "subject": "load", "created_on": "2026-11-29T10:00:00Z",
        "updated_on": "2026-11-29T10:00:00Z", "project": {"id": 1, "identifier": "support", "name": "Support"},
        "tracker": {"id": 4, "name": "Incident"}, "status": {"id": 1, "name": "New"},
        "priority": {"id": 2, "name": "Normal"}}}}).encode()


def test_every_delivery_is_stored_while_the_worker_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'load.db'}"
    migrate.upgrade(create_db_engine(url))
    (tmp_path / "rules.yaml").write_text(RULES)
    # no tracker: each pass of the worker takes up to 100 items and writes their retries back
    application = build(Settings(database_url=url, rules=(str(tmp_path / "rules.yaml"),), webhook_token=TOKEN,
                                 webhook_rate=0), connectors={}, environ={})
    server = create_server(application.app, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            application.worker.process_inbox()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    endpoint = f"http://127.0.0.1:{server.effective_port}/webhooks/redmine"
    session = requests.Session()
    try:
        def post(issue_id: int) -> int:
            return session.post(endpoint, data=opened(issue_id), timeout=60,
                                headers={"X-Ticketwarden-Token": TOKEN, "Content-Type": "application/json"}
                                ).status_code

        with ThreadPoolExecutor(6) as clients:
            answers = list(clients.map(post, range(1, 601)))
    finally:
        stop.set()
        worker.join(timeout=30)
        server.close()
    assert answers == [202] * 600
    assert len(application.store.inbox_rows()) == 600
    application.store.engine.dispose()


def test_a_store_that_is_down_answers_503(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                        rules=(str(tmp_path / "rules.yaml"),), webhook_token=TOKEN)
    application = build(settings, connectors={}, environ={}, check_schema=False)
    answer = application.app.test_client().post("/webhooks/redmine", data=opened(7),
                                                headers={"X-Ticketwarden-Token": TOKEN})
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "the inbox is unavailable; please retry"}
