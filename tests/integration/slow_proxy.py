"""A proxy in front of a real tracker that holds back the requests a test chooses (a slow
ticket, a slow tracker) or answers them itself as a tracker that is down would (a 503).
Everything else passes through untouched (127.0.0.1 only)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@contextmanager
def slow_proxy(upstream: str, delay: Callable[[str, str], float],
               down: Callable[[str, str], bool] = lambda method, path: False) -> Iterator[str]:
    """Serve a proxy to `upstream`; `delay(method, path)` is how long to hold each request, and
    a request for which `down(method, path)` holds is answered 503 without reaching it."""
    session = requests.Session()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            wait = delay(self.command, self.path)
            if wait:
                threading.Event().wait(wait)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if down(self.command, self.path):
                refusal = b"Service Unavailable"
                self.send_response(503)
                self.send_header("Content-Length", str(len(refusal)))
                self.end_headers()
                self.wfile.write(refusal)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            answer = session.request(self.command, upstream + self.path, data=body, headers=headers, timeout=60)
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_PUT = do_POST = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        session.close()
