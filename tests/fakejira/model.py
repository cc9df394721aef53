"""The fake Jira's state: a small, seeded Jira site held in memory, and the changes it allows.

Why a model and not canned JSON: the connector reads what it wrote (update, then GET; comment,
then list comments; transition, then search by `updated`), so the fake must remember, keep a
changelog like Jira's, and refuse what Jira refuses (a transition without its required
field, a v3 comment that is not a document). Everything here is plain data and pure logic;
rendering to Jira's JSON is in render.py, HTTP in app.py.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

CLOUD = "Cloud"
SERVER = "Server"


class JiraError(Exception):
    """An answer in Jira's error shape ({"errorMessages": [...], "errors": {field: message}})."""

    def __init__(self, status: int, messages: Sequence[str] = (), errors: Mapping[str, str] | None = None):
        self.status = status
        self.messages = list(messages)
        self.errors = dict(errors or {})
        super().__init__(f"{status}: {'; '.join(self.messages + [f'{k}: {v}' for k, v in self.errors.items()])}")

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


def not_found(what: str = "Issue does not exist or you do not have permission to see it.") -> JiraError:
    return JiraError(404, [what])


# -- reference data -------------------------------------------------------------------------------

@dataclass
class User:
    """A person; Cloud knows them by accountId, Server/DC by name (login) and key."""

    role: str
    account_id: str
    name: str
    key: str
    display_name: str
    email: str
    account_type: str = "atlassian"
    time_zone: str = "UTC"
    active: bool = True
    groups: tuple[str, ...] = ()
    email_visible: bool = False  # Cloud shows the address only where the person's privacy settings allow


@dataclass(frozen=True)
class StatusCategory:
    id: int
    key: str
    name: str
    color: str


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: StatusCategory
    description: str = ""


@dataclass(frozen=True)
class Priority:
    id: str
    name: str
    color: str


@dataclass(frozen=True)
class Resolution:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    description: str
    avatar_id: int = 10300


@dataclass
class Project:
    id: str
    key: str
    name: str
    type_key: str
    lead: User
    issue_types: list[IssueType]
    description: str = ""
    components: dict[str, str] = field(default_factory=dict)  # id -> name


@dataclass
class Field:
    """A field as GET /field lists it; `options` (id -> value) for select lists."""

    id: str
    name: str
    schema: dict[str, Any]
    custom: bool = False
    options: dict[str, str] = field(default_factory=dict)
    editable: bool = True

    @property
    def kind(self) -> str:
        return str(self.schema.get("type", "any"))


@dataclass(frozen=True)
class LinkType:
    id: str
    name: str
    inward: str
    outward: str


@dataclass(frozen=True)
class Transition:
    """A global workflow transition; `required` fields must come with it (on its screen)."""

    id: str
    name: str
    to: Status
    screen: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


# -- issue data -----------------------------------------------------------------------------------

@dataclass
class ChangeItem:
    field: str
    fieldtype: str
    field_id: str
    from_: str | None
    from_string: str | None
    to: str | None
    to_string: str | None


@dataclass
class History:
    id: str
    author: User
    created: datetime
    items: list[ChangeItem]


@dataclass
class Comment:
    id: str
    issue_id: str
    author: User
    text: str
    adf: dict[str, Any] | None
    created: datetime
    updated: datetime
    visibility: dict[str, str] | None = None
    properties: list[dict[str, Any]] = field(default_factory=list)

    @property
    def internal(self) -> bool:
        """Jira Service Management marks agent-only comments with sd.public.comment."""
        return any(p.get("key") == "sd.public.comment" and (p.get("value") or {}).get("internal") is True
                   for p in self.properties)


@dataclass
class Link:
    """`source` was the request's inwardIssue: for Blocks, "source blocks target"."""

    id: str
    type: LinkType
    source_id: str
    target_id: str


@dataclass
class Issue:
    id: str
    key: str
    project: Project
    issue_type: IssueType
    summary: str
    status: Status
    priority: Priority
    reporter: User | None
    creator: User
    created: datetime
    updated: datetime
    status_changed: datetime
    description: str | None = None
    description_adf: dict[str, Any] | None = None
    assignee: User | None = None
    resolution: Resolution | None = None
    resolution_date: datetime | None = None
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)  # component ids, in the order they were added
    due_date: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)  # field id -> stored value (option id, text, ...)
    comments: list[Comment] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    watchers: list[User] = field(default_factory=list)


