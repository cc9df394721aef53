"""The fake's HTTP face: a Flask app serving Jira's REST API on /rest/api/2, /3 and /latest.

Every exchange passes through `before`/`after`: injected faults (429/503), authentication,
the request log, the OpenAPI check, and (in sync mode) webhook delivery before the answer.
Handlers only translate HTTP to JiraState calls and render the result; Jira's refusals are
JiraError, rendered in Jira's error shape.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from tests.fakejira import jql
from tests.fakejira.model import Issue, JiraError, User, not_found
from tests.fakejira.openapi import Problem
from tests.fakejira.render import View

if TYPE_CHECKING:
    from tests.fakejira.server import FakeJira

API = "/rest/api/<any('2', '3', 'latest'):version>"
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def _empty(status: int = 204) -> Response:
    return Response(b"", status=status)


def _body() -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        raise JiraError(400, ["No content to map due to end-of-input"])
    try:
        return json.loads(raw)
    except ValueError:
        raise JiraError(400, ["Unexpected character in the request body: it is not JSON."]) from None


def _object() -> dict[str, Any]:
    body = _body()
    if not isinstance(body, dict):
        raise JiraError(400, ["Can not deserialize instance out of a non-object JSON value."])
    return body


def _part(body: dict[str, Any], name: str) -> dict[str, Any]:
    """`fields` / `update` of a body: an object, or absent."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise JiraError(400, [f"Can not deserialize `{name}`: expected an object."])
    return value


def _int(value: Any, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise JiraError(400, [f"The value '{value}' is not valid for {name}."]) from None


def _list_arg(name: str, default: list[str] | None = None) -> list[str] | None:
    """Jira takes lists as repeated parameters or comma-separated, or both."""
    values = [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]
    return values or default


def _int_arg(name: str, default: int) -> int:
    return _int(request.args.get(name), name, default)


def _as_list(value: Any, default: list[str] | None = None) -> list[str] | None:
    if value is None:
        return default
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()] or default


