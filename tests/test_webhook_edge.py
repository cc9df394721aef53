"""The HTTP edge: limits, errors as JSON, health and readiness."""

from __future__ import annotations

import io
import json

from ticketwarden.clock import utcnow
from ticketwarden.service import StoreIntake
from ticketwarden.store import Store, create_db_engine
from webhooks import DEFAULT_MAX_BODY
from webhooks.app import WebhookSettings, create_app

TOKEN = "edge-token"
OPENED = {"payload": {"action": "opened", "issue": {"id": 5, "created_on": "2026-11-22T01:00:00Z"}}}


def client(store: Store, **settings):
    app = create_app(StoreIntake(store, utcnow), WebhookSettings(**{"token": TOKEN, **settings}),
                     readiness=lambda: (store.ping(), {"checks": {"store": store.ping()}}))
    return app.test_client()


def test_oversized_body_is_413_and_not_stored(sqlite_store):
    web = client(sqlite_store, max_body=1000)
    padded = dict(OPENED, padding="x" * 2000)
    response = web.post("/webhooks/redmine", data=json.dumps(padded), headers={"X-Ticketwarden-Token": TOKEN})
    assert response.status_code == 413
    assert "limit of 1000 bytes" in response.get_json()["error"]
    assert sqlite_store.inbox_rows() == []


def test_oversized_chunked_body_is_413(sqlite_store):
    web = client(sqlite_store, max_body=1000)
    body = json.dumps(dict(OPENED, padding="x" * 5000)).encode()
    # As a server hands over a de-chunked body: no Content-Length, input terminated.
    response = web.post("/webhooks/redmine", input_stream=io.BytesIO(body),
                        environ_overrides={"wsgi.input_terminated": True},
                        headers={"X-Ticketwarden-Token": TOKEN, "Transfer-Encoding": "chunked"})
    assert response.status_code == 413
    assert response.is_json and sqlite_store.inbox_rows() == []


def test_store_unavailable_is_503(tmp_path):
    unmigrated = Store(create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    response = client(unmigrated).post("/webhooks/redmine", json=OPENED, headers={"X-Ticketwarden-Token": TOKEN})
    assert response.status_code == 503
    assert response.get_json() == {"error": "the inbox is unavailable; please retry"}


def test_no_token_configured_refuses_everything(sqlite_store):
    web = client(sqlite_store, token="")
    for headers in ({}, {"X-Ticketwarden-Token": ""}, {"X-Ticketwarden-Token": "guess"}):
        response = web.post("/webhooks/redmine", json=OPENED, headers=headers)
        assert response.status_code == 403
        assert "TICKETWARDEN_WEBHOOK_TOKEN is not set" in response.get_json()["error"]
    assert sqlite_store.inbox_rows() == []


def test_signed_delivery_without_configured_secret_is_refused(sqlite_store):
    response = client(sqlite_store).post("/webhooks/redmine", json=OPENED,
                                         headers={"X-Redmine-Signature-256": "sha256=" + "0" * 64})
    assert response.status_code == 403
    assert "TICKETWARDEN_REDMINE_WEBHOOK_SECRET is not set" in response.get_json()["error"]


def test_wrong_method_and_unknown_path_answer_json(sqlite_store):
    web = client(sqlite_store)
    assert web.get("/webhooks/redmine").status_code == 405
    assert web.get("/webhooks/redmine").is_json
    missing = web.get("/nothing-here")
    assert missing.status_code == 404 and "error" in missing.get_json()


def test_health_and_readiness(sqlite_store, tmp_path):
    web = client(sqlite_store)
    assert web.get("/healthz").get_json() == {"status": "ok"}
    ready = web.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    broken = Store(create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    not_ready = client(broken).get("/readyz")
    assert not_ready.status_code == 503 and not_ready.get_json()["checks"] == {"store": False}


def test_jira_without_a_secret_takes_the_url_token_or_nothing(sqlite_store):
    created = {"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"id": "10001", "key": "SUP-1"}}
    refused = client(sqlite_store, token="").post("/webhooks/jira", json=created)
    assert refused.status_code == 403 and "TICKETWARDEN_JIRA_WEBHOOK_SECRET" in refused.get_json()["error"]
    web = client(sqlite_store)
    assert web.post("/webhooks/jira", json=created).status_code == 401
    assert web.post("/webhooks/jira?token=nope", json=created).status_code == 403
    accepted = web.post(f"/webhooks/jira?token={TOKEN}", json=created)
    assert accepted.status_code == 202 and accepted.get_json()["event"] == "jira:issue:10001:created"
    oversized = web.post(f"/webhooks/jira?token={TOKEN}", json=dict(created, pad="x" * DEFAULT_MAX_BODY))
    assert oversized.status_code == 413
    assert [(row["source"], row["ticket"]) for row in sqlite_store.inbox_rows()] == [("jira", "jira:10001")]


def test_a_jira_issue_with_a_long_description_fits_the_default_limit(sqlite_store):
    """Jira sends the whole issue: a 3 MiB description is an ordinary body, not an attack."""
    updated = {"timestamp": 1, "webhookEvent": "jira:issue_updated",
               "issue": {"id": "10002", "key": "SUP-2", "fields": {"description": "log line\n" * 350_000}}}
    assert len(json.dumps(updated)) > 3 * 1024 * 1024
    accepted = client(sqlite_store).post(f"/webhooks/jira?token={TOKEN}", json=updated)
    assert accepted.status_code == 202, accepted.get_json()


def test_a_sender_past_its_rate_gets_429_with_retry_after_and_others_go_on(sqlite_store):
    web = client(sqlite_store, source_rate=0.5, source_burst=2)
    headers = {"X-Ticketwarden-Token": TOKEN}
    answers = [web.post("/webhooks/redmine", json=dict(OPENED, n=n), headers=headers,
                        environ_overrides={"REMOTE_ADDR": "198.51.100.7"}) for n in range(3)]
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    refused = answers[2]
    assert refused.headers["Retry-After"] == "2" and "at most 0.5 per second" in refused.get_json()["error"]
    other = web.post("/webhooks/redmine", json=dict(OPENED, n=9), headers=headers,
                     environ_overrides={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 202  # another sender has its own allowance
    # the same event three times over: stored once, naming its ticket (one worker at a time decides on it)
    assert [row["ticket"] for row in sqlite_store.inbox_rows()] == ["redmine:5"]


def test_source_limits_refill_at_their_rate():
    from webhooks.limits import SourceLimits

    now = [0.0]
    limits = SourceLimits(rate=2, burst=3, clock=lambda: now[0], max_sources=2)
    assert [limits.admit("redmine", "a") for _ in range(3)] == [0, 0, 0]
    assert limits.admit("redmine", "a") == 0.5  # empty: one token comes in half a second
    assert limits.admit("jira", "a") == 0  # each endpoint has its own bucket
    now[0] += 0.5
    assert limits.admit("redmine", "a") == 0
    assert SourceLimits(rate=0, burst=0).admit("redmine", "a") == 0  # no limit
