"""Admin endpoints, hot reload that keeps the last good rules, and scheduled rules."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from rules.schema import TRIGGERS
from tests.integration.receiver import Receiver
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build
from ticketwarden.store import create_db_engine

ADMIN = "admin-test-token"
GOOD = """version: 1
rules:
  - name: daily digest
    on: [{schedule: "0 7 * * *"}]
    then: [{notify: {channel: chat, message: "digest {{ now | iso }}"}}]
"""
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path, database_url) -> Iterator[tuple[Application, Receiver, object]]:
    receiver = Receiver()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "a.yaml").write_text(GOOD)
    settings = Settings(database_url=database_url, rules=(str(rules_dir),), admin_token=ADMIN)
    application = build(settings, environ={"TICKETWARDEN_CHANNEL_CHAT": receiver.url}, clock=lambda: T0)
    yield application, receiver, rules_dir
    receiver.close()
    application.store.engine.dispose()


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_validate_endpoint(app):
    application, _, _ = app
    web = application.app.test_client()
    ok = web.post("/admin/rules/validate", data=GOOD, headers=auth(), content_type="application/yaml")
    assert ok.status_code == 200 and ok.get_json()["status"] == "SUCCESS" and ok.get_json()["rules"] == 1
    bad = web.post("/admin/rules/validate?name=mine.yaml", data=GOOD.replace("channel: chat", "channel: sales"),
                   headers=auth())
    assert bad.status_code == 422
    assert bad.get_json() == {"status": "FAILED", "errors": [
        "mine.yaml:5: rules → 0 → then → 0 → notify → channel: undefined channel 'sales' (configured: chat): "
        "set TICKETWARDEN_CHANNEL_SALES=<webhook URL>"]}
    files = web.post("/admin/rules/validate", headers=auth(),
                     json={"files": {"b.yaml": "version: 1\nrules: []\n", "a.yaml": GOOD}})
    assert files.status_code == 200 and files.get_json()["files"] == ["a.yaml", "b.yaml"]
    assert web.post("/admin/rules/validate", headers=auth(), json={"files": []}).status_code == 400
    assert web.post("/admin/rules/validate", data=GOOD).status_code == 401
    assert web.post("/admin/rules/validate", data=GOOD, headers=auth("wrong")).status_code == 403


def test_warnings_show_where_admins_look(app):
    """A rulebook that loads with warnings (staff by e-mail alone, which Jira Cloud hides) says so
    in the validation answer and in /readyz once in force."""
    application, _, rules_dir = app
    by_email = GOOD + "staff: {email_domains: [example.com]}\n"
    web = application.app.test_client()
    checked = web.post("/admin/rules/validate?name=staff.yaml", data=by_email, headers=auth())
    assert checked.status_code == 200
    [warning] = checked.get_json()["warnings"]
    assert warning.startswith("staff.yaml:6: staff") and "e-mail" in warning
    assert "rule_warnings" not in web.get("/readyz").get_json()
    (rules_dir / "a.yaml").write_text(by_email)
    assert web.post("/admin/reload", headers=auth()).status_code == 200
    [shown] = web.get("/readyz").get_json()["rule_warnings"]
    assert "e-mail" in shown


def test_admin_endpoints_are_off_without_a_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate.upgrade(create_db_engine(url))
    (tmp_path / "r.yaml").write_text(GOOD)
    application = build(Settings(database_url=url, rules=(str(tmp_path / "r.yaml"),)), environ={})
    answer = application.app.test_client().post("/admin/reload", headers=auth())
    assert answer.status_code == 403 and "TICKETWARDEN_ADMIN_TOKEN is not set" in answer.get_json()["error"]


def run_schedule(application: Application, at: datetime) -> dict:
    assert application.enqueue_scheduled("daily digest", at)
    assert application.worker.process_inbox() == 1
    assert application.worker.apply_outbox() == 1
    return [row for row in application.store.audit_rows("-") if row["kind"] == "decision"][-1]["detail"]


def test_a_broken_file_leaves_the_last_good_rules_deciding(app, caplog):
    application, receiver, rules_dir = app
    good_version = application.rules.current.version
    first = run_schedule(application, T0)
    assert first["rulebook"] == good_version and first["effects"][0]["params"]["channel"] == "chat"

    (rules_dir / "b.yaml").write_text("version: 1\nrules:\n  - name: broken\n    on: [ticket.nope]\n")
    with caplog.at_level(logging.ERROR):
        assert application.rules.reload_if_changed()
    assert "rulebook rejected" in caplog.text and "b.yaml:4" in caplog.text
    assert application.rules.reload_if_changed() is False  # the same broken files: not reloaded again

    second = run_schedule(application, T0 + timedelta(days=1))
    assert second["rulebook"] == good_version  # the old rules decided
    ready = application.app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["rulebook"] == good_version
    assert ready.get_json()["rule_errors"] == [
        f"{rules_dir / 'b.yaml'}:3: rules → 0: missing required key 'then'",
        f"{rules_dir / 'b.yaml'}:4: rules → 0 → on → 0: unknown trigger 'ticket.nope' (expected one of: "
        f"{', '.join(TRIGGERS)}, or {{schedule: cron}})"]

    reload = application.app.test_client().post("/admin/reload", headers=auth())
    assert reload.status_code == 422 and reload.get_json()["in_force"]["version"] == good_version

    (rules_dir / "b.yaml").unlink()
    (rules_dir / "a.yaml").write_text(GOOD.replace('message: "digest', 'message: "summary'))
    assert application.rules.reload_if_changed()
    third = run_schedule(application, T0 + timedelta(days=2))
    assert third["rulebook"] == application.rules.current.version != good_version
    assert [r["body"]["text"] for r in receiver.requests] == [
        "digest 2026-03-02T07:00:00+00:00", "digest 2026-03-02T07:00:00+00:00", "summary 2026-03-02T07:00:00+00:00"]
    assert "rule_errors" not in application.app.test_client().get("/readyz").get_json()


def test_a_scheduled_firing_is_handled_once(app):
    application, receiver, _ = app
    assert application.enqueue_scheduled("daily digest", T0)
    assert not application.enqueue_scheduled("daily digest", T0 + timedelta(seconds=20))  # same minute
    application.worker.process_inbox()
    application.worker.apply_outbox()
    assert len(receiver.requests) == 1


def test_schedules_follow_the_rulebook(app):
    application, _, rules_dir = app
    scheduler = application.start_background()
    try:
        jobs = [job.id for job in scheduler.get_jobs()]
        assert "rule:daily digest:0" in jobs and "rules-watch" in jobs
        (rules_dir / "a.yaml").write_text(GOOD.replace("daily digest", "morning digest"))
        application.rules.reload_if_changed()
        jobs = [job.id for job in scheduler.get_jobs()]
        assert "rule:morning digest:0" in jobs and "rule:daily digest:0" not in jobs
    finally:
        application.stop()
        scheduler.shutdown(wait=False)