def _token(offset: int, query: str) -> str:
    digest = hashlib.sha256(query.encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode().rstrip("=")


def _offset(token: str | None, query: str) -> int:
    if not token:
        return 0
    try:
        offset, digest = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        if digest == hashlib.sha256(query.encode()).hexdigest()[:12]:
            return int(offset)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        pass
    raise JiraError(400, ["The provided next page token is invalid or expired."])


def create_app(fake: FakeJira) -> Flask:
    """The WSGI app of one FakeJira (its state, checker and webhook sender)."""
    app = Flask("fakejira")
    state = fake.state

    def view(version: str) -> View:
        return View(fake.url, "3" if version == "3" else "2", state, fake.tz)

    def actor() -> User:
        return g.actor

    def route(rule: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[Callable[..., Response]],
                                                                             Callable[..., Response]]:
        def register(handler: Callable[..., Response]) -> Callable[..., Response]:
            @functools.wraps(handler)
            def locked(**kwargs: Any) -> Response:
                with state.lock:  # one consistent state per answer; webhooks go out after, unlocked
                    return handler(**kwargs)

            app.add_url_rule(API + rule, endpoint=handler.__name__, view_func=locked, methods=list(methods))
            return handler
        return register

    # -- around every request --------------------------------------------------------------------

    @app.before_request
    def before() -> Response | None:
        g.injected = False
        fault = fake.take_fault(request.path)
        if fault is not None:
            status, retry_after = fault
            g.injected = True
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            message = "Rate limit exceeded." if status == 429 else "Service Unavailable"
            return _json(status, {"errorMessages": [message], "errors": {}}, headers)
        user = fake.authenticate(request.headers.get("Authorization"))
        if user is None:
            return _json(401, {"errorMessages": [NOT_AUTHENTICATED], "errors": {}},
                         {"WWW-Authenticate": 'Basic realm="protected-area"'})
        g.actor = user
        return None

    @app.after_request
    def after(response: Response) -> Response:
        body = request.get_data(cache=True)
        fake.record(request.method, request.path, request.args.to_dict(flat=False), body, response.status_code)
        if fake.checker is not None:
            try:
                problems = fake.checker.check(
                    request.method, request.path, request.args.to_dict(flat=False), dict(request.headers), body,
                    request.content_type or "", status=None if g.get("injected") else response.status_code,
                    response_body=response.get_data(), response_type=response.mimetype or "",
                    response_headers=dict(response.headers))
            except Exception:  # noqa: BLE001 - a checker failure must be reported, not crash the answer
                problems = [Problem("response", request.method, request.path, response.status_code, "",
                                    "the OpenAPI check itself failed:\n" + traceback.format_exc())]
            fake.problems.extend(problems)
        if fake.webhooks.mode == "sync" and fake.webhooks.pending:
            fake.webhooks.flush()
        return response

    @app.errorhandler(JiraError)
    def jira_error(error: JiraError) -> Response:
        return _json(error.status, error.body())

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code in (404, 405):
            fake.problems.append(Problem("request", request.method, request.path, error.code, "",
                                         "the fake does not serve this; add it to tests/fakejira/app.py"))
        return _json(error.code or 500, {"errorMessages": [error.description or str(error)], "errors": {}})

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        fake.problems.append(Problem("response", request.method, request.path, 500, "",
                                     "the fake crashed:\n" + traceback.format_exc()))
        return _json(500, {"errorMessages": [f"Internal error: {error}"], "errors": {}})

    # -- site ------------------------------------------------------------------------------------

    @route("/serverInfo")
    def server_info(version: str) -> Response:
        v = view(version)
        cloud = state.cloud
        return _json(200, {
            "baseUrl": fake.url, "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2], "deploymentType": state.deployment,
            "buildNumber": 100290 if cloud else 9120002, "buildDate": "2026-01-05T00:00:00.000+0000",
            "serverTime": v.time(state.now()), "scmInfo": "0f3c1a9e5d", "serverTitle": "Fake Jira"})

    @route("/myself")
    def myself(version: str) -> Response:
        body = view(version).user(actor()) or {}
        return _json(200, {**body, "locale": "en_US"})

    @route("/field")
    def fields(version: str) -> Response:
        return _json(200, [view(version).field(f) for f in state.fields])

    @route("/project")
    def projects(version: str) -> Response:
        expand = _list_arg("expand", []) or []
        return _json(200, [view(version).project(p, expand=expand) for p in state.projects.values()])

    @route("/project/<ref>")
    def project(version: str, ref: str) -> Response:
        return _json(200, view(version).project(state.project(ref), full=True))

    # Project roles: who is in the service desk team, who is a customer (the same in every project).
    roles = {10100: ("Service Desk Team", ("agent", "api")), 10101: ("Service Desk Customers", ("customer",))}

    @route("/project/<ref>/role")
    def project_roles(version: str, ref: str) -> Response:
        key = state.project(ref).key
        return _json(200, {name: f"{view(version).api}/project/{key}/role/{ident}"
                           for ident, (name, _) in roles.items()})

    @route("/project/<ref>/role/<int:ident>")
    def project_role(version: str, ref: str, ident: int) -> Response:
        key = state.project(ref).key
        if ident not in roles:
            raise JiraError(404, [f"Can not retrieve a role actor for a null project role in project {key}."])
        name, members = roles[ident]
        actors = []
        for number, member in enumerate(members):
            user = state.user(member)
            assert user is not None
            actor: dict[str, object] = {"id": 20000 + number, "displayName": user.display_name,
                                        "type": "atlassian-user-role-actor", "name": user.name}
            if state.cloud:
                actor["actorUser"] = {"accountId": user.account_id}
            actors.append(actor)
        return _json(200, {"self": f"{view(version).api}/project/{key}/role/{ident}", "name": name, "id": ident,
                           "description": name, "actors": actors})

    @route("/priority")
    def priorities(version: str) -> Response:
        return _json(200, [view(version).priority(p) for p in state.priorities])

    @route("/status")
    def statuses(version: str) -> Response:
        return _json(200, [view(version).status(s) for s in state.statuses])

    @route("/issuetype")
    def issue_types(version: str) -> Response:
        return _json(200, [view(version).issue_type(t) for t in state.issue_types])

    @route("/resolution")
    def resolutions(version: str) -> Response:
        return _json(200, [view(version).resolution(r) for r in state.resolutions])

    @route("/issueLinkType")
    def link_types(version: str) -> Response:
        return _json(200, {"issueLinkTypes": [view(version).link_type(t) for t in state.link_types]})

    @route("/user")
    def user(version: str) -> Response:
        """GET /user?accountId= (Cloud) or ?username= / ?key= (Server), with expand=groups."""
        ref = request.args.get("accountId") or request.args.get("username") or request.args.get("key")
        found = state.user(ref) if ref else None
        if found is None:
            raise JiraError(404, [f"The user with account ID '{ref}' does not exist."])
        body = view(version).user(found) or {}
        if "groups" in (_list_arg("expand", []) or []):
            items = [{"name": group, "groupId": f"g-{group}", "self": f"{view(version).api}/group?groupId=g-{group}"}
                     for group in found.groups]
            body["groups"] = {"size": len(items), "items": items, "max-results": len(items)}
        return _json(200, body)

    @route("/user/search")
    def user_search(version: str) -> Response:
        text = request.args.get("query") or request.args.get("username") or request.args.get("accountId")
        if not text:
            raise JiraError(400, ["One of 'query' or 'accountId' query parameters must be provided."])
        start, limit = _int_arg("startAt", 0), _int_arg("maxResults", 50)
        found = state.search_users(text)[start:start + limit]
        return _json(200, [view(version).user(u) for u in found])

    # -- issues ----------------------------------------------------------------------------------

    def issue_of(ref: str) -> Issue:
        return state.issue(ref)

    @route("/issue", ("POST",))
    def create_issue(version: str) -> Response:
        body = _object()
        issue = state.create_issue(_part(body, "fields"), actor(), view(version).version,
                                   update=_part(body, "update"))
        return _json(201, {"id": issue.id, "key": issue.key, "self": f"{view(version).api}/issue/{issue.id}"})

    @route("/issue/<ref>")
    def get_issue(version: str, ref: str) -> Response:
        expand = _list_arg("expand", []) or []
        return _json(200, view(version).issue(issue_of(ref), _list_arg("fields"), expand))

    @route("/issue/<ref>", ("PUT",))
    def edit_issue(version: str, ref: str) -> Response:
        issue, body = issue_of(ref), _object()
        state.edit_issue(issue, _part(body, "fields"), _part(body, "update"), actor(), view(version).version)
        if request.args.get("returnIssue", "").lower() == "true":
            return _json(200, view(version).issue(issue, expand=_list_arg("expand", []) or []))
        return _empty()

    @route("/issue/<ref>/comment")
    def comments(version: str, ref: str) -> Response:
        issue = issue_of(ref)
        page = view(version).comments_page(issue, _int_arg("startAt", 0), _int_arg("maxResults", 5000),
                                           newest_first=request.args.get("orderBy", "").startswith("-"))
        if "properties" in (_list_arg("expand", []) or []):
            by_id = {c.id: c for c in issue.comments}
            for shown in page["comments"]:
                shown["properties"] = [dict(p) for p in by_id[shown["id"]].properties]
        return _json(200, page)

    @route("/issue/<ref>/comment", ("POST",))
    def add_comment(version: str, ref: str) -> Response:
        issue, body = issue_of(ref), _object()
        comment = state.add_comment(issue, body.get("body"), actor(), view(version).version, body.get("visibility"),
                                    body.get("properties") or [])
        expand = _list_arg("expand", []) or []
        return _json(201, view(version).comment(comment, properties="properties" in expand))

    @route("/issue/<ref>/transitions")
    def transitions(version: str, ref: str) -> Response:
        issue = issue_of(ref)
        with_fields = "transitions.fields" in (_list_arg("expand", []) or [])
        wanted = request.args.get("transitionId")
        shown = [view(version).transition(t, with_fields) for t in state.available_transitions(issue)
                 if wanted in (None, t.id)]
        return _json(200, {"expand": "transitions", "transitions": shown})

    @route("/issue/<ref>/transitions", ("POST",))
    def do_transition(version: str, ref: str) -> Response:
        issue, body = issue_of(ref), _object()
        transition = body.get("transition") or {}
        if not isinstance(transition, dict) or transition.get("id") in (None, ""):
            raise JiraError(400, ["Missing 'transition' identifier"])
        state.transition(issue, str(transition["id"]), _part(body, "fields"), _part(body, "update"), actor(),
                         view(version).version)
        return _empty()

    @route("/issue/<ref>/assignee", ("PUT",))
    def assign(version: str, ref: str) -> Response:
        issue, body = issue_of(ref), _object()
        ref_value = body.get("accountId") if "accountId" in body else body.get("name")
        user = issue.project.lead if ref_value == "-1" else state.user_from(
            None if ref_value is None else body, "assignee")
        state.assign(issue, user, actor())
        return _empty()

    @route("/issue/<ref>/watchers")
    def watchers(version: str, ref: str) -> Response:
        issue, v = issue_of(ref), view(version)
        return _json(200, {"self": f"{v.api}/issue/{issue.key}/watchers", "isWatching": actor() in issue.watchers,
                           "watchCount": len(issue.watchers), "watchers": [v.user(u) for u in issue.watchers]})

    @route("/issue/<ref>/watchers", ("POST",))
    def add_watcher(version: str, ref: str) -> Response:
        issue, body = issue_of(ref), _body()
        user = state.account(body) if isinstance(body, str) else None
        if user is None:
            raise not_found(f"The user \"{body}\" does not exist.")
        state.add_watcher(issue, user)
        return _empty()

    @route("/issueLink", ("POST",))
    def link(version: str) -> Response:
        body = _object()
        ends = []
        for side in ("inwardIssue", "outwardIssue"):
            ref = body.get(side) or {}
            ends.append(issue_of(str(ref.get("key") or ref.get("id") or "")) if isinstance(ref, dict) else None)
        if not all(ends) or not isinstance(body.get("type"), dict):
            raise JiraError(400, ["Issue link needs `type`, `inwardIssue` and `outwardIssue`."])
        inward, outward = ends
        assert inward is not None and outward is not None
        state.link(body["type"], inward, outward, actor())
        comment = body.get("comment")
        if isinstance(comment, dict):  # the document: the comment goes on the "from (outward) issue"
            state.add_comment(outward, comment.get("body"), actor(), view(version).version, comment.get("visibility"))
        return _empty(201)

    # -- search ----------------------------------------------------------------------------------

    def query_of(text: str) -> jql.Query:
        query = jql.parse(text, state.now(), fake.tz)
        fake.unsupported_jql.extend(query.unsupported)
        return query

    def enhanced(version: str, params: dict[str, Any]) -> Response:
        text = str(params.get("jql") or "")
        query = query_of(text)
        if not query.bounded:
            raise JiraError(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction "
                                  "to your query."])
        fields = _as_list(params.get("fields"), ["id"]) or ["id"]
        most = 5000 if fields in (["id"], ["key"]) else 100
        limit = max(1, min(_int(params.get("maxResults"), "maxResults", 50), most))
        start = _offset(params.get("nextPageToken"), text)
        found = query.run(list(state.issues.values()))
        page = found[start:start + limit]
        expand = _as_list(params.get("expand"), []) or []
        body: dict[str, Any] = {"issues": [view(version).issue(i, fields, expand) for i in page],
                                "isLast": start + limit >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = _token(start + limit, text)
        return _json(200, body)

    @route("/search/jql")
    def search_jql(version: str) -> Response:
        params: dict[str, Any] = {k: request.args.get(k) for k in ("jql", "nextPageToken", "maxResults", "expand")}
        params["fields"] = _list_arg("fields")
        return enhanced(version, params)

    @route("/search/jql", ("POST",))
    def search_jql_post(version: str) -> Response:
        return enhanced(version, _object())

    def classic(version: str, params: dict[str, Any]) -> Response:
        query = query_of(str(params.get("jql") or ""))
        fields = _as_list(params.get("fields"), ["*navigable"])
        start = max(0, _int(params.get("startAt"), "startAt", 0))
        limit = max(0, min(_int(params.get("maxResults"), "maxResults", 50), 100))
        found = query.run(list(state.issues.values()))
        expand = _as_list(params.get("expand"), []) or []
        return _json(200, {"expand": "schema,names", "startAt": start, "maxResults": limit, "total": len(found),
                           "issues": [view(version).issue(i, fields, expand) for i in found[start:start + limit]]})

    @route("/search")
    def search(version: str) -> Response:
        params: dict[str, Any] = {k: request.args.get(k) for k in ("jql", "startAt", "maxResults", "expand")}
        params["fields"] = _list_arg("fields")
        return classic(version, params)

    @route("/search", ("POST",))
    def search_post(version: str) -> Response:
        return classic(version, _object())

    return app
