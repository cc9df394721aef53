"""A stand-in Jira Cloud on 127.0.0.1: the REST v2 calls the connector makes through the `jira`
library, answered at once from an in-memory model, each counted by method, path shape (ids and
keys replaced by :id, the project by :key) and the names of its query parameters.

It is not a Jira: it keeps just enough (issues with custom fields and comments, the site's
fields, statuses and transitions, three people with their groups, one project's roles) for the
worker's reads and writes to mean what they do. Like Jira Cloud it never shows an e-mail address.
Anything else is answered 404 and counted in `Model.unknown`, so a new call shows up at once.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from bench.servers import TrackerServer

API = "/rest/api/2"
SITE = "https://bench.atlassian.net"  # the site deliveries name; requests go to the stand-in's own URL
PROJECT = {"id": "10000", "key": "SUP", "name": "Support", "projectTypeKey": "service_desk", "simplified": False}
INCIDENT = {"id": "10005", "name": "Incident", "description": "A problem that stops a customer's service.",
            "subtask": False, "hierarchyLevel": 0}
# name -> (id, status category key)
STATUSES = {"To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"),
            "Waiting for customer": ("10001", "indeterminate"), "Done": ("10002", "done")}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4"}
# transition id -> (name, target status, required fields)
TRANSITIONS = {"11": ("To Do", "To Do", ()), "21": ("Start progress", "In Progress", ()),
               "31": ("Wait for customer", "Waiting for customer", ()), "41": ("Resolve", "Done", ("resolution",))}
SELECT = "com.atlassian.jira.plugin.system.customfieldtypes:select"
# id -> (name, schema type, options): the custom fields jira-support.yaml maps, with its values
CUSTOM_FIELDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "customfield_10050": ("Failure origin", "option", ("unknown", "internal", "customer", "third_party",
                                                        "infrastructure")),
    "customfield_10051": ("Team", "option", ("support", "network", "platform")),
    "customfield_10052": ("Triage", "string", ()),
    "customfield_10053": ("SLA due at", "datetime", ()),
    "customfield_10054": ("SLA status", "option", ("on_track", "warning", "paused", "met", "breached")),
    "customfield_10055": ("SLA due", "date", ()),
    "customfield_10056": ("ISO clause", "string", ()),
    "customfield_10057": ("Effectiveness review", "string", ()),
    "customfield_10058": ("Review due", "date", ()),
    "customfield_10059": ("Satisfaction", "number", ()),
}
STANDARD_FIELDS = [("summary", "Summary", "string"), ("description", "Description", "string"),
                   ("issuetype", "Issue Type", "issuetype"), ("project", "Project", "project"),
                   ("status", "Status", "status"), ("priority", "Priority", "priority"),
                   ("resolution", "Resolution", "resolution"), ("assignee", "Assignee", "user"),
                   ("reporter", "Reporter", "user"), ("labels", "Labels", "array"),
                   ("created", "Created", "datetime"), ("updated", "Updated", "datetime"),
                   ("comment", "Comment", "comments-page")]
# accountId -> (display name, account type, groups)
SERVICE_ACCOUNT = "557058:ticketwarden-bot"
AGENT = "557058:alice-agent"
CUSTOMER = "qm:carol-customer"
USERS = {SERVICE_ACCOUNT: ("Ticketwarden Bot", "atlassian", ("jira-servicedesk-users",)),
         AGENT: ("Alice Agent", "atlassian", ("jira-servicedesk-users", "support-staff")),
         CUSTOMER: ("Carol Customer", "customer", ())}
ROLES = {"10100": ("Service Desk Team", (SERVICE_ACCOUNT, AGENT)), "10101": ("Service Desk Customers", (CUSTOMER,))}
CREATED = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)  # before the benchmark's fixed clock (12:00)
UPDATED = CREATED + timedelta(minutes=30)
NUMBER = re.compile(r"/(?:\d+|[A-Z][A-Z0-9_]*-\d+)(?=/|$)")
PROJECT_REF = re.compile(r"/project/[^/]+")
PREFIX = re.compile(r"/rest/api/(?:2|latest)(?=/)")


def jira_time(moment: datetime) -> str:
    """Jira's format: 2026-11-22T11:00:00.000+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def user_json(account_id: str, base: str = SITE) -> dict[str, Any]:
    """A Cloud user as Jira shows one to an app: accountId and display name, no e-mail address."""
    name, account_type, _ = USERS[account_id]
    return {"self": f"{base}{API}/user?accountId={quote(account_id, safe='')}", "accountId": account_id,
            "accountType": account_type, "displayName": name, "active": True, "timeZone": "UTC"}


