"""Talking to the sandbox Redmine as a person would (through its REST API), and shaping
deliveries exactly as the redmine_webhook plugin and Redmine 7 core webhooks send them."""

from __future__ import annotations

from typing import Any

import requests


class SandboxRedmine:
    def __init__(self, env: dict[str, str]):
        self.url = env["REDMINE_URL"].rstrip("/")
        self.person_key = env["SANDBOX_PERSON_API_KEY"]
        self.service_key = env["REDMINE_API_KEY"]
        self.admin_key = env.get("SANDBOX_ADMIN_API_KEY", "")
        self._ids: dict[str, dict[str, int]] = {}

    def _request(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
        response = requests.request(method, self.url + path, timeout=30,
                                    headers={"X-Redmine-API-Key": key or self.person_key}, **kwargs)
        response.raise_for_status()
        return response

    def ids(self, resource: str, container: str) -> dict[str, int]:
        if resource not in self._ids:
            items = self._request("GET", f"/{resource}.json").json()[container]
            self._ids[resource] = {item["name"]: item["id"] for item in items}
        return self._ids[resource]

    def create_incident(self, subject: str, priority: str = "Normal",
                        fields: dict[str, Any] | None = None) -> dict[str, Any]:
        """An Incident in support, created by the person; `fields` are custom fields by name."""
        body = {"issue": {"project_id": "support", "subject": subject,
                          "tracker_id": self.ids("trackers", "trackers")["Incident"],
                          "priority_id": self.ids("enumerations/issue_priorities", "issue_priorities")[priority],
                          **self._custom(fields)}}
        return self._request("POST", "/issues.json", json=body).json()["issue"]

    def update(self, issue_id: int, fields: dict[str, Any] | None = None, **changes: Any) -> None:
        """The person changes an issue (status by name; custom `fields` by name)."""
        if "status" in changes:
            changes["status_id"] = self.ids("issue_statuses", "issue_statuses")[changes.pop("status")]
        self._request("PUT", f"/issues/{issue_id}.json", json={"issue": {**changes, **self._custom(fields)}})

    def _custom(self, fields: dict[str, Any] | None) -> dict[str, Any]:
        if not fields:
            return {}
        if "custom_fields" not in self._ids:  # listing custom fields takes an administrator
            items = self._request("GET", "/custom_fields.json", key=self.admin_key).json()["custom_fields"]
            self._ids["custom_fields"] = {item["name"]: item["id"] for item in items}
        ids = self._ids["custom_fields"]
        return {"custom_fields": [{"id": ids[name], "value": value} for name, value in fields.items()]}

    def issues(self, project: str, **filters: Any) -> list[dict[str, Any]]:
        """Issues of a project in any status (the person's view)."""
        params = {"project_id": project, "status_id": "*", "limit": 100, **filters}
        return self._request("GET", "/issues.json", params=params).json()["issues"]

    def relations(self, issue_id: int) -> list[dict[str, Any]]:
        return self._request("GET", f"/issues/{issue_id}/relations.json").json()["relations"]

    def issue(self, issue_id: int) -> dict[str, Any]:
        return self._request("GET", f"/issues/{issue_id}.json?include=journals").json()["issue"]

    def custom_field(self, issue: dict[str, Any], name: str) -> Any:
        return next(field.get("value") for field in issue["custom_fields"] if field["name"] == name)

    def notes_by(self, issue: dict[str, Any], login_name: str) -> list[dict[str, Any]]:
        return [j for j in issue["journals"] if j["user"]["name"] == login_name and j.get("notes")]

    def service_user(self) -> dict[str, Any]:
        return self._request("GET", "/users/current.json", key=self.service_key).json()["user"]

    def user(self, user_id: int) -> dict[str, Any]:
        """The login and names of a user, as the plugin's payload carries them."""
        for key in (self.person_key, self.service_key):
            me = self._request("GET", "/users/current.json", key=key).json()["user"]
            if me["id"] == user_id:
                return me
        return {"id": user_id, "login": "", "firstname": "", "lastname": ""}

    # -- deliveries --------------------------------------------------------------------------

    def plugin_payload(self, issue: dict[str, Any], journal: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the redmine_webhook plugin POSTs for this issue (and journal, for an update)."""
        project = self._request("GET", f"/projects/{issue['project']['id']}.json").json()["project"]
        plugin_issue = {
            key: issue.get(key) for key in ("id", "subject", "description", "created_on", "updated_on",
                                            "closed_on", "done_ratio", "start_date", "due_date", "is_private")
        }
        plugin_issue.update(
            project={"id": project["id"], "identifier": project["identifier"], "name": project["name"]},
            status={"id": issue["status"]["id"], "name": issue["status"]["name"]},
            tracker=issue["tracker"], priority=issue["priority"],
            author=self._plugin_user(issue["author"]["id"]),
            assignee=self._plugin_user(issue["assigned_to"]["id"]) if issue.get("assigned_to") else None,
            custom_field_values=[{"custom_field_id": f["id"], "custom_field_name": f["name"],
                                  "value": f.get("value")} for f in issue.get("custom_fields", [])],
            watchers=[],
        )
        payload: dict[str, Any] = {"action": "opened", "issue": plugin_issue,
                                   "url": f"{self.url}/issues/{issue['id']}"}
        if journal is not None:
            payload["action"] = "updated"
            payload["journal"] = {
                "id": journal["id"], "notes": journal.get("notes") or "", "created_on": journal["created_on"],
                "private_notes": journal.get("private_notes", False),
                "author": self._plugin_user(journal["user"]["id"]),
                "details": [{"property": d["property"], "prop_key": d["name"], "old_value": d.get("old_value"),
                             "value": d.get("new_value")} for d in journal.get("details", [])],
            }
        return {"payload": payload}

    def core_payload(self, issue: dict[str, Any], journal: dict[str, Any] | None = None) -> dict[str, Any]:
        """What a Redmine 7 core webhook POSTs: the issue as the REST API shows it."""
        bare = {key: value for key, value in issue.items() if key != "journals"}
        data: dict[str, Any] = {"issue": bare}
        if journal is not None:
            data["journal"] = journal
        kind = "issue.updated" if journal is not None else "issue.created"
        return {"type": kind, "timestamp": (journal or issue)["created_on"], "data": data}

    def _plugin_user(self, user_id: int) -> dict[str, Any]:
        user = self.user(user_id)
        return {"id": user["id"], "login": user.get("login", ""), "firstname": user.get("firstname", ""),
                "lastname": user.get("lastname", ""), "mail": user.get("mail", "")}