@dataclass
class Event:
    """Something a webhook reports: kind is created | updated | commented."""

    kind: str
    type_name: str
    issue: Issue
    user: User
    at: datetime
    history: History | None = None  # for "created": Cloud's changelog of initial values (not in the history)
    comment: Comment | None = None


# -- ADF (v3 text bodies) -------------------------------------------------------------------------

def adf_of(text: str) -> dict[str, Any]:
    """A v2 text as the Atlassian Document v3 returns: one paragraph per line."""
    paragraphs = [{"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
                  for line in text.split("\n")]
    return {"type": "doc", "version": 1, "content": paragraphs}


def text_of_adf(node: Any) -> str:
    """The plain text of an Atlassian Document (what v2 shows of a v3 body)."""
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        parts = [text_of_adf(child) for child in node.get("content") or []]
        return ("\n" if node.get("type") == "doc" else "").join(parts)
    if isinstance(node, list):
        return "".join(text_of_adf(child) for child in node)
    return ""


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and isinstance(value.get("content"), list)


ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
STRING_REQUIRED = "Operation value must be a string"


def read_text(value: Any, version: str, what: str) -> tuple[str, dict[str, Any] | None]:
    """A text body as the API version takes it: v2 a string, v3 an Atlassian Document."""
    if version == "3":
        if not is_adf(value):
            raise JiraError(400, errors={what: ADF_REQUIRED})
        return text_of_adf(value), value
    if not isinstance(value, str):
        raise JiraError(400, errors={what: STRING_REQUIRED})
    return value, None


# -- the site -------------------------------------------------------------------------------------

_CAT_NEW = StatusCategory(2, "new", "To Do", "blue-gray")
_CAT_PROGRESS = StatusCategory(4, "indeterminate", "In Progress", "yellow")
_CAT_DONE = StatusCategory(3, "done", "Done", "green")
TODO = Status("10000", "To Do", _CAT_NEW)
IN_PROGRESS = Status("3", "In Progress", _CAT_PROGRESS)
WAITING = Status("10001", "Waiting for customer", _CAT_PROGRESS)
DONE = Status("10002", "Done", _CAT_DONE)

INCIDENT = IssueType("10005", "Incident", "A problem that stops a customer's service.")
BUG = IssueType("10004", "Bug", "A problem which impairs or prevents the functions of the product.")
TASK = IssueType("10002", "Task", "A small, distinct piece of work.")
NONCONFORMITY = IssueType("10006", "Nonconformity", "A deviation from a requirement, to be analysed and corrected.")
OBSERVATION = IssueType("10007", "Observation", "A weakness that could become a nonconformity.")

_SELECT = "com.atlassian.jira.plugin.system.customfieldtypes:select"


def _custom(number: int, name: str, kind: str, plugin: str, options: Iterable[str] = ()) -> Field:
    schema: dict[str, Any] = {"type": kind, "custom": plugin, "customId": number}
    opts = {str(10300 + (number - 10050) * 10 + i): value for i, value in enumerate(options)}
    return Field(f"customfield_{number}", name, schema, custom=True, options=opts)


def default_fields() -> list[Field]:
    """Standard fields and the custom fields ticketwarden's rulebooks use (two are called Team)."""
    def std(fid: str, name: str, kind: str, editable: bool = False, **extra: Any) -> Field:
        return Field(fid, name, {"type": kind, "system": fid, **extra}, editable=editable)

    return [
        std("summary", "Summary", "string", True), std("description", "Description", "string", True),
        std("issuetype", "Issue Type", "issuetype"), std("project", "Project", "project"),
        std("status", "Status", "status"), std("priority", "Priority", "priority", True),
        std("resolution", "Resolution", "resolution"), std("resolutiondate", "Resolved", "datetime"),
        std("assignee", "Assignee", "user", True), std("reporter", "Reporter", "user", True),
        std("creator", "Creator", "user"), std("labels", "Labels", "array", True, items="string"),
        std("created", "Created", "datetime"), std("updated", "Updated", "datetime"),
        std("statuscategorychangedate", "Status Category Changed", "datetime"),
        std("duedate", "Due date", "date", True), std("comment", "Comment", "comments-page"),
        std("issuelinks", "Linked Issues", "array", items="issuelinks"), std("watches", "Watchers", "watches"),
        std("components", "Components", "array", True, items="component"),
        Field("customfield_10001", "Team", {"type": "team", "custom": "com.atlassian.jira.plugin.system."
                                            "customfieldtypes:atlassian-team", "customId": 10001}, custom=True),
        _custom(10050, "Failure origin", "option", _SELECT, ("unknown", "internal", "customer", "third_party",
                                                            "infrastructure")),
        _custom(10051, "Team", "option", _SELECT, ("network", "servicedesk", "platform", "field")),
        _custom(10052, "Triage", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textarea"),
        _custom(10053, "SLA due at", "datetime", "com.atlassian.jira.plugin.system.customfieldtypes:datetime"),
        _custom(10054, "SLA status", "option", _SELECT, ("running", "paused", "breached", "met", "stopped")),
        _custom(10055, "SLA due", "date", "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"),
        _custom(10056, "ISO clause", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textfield"),
        _custom(10057, "Effectiveness review", "string",
                "com.atlassian.jira.plugin.system.customfieldtypes:textarea"),
        _custom(10058, "Review due", "date", "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"),
        _custom(10059, "Satisfaction", "number", "com.atlassian.jira.plugin.system.customfieldtypes:float"),
        Field("customfield_10070", "Time to resolution", {"type": "sd-servicelevelagreement",
                                                          "custom": "com.atlassian.servicedesk:sd-sla-field",
                                                          "customId": 10070}, custom=True, editable=False),
    ]


def default_users() -> dict[str, User]:
    return {
        "api": User("api", "557058:ticketwarden-bot", "ticketwarden", "JIRAUSER10000", "Ticketwarden Bot",
                    "ticketwarden@example.test"),
        "agent": User("agent", "557058:alice-agent", "alice", "JIRAUSER10001", "Alice Agent", "alice@example.test",
                      groups=("jira-servicedesk-users", "support-staff")),
        "customer": User("customer", "qm:carol-customer", "carol", "JIRAUSER10002", "Carol Customer",
                         "carol@customer.example", account_type="customer"),
    }


class JiraState:
    """One Jira site. All mutation goes through methods that hold `lock`, record the changelog
    and report an Event to `listeners` (the webhook sender), as Jira does for every change."""

    def __init__(self, deployment: str = CLOUD, clock: Callable[[], datetime] | None = None):
        self.deployment = deployment
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.listeners: list[Callable[[Event], None]] = []
        self.users = default_users()
        self.api_user = self.users["api"]
        self.statuses = [TODO, IN_PROGRESS, WAITING, DONE]
        self.priorities = [Priority("1", "Highest", "#d04437"), Priority("2", "High", "#f15C75"),
                           Priority("3", "Medium", "#f79232"), Priority("4", "Low", "#707070")]
        self.default_priority = self.priorities[2]
        self.resolutions = [Resolution("10000", "Done", "Work has been completed on this issue."),
                            Resolution("10001", "Won't Do", "This issue won't be actioned."),
                            Resolution("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
                            Resolution("10003", "Cannot Reproduce", "All attempts at reproducing it failed.")]
        self.issue_types = [INCIDENT, BUG, TASK, NONCONFORMITY, OBSERVATION]
        agent = self.users["agent"]
        self.projects = {
            "SUP": Project("10000", "SUP", "Support", "service_desk", agent, [INCIDENT, TASK],
                           "Customer incidents", {"10100": "API", "10101": "Web", "10102": "Billing"}),
            "DEV": Project("10001", "DEV", "Development", "software", agent, [BUG, TASK], "Product bugs"),
            "QA": Project("10002", "QA", "Quality", "business", agent, [NONCONFORMITY, OBSERVATION, TASK],
                          "Nonconformities and observations"),
        }
        self.fields = default_fields()
        self.link_types = [LinkType("10000", "Blocks", "is blocked by", "blocks"),
                           LinkType("10001", "Cloners", "is cloned by", "clones"),
                           LinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
                           LinkType("10003", "Relates", "relates to", "relates to")]
        self.transitions = [Transition("11", "To Do", TODO), Transition("21", "Start progress", IN_PROGRESS),
                            Transition("31", "Wait for customer", WAITING),
                            Transition("41", "Resolve", DONE, screen=("resolution",), required=("resolution",))]
        self.issues: dict[str, Issue] = {}  # by id
        self.links: list[Link] = []
        self._ids = itertools.count(10001)  # issues
        self._comment_ids = itertools.count(10100)
        self._history_ids = itertools.count(10200)
        self._link_ids = itertools.count(10300)
        self._keys: dict[str, itertools.count[int]] = {}

    @property
    def cloud(self) -> bool:
        return self.deployment == CLOUD

    def now(self) -> datetime:
        moment = self.clock()
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    # -- lookups -------------------------------------------------------------------------------

    def issue(self, id_or_key: str) -> Issue:
        with self.lock:
            if id_or_key.isdigit() and id_or_key in self.issues:
                return self.issues[id_or_key]
            for issue in self.issues.values():
                if issue.key == id_or_key.upper():
                    return issue
        raise not_found()

    def project(self, id_or_key: str) -> Project:
        for project in self.projects.values():
            if id_or_key in (project.id, project.key) or project.key == id_or_key.upper():
                return project
        raise not_found(f"No project could be found with key '{id_or_key}'.")

    def field(self, field_id: str) -> Field | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def user(self, ref: str | None) -> User | None:
        """A user by role ("api", "agent", "customer"), accountId, name, key or e-mail (for seeding)."""
        if ref is None:
            return None
        if ref in self.users:
            return self.users[ref]
        return next((u for u in self.users.values() if ref in (u.account_id, u.name, u.key, u.email)), None)

    def account(self, ref: str) -> User | None:
        """A user as the REST API identifies one: accountId on Cloud, name (login) or key on Server."""
        if self.cloud:
            return next((u for u in self.users.values() if u.account_id == ref), None)
        return next((u for u in self.users.values() if ref in (u.name, u.key)), None)

    def user_from(self, value: Any, where: str) -> User | None:
        """A user as a request names one: {"accountId"} (Cloud), {"name"}/{"key"} (Server); null: nobody."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise JiraError(400, errors={where: "Specify the user as an object."})
        ref = value.get("accountId") if self.cloud else (value.get("name") or value.get("key"))
        if ref is None:
            if self.cloud and (value.get("name") or value.get("key")):
                raise JiraError(400, errors={where: "Jira Cloud identifies users by 'accountId' only."})
            return None
        found = self.account(str(ref))
        if found is None:
            raise JiraError(400, errors={where: f"User '{ref}' does not exist."})
        return found

    def search_users(self, text: str) -> list[User]:
        needle = text.casefold()
        return [u for u in self.users.values() if u.active and (
            needle in u.display_name.casefold() or needle in u.email.casefold() or needle == u.name.casefold()
            or text in (u.account_id, u.key))]

    def links_of(self, issue: Issue) -> list[tuple[Link, str, Issue]]:
        """(link, "outward"|"inward", other issue) as `issue` sees its links."""
        seen = []
        for link in self.links:
            if link.source_id == issue.id:
                seen.append((link, "outward", self.issues[link.target_id]))
            elif link.target_id == issue.id:
                seen.append((link, "inward", self.issues[link.source_id]))
        return seen

    def available_transitions(self, issue: Issue) -> list[Transition]:
        return [t for t in self.transitions if t.to != issue.status]

    # -- changes -------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)

    def _history(self, issue: Issue, actor: User, items: list[ChangeItem], at: datetime) -> History | None:
        if not items:
            return None
        history = History(str(next(self._history_ids)), actor, at, items)
        issue.histories.append(history)
        issue.updated = at
        return history

    def create_issue(self, fields: Mapping[str, Any], actor: User, version: str = "2",
                     update: Mapping[str, Any] | None = None, created: datetime | None = None,
                     emit: bool = True) -> Issue:
        """POST /issue: `fields` as the REST API takes them (project and issuetype by id, key or name)."""
        errors: dict[str, str] = {}
        project = issue_type = None
        ref = fields.get("project") or {}
        try:
            project = self.project(str(ref.get("id") or ref.get("key") or "") if isinstance(ref, dict) else str(ref))
        except JiraError:
            errors["project"] = "Specify a valid project ID or key"
        ref = fields.get("issuetype") or {}
        if project is not None:
            wanted = (ref.get("id"), ref.get("name")) if isinstance(ref, dict) else (str(ref), str(ref))
            issue_type = next((t for t in project.issue_types if t.id == wanted[0] or t.name == wanted[1]), None)
            if issue_type is None:
                errors["issuetype"] = "Specify an issue type" if not ref else "Specify a valid issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or "\r" in summary:  # as on edit: Jira validates the summary the same way
            errors["summary"] = "The summary is invalid because it contains newline characters."
        rest = {k: v for k, v in fields.items() if k not in ("project", "issuetype", "summary")}
        with self.lock:
            changes, field_errors = self._parse_edits(rest, update or {}, version, creating=True, project=project)
            errors.update(field_errors)
            if errors:
                raise JiraError(400, errors=errors)
            assert project is not None and issue_type is not None and isinstance(summary, str)
            at = created or self.now()
            number = next(self._keys.setdefault(project.key, itertools.count(1)))
            issue = Issue(str(next(self._ids)), f"{project.key}-{number}", project, issue_type, summary, TODO,
                          self.default_priority, reporter=actor, creator=actor, created=at, updated=at,
                          status_changed=at)
            self.issues[issue.id] = issue
            items = self._apply(issue, changes)
            initial = [ChangeItem("summary", "jira", "summary", None, None, None, summary),
                       ChangeItem("status", "jira", "status", None, None, TODO.id, TODO.name),
                       ChangeItem("priority", "jira", "priority", None, None, issue.priority.id, issue.priority.name),
                       *[i for i in items if i.field_id != "priority"]]
            if emit:
                initial_values = History(str(next(self._history_ids)), actor, at, initial)
                self._emit(Event("created", "issue_created", issue, actor, at, history=initial_values))
            return issue

    def edit_issue(self, issue: Issue, fields: Mapping[str, Any], update: Mapping[str, Any], actor: User,
                   version: str = "2") -> History | None:
        """PUT /issue/{id}: set `fields`, apply `update` operations (labels add/remove/set, comment add)."""
        comments = list(update.get("comment") or [])
        update = {k: v for k, v in update.items() if k != "comment"}
        with self.lock:
            changes, errors = self._parse_edits(fields, update, version, issue=issue, project=issue.project)
            bodies = [self._comment_body(op, version) for op in comments]
            if errors:
                raise JiraError(400, errors=errors)
            at = self.now()
            history = self._history(issue, actor, self._apply(issue, changes), at)
            added = [self._add_comment(issue, text, adf, actor, at, None, []) for text, adf in bodies]
            if history is not None:
                only_assignee = all(i.field_id == "assignee" for i in history.items)
                self._emit(Event("updated", "issue_assigned" if only_assignee else "issue_updated", issue, actor,
                                 at, history=history, comment=added[0] if added else None))
            for comment in added:
                self._emit_comment(issue, comment, actor, at, pair=history is None)
            return history

    def transition(self, issue: Issue, transition_id: str, fields: Mapping[str, Any], update: Mapping[str, Any],
                   actor: User, version: str = "2") -> History | None:
        """POST /issue/{id}/transitions: screen fields only; required ones must be there."""
        with self.lock:
            chosen = next((t for t in self.available_transitions(issue) if t.id == str(transition_id)), None)
            if chosen is None:
                raise JiraError(400, [f"Transition id '{transition_id}' is not valid for this issue."])
            errors = {fid: f"{self._field_name(fid)} is required." for fid in chosen.required if not fields.get(fid)}
            errors.update({fid: f"Field '{fid}' cannot be set. It is not on the appropriate screen, or unknown."
                           for fid in fields if fid not in chosen.screen})
            resolution = None
            if "resolution" in fields and "resolution" not in errors:
                resolution = self._resolution(fields["resolution"])
                if resolution is None:
                    errors["resolution"] = "Could not find valid 'id' or 'name' in resolution object."
            bodies = [self._comment_body(op, version) for op in update.get("comment") or []]
            if errors:
                raise JiraError(400, errors=errors)
            at = self.now()
            items = []
            if chosen.to.category.key == "done" and resolution is not None and resolution != issue.resolution:
                old = issue.resolution
                items.append(self._item("resolution", old.id if old else None, old.name if old else None,
                                        resolution.id, resolution.name))
                issue.resolution, issue.resolution_date = resolution, at
            elif chosen.to.category.key != "done" and issue.resolution is not None:
                items.append(self._item("resolution", issue.resolution.id, issue.resolution.name, None, None))
                issue.resolution, issue.resolution_date = None, None
            items.append(self._item("status", issue.status.id, issue.status.name, chosen.to.id, chosen.to.name))
            if chosen.to.category != issue.status.category:
                issue.status_changed = at
            issue.status = chosen.to
            history = self._history(issue, actor, items, at)
            added = [self._add_comment(issue, text, adf, actor, at, None, []) for text, adf in bodies]
            self._emit(Event("updated", "issue_generic", issue, actor, at, history=history,
                             comment=added[0] if added else None))
            for comment in added:
                self._emit_comment(issue, comment, actor, at, pair=False)
            return history

    def assign(self, issue: Issue, user: User | None, actor: User) -> History | None:
        """PUT /issue/{id}/assignee."""
        return self.edit_issue(issue, {"assignee": self.user_ref(user)}, {}, actor)

    def add_comment(self, issue: Issue, body: Any, actor: User, version: str = "2",
                    visibility: Mapping[str, Any] | None = None,
                    properties: Sequence[Mapping[str, Any]] = ()) -> Comment:
        """POST /issue/{id}/comment: fires comment_created and jira:issue_updated (issue_commented)."""
        if body in (None, "") or (is_adf(body) and not text_of_adf(body).strip()):
            raise JiraError(400, errors={"comment": "Comment body can not be empty!"})
        text, adf = read_text(body, version, "comment")
        if visibility is not None:
            if visibility.get("type") not in ("role", "group") or not visibility.get("value"):
                raise JiraError(400, errors={"commentLevel": "Visibility must be a role or a group, with a value."})
            visibility = {"type": str(visibility["type"]), "value": str(visibility["value"])}
        with self.lock:
            at = self.now()
            comment = self._add_comment(issue, text, adf, actor, at, visibility, [dict(p) for p in properties])
            self._emit_comment(issue, comment, actor, at, pair=True)
            return comment

    def add_watcher(self, issue: Issue, user: User) -> None:
        with self.lock:
            if user not in issue.watchers:
                issue.watchers.append(user)

    def link(self, type_ref: Mapping[str, Any], inward: Issue, outward: Issue, actor: User) -> Link:
        """POST /issueLink: "inward blocks outward"; Jira notes a Link change on both issues."""
        wanted = (type_ref.get("id"), type_ref.get("name"))
        link_type = next((t for t in self.link_types if t.id == wanted[0] or t.name == wanted[1]), None)
        if link_type is None:
            raise not_found(f"No issue link type with name '{wanted[1] or wanted[0]}' found.")
        with self.lock:
            link = Link(str(next(self._link_ids)), link_type, inward.id, outward.id)
            self.links.append(link)
            at = self.now()
            self._history(inward, actor, [ChangeItem("Link", "jira", "issuelinks", None, None, outward.key,
                                                     f"This issue {link_type.outward} {outward.key}")], at)
            self._history(outward, actor, [ChangeItem("Link", "jira", "issuelinks", None, None, inward.key,
                                                      f"This issue {link_type.inward} {inward.key}")], at)
            return link

    # -- helpers -------------------------------------------------------------------------------

    def _field_name(self, field_id: str) -> str:
        found = self.field(field_id)
        return found.name if found else field_id

    def _resolution(self, value: Any) -> Resolution | None:
        if not isinstance(value, dict):
            return None
        return next((r for r in self.resolutions if r.id == value.get("id") or r.name == value.get("name")), None)

    def user_ref(self, user: User | None) -> dict[str, str] | None:
        if user is None:
            return None
        return {"accountId": user.account_id} if self.cloud else {"name": user.name}

    def _user_id(self, user: User | None) -> str | None:
        if user is None:
            return None
        return user.account_id if self.cloud else user.key

    def _item(self, field_id: str, from_: str | None, from_string: str | None, to: str | None,
              to_string: str | None) -> ChangeItem:
        known = self.field(field_id)
        custom = bool(known and known.custom)
        return ChangeItem(known.name if custom and known else field_id, "custom" if custom else "jira", field_id,
                          from_, from_string, to, to_string)

    def _comment_body(self, op: Any, version: str) -> tuple[str, dict[str, Any] | None]:
        body = (op.get("add") or {}).get("body") if isinstance(op, dict) else None
        if body in (None, ""):
            raise JiraError(400, errors={"comment": "Comment body can not be empty!"})
        return read_text(body, version, "comment")

    def _add_comment(self, issue: Issue, text: str, adf: dict[str, Any] | None, actor: User, at: datetime,
                     visibility: dict[str, str] | None, properties: list[dict[str, Any]]) -> Comment:
        comment = Comment(str(next(self._comment_ids)), issue.id, actor, text, adf, at, at, visibility, properties)
        issue.comments.append(comment)
        issue.updated = at
        return comment

    def _emit_comment(self, issue: Issue, comment: Comment, actor: User, at: datetime, pair: bool) -> None:
        if pair:  # a bare comment: jira:issue_updated (issue_commented) as well as comment_created
            self._emit(Event("updated", "issue_commented", issue, actor, at, comment=comment))
        self._emit(Event("commented", "comment_created", issue, actor, at, comment=comment))

    def _parse_edits(self, fields: Mapping[str, Any], update: Mapping[str, Any], version: str,
                     creating: bool = False, issue: Issue | None = None,
                     project: Project | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """New values by field id, and Jira's per-field errors; nothing is applied here.
        `update` adds to and removes from the values the issue has (labels, components)."""
        changes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        wanted: dict[str, Any] = dict(fields)
        for field_id, operations in update.items():
            if field_id in ("labels", "components") and isinstance(operations, list):
                wanted[field_id] = self._updated_values(field_id, wanted, operations, issue)
                continue
            sets = [op["set"] for op in operations or [] if isinstance(op, dict) and "set" in op]
            if len(sets) != len(operations or []) or not sets:
                errors[field_id] = f"Field '{field_id}' cannot be updated this way; use set."
            else:
                wanted[field_id] = sets[-1]
        for field_id, value in wanted.items():
            known = self.field(field_id)
            if known is None or not (known.editable or (creating and field_id == "reporter")):
                errors[field_id] = f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."
                continue
            if field_id == "components":
                try:
                    changes[field_id] = self._component_ids(value, project)
                except JiraError as exc:
                    errors.update(exc.errors)
                continue
            try:
                changes[field_id] = self._parse_value(known, value, version)
            except JiraError as exc:
                errors.update(exc.errors)
        return changes, errors

    def _updated_values(self, field_id: str, wanted: Mapping[str, Any], operations: Sequence[Any],
                        issue: Issue | None) -> list[Any]:
        """Labels (text) or components ({"id"} / {"name"}) after add / remove / set operations,
        starting from the issue's own."""
        current: list[Any] = list(wanted.get(field_id) or [])
        if field_id not in wanted and issue is not None:
            current = list(issue.labels) if field_id == "labels" else [{"id": cid} for cid in issue.components]
        for op in operations:
            for verb, value in (op or {}).items():
                if verb == "add" and value not in current:
                    current.append(value)
                elif verb == "remove":
                    current = [item for item in current if not _same_value(item, value, issue)]
                elif verb == "set":
                    current = list(value or [])
        return current

    def _component_ids(self, value: Any, project: Project | None) -> list[str]:
        """Components as a request names them ({"id"} or {"name"}) -> the project's component ids."""
        if not isinstance(value, list) or project is None:
            raise JiraError(400, errors={"components": "Components must be a list of {id} or {name} objects."})
        ids = []
        for item in value:
            ref = item if isinstance(item, dict) else {}
            found = next((cid for cid, name in project.components.items()
                          if cid == str(ref.get("id")) or name == ref.get("name")), None)
            if found is None:
                raise JiraError(400, errors={"components": f"Component name '{ref.get('name', ref.get('id'))}' "
                                                          "is not valid"})
            ids.append(found)
        return list(dict.fromkeys(ids))

    def _parse_value(self, known: Field, value: Any, version: str) -> Any:
        fid = known.id
        if fid == "summary":
            if not isinstance(value, str) or not value.strip():
                raise JiraError(400, errors={fid: "You must specify a summary of the issue."})
            if "\n" in value or "\r" in value:
                raise JiraError(400, errors={fid: "The summary is invalid because it contains newline characters."})
            return value
        if fid == "description":
            return (None, None) if value in (None, "") else read_text(value, version, fid)
        if fid == "priority":
            found = next((p for p in self.priorities if isinstance(value, dict) and
                          (p.id == value.get("id") or p.name == value.get("name"))), None)
            if found is None:
                raise JiraError(400, errors={fid: "The priority selected is invalid."})
            return found
        if fid in ("assignee", "reporter"):
            return self.user_from(value, fid)
        if fid == "labels":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise JiraError(400, errors={fid: "Labels must be a list of strings."})
            for label in value:
                if not label or re.search(r"\s", label):
                    raise JiraError(400, errors={fid: f"The label '{label}' contains spaces which is invalid."})
            return list(dict.fromkeys(value))
        if known.kind == "option":
            if value is None:
                return None
            option = next((oid for oid, text in known.options.items() if isinstance(value, dict) and
                           (oid == str(value.get("id")) or text == value.get("value"))), None)
            if option is None:
                shown = value.get("value", value.get("id")) if isinstance(value, dict) else value
                raise JiraError(400, errors={fid: f"Option value '{shown}' is not valid"})
            return option
        if known.kind == "date":
            if value is None:
                return None
            try:
                return date.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise JiraError(400, errors={fid: f"Error parsing date string: {value}"}) from None
        if known.kind == "datetime":
            if value is None:
                return None
            try:
                datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise JiraError(400, errors={fid: f"Error parsing time: {value}"}) from None
            return str(value)
        if known.kind == "string":
            if value is not None and not isinstance(value, str):
                raise JiraError(400, errors={fid: STRING_REQUIRED})
            return value
        return value

    def _apply(self, issue: Issue, changes: Mapping[str, Any]) -> list[ChangeItem]:
        """Store parsed values; the changelog items of what actually changed."""
        items: list[ChangeItem] = []
        for fid, new in changes.items():
            if fid == "summary":
                if new != issue.summary:
                    items.append(self._item(fid, None, issue.summary, None, new))
                    issue.summary = new
            elif fid == "description":
                text, adf = new
                if text != issue.description:
                    items.append(self._item(fid, None, issue.description, None, text))
                issue.description, issue.description_adf = text, adf
            elif fid == "priority":
                if new != issue.priority:
                    items.append(self._item(fid, issue.priority.id, issue.priority.name, new.id, new.name))
                    issue.priority = new
            elif fid in ("assignee", "reporter"):
                old = getattr(issue, fid)
                if new != old:
                    items.append(self._item(fid, self._user_id(old), old and old.display_name, self._user_id(new),
                                            new and new.display_name))
                    setattr(issue, fid, new)
            elif fid == "labels":
                if new != issue.labels:
                    items.append(self._item(fid, None, " ".join(issue.labels), None, " ".join(new)))
                    issue.labels = new
            elif fid == "components":  # one changelog item per component that went or came
                names = issue.project.components
                items += [ChangeItem("Component", "jira", fid, cid, names[cid], None, None)
                          for cid in issue.components if cid not in new]
                items += [ChangeItem("Component", "jira", fid, None, None, cid, names[cid])
                          for cid in new if cid not in issue.components]
                issue.components = list(new)
            elif fid == "duedate":
                if new != issue.due_date:
                    items.append(self._item(fid, issue.due_date, issue.due_date, new, new))
                    issue.due_date = new
            else:
                known = self.field(fid)
                old = issue.custom.get(fid)
                if new == old or known is None:
                    continue
                if known.kind == "option":
                    items.append(self._item(fid, old, known.options.get(old) if old else None, new,
                                            known.options.get(new) if new else None))
                elif known.kind == "string":
                    items.append(self._item(fid, None, old, None, new))
                else:
                    before, after = _shown(old), _shown(new)
                    items.append(self._item(fid, before, before, after, after))
                issue.custom[fid] = new
        return items


def _shown(value: Any) -> str | None:
    """A value as a changelog item writes it (strings; JSON values as text)."""
    return value if value is None or isinstance(value, str) else str(value)


def _same_value(item: Any, value: Any, issue: Issue | None) -> bool:
    """A label, or a component named by id or name, is the one an operation removes."""
    if not isinstance(item, dict) or not isinstance(value, dict):
        return bool(item == value)
    names = issue.project.components if issue is not None else {}
    ident = str(item.get("id") or next((c for c, n in names.items() if n == item.get("name")), ""))
    wanted = str(value.get("id") or next((c for c, n in names.items() if n == value.get("name")), ""))
    return ident == wanted
