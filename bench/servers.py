"""Serving a WSGI app with waitress on 127.0.0.1 and a free port, as the service itself does;
a stand-in tracker in a process of its own."""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

from waitress.server import create_server

SERVER_THREADS = 4


class TrackerServer(ThreadingHTTPServer):
    """A stand-in tracker's HTTP server, listening as the web server in front of a tracker does
    (nginx: a backlog of 511). The standard library's backlog of 5 dropped connections opened
    at once by two workers' writers: each such connection waited for the client's SYN to be
    sent again, about a second, and a two-worker run took twice as long (one in four runs)."""

    request_queue_size = 128
    daemon_threads = True


@contextmanager
def serving(app: Any, threads: int = SERVER_THREADS) -> Iterator[str]:
    """The app's base URL while the block runs."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:  # its sockets closed under its loop's select: how it stops from outside
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        # Let the answers in progress finish first: a task that ends after the server closed
        # wakes a loop that is gone (waitress logs "Bad file descriptor").
        server.task_dispatcher.shutdown(timeout=5)
        closing.set()
        server.close()
        thread.join(timeout=5)


class Counters:
    """The counters of a stand-in serving in its own process, read through a pipe when asked:
    `reset_calls()` as on the model, and any attribute (`calls`, `journal_reads`, `unknown`) as
    the model holds it at that moment."""

    def __init__(self, pipe: Connection):
        self._pipe = pipe

    def _ask(self, what: str) -> Any:
        self._pipe.send(what)
        return self._pipe.recv()

    def reset_calls(self) -> None:
        self._ask("reset_calls")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._ask(name)


def _serve_in_child(standin: Callable[[Any], AbstractContextManager[str]], model: Any, pipe: Connection) -> None:
    with standin(model) as url:
        pipe.send(url)
        while (what := pipe.recv()) != "stop":
            if what == "reset_calls":
                model.reset_calls()
                pipe.send(None)
            else:
                with model.lock:
                    pipe.send(copy.deepcopy(getattr(model, what)))


@contextmanager
def own_process(standin: Callable[[Any], AbstractContextManager[str]], model: Any) -> Iterator[tuple[str, Counters]]:
    """A stand-in tracker served from a process of its own, as a tracker is: the time it takes to
    answer is not taken from the worker's interpreter (one lock, the GIL, for all its threads).
    Yields its URL and its counters. Forked, so it starts with the model as the parent built it;
    start it before any thread of the parent."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve_in_child, args=(standin, model, theirs), daemon=True)
    child.start()
    try:
        if not ours.poll(30):
            raise RuntimeError("the stand-in tracker did not start")
        yield ours.recv(), Counters(ours)
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
