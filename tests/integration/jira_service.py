"""The real application served over HTTP with the fake Jira sending it signed webhooks: what the
Jira end-to-end tests share."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from waitress.server import create_server

from tests.fakejira import FakeJira
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build
from ticketwarden.store import create_db_engine


def serve(fake: FakeJira, rules: str, folder: Path, database_url: str, secret: str,
          clock: Callable[[], datetime] | None = None, **settings_: Any) -> Iterator[Application]:
    """The application with `rules`, on `database_url`, its webhook registered with the fake;
    `settings_` sets more of its settings (a token, the data folder)."""
    path = folder / "rules.yaml"
    path.write_text(textwrap.dedent(rules))
    migrate.upgrade(create_db_engine(database_url))
    email, token = fake.basic_auth()
    settings = Settings(database_url=database_url, rules=(str(path),), jira_url=fake.url, jira_user=email,
                        jira_api_token=token, jira_webhook_secret=secret, poll_overlap=0, **settings_)
    application = build(settings, environ={}, clock=clock) if clock else build(settings, environ={})
    assert application.rules.current is not None, application.rules.last_errors
    server = create_server(application.app, host="127.0.0.1", port=0, threads=4)
    stopping = threading.Event()
    thread = threading.Thread(target=_serve_until_closed, args=(server, stopping), daemon=True)
    thread.start()
    fake.register_webhook(f"http://127.0.0.1:{server.effective_port}/webhooks/jira", secret)
    yield application
    stopping.set()
    server.close()
    thread.join(timeout=5)
    application.store.engine.dispose()


def _serve_until_closed(server: Any, stopping: threading.Event) -> None:
    """Serve until closed: the socket closed under the waiting loop is how waitress stops, not a fault."""
    try:
        server.run()
    except (OSError, ValueError):
        if not stopping.is_set():
            raise


def work(application: Application) -> None:
    """Drain inbox and outbox (our own writes come back as webhooks and stop at the loop guard)."""
    while application.worker.process_inbox() or application.worker.apply_outbox():
        pass
