"""Webhook deliveries as Jira makes them: signed, identified, retried, sometimes twice.

Why these details: the receiver under test must verify `X-Hub-Signature`, treat Jira's
retries (same `X-Atlassian-Webhook-Identifier`, with `X-Atlassian-Webhook-Retry`) and
duplicates as one event, and fold the comment_created + jira:issue_updated pair of one
comment into one happening. A fake that never retries or duplicates cannot test any of that.

Deliveries are queued when the change happens (the body is rendered then, as Jira snapshots
the issue at event time) and sent by `flush()`. In "sync" mode (the default) the fake flushes
at the end of every request that changed something, before answering it, so when a call of
the `jira` library returns, its webhooks have been delivered. In "queue" mode nothing is sent
until the test calls `flush()`, which lets a test reorder or delay on purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass(frozen=True)
class Registration:
    """A registered webhook: where it goes and, if set, the secret its bodies are signed with."""

    url: str
    secret: str | None = None
    events: frozenset[str] | None = None  # webhookEvent names; None: every event

    def wants(self, event: str) -> bool:
        return self.events is None or event in self.events


@dataclass
class Delivery:
    """One HTTP attempt (first try, retry or duplicate) and what the receiver answered."""

    url: str
    identifier: str
    event: str
    body: bytes
    headers: dict[str, str]
    retry: int = 0  # 0 for the first attempt, n for the n-th retry
    duplicate: bool = False
    status: int | None = None
    error: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 429


def signature(body: bytes, secret: str) -> str:
    """X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _Pending:
    registration: Registration
    event: str
    body: bytes
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))


class WebhookSender:
    """Queues webhook bodies per registration and delivers them with Jira's headers."""

    def __init__(self, mode: str = "sync", retries: int = 5, duplicates: bool = False, timeout: float = 10.0,
                 retry_delay: float = 0.0):
        if mode not in ("sync", "queue"):
            raise ValueError("mode is 'sync' or 'queue'")
        self.mode = mode
        self.retries = retries  # further attempts after a 5xx/429/connection failure (Jira Cloud: 5)
        self.duplicates = duplicates  # deliver every webhook a second time, as Jira sometimes does
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.registrations: list[Registration] = []
        self.deliveries: list[Delivery] = []
        self._queue: list[_Pending] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()

    def register(self, url: str, secret: str | None = None, events: set[str] | None = None) -> Registration:
        registration = Registration(url, secret, frozenset(events) if events else None)
        self.registrations.append(registration)
        return registration

    def enqueue(self, payload: dict[str, Any]) -> None:
        event = str(payload.get("webhookEvent"))
        body = json.dumps(payload).encode()
        with self._lock:
            self._queue.extend(_Pending(r, event, body) for r in self.registrations if r.wants(event))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def flush(self) -> list[Delivery]:
        """Deliver everything queued, in order; the attempts made (also kept in `deliveries`)."""
        made: list[Delivery] = []
        with self._send_lock:
            while True:
                with self._lock:
                    if not self._queue:
                        return made
                    pending = self._queue.pop(0)
                made += self._deliver(pending, duplicate=False)
                if self.duplicates:
                    made += self._deliver(pending, duplicate=True)

    def _deliver(self, pending: _Pending, duplicate: bool) -> list[Delivery]:
        attempts = []
        for retry in range(self.retries + 1):
            headers = {"Content-Type": "application/json", "User-Agent": "Atlassian Webhook HTTP Client",
                       "X-Atlassian-Webhook-Identifier": pending.identifier, "X-Atlassian-Webhook-Flow": "Primary"}
            if retry:
                headers["X-Atlassian-Webhook-Retry"] = str(retry)
            if pending.registration.secret:
                headers["X-Hub-Signature"] = signature(pending.body, pending.registration.secret)
            delivery = Delivery(pending.registration.url, pending.identifier, pending.event, pending.body, headers,
                                retry, duplicate)
            try:
                answer = requests.post(delivery.url, data=pending.body, headers=headers, timeout=self.timeout)
                delivery.status = answer.status_code
            except requests.RequestException as exc:
                delivery.error = f"{type(exc).__name__}: {exc}"
            attempts.append(delivery)
            self.deliveries.append(delivery)
            if not delivery.failed:
                break
            if self.retry_delay and retry < self.retries:
                time.sleep(self.retry_delay)
        return attempts
