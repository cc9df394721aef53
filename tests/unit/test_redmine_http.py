"""Redmine calls go straight to the connection pool (connector.http.PooledSession), against a
loopback server that answers as Redmine's REST API does: what is sent, how connections are
reused, compressed answers, redirects, errors, timeouts, calls that take requests' whole path."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connector.errors import TrackerError
from connector.redmine import RedmineConnector

ISSUE = {"issue": {"id": 1, "subject": "Printer down", "project": {"id": 1, "name": "Support"},
                   "status": {"id": 1, "name": "New"}, "updated_on": "2026-11-22T12:00:00Z", "custom_fields": []}}


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)
    connections: set[int] = field(default_factory=set)


@pytest.fixture
def redmine() -> Iterator[tuple[str, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Redmine behind its web server

        def _answer(self, status: int, body: dict[str, Any] | None = None, location: str = "",
                    compressed: bool = False) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if compressed:
                payload = gzip.compress(payload)
                self.send_header("Content-Encoding", "gzip")
            if location:
                self.send_header("Location", location)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            seen.connections.add(self.client_address[1])
            seen.requests.append({"method": self.command, "path": url.path, "query": parse_qs(url.query),
                                  "headers": dict(self.headers), "body": json.loads(body) if body else None})
            if url.path.startswith("/old/"):
                self._answer(301, location=self.path[len("/old"):])
            elif url.path == "/issues/1.json" and self.command == "GET":
                self._answer(200, ISSUE)
            elif url.path == "/issues/5.json" and self.command == "GET":  # as a web server that compresses
                self._answer(200, {"issue": {**ISSUE["issue"], "id": 5}}, compressed=True)
            elif url.path == "/projects/support/wiki/Caf%C3%A9%20notes.json":
                self._answer(200, {"wiki_page": {"title": "Café notes", "text": "x", "version": 1}})
            elif url.path == "/issues/1.json" and self.command == "PUT":
                self._answer(204)
            elif url.path == "/issues/2.json" and self.command == "PUT":
                self._answer(422, {"errors": ["Status is invalid"]})
            else:
                self._answer(404, {})

        do_GET = do_PUT = _handle

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_reads_and_writes_carry_the_key_and_reuse_one_connection(redmine):
    url, seen = redmine
    connector = RedmineConnector(url, "k" * 40, timeout=5)
    for _ in range(3):
        assert connector.fetch_issue(1)["subject"] == "Printer down"
    connector._call(lambda: connector._redmine.issue.update(1, notes="Checked", private_notes=True))
    assert connector.fetch_issue(1, journals=False)["id"] == 1
    assert [(r["method"], r["path"], r["query"]) for r in seen.requests] == [
        ("GET", "/issues/1.json", {"include": ["journals"]})] * 3 + [
        ("PUT", "/issues/1.json", {}), ("GET", "/issues/1.json", {})]
    for sent in seen.requests:
        assert sent["headers"]["X-Redmine-API-Key"] == "k" * 40
        assert sent["headers"]["X-Skip-Webhooks"] == "1"
        assert sent["headers"]["User-Agent"] == "ticketwarden"
        assert "Cookie" not in sent["headers"]
    assert seen.requests[3]["body"] == {"issue": {"notes": "Checked", "private_notes": True}}
    assert seen.requests[3]["headers"]["Content-Type"] == "application/json"
    assert len(seen.connections) == 1  # every answer was read in full, so its connection was reused


@pytest.mark.filterwarnings("ignore:Redirect detected")  # python-redmine's advice to fix the URL
def test_a_redirect_is_followed(redmine):
    url, seen = redmine
    connector = RedmineConnector(url + "/old", "key", timeout=5)
    assert connector.fetch_issue(1)["id"] == 1
    assert [r["path"] for r in seen.requests] == ["/old/issues/1.json", "/old/issues/1.json", "/issues/1.json"]


def test_refusals_and_absence_keep_their_meaning(redmine):
    url, _ = redmine
    connector = RedmineConnector(url, "key", timeout=5)
    assert connector.fetch_issue(3) is None
    with pytest.raises(TrackerError) as refused:
        connector._call(lambda: connector._redmine.issue.update(2, status_id=9))
    assert (refused.value.status, refused.value.transient) == (422, False)
    assert "Status is invalid" in str(refused.value)


@pytest.fixture
def adapter_sends(monkeypatch) -> list[str]:
    """The URLs sent through requests' adapter (its whole path) rather than straight to the pool."""
    sent: list[str] = []
    send = requests.adapters.HTTPAdapter.send

    def counting(self, request, *args, **kwargs):
        sent.append(request.url)
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting)
    return sent


def test_issue_reads_and_writes_skip_requests_whole_path(redmine, adapter_sends):
    url, seen = redmine
    connector = RedmineConnector(url, "key", timeout=5)
    connector.fetch_issue(1)
    connector._call(lambda: connector._redmine.issue.update(1, notes="Checked"))
    assert adapter_sends == [] and len(seen.requests) == 2


def test_an_address_that_needs_quoting_takes_requests_whole_path(redmine, adapter_sends):
    url, seen = redmine
    connector = RedmineConnector(url, "key", timeout=5)
    page = connector._call(lambda: connector._redmine.wiki_page.get("Café notes", project_id="support"))
    assert page.title == "Café notes"
    assert seen.requests[-1]["path"] == "/projects/support/wiki/Caf%C3%A9%20notes.json"
    assert len(adapter_sends) == 1


def test_a_compressed_answer_is_read(redmine):
    url, seen = redmine
    connector = RedmineConnector(url, "key", timeout=5)
    assert connector.fetch_issue(5)["id"] == 5
    assert "gzip" in seen.requests[0]["headers"]["Accept-Encoding"]


@pytest.fixture
def silent_tracker() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_tracker_that_does_not_answer_in_time_is_a_transient_failure(silent_tracker):
    connector = RedmineConnector(silent_tracker, "key", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TrackerError) as failed:
        connector.fetch_issue(1)
    assert failed.value.transient and "ReadTimeout" in str(failed.value)
    assert time.monotonic() - started < 3


def test_a_tracker_that_is_down_is_a_transient_failure():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    connector = RedmineConnector(f"http://127.0.0.1:{closed}", "key", timeout=2)
    with pytest.raises(TrackerError) as failed:
        connector.fetch_issue(1)
    assert failed.value.transient and "ConnectionError" in str(failed.value)
