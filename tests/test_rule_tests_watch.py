"""`ticketwarden test --watch`: a changed rule file reruns the tests; Ctrl-C ends it cleanly."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from tests.conftest import ROOT

RULES = """
version: 1
rules:
  - name: greet new tickets
    on: [ticket.created]
    then: [{comment: {body: "hello"}}]
"""
TESTS = """
rulebook: ../rules
tests:
  - name: a new ticket is greeted
    events:
      - at: 2026-03-02T09:00:00Z
        on: ticket.created
        expect: [{rule: greet new tickets, body: hello}]
"""


class Output:
    """The lines a process writes, read on a thread so waiting for one has a deadline."""

    def __init__(self, process: subprocess.Popen[str]):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, wanted: Callable[[str], bool], timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"not printed within {timeout}s; printed so far: {self.seen}")


def test_watch_reruns_when_a_rule_file_changes_and_ctrl_c_exits_0(tmp_path):
    (tmp_path / "rules").mkdir()
    rule_file = tmp_path / "rules" / "greetings.yaml"
    rule_file.write_text(RULES)
    (tmp_path / "tests").mkdir()
    test_file = tmp_path / "tests" / "greetings.test.yaml"
    test_file.write_text(TESTS)
    process = subprocess.Popen([sys.executable, "-m", "ticketwarden.cli", "test", "--watch", str(tmp_path / "tests")],
                               cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        output = Output(process)
        output.wait_for(lambda line: line == "1 passed, 0 failed")
        rule_file.write_text(RULES.replace('"hello"', '"goodbye"'))
        separator = output.wait_for(lambda line: line.startswith("==="))
        assert separator.endswith(f"changed: {rule_file} ===")
        assert output.wait_for(lambda line: line.startswith("FAIL ")) == f"FAIL {test_file}:4 a new ticket is greeted"
        output.wait_for(lambda line: line == "0 passed, 1 failed")
        test_file.write_text(TESTS.replace("body: hello", "body: goodbye"))
        output.wait_for(lambda line: line.startswith("===") and line.endswith(f"changed: {test_file} ==="))
        output.wait_for(lambda line: line == "1 passed, 0 failed")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0