def status_json(name: str, base: str = SITE) -> dict[str, Any]:
    ident, category = STATUSES[name]
    return {"self": f"{base}{API}/status/{ident}", "id": ident, "name": name, "description": "",
            "statusCategory": {"id": {"new": 2, "indeterminate": 4, "done": 3}[category], "key": category}}


def priority_json(name: str, base: str = SITE) -> dict[str, Any]:
    return {"self": f"{base}{API}/priority/{PRIORITIES[name]}", "id": PRIORITIES[name], "name": name}


def option_json(field_id: str, value: str, base: str = SITE) -> dict[str, Any]:
    """An option of a select field as Jira shows it; KeyError for a value the field does not have."""
    options = CUSTOM_FIELDS[field_id][2]
    ident = str(10300 + int(field_id.rsplit("_", 1)[1]) % 100 * 10 + options.index(value))
    return {"self": f"{base}{API}/customFieldOption/{ident}", "value": value, "id": ident}


def project_json(base: str = SITE) -> dict[str, Any]:
    return {"self": f"{base}{API}/project/{PROJECT['id']}", **PROJECT}


def issue_fields(issue_id: int, status: str, origin: str | None, updated: datetime) -> dict[str, Any]:
    """An incident's fields, as GET /issue shows them (and a webhook carries them)."""
    fields: dict[str, Any] = {
        "summary": f"VPN down for customer {issue_id}", "description": "Customer reports VPN outage since 08:00.",
        "issuetype": dict(INCIDENT), "project": project_json(), "status": status_json(status),
        "priority": priority_json("Medium"), "resolution": None, "resolutiondate": None,
        "reporter": user_json(CUSTOMER), "creator": user_json(CUSTOMER), "assignee": user_json(AGENT),
        "labels": [], "components": [], "fixVersions": [], "issuelinks": [], "duedate": None,
        "created": jira_time(CREATED), "updated": jira_time(updated),
        "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0},
    }
    fields.update({ident: None for ident in CUSTOM_FIELDS})
    fields["customfield_10051"] = option_json("customfield_10051", "support")
    if origin:
        fields["customfield_10050"] = option_json("customfield_10050", origin)
    return fields


def issue_after_update(issue_id: int) -> dict[str, Any]:
    """SUP-<id> as GET /issue shows it once the agent's update (To Do -> Waiting for customer,
    origin infrastructure) is saved: the state the worker finds when it reads the issue."""
    return {"id": str(issue_id), "key": f"SUP-{issue_id}", "self": f"{SITE}{API}/issue/{issue_id}",
            "fields": issue_fields(issue_id, "Waiting for customer", "infrastructure", UPDATED)}


def field_list() -> list[dict[str, Any]]:
    """GET /field: the standard fields the connector may name and the custom fields it maps."""
    shown = [{"id": ident, "key": ident, "name": name, "custom": False, "orderable": True, "navigable": True,
              "searchable": True, "clauseNames": [ident], "schema": {"type": kind, "system": ident}}
             for ident, name, kind in STANDARD_FIELDS]
    for ident, (name, kind, _) in CUSTOM_FIELDS.items():
        number = int(ident.rsplit("_", 1)[1])
        plugin = SELECT if kind == "option" else f"com.atlassian.jira.plugin.system.customfieldtypes:{kind}"
        shown.append({"id": ident, "key": ident, "name": name, "custom": True, "orderable": True, "navigable": True,
                      "searchable": True, "clauseNames": [f"cf[{number}]", name],
                      "schema": {"type": kind, "custom": plugin, "customId": number}})
    return shown


