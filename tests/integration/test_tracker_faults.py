"""A tracker that does not answer costs at most our own timeout: no library-internal retries
that wait longer (the `jira` library once held a call for 80-100 s over three tries), and a
refused connection fails at once. The caller then retries with its own backoff."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from connector.errors import TrackerError
from connector.jira import JiraConnector
from connector.redmine import RedmineConnector


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections on 127.0.0.1 and never answers (a hung tracker)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def connectors(url: str, timeout: float) -> list[tuple[str, object]]:
    return [("jira", JiraConnector(url, user="tw@example.test", api_token="x", timeout=timeout)),
            ("redmine", RedmineConnector(url, "x", timeout=timeout))]


@pytest.mark.parametrize("kind", ["jira", "redmine"])
def test_a_hung_tracker_costs_at_most_our_timeout(kind):
    with silent_server() as url:
        connector = dict(connectors(url, timeout=1.0))[kind]
        started = time.monotonic()
        with pytest.raises(TrackerError) as raised:
            connector.fetch_issue("1")  # type: ignore[attr-defined]
        took = time.monotonic() - started
    assert raised.value.transient
    # Jira's client reads the server's info first: two calls, one timeout each, no retries
    assert took < 3.5, f"{kind} held the call for {took:.1f} s"


@pytest.mark.parametrize("kind", ["jira", "redmine"])
def test_a_tracker_that_refuses_connections_fails_at_once(kind):
    connector = dict(connectors(closed_port(), timeout=10.0))[kind]
    started = time.monotonic()
    with pytest.raises(TrackerError) as raised:
        connector.fetch_issue("1")  # type: ignore[attr-defined]
    assert raised.value.transient and time.monotonic() - started < 2
