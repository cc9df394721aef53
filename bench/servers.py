"""Serving a WSGI app with waitress on 127.0.0.1 and a free port, as the service itself does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress.server import create_server

SERVER_THREADS = 4


@contextmanager
def serving(app: Any, threads: int = SERVER_THREADS) -> Iterator[str]:
    """The app's base URL while the block runs."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        server.close()
        thread.join(timeout=5)