class FieldError(ValueError):
    """A value Jira would refuse (400): the field and Jira's message."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _stored_value(field_id: str, value: Any, base: str) -> Any:
    """A PUT's custom field value as GET /issue shows it afterwards; FieldError as Jira's 400."""
    if value is None:
        return None
    kind = CUSTOM_FIELDS[field_id][1]
    if kind == "option":
        wanted = value.get("value") if isinstance(value, dict) else None
        if wanted not in CUSTOM_FIELDS[field_id][2]:
            raise FieldError(field_id, f"Option value '{wanted}' is not valid")
        return option_json(field_id, str(wanted), base)
    if kind == "number" and not isinstance(value, (int, float)):
        raise FieldError(field_id, "Operation value must be a number")
    if kind in ("string", "datetime", "date") and not isinstance(value, str):
        raise FieldError(field_id, "Operation value must be a string")
    return value


class Model:
    """Issues by id, the calls made and the routes not served, behind one lock (the server
    answers on many threads)."""

    def __init__(self, issues: dict[str, dict[str, Any]]):
        self.issues = issues
        self.keys = {issue["key"]: ident for ident, issue in issues.items()}
        self.calls: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.base = SITE  # set to the stand-in's own URL once it listens
        self._comment_ids = 20_000_000

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()
            self.unknown.clear()

    def issue(self, ref: str) -> dict[str, Any] | None:
        """An issue by id or key (the caller holds the lock)."""
        return self.issues.get(self.keys.get(ref, ref))

    def touch(self, issue: dict[str, Any]) -> None:
        """Every write moves `updated` on, by a second (the precision the worker compares at)."""
        fields = issue["fields"]
        fields["updated"] = jira_time(datetime.strptime(fields["updated"], "%Y-%m-%dT%H:%M:%S.000%z")
                                      + timedelta(seconds=1))

    def shown(self, issue: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
        """GET /issue: the fields asked for (`fields=summary,...`; all by default), with its own URLs."""
        wanted = [name for part in query.get("fields", []) for name in part.split(",") if name]
        fields = issue["fields"]
        chosen = fields if not wanted or "*all" in wanted else {k: fields[k] for k in wanted if k in fields}
        return {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                "id": issue["id"], "key": issue["key"], "self": f"{self.base}{API}/issue/{issue['id']}",
                "fields": deepcopy(chosen)}

    def edit(self, issue: dict[str, Any], changes: dict[str, Any]) -> None:
        """PUT /issue: custom fields, priority, summary, description and labels are kept."""
        fields = issue["fields"]
        for field_id, value in changes.items():
            if field_id in CUSTOM_FIELDS:
                fields[field_id] = _stored_value(field_id, value, self.base)
            elif field_id == "priority":
                fields["priority"] = priority_json(str(value.get("name")), self.base)
            elif field_id in ("summary", "description", "labels"):
                fields[field_id] = value
            else:
                raise FieldError(field_id, f"Field '{field_id}' cannot be set. It is not on the appropriate screen, "
                                           "or unknown.")
        self.touch(issue)

    def comment(self, issue: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """POST /issue/{id}/comment: a comment of the service user (internal when the JSM
        property says so), kept on the issue."""
        self._comment_ids += 1
        now = issue["fields"]["updated"]
        internal = any(p.get("key") == "sd.public.comment" and (p.get("value") or {}).get("internal")
                       for p in body.get("properties") or [])
        comment = {"self": f"{self.base}{API}/issue/{issue['id']}/comment/{self._comment_ids}",
                   "id": str(self._comment_ids), "author": user_json(SERVICE_ACCOUNT, self.base),
                   "updateAuthor": user_json(SERVICE_ACCOUNT, self.base), "body": body.get("body"),
                   "created": now, "updated": now, "jsdPublic": not internal}
        if body.get("visibility"):
            comment["visibility"] = body["visibility"]
        page = issue["fields"]["comment"]
        page["comments"].append(comment)
        page["total"] = page["maxResults"] = len(page["comments"])
        self.touch(issue)
        return deepcopy(comment)

    def transitions(self, issue: dict[str, Any], with_fields: bool) -> dict[str, Any]:
        """GET /issue/{id}/transitions: every transition but the one to where it is."""
        current = issue["fields"]["status"]["name"]
        shown = []
        for ident, (name, target, required) in TRANSITIONS.items():
            if target == current:
                continue
            entry: dict[str, Any] = {"id": ident, "name": name, "to": status_json(target, self.base),
                                     "hasScreen": bool(required), "isGlobal": True, "isInitial": False,
                                     "isAvailable": True, "isConditional": False, "isLooped": False}
            if with_fields:
                entry["fields"] = {f: {"required": True, "name": f.title(), "key": f, "hasDefaultValue": False,
                                       "schema": {"type": f, "system": f}, "operations": ["set"],
                                       "allowedValues": [{"id": "10000", "name": "Done"}]} for f in required}
            shown.append(entry)
        return {"expand": "transitions", "transitions": shown}

    def transition(self, issue: dict[str, Any], body: dict[str, Any]) -> None:
        """POST /issue/{id}/transitions: to the transition's status (its required fields given)."""
        ident = str((body.get("transition") or {}).get("id"))
        if ident not in TRANSITIONS:
            raise FieldError("transition", f"Transition id '{ident}' is not valid for this issue.")
        _, target, required = TRANSITIONS[ident]
        missing = [f for f in required if f not in (body.get("fields") or {})]
        if missing:
            raise FieldError(missing[0], f"{missing[0].title()} is required.")
        issue["fields"]["status"] = status_json(target, self.base)
        if "resolution" in (body.get("fields") or {}):
            issue["fields"]["resolution"] = {"id": "10000", "name": "Done"}
        self.touch(issue)

    def user(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        """GET /user?accountId=...[&expand=groups]."""
        account = (query.get("accountId") or [""])[0]
        if account not in USERS:
            return 404, {"errorMessages": [f"The user with account ID '{account}' does not exist."], "errors": {}}
        shown = user_json(account, self.base)
        if "groups" in ",".join(query.get("expand", [])):
            items = [{"name": g, "groupId": f"g-{g}", "self": f"{self.base}{API}/group?groupId=g-{g}"}
                     for g in USERS[account][2]]
            shown["groups"] = {"size": len(items), "items": items, "max-results": len(items)}
        return 200, shown

    def role(self, ident: str) -> tuple[int, Any]:
        """GET /project/{key}/role/{id}: the role's user actors."""
        if ident not in ROLES:
            return 404, {"errorMessages": ["Can not retrieve a role actor for a null project role."], "errors": {}}
        name, members = ROLES[ident]
        actors = [{"id": 30000 + n, "displayName": USERS[a][0], "type": "atlassian-user-role-actor",
                   "actorUser": {"accountId": a}} for n, a in enumerate(members)]
        return 200, {"self": f"{self.base}{API}/project/{PROJECT['key']}/role/{ident}", "name": name,
                     "id": int(ident), "description": name, "actors": actors}


def _site(model: Model, path: str, query: dict[str, list[str]]) -> tuple[int, Any] | None:
    """The answers that depend on no issue; None when `path` is not one of them."""
    if path == "/serverInfo":
        return 200, {"baseUrl": model.base, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                     "deploymentType": "Cloud", "buildNumber": 100290, "serverTitle": "Stand-in Jira",
                     "buildDate": "2026-01-05T00:00:00.000+0000", "serverTime": jira_time(UPDATED)}
    if path == "/myself":
        return 200, {**user_json(SERVICE_ACCOUNT, model.base), "locale": "en_US"}
    if path == "/field":
        return 200, field_list()
    if path == "/user":
        return model.user(query)
    if path == "/user/search":  # assign and add_watcher look the person up first
        text = (query.get("query") or [""])[0].casefold()
        return 200, [user_json(a, model.base) for a, (name, _, _) in USERS.items()
                     if text and (text == a.casefold() or text in name.casefold())]
    if path == "/status":
        return 200, [status_json(name, model.base) for name in STATUSES]
    if path in ("/search", "/search/jql"):
        return 200, {"issues": [], "startAt": 0, "maxResults": 50, "total": 0, "isLast": True}
    if re.fullmatch(r"/project/[^/]+/role", path):
        return 200, {name: f"{model.base}{API}/project/{PROJECT['key']}/role/{i}" for i, (name, _) in ROLES.items()}
    if match := re.fullmatch(r"/project/[^/]+/role/(\d+)", path):
        return model.role(match[1])
    return None


NO_ISSUE = (404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})


