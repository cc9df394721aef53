"""`publish_report` effects: the indicators of a period written into the tracker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.errors import TrackerError
from rules.model import Effect
from ticketwarden.clock import Clock
from ticketwarden.records import marker
from ticketwarden.reports import gather, render
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.store import Store


class ReportPublisher:
    def __init__(self, store: Store, rules: RulebookHolder, clock: Clock):
        self.store = store
        self.rules = rules
        self.clock = clock

    def apply(self, effect: Effect, connector: Any) -> str:
        params = effect.params
        rulebook = self.rules.current
        if rulebook is None:
            raise TrackerError("no valid rulebook is loaded", transient=True)
        report = gather(self.store, rulebook, datetime.fromisoformat(params["from"]),
                        datetime.fromisoformat(params["to"]), params.get("by"), self.clock())
        locale = str(params.get("locale") or rulebook.locale)
        title = str(params["title"])
        if params["tracker"] == "redmine":
            from connector.redmine import wiki_title

            html = render(report, "html", locale, rulebook.messages).encode()
            url = connector.publish_page(params["project"], title, render(report, "textile", locale, rulebook.messages),
                                         (f"{wiki_title(title)}.html", html))
        else:
            url = connector.publish_issue(marker("jira", "report", f"{params['project']}\x1f{title}"),
                                          params["project"], params.get("issue_type") or "Task", title,
                                          render(report, "jira", locale, rulebook.messages))
        return f"report published: {url}"
