"""The real application on the sandbox Redmine, as the Redmine end-to-end tests run it: a
rulebook, a database, a movable clock, and the poller and worker driven by the test."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.redmine_payloads import parse_time
from tests.helpers import MovableClock
from tests.integration.sandbox import SandboxRedmine
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build
from ticketwarden.store import create_db_engine


def serve(rules: str, folder: Path, database_url: str, redmine_env: dict[str, str], **options: Any
          ) -> Iterator[tuple[Application, MovableClock]]:
    """`options` are further Settings (a webhook token, say)."""
    path = folder / "rules.yaml"
    path.write_text(textwrap.dedent(rules))
    clock = MovableClock()
    settings = Settings(database_url=database_url, rules=(str(path),), redmine_url=redmine_env["REDMINE_URL"],
                        redmine_api_key=redmine_env["REDMINE_API_KEY"], poll_overlap=0, **options)
    migrate.upgrade(create_db_engine(database_url))
    application = build(settings, environ={}, clock=clock)
    assert application.rules.current is not None, application.rules.last_errors
    yield application, clock
    application.store.engine.dispose()


def settle(application: Application) -> None:
    """Poll, then work until nothing is left (our own writes come back through the poller)."""
    for _ in range(5):
        application.poll_all()
        while application.worker.process_inbox() or application.worker.apply_outbox():
            pass


def poll_from(application: Application, moment: datetime) -> None:
    """The poller reads from `moment` on: this test's issues, not the sandbox's older ones."""
    [poller] = application.pollers
    application.store.set_value(poller.state_name, moment.isoformat(), moment)


def start_incident(application: Application, redmine: SandboxRedmine, subject: str, **options: Any) -> dict[str, Any]:
    """A person creates an Incident; the poller (from its creation on) and the worker handle it."""
    created = redmine.create_incident(subject, **options)
    moment = parse_time(created["created_on"])
    assert moment is not None
    poll_from(application, moment)
    settle(application)
    return created