def _issue_get(model: Model, path: str, query: dict[str, list[str]]) -> tuple[int, Any] | None:
    """GETs on one issue: itself, its comments, its transitions."""
    match = re.fullmatch(r"/issue/([^/]+)(/comment|/transitions)?", path)
    if not match:
        return None
    with model.lock:
        issue = model.issue(match[1])
        if issue is None:
            return NO_ISSUE
        if match[2] == "/comment":
            return 200, deepcopy(issue["fields"]["comment"])
        if match[2] == "/transitions":
            return 200, model.transitions(issue, "transitions.fields" in ",".join(query.get("expand", [])))
        return 200, model.shown(issue, query)


def _issue_write(model: Model, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any] | None:
    """PUT /issue, POST comment or transition, PUT assignee; None for any other path."""
    match = re.fullmatch(r"/issue/([^/]+)(/comment|/transitions|/assignee)?", path)
    route = (method, match[2] if match else "")
    if match is None or route not in WRITES:
        return None
    with model.lock:
        issue = model.issue(match[1])
        if issue is None:
            return NO_ISSUE
        try:
            return WRITES[route](model, issue, body)
        except FieldError as exc:
            return 400, {"errorMessages": [], "errors": {exc.field: str(exc)}}


def _edit(model: Model, issue: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
    model.edit(issue, body.get("fields") or {})
    return 204, None


def _comment(model: Model, issue: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
    return 201, model.comment(issue, body)


def _transition(model: Model, issue: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
    model.transition(issue, body)
    return 204, None


def _assign(model: Model, issue: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
    account = body.get("accountId")
    issue["fields"]["assignee"] = user_json(account, model.base) if account in USERS else None
    model.touch(issue)
    return 204, None


WRITES: dict[tuple[str, str | None], Callable[[Model, dict[str, Any], dict[str, Any]], tuple[int, Any]]] = {
    ("PUT", None): _edit, ("POST", "/comment"): _comment, ("POST", "/transitions"): _transition,
    ("PUT", "/assignee"): _assign,
}


def answer(model: Model, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any] | None:
    """Status and JSON answer of one request to /rest/api/2`path` (or .../latest); None for what
    is not served."""
    if method == "GET":
        return _site(model, path, query) or _issue_get(model, path, query)
    if method == "POST" and path in ("/search", "/search/jql"):
        return _site(model, path, query)
    if method in ("PUT", "POST") and isinstance(body, dict):
        return _issue_write(model, method, path, body)
    return None


def shape(method: str, path: str, query: dict[str, list[str]]) -> str:
    """`GET /issue/:id?fields`: ids and keys hidden, query parameters by name only."""
    hidden = PROJECT_REF.sub("/project/:key", NUMBER.sub("/:id", path))
    names = ",".join(sorted(query))
    return f"{method} {hidden}" + (f"?{names}" if names else "")


def handler_for(model: Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Jira behind a real server would
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            prefix = PREFIX.match(url.path)  # the library says /rest/api/latest for a few calls
            path = url.path[prefix.end():] if prefix else url.path
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = None
            found = answer(model, self.command, path, query, body)
            with model.lock:
                model.calls[shape(self.command, path, query)] += 1
                if found is None:
                    model.unknown[shape(self.command, url.path, query)] += 1
            self._answer(*(found or (404, {"errorMessages": [f"not served by the stand-in: {self.command} "
                                                             f"{url.path}"], "errors": {}})))

        def _answer(self, status: int, payload: Any) -> None:
            data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def standin_jira(model: Model) -> Iterator[str]:
    """The stand-in's base URL while the block runs (issues' `self` links point at it)."""
    server = TrackerServer(("127.0.0.1", 0), handler_for(model))
    model.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield model.base
    finally:
        server.shutdown()
        server.server_close()
