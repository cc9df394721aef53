#!/usr/bin/env python3
"""`make run` and `make test` side by side, as a newcomer runs them: try the service, then test.

1. `make run` in the background (its sandbox Redmine, instance `default` on :3000), until ready;
2. an Incident created there by the sandbox's person gets ticketwarden's note;
3. `make test` (its own sandbox Redmine, instance `test` on :3001) must pass;
4. the `make run` sandbox is untouched by the tests: no issue was created there while they ran,
   and the Incident was changed by nobody but ticketwarden;
5. `make run` stops cleanly on SIGTERM, and `make stop-sandbox` stops both sandbox Redmines.

Exit status: that of `make test`, or 1 when a check above fails. Standard library only: it runs
before anything is installed. Extra arguments are passed to pytest (`PYTEST_ARGS`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN_ENV = ROOT / "var" / "sandbox-redmine.env"
TEST_ENV = ROOT / "var" / "test-redmine.env"
LOG = ROOT / "var" / "side-by-side-run.log"
BIND = os.environ.get("TICKETWARDEN_BIND", "127.0.0.1:8080")
SUMMARY = re.compile(r"^=+ .*\b(passed|failed|error|errors|skipped|no tests ran)\b.* in [\d.]+s")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)")


def say(message: str) -> None:
    print(f"side-by-side: {message}", flush=True)


def fail(message: str) -> None:
    say(f"FAILED: {message}")
    raise SystemExit(1)


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return {key: value for key, value in pairs}


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Redmine:
    """The `make run` sandbox, spoken to as its person (or its administrator) would."""

    def __init__(self, env: dict[str, str]):
        self.url = env["REDMINE_URL"].rstrip("/")
        self.person_key = env["SANDBOX_PERSON_API_KEY"]
        self.admin_key = env["SANDBOX_ADMIN_API_KEY"]
        self.service_key = env["REDMINE_API_KEY"]

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, admin: bool = False,
             key: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Content-Type": "application/json",
            "X-Redmine-API-Key": key or (self.admin_key if admin else self.person_key)})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text.strip() else None

    def service_user_id(self) -> int:
        """ticketwarden's own user in this Redmine (the one whose API key the service uses)."""
        return int(self.call("GET", "/users/current.json", key=self.service_key)["user"]["id"])

    def all_issue_ids(self) -> set[int]:
        """Every issue of every project, open or closed, as the administrator sees them."""
        ids: set[int] = set()
        offset = 0
        while True:
            page = self.call("GET", f"/issues.json?status_id=*&limit=100&offset={offset}", admin=True)
            ids.update(issue["id"] for issue in page["issues"])
            offset += 100
            if offset >= page["total_count"]:
                return ids

    def create_incident(self, subject: str) -> int:
        trackers = {t["name"]: t["id"] for t in self.call("GET", "/trackers.json")["trackers"]}
        body = {"issue": {"project_id": "support", "tracker_id": trackers["Incident"], "subject": subject}}
        return int(self.call("POST", "/issues.json", body)["issue"]["id"])

    def journals(self, issue_id: int) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/issues/{issue_id}.json?include=journals", admin=True)["issue"]["journals"])


def start_make_run() -> subprocess.Popen[bytes]:
    if answers(f"http://{BIND}/readyz"):
        fail(f"something already serves on {BIND}: stop it first, or set TICKETWARDEN_BIND")
    LOG.parent.mkdir(parents=True, exist_ok=True)
    say(f"starting `make run` (log: {LOG.relative_to(ROOT)})")
    log = LOG.open("wb")
    process = subprocess.Popen(["make", "run"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 900  # a first run installs the venv and the sandbox Redmine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"`make run` exited with {process.returncode}:\n{LOG.read_text()[-3000:]}")
        if answers(f"http://{BIND}/readyz"):
            return process
        time.sleep(2)
    fail("`make run` was not ready within 15 minutes")
    raise AssertionError  # unreachable


def wait_for_notes(redmine: Redmine, issue_id: int, seconds: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    service = redmine.service_user_id()
    while time.monotonic() < deadline:
        ours = [j for j in redmine.journals(issue_id) if j["user"]["id"] == service and j.get("notes")]
        if ours:
            return ours
        time.sleep(2)
    fail(f"ticketwarden wrote no note on the `make run` sandbox's issue #{issue_id} within {seconds:.0f} s")
    raise AssertionError  # unreachable


def run_tests(env: dict[str, str] | None) -> tuple[int, dict[str, int]]:
    """`make test`, its output passed through as it comes; with the counts of pytest's summary."""
    counts: dict[str, int] = {}
    with subprocess.Popen(["make", "test"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if SUMMARY.match(line):
                counts = {word: int(number) for number, word in COUNT.findall(line)}
    counts["failed"] = counts.get("failed", 0) + counts.pop("error", 0) + counts.pop("errors", 0)
    return process.returncode, counts


def service_pids(group: int) -> list[int]:
    """The `ticketwarden serve` processes that `make run` started (in its process group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        process_group = int(stat.rsplit(")", 1)[1].split()[2])
        if process_group == group and b"serve" in command and any(b"ticketwarden" in part for part in command):
            found.append(int(entry.name))
    return found


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the service, as an operator stops it; `make run` then ends with its status."""
    pids = service_pids(process.pid)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    if not pids:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        fail("`make run` did not stop within 60 s of SIGTERM")
        raise


def main(pytest_args: list[str]) -> int:
    process = start_make_run()
    try:
        redmine = Redmine(read_env(RUN_ENV))
        incident = redmine.create_incident("Tried by a newcomer before running the tests")
        notes = wait_for_notes(redmine, incident, 120)
        say(f"`make run` is serving: issue #{incident} got {len(notes)} note(s) from ticketwarden")
        issues_before = redmine.all_issue_ids()
        journals_before = {j["id"] for j in redmine.journals(incident)}

        say("running `make test` beside it")
        env = {**os.environ, "PYTEST_ARGS": " ".join(pytest_args)} if pytest_args else None
        tests_status, counts = run_tests(env)

        created = sorted(redmine.all_issue_ids() - issues_before)
        if created:
            fail(f"issues {created} appeared in the `make run` sandbox while the tests ran")
        service = redmine.service_user_id()
        others = [j for j in redmine.journals(incident)
                  if j["id"] not in journals_before and j["user"]["id"] != service]
        if others:
            fail(f"issue #{incident} of the `make run` sandbox was changed by {[j['user']['name'] for j in others]}")
        if not answers(f"http://{BIND}/readyz"):
            fail("the `make run` service stopped answering while the tests ran")
        say(f"the `make run` sandbox is untouched: {len(issues_before)} issue(s) before and after")
    finally:
        code = stop(process)
    if code != 0:
        fail(f"`make run` exited with {code} on SIGTERM:\n{LOG.read_text()[-3000:]}")

    urls = [read_env(path)["REDMINE_URL"].rstrip("/") for path in (RUN_ENV, TEST_ENV)]
    subprocess.run(["make", "stop-sandbox"], cwd=ROOT, check=True)
    for url in urls:
        if answers(f"{url}/login"):
            fail(f"`make stop-sandbox` left the sandbox Redmine at {url} running")
    say("`make stop-sandbox` stopped both sandbox Redmines")
    if tests_status != 0:
        say(f"`make test` FAILED with exit status {tests_status}")
    # pytest's counts again, last, so that they close the output whatever the checks printed
    say(", ".join(f"{counts.get(word, 0)} {word}" for word in ("passed", "failed", "skipped")))
    return tests_status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
