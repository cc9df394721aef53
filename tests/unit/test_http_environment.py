"""A tracker session reads proxies, CA bundle and .netrc from the environment once, as requests
would on every call, and then uses what it read (connector/http.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connector.http import environment_once
from connector.redmine import RedmineConnector

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                   "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP proxy that answers every request itself and notes its request line."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.requestline)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_proxy_from_the_environment_is_used_and_read_once(monkeypatch, proxy) -> None:
    address, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    session = environment_once(requests.Session(), "http://tracker.example")
    assert session.trust_env is False
    assert session.proxies == {"http": address}
    monkeypatch.delenv("HTTP_PROXY")  # read once: the session keeps what it read
    answer = session.get("http://tracker.example/issues/1.json", timeout=5)
    assert answer.status_code == 200
    assert seen == ["GET http://tracker.example/issues/1.json HTTP/1.1"]


def test_the_bypass_list_is_applied_to_the_tracker_address(monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "tracker.example")
    session = environment_once(requests.Session(), "http://tracker.example")
    assert session.proxies == {}
    assert session.trust_env is False


def test_proxies_given_to_the_session_win(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    session = requests.Session()
    session.proxies["https"] = "http://127.0.0.1:10"
    environment_once(session, "https://tracker.example")
    assert session.proxies["https"] == "http://127.0.0.1:10"


def test_a_ca_bundle_and_a_netrc_login_are_taken(monkeypatch, tmp_path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine tracker.example login ana password s3cret\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    session = environment_once(requests.Session(), "https://tracker.example")
    assert session.verify == str(tmp_path / "ca.pem")
    assert session.auth == ("ana", "s3cret")


def test_a_session_told_not_to_trust_the_environment_is_left_alone(monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    session = requests.Session()
    session.trust_env = False
    environment_once(session, "http://tracker.example")
    assert session.proxies == {}


def test_the_redmine_connector_reads_the_environment_when_it_starts(monkeypatch, proxy) -> None:
    address, _seen = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    connector = RedmineConnector("http://redmine.example", "key", timeout=5)
    session = connector._redmine.engine.session
    assert (session.trust_env, session.proxies) == (False, {"http": address})
