"""A stand-in Redmine on 127.0.0.1: the REST calls the connector makes, answered at once from an
in-memory model, each counted by method and path shape (ids replaced by :id).

It is not a Redmine: it keeps just enough (issues with custom fields and journals, the names
behind ids, one project's members) for the worker's reads and writes to mean what they do.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.servers import TrackerServer

SERVICE_USER = {"id": 99, "login": "ticketwarden", "firstname": "ticketwarden", "lastname": "service"}
USERS = {
    1: {"id": 1, "login": "admin", "firstname": "Redmine", "lastname": "Admin"},
    6: {"id": 6, "login": "agent", "firstname": "Alice", "lastname": "Agent"},
    7: {"id": 7, "login": "dev", "firstname": "Dave", "lastname": "Developer"},
    99: SERVICE_USER,
}
STATUSES = [(1, "New", False), (2, "In Progress", False), (3, "Resolved", False), (4, "Feedback", False),
            (5, "Closed", True), (6, "Rejected", True), (7, "Waiting for customer", False),
            (8, "Needs development", False)]
TRACKERS = [(1, "Bug"), (4, "Incident")]
PRIORITIES = [(1, "Low"), (2, "Normal"), (3, "High"), (4, "Urgent"), (5, "Immediate")]
PROJECTS = [(1, "support", "Support"), (2, "development", "Development"), (3, "quality", "Quality")]
CUSTOM_FIELDS = ["SLA status", "SLA due", "SLA due at", "Failure origin", "Team", "External reference", "Triage"]
MEMBERSHIPS = [(6, "Manager"), (7, "Developer")]
NUMBER = re.compile(r"/\d+(?=[./]|$)")


def _named(ident: int, name: str) -> dict[str, Any]:
    return {"id": ident, "name": name}


def _user_ref(ident: int) -> dict[str, Any]:
    user = USERS[ident]
    return _named(ident, f"{user['firstname']} {user['lastname']}")


def issue_after_update(issue_id: int, journal_id: int, journals: int = 1) -> dict[str, Any]:
    """An Incident as GET /issues/:id.json?include=journals shows it once the customer's update
    (New -> Feedback, origin infrastructure, a public note) is saved: that update is its last
    journal, after `journals - 1` older ones (a longer history, for the scaling rows)."""
    values = {"SLA status": "paused", "SLA due": "2030-01-02", "SLA due at": "2030-01-02T12:00:00Z",
              "Failure origin": "infrastructure", "Team": "support", "External reference": f"EXT-{issue_id}",
              "Triage": ""}
    update = {"id": journal_id, "user": _user_ref(1), "notes": "Please send the VPN client logs.",
              "created_on": "2026-11-22T01:44:59Z", "private_notes": False, "details": [
                  {"property": "attr", "name": "status_id", "old_value": "1", "new_value": "4"},
                  {"property": "cf", "name": "1", "old_value": "on_track", "new_value": "paused"},
                  {"property": "cf", "name": "4", "old_value": "unknown", "new_value": "infrastructure"}]}
    return {
        "id": issue_id, "project": _named(1, "Support"), "tracker": _named(4, "Incident"),
        "status": {"id": 4, "name": "Feedback", "is_closed": False}, "priority": _named(2, "Normal"),
        "author": _user_ref(1), "assigned_to": _user_ref(6), "subject": f"VPN down for customer {issue_id}",
        "description": "Customer reports VPN outage since 08:00.", "done_ratio": 0, "is_private": False,
        "created_on": "2026-11-22T01:44:59Z", "updated_on": "2026-11-22T01:44:59Z", "closed_on": None,
        "custom_fields": [{"id": n + 1, "name": name, "value": values[name]} for n, name in enumerate(CUSTOM_FIELDS)],
        "journals": [*older_journals(journal_id, journals - 1), update],
    }


# (author, notes, private, details) of the journals of a long history, in turn
_HISTORY: list[tuple[int, str, bool, list[dict[str, str]]]] = [
    (1, "The VPN drops again every few minutes.", False,
     [{"property": "attr", "name": "status_id", "old_value": "4", "new_value": "2"}]),
    (6, "Looking into it; can you send the client version?", False,
     [{"property": "attr", "name": "status_id", "old_value": "2", "new_value": "4"},
      {"property": "cf", "name": "1", "old_value": "on_track", "new_value": "paused"}]),
    (99, "ticketwarden: waiting for the customer since the last update.", True, []),
    (1, "Version 5.2.1, logs attached.", False,
     [{"property": "attr", "name": "status_id", "old_value": "4", "new_value": "2"},
      {"property": "cf", "name": "1", "old_value": "paused", "new_value": "on_track"}]),
    (6, "", False, [{"property": "attr", "name": "assigned_to_id", "old_value": "6", "new_value": "7"}]),
]


def older_journals(journal_id: int, count: int) -> list[dict[str, Any]]:
    """`count` journals saved before `journal_id`, oldest first, a minute apart: the back and
    forth of a long ticket (notes of the customer and the agent, status and field changes, our
    private notes). Their ids run up to `journal_id`: only their order within the issue matters."""
    start = datetime(2026, 11, 22, 1, 44, tzinfo=UTC) - timedelta(minutes=count)
    journals = []
    for n in range(count):
        author, notes, private, details = _HISTORY[n % len(_HISTORY)]
        journals.append({"id": journal_id - count + n, "user": _user_ref(author), "notes": notes,
                         "created_on": (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "private_notes": private, "details": [dict(detail) for detail in details]})
    return journals


class Model:
    """Issues by id, and the calls made, behind one lock (the server answers on many threads)."""

    def __init__(self, issues: dict[int, dict[str, Any]]):
        self.issues = issues
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.journal_reads = 0  # GET /issues/:id.json that asked for the journals
        self._journal_ids = 10_000_000

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()
            self.journal_reads = 0

    def get(self, path: str, query: str = "") -> tuple[int, Any]:
        """Status and JSON answer of a GET (`query`: the URL's query string)."""
        static = {
            "/users/current.json": {"user": SERVICE_USER},
            "/issue_statuses.json": {"issue_statuses": [
                {"id": i, "name": n, "is_closed": c} for i, n, c in STATUSES]},
            "/trackers.json": {"trackers": [_named(i, n) for i, n in TRACKERS]},
            "/enumerations/issue_priorities.json": {"issue_priorities": [_named(i, n) for i, n in PRIORITIES]},
            "/projects.json": {"projects": [{"id": i, "identifier": s, "name": n} for i, s, n in PROJECTS],
                               "total_count": len(PROJECTS), "offset": 0, "limit": 100},
            "/issues.json": {"issues": [], "total_count": 0, "offset": 0, "limit": 100},
        }
        if path in static:
            return 200, static[path]
        if match := re.fullmatch(r"/users/(\d+)\.json", path):
            user = USERS.get(int(match[1]))
            return (200, {"user": user}) if user else (404, {})
        if re.fullmatch(r"/projects/\d+/memberships\.json", path):
            members = [{"id": n, "user": _user_ref(u), "roles": [_named(n, role)]}
                       for n, (u, role) in enumerate(MEMBERSHIPS, 1)]
            return 200, {"memberships": members, "total_count": len(members), "offset": 0, "limit": 100}
        if match := re.fullmatch(r"/issues/(\d+)\.json", path):
            return self._issue(int(match[1]), "journals" in _included(query))
        return 404, {}

    def _issue(self, issue_id: int, journals: bool) -> tuple[int, Any]:
        """One issue; its journals only when asked for, as Redmine answers. Journals are never
        changed once added, so the answer copies the list, not each journal."""
        with self.lock:
            issue = self.issues.get(issue_id)
            if issue is None:
                return 404, {}
            answer = deepcopy({key: value for key, value in issue.items() if key != "journals"})
            if journals:
                self.journal_reads += 1
                answer["journals"] = list(issue["journals"])
            return 200, {"issue": answer}

    def put_issue(self, issue_id: int, changes: dict[str, Any]) -> int:
        """Apply a PUT /issues/:id.json: custom fields, status, a note (as a journal of ours)."""
        with self.lock:
            issue = self.issues.get(issue_id)
            if issue is None:
                return 404
            by_id = {field["id"]: field for field in issue["custom_fields"]}
            for change in changes.get("custom_fields") or []:
                by_id[int(change["id"])]["value"] = change.get("value")
            if "status_id" in changes:
                ident = int(changes["status_id"])
                name, closed = next((n, c) for i, n, c in STATUSES if i == ident)
                issue["status"] = {"id": ident, "name": name, "is_closed": closed}
            if changes.get("notes"):
                self._journal_ids += 1
                issue["journals"].append({"id": self._journal_ids, "user": _user_ref(99), "notes": changes["notes"],
                                          "private_notes": bool(changes.get("private_notes")),
                                          "created_on": "2026-11-22T02:00:00Z", "details": []})
            return 204


def _included(query: str) -> set[str]:
    """The associations an `include=a,b` query parameter asks for."""
    values = parse_qs(query, keep_blank_values=True).get("include", [])
    return {name.strip() for value in values for name in value.split(",") if name.strip()}


def handler_for(model: Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Redmine behind a real server would
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def _count(self) -> str:
            path = urlsplit(self.path).path
            with model.lock:
                model.calls[f"{self.command} {NUMBER.sub('/:id', path)}"] += 1
            return path

        def _answer(self, status: int, payload: Any = None) -> None:
            data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(*model.get(self._count(), urlsplit(self.path).query))

        def do_PUT(self) -> None:
            path = self._count()
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            match = re.fullmatch(r"/issues/(\d+)\.json", path)
            self._answer(model.put_issue(int(match[1]), body.get("issue", {})) if match else 404)

        def do_POST(self) -> None:  # new issues are not part of the benchmarked flow
            self._count()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer(422, {"errors": ["not supported by the stand-in"]})

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def standin_redmine(model: Model) -> Iterator[str]:
    """The stand-in's base URL while the block runs."""
    server = TrackerServer(("127.0.0.1", 0), handler_for(model))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
