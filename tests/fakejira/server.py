"""FakeJira: a stateful Jira on a loopback port, for tests that drive the real `jira` library.

    with FakeJira() as fake:                     # Cloud; FakeJira(deployment="Server") for Server/DC
        fake.register_webhook(receiver_url, secret="s3cret")
        issue = fake.create_issue("SUP", "VPN down")   # seeding: no webhook unless emit=True
        client = fake.client()                   # jira.JIRA with the API user's e-mail + token
        client.add_comment(issue.key, "Looking")     # -> comment_created + jira:issue_updated
        fake.assert_no_problems()                # every exchange matched the OpenAPI document

Why a real server: the `jira` library, `requests` retries and the webhook receiver are all
exercised over real HTTP, so what passes here is what would pass against a Jira site.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.fakejira.app import create_app
from tests.fakejira.model import CLOUD, SERVER, Comment, Field, History, Issue, JiraError, JiraState, User
from tests.fakejira.openapi import Checker, Finding, KnownMistake, Problem
from tests.fakejira.render import View
from tests.fakejira.webhooks import Delivery, Registration, WebhookSender

if TYPE_CHECKING:
    from jira import JIRA

T = TypeVar("T")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # keep test output readable
        pass


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it, and the status it was answered with."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class FakeJira:
    """A Jira Cloud (or Server/DC) site in memory behind a real HTTP server on 127.0.0.1.

    Credentials: Basic with the API user's e-mail (or, on Server, login) and `api_token`, or
    Bearer `personal_token`; anything else is 401. State is per instance (`state`), seeded
    with projects SUP/DEV/QA, users api/agent/customer, and the custom fields rules use.
    """

    def __init__(self, *, deployment: str = CLOUD, api_token: str = "api-token",
                 personal_token: str = "personal-token", time_zone: str = "UTC",
                 clock: Callable[[], datetime] | None = None, validate: bool = True, webhook_mode: str = "sync",
                 webhook_retries: int = 5, webhook_duplicates: bool = False, document: Path | None = None,
                 known_mistakes: Iterable[KnownMistake] | None = None):
        if deployment not in (CLOUD, SERVER):
            raise ValueError(f"deployment is {CLOUD!r} or {SERVER!r}")
        self.state = JiraState(deployment, clock)
        self.tz = ZoneInfo(time_zone)
        for user in self.state.users.values():
            user.time_zone = time_zone
        self.api_token = api_token
        self.personal_token = personal_token
        self.webhooks = WebhookSender(webhook_mode, retries=webhook_retries, duplicates=webhook_duplicates)
        self.state.listeners.append(self._on_event)
        self.validate = validate
        self.document = document
        self.known_mistakes = known_mistakes
        self.checker: Checker | None = None
        self.problems: list[Problem] = []
        self.requests: list[Seen] = []
        self.unsupported_jql: list[str] = []
        self._faults: list[tuple[int, int | None, str | None]] = []
        self._faults_lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeJira:
        self._server = make_server("127.0.0.1", 0, create_app(self), threaded=True, request_handler=_QuietHandler)
        self._url = f"http://127.0.0.1:{self._server.server_port}"
        if self.validate:
            extra = {} if self.known_mistakes is None else {"known_mistakes": self.known_mistakes}
            self.checker = Checker(self._url, self.document, **extra)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-jira", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FakeJira:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The site's base URL (what `jira.JIRA(server=...)` takes)."""
        if not self._url:
            raise RuntimeError("FakeJira is not started")
        return self._url

    @property
    def cloud(self) -> bool:
        return self.state.cloud

    # -- clients and credentials -----------------------------------------------------------------

    @property
    def api_user(self) -> User:
        return self.state.api_user

    @property
    def users(self) -> dict[str, User]:
        """Seeded users by role: "api" (the integration's own account), "agent", "customer"."""
        return self.state.users

    def basic_auth(self) -> tuple[str, str]:
        """Cloud: e-mail + API token; Server: login + password (the same secret here)."""
        return (self.api_user.email if self.cloud else self.api_user.name, self.api_token)

    def client(self, *, token: bool = False, **kwargs: Any) -> JIRA:
        """A `jira.JIRA` on this site (Basic auth, or the personal access token)."""
        from jira import JIRA

        auth: dict[str, Any] = {"token_auth": self.personal_token} if token else {"basic_auth": self.basic_auth()}
        return JIRA(server=self.url, **auth, **kwargs)

    def authenticate(self, header: str | None) -> User | None:
        """The user a request acts as, or None (401)."""
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() == "bearer" and value.strip() == self.personal_token:
            return self.api_user
        if scheme.lower() == "basic":
            try:
                login, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            if secret == self.api_token and login in (self.api_user.email, self.api_user.name):
                return self.api_user
        return None

    # -- faults ----------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 429, retry_after: int | None = 1,
                  path_contains: str | None = None) -> None:
        """Answer the next `count` requests (whose path contains `path_contains`, if given) with
        `status` and, if set, `Retry-After`; e.g. 429 + Retry-After: 1 to test backoff."""
        with self._faults_lock:
            self._faults.extend([(status, retry_after, path_contains)] * count)

    def unavailable_next(self, count: int = 1, retry_after: int | None = None,
                         path_contains: str | None = None) -> None:
        """503 Service Unavailable for the next `count` requests."""
        self.fail_next(count, 503, retry_after, path_contains)

    def take_fault(self, path: str) -> tuple[int, int | None] | None:
        with self._faults_lock:
            for index, (status, retry_after, contains) in enumerate(self._faults):
                if contains is None or contains in path:
                    del self._faults[index]
                    return status, retry_after
        return None

    # -- what happened ---------------------------------------------------------------------------

    def record(self, method: str, path: str, query: dict[str, list[str]], body: bytes, status: int) -> None:
        self.requests.append(Seen(method, path, query, body, status))

    @property
    def allowed(self) -> list[tuple[KnownMistake, Finding]]:
        """Findings the allow-list let through (document mistakes met so far)."""
        return list(self.checker.allowed) if self.checker else []

    def assert_no_problems(self) -> None:
        """Fail loudly if any exchange disagreed with the OpenAPI document (or the fake crashed)."""
        if self.problems:
            listing = "\n".join(f"  - {p}" for p in self.problems)
            raise AssertionError(f"{len(self.problems)} problem(s) with the fake Jira's traffic:\n{listing}")

    # -- webhooks --------------------------------------------------------------------------------

    def register_webhook(self, url: str, secret: str | None = None, events: set[str] | None = None) -> Registration:
        """Jira will POST every event (or only `events`, e.g. {"comment_created"}) to `url`,
        signed with `secret` (X-Hub-Signature: sha256=...) when one is given."""
        return self.webhooks.register(url, secret, events)

    def flush(self) -> list[Delivery]:
        """Deliver queued webhooks now (needed only with webhook_mode="queue")."""
        return self.webhooks.flush()

    @property
    def deliveries(self) -> list[Delivery]:
        return self.webhooks.deliveries

    def _delivered(self, result: T) -> T:
        """In sync mode a change made through these helpers is announced before they return."""
        if self.webhooks.mode == "sync" and self.webhooks.pending:
            self.webhooks.flush()
        return result

    def _on_event(self, event: Any) -> None:
        self.webhooks.enqueue(self.view("2").webhook(event))

    # -- state: seeding and acting as people -------------------------------------------------------

    def view(self, version: str = "2") -> View:
        """Renders state as the REST API `version` shows it (for assertions on JSON)."""
        return View(self.url, version, self.state, self.tz)

    def issue(self, key_or_id: str) -> Issue:
        return self.state.issue(key_or_id)

    def issue_json(self, key_or_id: str, version: str = "2", expand: Iterable[str] = ("changelog",)) -> dict[str, Any]:
        """The issue as GET /rest/api/{version}/issue/{key}?expand=changelog returns it."""
        return self.view(version).issue(self.issue(key_or_id), expand=expand)

    def user(self, ref: str | User | None) -> User | None:
        if isinstance(ref, User) or ref is None:
            return ref
        found = self.state.user(ref)
        if found is None:
            raise KeyError(f"no user {ref!r} (roles: {', '.join(self.users)})")
        return found

    def field_id(self, ref: str) -> str:
        """A field's id from its id or (unique) name; two fields may share a name, as in Jira."""
        matches = [f for f in self.state.fields if ref == f.id] or [f for f in self.state.fields if f.name == ref]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} fields are called {ref!r}; use the id")
        return matches[0].id

    def _rest_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Friendly values (option text, user roles) in the shape the REST API takes."""
        out: dict[str, Any] = {}
        for ref, value in values.items():
            known: Field | None = self.state.field(self.field_id(ref))
            assert known is not None
            if known.kind == "option" and isinstance(value, str):
                value = {"value": value}
            elif known.kind == "user" and isinstance(value, str | User):
                value = self.state.user_ref(self.user(value))
            elif known.id == "priority" and isinstance(value, str):
                value = {"name": value}
            elif known.id == "components" and isinstance(value, list):
                value = [{"name": name} if isinstance(name, str) else name for name in value]
            out[known.id] = value
        return out

    def create_issue(self, project: str = "SUP", summary: str = "Something is broken", *,
                     issuetype: str | None = None, reporter: str | User = "customer", emit: bool = False,
                     created: datetime | None = None, **fields: Any) -> Issue:
        """Seed an issue (as `reporter`); other fields by id or name, e.g. priority="High",
        labels=["vip"], assignee="agent", **{"Failure origin": "internal"}. `emit=True` also
        sends jira:issue_created, as if the reporter had created it in Jira."""
        proj = self.state.project(project)
        kind = issuetype or proj.issue_types[0].name
        rest = {"project": {"key": proj.key}, "issuetype": {"name": kind}, "summary": summary,
                **self._rest_fields(fields)}
        author = self.user(reporter)
        assert author is not None
        return self._delivered(self.state.create_issue(rest, author, "2", created=created, emit=emit))

    def set_service_sla(self, key: str, value: dict[str, Any]) -> None:
        """What Jira Service Management shows in the issue's SLA field (`value["name"]`, such as
        "Time to resolution"): {"id", "name", "ongoingCycle", "completedCycles"}. JSM times its
        SLAs itself, so this sends no webhook; the next read of the issue shows it."""
        with self.state.lock:
            self.issue(key).custom[self.field_id(str(value["name"]))] = value

    def comment(self, key: str, body: str, *, author: str | User = "customer", internal: bool = False,
                visibility: dict[str, str] | None = None) -> Comment:
        """`author` comments in Jira (webhooks fire as for a comment made in Jira's UI)."""
        user = self.user(author)
        assert user is not None
        properties = [{"key": "sd.public.comment", "value": {"internal": True}}] if internal else []
        return self._delivered(self.state.add_comment(self.issue(key), body, user, "2", visibility, properties))

    def edit(self, key: str, *, author: str | User = "agent", update: Mapping[str, Any] | None = None,
             **fields: Any) -> History | None:
        """`author` edits fields (friendly values as in create_issue); fires jira:issue_updated."""
        user = self.user(author)
        assert user is not None
        return self._delivered(self.state.edit_issue(self.issue(key), self._rest_fields(fields), update or {}, user))

    def transition(self, key: str, to: str, *, author: str | User = "agent", resolution: str | None = None) -> (
            History | None):
        """`author` moves the issue by a transition named `to` or leading to status `to`."""
        user = self.user(author)
        assert user is not None
        issue = self.issue(key)
        options = self.state.available_transitions(issue)
        chosen = next((t for t in options if to in (t.id, t.name)), None) or next(
            (t for t in options if t.to.name == to), None)
        if chosen is None:
            raise JiraError(400, [f"No transition of {issue.key} is called or leads to {to!r}."])
        fields = {"resolution": {"name": resolution}} if resolution else {}
        return self._delivered(self.state.transition(issue, chosen.id, fields, {}, user))
