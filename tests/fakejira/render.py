"""The fake's state as Jira's JSON: Cloud or Server/DC flavour, REST v2 or v3 bodies.

Why separate from the model: the same issue is shown many ways (GET issue, search results,
webhook envelopes, v2 strings vs v3 documents, Cloud accountIds vs Server names), and each of
those is checked against the OpenAPI document; keeping the shapes in one place keeps them alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from tests.fakejira.model import (
    ChangeItem,
    Comment,
    Event,
    Field,
    History,
    Issue,
    IssueType,
    JiraState,
    LinkType,
    Priority,
    Project,
    Resolution,
    Status,
    Transition,
    User,
    adf_of,
)


@dataclass(frozen=True)
class View:
    """How to render: the site's base URL, the API version asked ("2", "3"; latest is 2), the
    deployment (Cloud or Server) and the time zone Jira writes its times in."""

    base: str
    version: str
    state: JiraState
    tz: ZoneInfo

    @property
    def api(self) -> str:
        return f"{self.base}/rest/api/{self.version}"

    @property
    def cloud(self) -> bool:
        return self.state.cloud

    def time(self, moment: datetime | None) -> str | None:
        """Jira's format: 2026-03-02T09:00:00.000+0000."""
        if moment is None:
            return None
        local = moment.astimezone(self.tz)
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")

    def text(self, text: str | None, adf: dict[str, Any] | None = None) -> Any:
        """v2 shows text bodies as strings, v3 as Atlassian Documents."""
        if text is None:
            return None
        if self.version == "3":
            return adf if adf is not None else adf_of(text)
        return text

    # -- reference data ------------------------------------------------------------------------

    def avatars(self, kind: str, ident: str) -> dict[str, str]:
        url = f"{self.base}/secure/{kind}avatar?avatarId={ident}"
        return {"48x48": url, "24x24": url + "&size=small", "16x16": url + "&size=xsmall",
                "32x32": url + "&size=medium"}

    def user(self, user: User | None) -> dict[str, Any] | None:
        if user is None:
            return None
        if self.cloud:  # no e-mail address unless the person's privacy settings show it
            shown = {"emailAddress": user.email} if user.email_visible else {}
            return {"self": f"{self.api}/user?accountId={quote(user.account_id, safe='')}",
                    "accountId": user.account_id, "accountType": user.account_type, **shown,
                    "avatarUrls": self.avatars("user", "10122"), "displayName": user.display_name,
                    "active": user.active, "timeZone": user.time_zone}
        return {"self": f"{self.api}/user?username={quote(user.name)}", "name": user.name, "key": user.key,
                "emailAddress": user.email, "avatarUrls": self.avatars("user", "10122"),
                "displayName": user.display_name, "active": user.active, "timeZone": user.time_zone}

    def status(self, status: Status) -> dict[str, Any]:
        cat = status.category
        return {"self": f"{self.api}/status/{status.id}", "description": status.description,
                "iconUrl": f"{self.base}/images/icons/statuses/generic.png", "name": status.name, "id": status.id,
                "statusCategory": {"self": f"{self.api}/statuscategory/{cat.id}", "id": cat.id, "key": cat.key,
                                   "colorName": cat.color, "name": cat.name}}

    def priority(self, priority: Priority) -> dict[str, Any]:
        return {"self": f"{self.api}/priority/{priority.id}", "statusColor": priority.color,
                "iconUrl": f"{self.base}/images/icons/priorities/{priority.name.lower()}.svg",
                "name": priority.name, "id": priority.id, "description": priority.name}

    def resolution(self, resolution: Resolution | None) -> dict[str, Any] | None:
        if resolution is None:
            return None
        return {"self": f"{self.api}/resolution/{resolution.id}", "id": resolution.id,
                "description": resolution.description, "name": resolution.name}

    def issue_type(self, issue_type: IssueType) -> dict[str, Any]:
        return {"self": f"{self.api}/issuetype/{issue_type.id}", "id": issue_type.id,
                "description": issue_type.description,
                "iconUrl": f"{self.base}/secure/viewavatar?size=medium&avatarId={issue_type.avatar_id}"
                           "&avatarType=issuetype",
                "name": issue_type.name, "subtask": False, "avatarId": issue_type.avatar_id, "hierarchyLevel": 0}

    def project(self, project: Project, full: bool = False, expand: Iterable[str] = ()) -> dict[str, Any]:
        body: dict[str, Any] = {"self": f"{self.api}/project/{project.id}", "id": project.id, "key": project.key,
                                "name": project.name, "avatarUrls": self.avatars("project", project.id),
                                "projectTypeKey": project.type_key, "simplified": False}
        if full or "description" in expand:
            body["description"] = project.description
        if full or "lead" in expand:
            body["lead"] = self.user(project.lead)
        if full or "issueTypes" in expand:
            body["issueTypes"] = [self.issue_type(t) for t in project.issue_types]
        if full:
            body.update(expand="description,lead,issueTypes,url,projectKeys,permissions,insight",
                        assigneeType="UNASSIGNED", style="classic", isPrivate=False, properties={})
        return body

    def field(self, known: Field) -> dict[str, Any]:
        number = known.schema.get("customId")
        clauses = [f"cf[{number}]", known.name] if known.custom else [known.id]
        return {"id": known.id, "key": known.id, "name": known.name, "custom": known.custom,
                "orderable": known.editable, "navigable": True, "searchable": True, "clauseNames": clauses,
                "schema": known.schema}

    def component(self, project: Project, ident: str) -> dict[str, Any]:
        return {"self": f"{self.api}/component/{ident}", "id": ident, "name": project.components[ident]}

    def link_type(self, link_type: LinkType) -> dict[str, Any]:
        return {"id": link_type.id, "name": link_type.name, "inward": link_type.inward,
                "outward": link_type.outward, "self": f"{self.api}/issueLinkType/{link_type.id}"}

    def transition(self, transition: Transition, with_fields: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"id": transition.id, "name": transition.name, "to": self.status(transition.to),
                                "hasScreen": bool(transition.screen), "isGlobal": True, "isInitial": False,
                                "isAvailable": True, "isConditional": False, "isLooped": False}
        if with_fields:
            body["fields"] = {fid: self.field_meta(fid, fid in transition.required) for fid in transition.screen}
        return body

    def field_meta(self, field_id: str, required: bool) -> dict[str, Any]:
        known = self.state.field(field_id)
        meta: dict[str, Any] = {"required": required, "schema": known.schema if known else {"type": "any"},
                                "name": known.name if known else field_id, "key": field_id,
                                "hasDefaultValue": False, "operations": ["set"]}
        if field_id == "resolution":
            meta["allowedValues"] = [self.resolution(r) for r in self.state.resolutions]
        return meta

    # -- issues --------------------------------------------------------------------------------

    def comment(self, comment: Comment, properties: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"self": f"{self.api}/issue/{comment.issue_id}/comment/{comment.id}",
                                "id": comment.id, "author": self.user(comment.author),
                                "body": self.text(comment.text, comment.adf), "updateAuthor": self.user(comment.author),
                                "created": self.time(comment.created), "updated": self.time(comment.updated),
                                "jsdPublic": not comment.internal}
        if comment.visibility:
            body["visibility"] = dict(comment.visibility)
        if properties:
            body["properties"] = [dict(p) for p in comment.properties]
        return body

    def comments_page(self, issue: Issue, start: int = 0, limit: int | None = None,
                      newest_first: bool = False) -> dict[str, Any]:
        comments = list(reversed(issue.comments)) if newest_first else list(issue.comments)
        page = comments[start:None if limit is None else start + limit]
        return {"comments": [self.comment(c) for c in page], "self": f"{self.api}/issue/{issue.id}/comment",
                "maxResults": len(page) if limit is None else limit, "total": len(comments), "startAt": start}

    def change_item(self, item: ChangeItem) -> dict[str, Any]:
        body: dict[str, Any] = {"field": item.field, "fieldtype": item.fieldtype}
        if self.cloud:  # Server/DC changelog items have no fieldId, and name components `Component`
            body["fieldId"] = item.field_id
            body["field"] = "components" if item.field_id == "components" else item.field
        body.update({"from": item.from_, "fromString": item.from_string, "to": item.to, "toString": item.to_string})
        return body

    def history(self, history: History) -> dict[str, Any]:
        return {"id": history.id, "author": self.user(history.author), "created": self.time(history.created),
                "items": [self.change_item(i) for i in history.items]}

    def custom_value(self, known: Field, value: Any) -> Any:
        if value is None:
            return None
        if known.kind == "option":
            return {"self": f"{self.api}/customFieldOption/{value}", "value": known.options[value], "id": value}
        return value

    def linked(self, issue: Issue) -> dict[str, Any]:
        return {"id": issue.id, "key": issue.key, "self": f"{self.api}/issue/{issue.id}",
                "fields": {"summary": issue.summary, "status": self.status(issue.status),
                           "priority": self.priority(issue.priority), "issuetype": self.issue_type(issue.issue_type)}}

    def issue_fields(self, issue: Issue) -> dict[str, Any]:
        state = self.state
        links = []
        for link, side, other in state.links_of(issue):
            links.append({"id": link.id, "self": f"{self.api}/issueLink/{link.id}", "type": self.link_type(link.type),
                          f"{side}Issue": self.linked(other)})
        fields: dict[str, Any] = {
            "statuscategorychangedate": self.time(issue.status_changed),
            "issuetype": self.issue_type(issue.issue_type), "project": self.project(issue.project),
            "resolution": self.resolution(issue.resolution), "resolutiondate": self.time(issue.resolution_date),
            "created": self.time(issue.created), "updated": self.time(issue.updated),
            "priority": self.priority(issue.priority), "labels": list(issue.labels), "issuelinks": links,
            "assignee": self.user(issue.assignee), "status": self.status(issue.status),
            "components": [self.component(issue.project, cid) for cid in issue.components],
            "description": self.text(issue.description, issue.description_adf), "summary": issue.summary,
            "creator": self.user(issue.creator), "reporter": self.user(issue.reporter), "duedate": issue.due_date,
            "subtasks": [], "comment": self.comments_page(issue),
            "watches": {"self": f"{self.api}/issue/{issue.key}/watchers", "watchCount": len(issue.watchers),
                        "isWatching": state.api_user in issue.watchers},
        }
        for known in state.fields:
            if known.custom:
                fields[known.id] = self.custom_value(known, issue.custom.get(known.id))
        return fields

    def issue(self, issue: Issue, fields: Iterable[str] | None = None, expand: Iterable[str] = ()) -> dict[str, Any]:
        """GET /issue/{id}: `fields` as the API takes them (*all, *navigable, ids, -id exclusions)."""
        expand = set(expand)
        every = self.issue_fields(issue)
        wanted = [f for f in (fields or ["*all"]) if f]
        chosen: dict[str, Any] = {}
        if any(f in ("*all", "*navigable") for f in wanted):
            chosen = dict(every)
        chosen.update({f: every[f] for f in wanted if f in every})
        for f in wanted:
            if f.startswith("-"):
                chosen.pop(f[1:], None)
        body: dict[str, Any] = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,"
                                          "versionedRepresentations", "id": issue.id,
                                "self": f"{self.api}/issue/{issue.id}", "key": issue.key, "fields": chosen}
        if "changelog" in expand:
            histories = [self.history(h) for h in issue.histories]
            body["changelog"] = {"startAt": 0, "maxResults": len(histories), "total": len(histories),
                                 "histories": histories}
        if "names" in expand:
            body["names"] = {f.id: f.name for f in self.state.fields if f.id in chosen}
        return body

    # -- webhooks ------------------------------------------------------------------------------

    def webhook(self, event: Event) -> dict[str, Any]:
        """Jira's webhook envelope for one event (issue as GET issue shows it, REST v2 style)."""
        body: dict[str, Any] = {"timestamp": int(event.at.timestamp() * 1000)}
        if event.kind == "commented":
            assert event.comment is not None
            body.update(webhookEvent="comment_created", comment=self.comment(event.comment),
                        issue=self.issue(event.issue))
            return body
        body.update(webhookEvent="jira:issue_created" if event.kind == "created" else "jira:issue_updated",
                    issue_event_type_name=event.type_name, user=self.user(event.user), issue=self.issue(event.issue))
        if event.history is not None and (event.kind != "created" or self.cloud):
            body["changelog"] = {"id": event.history.id, "items": [self.change_item(i) for i in event.history.items]}
        if event.comment is not None:
            body["comment"] = self.comment(event.comment)
        return body
